"""Reading Keepa JSON safely: one sanitiser for sentinels (R18), csv pairs and triples.

Keepa uses -1 ("none") and -2 ("unknown") inside numbers; hostile or broken payloads may hold
anything. Every accessor here returns a clean int or None, never raises on bad shapes.
"""

from __future__ import annotations

from typing import Any

from arbitrage_cli.keepa.constants import csv_has_shipping


def is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


# Keepa's numbers are 32-bit; anything past 2^53 (exact in JSON/JavaScript) is garbage, and
# past 2^63 it would not even fit an SQLite INTEGER and would abort the chunk's transaction.
MAX_PLAUSIBLE = 2**53


def clean(v: Any) -> int | None:
    """A Keepa count/price/fee/time: -1, -2, any negative, None, a non-integer or an
    implausibly huge number -> None."""
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    return v if is_int(v) and 0 <= v <= MAX_PLAUSIBLE else None


def clean_float(v: Any) -> float | None:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or v != v or v < 0 \
            or v > MAX_PLAUSIBLE:
        return None
    return float(v)


def obj(product: Any, key: str) -> dict:
    v = product.get(key) if isinstance(product, dict) else None
    return v if isinstance(v, dict) else {}


def lst(container: Any, key: str) -> list:
    v = container.get(key) if isinstance(container, dict) else None
    return v if isinstance(v, list) else []


def stat(product: Any, name: str, index: int) -> int | None:
    """stats.<name>[index], sanitised (None when absent, short, or a sentinel)."""
    arr = lst(obj(product, "stats"), name)
    return clean(arr[index]) if index < len(arr) else None


def stat_scalar(product: Any, name: str) -> int | None:
    return clean(obj(product, "stats").get(name))


def csv_array(product: Any, index: int) -> list:
    arr = lst(product, "csv")
    v = arr[index] if index < len(arr) else None
    return v if isinstance(v, list) else []


def _plain(arr: list, width: int) -> bool:
    """Every element an int (not a bool) within the plausible range and every time >= 0: the
    shape Keepa sends, checked in a few C-speed passes instead of a call per element."""
    return (set(map(type, arr)) == {int} and -MAX_PLAUSIBLE <= min(arr)
            and max(arr) <= MAX_PLAUSIBLE and min(arr[0::width]) >= 0)


def pairs(arr: list) -> list[tuple[int, int]]:
    """[t, v, t, v, ...] -> [(t, v)], values kept raw (-1 = none at that time); malformed
    points (non-integers, negative times, implausibly huge numbers) dropped."""
    n = len(arr) - len(arr) % 2
    if n and _plain(arr[:n], 2):
        return list(zip(arr[0:n:2], arr[1:n:2]))
    out = []
    for i in range(0, len(arr) - 1, 2):
        t, v = arr[i], arr[i + 1]
        if _point(t) and _point(v, signed=True):
            out.append((t, v))
    return out


def _point(v: Any, signed: bool = False) -> bool:
    return is_int(v) and (-MAX_PLAUSIBLE if signed else 0) <= v <= MAX_PLAUSIBLE


def triples(arr: list) -> list[tuple[int, int, int]]:
    """[t, price, shipping, ...] -> [(t, price, shipping)], raw sentinels kept."""
    n = len(arr) - len(arr) % 3
    if n and _plain(arr[:n], 3):
        return list(zip(arr[0:n:3], arr[1:n:3], arr[2:n:3]))
    out = []
    for i in range(0, len(arr) - 2, 3):
        t, p, s = arr[i], arr[i + 1], arr[i + 2]
        if _point(t) and _point(p, signed=True) and _point(s, signed=True):
            out.append((t, p, s))
    return out


def series(product: Any, index: int) -> list[tuple[int, int]]:
    """csv[index] as (t, value) with landed prices for _SHIPPING types (price + max(ship, 0),
    sentinel prices kept as they are), sorted by time."""
    arr = csv_array(product, index)
    if csv_has_shipping(index):
        pts = [(t, p if p < 0 else p + max(s, 0)) for t, p, s in triples(arr)]
    else:
        pts = pairs(arr)
    return sorted(pts, key=lambda x: x[0])


def valid(points: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Only the points with a real (non-negative) value."""
    return [(t, v) for t, v in points if v >= 0]

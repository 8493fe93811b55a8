"""Inferred sales (domain.md §3.1, R19): an offer-count drop confirmed by a sales-rank
improvement is a sale. The only evidence List-at may use (R16). Run once per product (R26).
"""

from __future__ import annotations

import bisect
import dataclasses
from typing import Any

from arbitrage_cli.analysis.keepa_data import series, valid
from arbitrage_cli.keepa.constants import CSV
from arbitrage_cli.words import count

WINDOW_MIN = 240 * 60  # rank reports often lag the offer change by hours
LOOKAHEAD_MIN = 30 * 24 * 60  # sparse rank histories: the next report within 30 days
HISTORY_MIN = 1095 * 24 * 60
SPIKE_MIN = 60  # a price that held less than an hour before a drop did not sell


@dataclasses.dataclass(frozen=True)
class Sale:
    time: int  # Keepa minute of the offer drop
    price_cents: int
    kind: str  # "used" | "new"
    confirmed_by: str  # "window" | "lookahead"


@dataclasses.dataclass(frozen=True)
class SalesInference:
    sales: tuple[Sale, ...]  # confirmed and priced, after the IQR trim
    drops: int  # offer-count drops seen (used + new)
    used_drops: int
    confirmed: int  # drops confirmed by a rank improvement (before pricing and trim)
    used_confirmed: int
    trimmed: int  # sales removed as price outliers

    def used_sales(self) -> list[Sale]:
        return [s for s in self.sales if s.kind == "used"]


EMPTY = SalesInference((), 0, 0, 0, 0, 0)


def _drops(points: list[tuple[int, int]]) -> list[int]:
    pts = valid(points)  # a transition to -1 ("no offer data") is not a sale
    return [pts[i][0] for i in range(1, len(pts)) if pts[i][1] < pts[i - 1][1]]


def _price_before(points: list[tuple[int, int]], t: int) -> int | None:
    """The price in effect just before the drop: the copy that sold was listed at it (the
    point AT the drop minute is already the next-cheapest offer). A higher price that held
    less than SPIKE_MIN before the drop is a blip, not the copy that sold: the price before it
    counts. Falls back to the nearest later point when the series starts at the drop."""
    times = [p[0] for p in points]
    i = bisect.bisect_left(times, t) - 1
    if i >= 1 and t - points[i][0] < SPIKE_MIN and points[i][1] > points[i - 1][1] > 0:
        i -= 1
    candidates = [points[i]] if i >= 0 else []
    if not candidates and points:
        candidates = [points[min(len(points) - 1, bisect.bisect_left(times, t))]]
    v = candidates[0][1] if candidates else None
    return v if v is not None and v > 0 else None


def percentile(sorted_values: list[int], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    if not sorted_values:
        raise ValueError("empty")
    pos = (len(sorted_values) - 1) * q
    lo = int(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


def iqr_trim(sales: list[Sale]) -> list[Sale]:
    if len(sales) < 4:
        return sales
    prices = sorted(s.price_cents for s in sales)
    q1, q3 = percentile(prices, 0.25), percentile(prices, 0.75)
    lo, hi = q1 - 1.5 * (q3 - q1), q3 + 1.5 * (q3 - q1)
    return [s for s in sales if lo <= s.price_cents <= hi]


def infer_sales(product: Any, now: int) -> SalesInference:
    """`now`: the reference Keepa minute (the response timestamp), for reproducible results."""
    since = now - HISTORY_MIN
    rank = [(t, v) for t, v in valid(series(product, CSV["SALES"])) if t >= since]
    counts = {kind: [(t, v) for t, v in series(product, CSV[name]) if t >= since]
              for kind, name in (("used", "COUNT_USED"), ("new", "COUNT_NEW"))}
    usable = {k: v for k, v in counts.items() if len(v) > 1}
    if len(rank) < 2 or not usable:
        return EMPTY
    prices = {"used": valid(series(product, CSV["USED"])),
              "new": valid(series(product, CSV["NEW"]))}
    rank_times = [t for t, _ in rank]
    improved = [False] + [rank[i][1] < rank[i - 1][1] for i in range(1, len(rank))]
    drops = sorted((t, kind) for kind, pts in usable.items() for t in _drops(pts))
    sales, confirmed = [], {"used": 0, "new": 0}
    for t, kind in drops:
        lo = bisect.bisect_left(rank_times, t)  # window start is inclusive (same crawl minute)
        hi = bisect.bisect_right(rank_times, t + WINDOW_MIN)
        how = "window" if any(improved[lo:hi]) else None
        if how is None:
            before = bisect.bisect_right(rank_times, t) - 1
            after = bisect.bisect_right(rank_times, t)
            if (before >= 0 and after < len(rank) and rank_times[after] <= t + LOOKAHEAD_MIN
                    and rank[after][1] < rank[before][1]):
                how = "lookahead"
        if how is None:
            continue
        confirmed[kind] += 1
        # New drops are priced from the new series only; a used-book tool sells used.
        price = _price_before(prices[kind], t)
        if price is not None:
            sales.append(Sale(t, price, kind, how))
    kept = sorted(iqr_trim([x for x in sales if x.kind == "used"])
                  + iqr_trim([x for x in sales if x.kind == "new"]), key=lambda x: x.time)
    used_drops = sum(1 for _, k in drops if k == "used")
    return SalesInference(tuple(kept), len(drops), used_drops, sum(confirmed.values()),
                          confirmed["used"], len(sales) - len(kept))


def why_no_price(s: SalesInference, used_last_year: int) -> str | None:
    """What happened when there is no used sale of the last year to price from (the words
    `explain` and the visibility reasons show); None when there is one."""
    if used_last_year:
        return None
    if not s.drops:
        return "no offer-count drop in the history: no sale to price from"
    if not s.confirmed:
        return (f"{count(s.drops, 'offer drop')}, none confirmed by a sales-rank "
                f"improvement: no sale to price from")
    if not s.used_confirmed:
        return (f"{count(s.confirmed, 'confirmed sale')}, all new-condition: no used sale to "
                f"price from")
    used = sum(1 for x in s.sales if x.kind == "used")
    if used:
        return (f"{count(used, 'used sale')}, none in the last year: no recent sale to price "
                f"from")
    return (f"{count(s.used_confirmed, 'confirmed used sale')}, none with a used price before "
            f"it: no sale to price from")


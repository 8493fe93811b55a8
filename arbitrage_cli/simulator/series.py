"""Keepa-style time series with O(log n) time-weighted means (keepa-api.md §2.4).

A series is a list of change points; each value holds until the next point. Negative values
(-1 none, -2 unknown) count as "no offer" time. Prefix integrals over the points make any
window's weighted mean two binary searches.
"""

from __future__ import annotations

import bisect
import itertools
from array import array


def kept_from(times, since: int | None) -> int:
    """The first index of `times` to keep to answer from `since` on: the point in effect at
    `since` and the one before it (a deal's deltaLast reads the value before the current
    one); 0 for the whole series."""
    return 0 if since is None else max(0, bisect.bisect_right(times, since) - 2)


class Series:
    __slots__ = ("t", "v", "extra", "_cum_w", "_cum_d")

    def __init__(self, points: list[tuple[int, int]], extra: list[int] | None = None):
        # arrays, not lists of ints: a catalog of thousands keeps every series in memory
        self.t = array("q", [p[0] for p in points])
        self.v = array("q", [p[1] for p in points])
        self.extra = array("q", extra) if extra is not None else None  # shipping, parallel to v
        # prefix sums of value x duration and of duration over the valid (>= 0) stretches
        t, v = self.t, self.v
        valid = [(t[i] - t[i - 1]) if v[i - 1] >= 0 else 0 for i in range(1, len(t))]
        cum_w = list(itertools.accumulate(
            (d * v[i] for i, d in enumerate(valid)), initial=0))
        cum_d = list(itertools.accumulate(valid, initial=0))
        self._cum_w, self._cum_d = array("q", cum_w), array("q", cum_d)

    def __len__(self) -> int:
        return len(self.t)

    def index_at(self, t: int) -> int:
        return bisect.bisect_right(self.t, t) - 1

    def at(self, t: int) -> int:
        i = self.index_at(t)
        return self.v[i] if i >= 0 else -1

    def since(self, t: int) -> int:
        """Keepa minute since which the value at `t` holds (-1 if none)."""
        i = self.index_at(t)
        return self.t[i] if i >= 0 else -1

    def previous_value(self, t: int) -> int:
        i = self.index_at(t)
        return self.v[i - 1] if i >= 1 else -1

    def _integrals(self, x: int) -> tuple[int, int]:
        i = self.index_at(x)
        if i < 0:
            return 0, 0
        w, d = self._cum_w[i], self._cum_d[i]
        if self.v[i] >= 0:
            w += self.v[i] * (x - self.t[i])
            d += x - self.t[i]
        return w, d

    def mean(self, a: int, b: int) -> int:
        """floor() of the time-weighted mean of valid values over [a, b]; -1 if none."""
        if b <= a:
            return -1
        wa, da = self._integrals(a)
        wb, db = self._integrals(b)
        if db - da <= 0:
            return -1
        return (wb - wa) // (db - da)

    def out_of_stock_pct(self, a: int, b: int) -> int:
        if not self.t or b <= a:
            return -1
        a = max(a, self.t[0])
        if b <= a:
            return -1
        _, da = self._integrals(a)
        _, db = self._integrals(b)
        return round(100 * (1 - (db - da) / (b - a)))

    def extremes(self, a: int, b: int) -> tuple[list[int] | None, list[int] | None]:
        """[time, value] of the lowest and highest valid value in effect within [a, b]."""
        lo = hi = None
        start = max(0, self.index_at(a))
        for i in range(start, len(self.t)):
            if self.t[i] > b:
                break
            v = self.v[i]
            if v < 0:
                continue
            t = max(self.t[i], a)
            if lo is None or v < lo[1]:
                lo = [t, v]
            if hi is None or v > hi[1]:
                hi = [t, v]
        return lo, hi

    def drops(self, a: int, b: int, min_ratio: float = 0.0) -> int:
        """How many times the value fell by more than `min_ratio` between consecutive valid
        points within (a, b]."""
        n = 0
        start = max(1, self.index_at(a) + 1)
        last = None
        for i in range(start, len(self.t)):
            if self.t[i] > b:
                break
            prev = self.v[i - 1] if self.v[i - 1] >= 0 else last
            if self.v[i] >= 0:
                if prev is not None and self.v[i] < prev * (1 - min_ratio):
                    n += 1
                last = self.v[i]
        return n

    def flat(self, until: int, since: int | None = None) -> list[int]:
        """Keepa csv layout up to `until`: [t, v, ...] or [t, price, shipping, ...]."""
        end = self.index_at(until) + 1
        first = 0
        if since is not None:  # Keepa keeps the point still in effect at the window start
            first = max(0, self.index_at(since))
        out: list[int] = []
        for i in range(first, end):
            if self.extra is None:
                out += [self.t[i], self.v[i]]
            else:
                ship = self.extra[i]
                price = self.v[i] - max(ship, 0) if self.v[i] >= 0 else self.v[i]
                out += [self.t[i], price, ship]
        return out


class Points:
    """[time, value] pairs kept as two arrays (a list of lists holds four Python objects a
    point: a catalog of 5,000 three-year histories would not fit in memory). Reads as a
    sequence of (time, value) tuples."""
    __slots__ = ("t", "v")

    def __init__(self, points=()):
        self.t = array("q", [p[0] for p in points])
        self.v = array("q", [p[1] for p in points])

    def __len__(self) -> int:
        return len(self.t)

    def __getitem__(self, i: int) -> tuple[int, int]:
        return self.t[i], self.v[i]

    def __iter__(self):
        return zip(self.t, self.v)

    def __eq__(self, other) -> bool:
        return list(self) == [tuple(x) for x in other]

"""Inferred sales: what the sales-rank history shows (issue 21; DESIGN.md §2).

A sale is a rank jump: a rank report more than `JUMP_RATIO` (5%) below the report before it.
Between sales Amazon's rank of a book decays and wiggles (neighbouring books sell, used-offer
counts flicker as listings come and go); a sale is the sawtooth's jump. On the real files
(`../shared/real-keepa`, docs/benchmarks.md "Sales"), rank decreases of 5% or less are noise:
none of them has an offer-count drop between its two reports, and counting only the larger
ones reproduces Keepa's own `stats.salesRankDrops*` on every book with 3-200 drops a year.

Each jump is matched to at most one offer-count drop (used or new) between the report before
the jump and the jump itself: on the real files the drop is seen at the jump's minute or at
the previous report's (Keepa crawls offers and rank together, and Amazon's rank lags the sale
by hours), hardly ever earlier or later. In a sparse history (reports days apart) that span is
the lookahead, at most `LOOKAHEAD_MIN`. The matched drop gives the kind (used/new), the
condition (from the per-condition used series 19-22, when exactly one of them lost its lowest
offer at that minute) and the price (the lowest used, or new, item price in effect before the
drop: the per-condition series come only with live offers, and the history screen must value a
book exactly as the full analysis does, R20). A jump with no drop
is a sale of unknown kind: it counts for velocity, never for a price. An offer drop that no
jump confirms is a listing withdrawn or a repricer, not a sale.

Pure and run once per product (R26); no words here beyond codes.
"""

from __future__ import annotations

import bisect
import dataclasses
from typing import Any

from arbitrage_cli.analysis.keepa_data import csv_array, series, triples, valid
from arbitrage_cli.keepa.constants import CONDITION_CSV, CSV

JUMP_RATIO = 0.05  # a rank report more than 5% below the previous one is a sale
LOOKAHEAD_MIN = 30 * 24 * 60  # a sparse history: a drop at most 30 days before its jump
HISTORY_MIN = 1095 * 24 * 60
SPIKE_MIN = 60  # a price that held less than an hour before a drop did not sell
USED, NEW, UNKNOWN = "used", "new", "unknown"
USED_CONDITION_CSV = {c: CONDITION_CSV[c] for c in (2, 3, 4, 5)}

# Why there is no used sale to price from (codes; the words live in explain).
NO_HISTORY = "no_history"  # the response carries no csv (history not requested)
NO_RANK_HISTORY = "no_rank_history"
NO_RANK_JUMP = "no_rank_jump"
NO_USED_SALE = "no_used_sale"  # sales, but none matched to a used offer drop
NO_RECENT_USED_SALE = "no_recent_used_sale"  # used sales, none in the last year


@dataclasses.dataclass(frozen=True)
class Sale:
    time: int  # Keepa minute of the rank report that shows the jump
    price_cents: int | None  # the price in effect before the matched drop; None: unknown
    kind: str  # used | new | unknown (no offer drop matched)
    condition: int | None = None  # Keepa condition 2-5 of a used sale, when the series show it
    rank_before: int | None = None
    rank_after: int | None = None
    drop_time: int | None = None  # the matched offer-count drop
    outlier: bool = False  # its price is outside the IQR fence: counted, not priced


@dataclasses.dataclass(frozen=True)
class SalesInference:
    events: tuple[Sale, ...]  # every inferred sale (one per rank jump), oldest first
    drops: int  # offer-count drops seen (used + new)
    used_drops: int
    matched: int  # jumps matched to an offer drop
    used_matched: int
    trimmed: int  # priced sales whose price is an outlier
    has_history: bool = True  # the response carried a rank history

    def used_sales(self) -> list[Sale]:
        """The used sales to price from: matched, priced, not outliers."""
        return [s for s in self.events if s.kind == USED and s.price_cents is not None
                and not s.outlier]

    def of_kind(self, kind: str) -> list[Sale]:
        return [s for s in self.events if s.kind == kind]


EMPTY = SalesInference((), 0, 0, 0, 0, 0, False)


def _drops(points: list[tuple[int, int]]) -> list[int]:
    pts = valid(points)  # a transition to -1 ("no offer data") is not a sale
    return [pts[i][0] for i in range(1, len(pts)) if pts[i][1] < pts[i - 1][1]]


def jumps(rank: list[tuple[int, int]]) -> list[int]:
    """Indexes of the valid rank points more than JUMP_RATIO below the point before."""
    return [i for i in range(1, len(rank))
            if rank[i][1] < rank[i - 1][1] * (1 - JUMP_RATIO)]


def _price_before(points: list[tuple[int, int]], t: int, times: list[int] | None = None
                  ) -> int | None:
    """The price in effect just before the drop: the copy that sold was listed at it (the
    point AT the drop minute is already the next-cheapest offer). A higher price that held
    less than SPIKE_MIN before the drop is a blip, not the copy that sold: the price before it
    counts. Falls back to the nearest later point when the series starts at the drop."""
    times = times if times is not None else [p[0] for p in points]
    i = bisect.bisect_left(times, t) - 1
    if i >= 1 and t - points[i][0] < SPIKE_MIN and points[i][1] > points[i - 1][1] > 0:
        i -= 1
    candidates = [points[i]] if i >= 0 else []
    if not candidates and points:
        candidates = [points[min(len(points) - 1, bisect.bisect_left(times, t))]]
    v = candidates[0][1] if candidates else None
    return v if v is not None and v > 0 else None


def _condition_series(product: Any) -> dict[int, tuple[list[int], list[int]]]:
    """condition -> (times, landed prices) of its lowest-offer series (csv 19-22)."""
    out = {}
    for condition, index in USED_CONDITION_CSV.items():
        pts = triples(csv_array(product, index))
        if pts:
            out[condition] = ([p[0] for p in pts],
                              [p[1] if p[1] < 0 else p[1] + max(p[2], 0) for p in pts])
    return out


def _condition_at(by_condition: dict, t: int) -> int | None:
    """The condition of the used copy that left at minute `t`: the one condition whose lowest
    offer (csv 19-22) went up or away at that minute; None when none or several did."""
    found = []
    for condition, (times, landed) in by_condition.items():
        i = bisect.bisect_left(times, t)
        if i == 0 or i >= len(times) or times[i] != t:
            continue
        before, after = landed[i - 1], landed[i]
        if before > 0 and (after < 0 or after > before):
            found.append(condition)
    return found[0] if len(found) == 1 else None


def percentile(sorted_values: list[int], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    if not sorted_values:
        raise ValueError("empty")
    pos = (len(sorted_values) - 1) * q
    lo = int(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


def _fence(sales: list[Sale]) -> tuple[float, float] | None:
    prices = sorted(s.price_cents for s in sales if s.price_cents is not None)
    if len(prices) < 4:
        return None
    q1, q3 = percentile(prices, 0.25), percentile(prices, 0.75)
    return q1 - 1.5 * (q3 - q1), q3 + 1.5 * (q3 - q1)


def _trim(events: list[Sale]) -> list[Sale]:
    """Flag price outliers per kind (Tukey's fences): the sale still counts, its price not."""
    out = list(events)
    for kind in (USED, NEW):
        fence = _fence([s for s in events if s.kind == kind])
        if fence is None:
            continue
        for i, s in enumerate(out):
            if s.kind == kind and s.price_cents is not None \
                    and not fence[0] <= s.price_cents <= fence[1]:
                out[i] = dataclasses.replace(s, outlier=True)
    return out


def infer_sales(product: Any, now: int) -> SalesInference:
    """`now`: the reference Keepa minute (the response timestamp), for reproducible results."""
    if not csv_array(product, CSV["SALES"]) and not any(
            csv_array(product, CSV[k]) for k in ("USED", "COUNT_USED", "NEW")):
        return EMPTY
    since = now - HISTORY_MIN
    rank = [(t, v) for t, v in valid(series(product, CSV["SALES"])) if since <= t <= now]
    counts = {kind: [(t, v) for t, v in series(product, CSV[name]) if t <= now]
              for kind, name in ((USED, "COUNT_USED"), (NEW, "COUNT_NEW"))}
    drops = sorted((t, 0 if kind == USED else 1) for kind, pts in counts.items()
                   for t in _drops(pts) if since - LOOKAHEAD_MIN <= t)
    drop_times = [t for t, _ in drops]
    prices = {USED: valid(series(product, CSV["USED"])), NEW: valid(series(product, CSV["NEW"]))}
    price_times = {k: [t for t, _ in v] for k, v in prices.items()}
    by_condition = _condition_series(product)
    taken: set[int] = set()
    events = []
    for i in jumps(rank):
        jump, before = rank[i][0], rank[i - 1][0]
        lo = bisect.bisect_left(drop_times, max(before, jump - LOOKAHEAD_MIN))
        hi = bisect.bisect_right(drop_times, jump)
        # the latest free drop; at one minute a used drop before a new one (sorted by kind)
        match = None
        for j in range(hi - 1, lo - 1, -1):
            if j in taken:
                continue
            if match is not None and drop_times[j] != drop_times[match]:
                break
            match = j
        sale = Sale(jump, None, UNKNOWN, None, rank[i - 1][1], rank[i][1])
        if match is not None:
            taken.add(match)
            t, k = drops[match]
            kind = USED if k == 0 else NEW
            # the price from the lowest-price series only: the per-condition series come with
            # live offers alone, and a history-only answer must value a book the same (R20)
            condition = _condition_at(by_condition, t) if kind == USED else None
            price = _price_before(prices[kind], t, price_times[kind])
            sale = dataclasses.replace(sale, kind=kind, condition=condition,
                                       price_cents=price, drop_time=t)
        events.append(sale)
    events = _trim(events)
    in_history = [t for t in drop_times if t >= since]
    used_drops = sum(1 for t, k in drops if k == 0 and t >= since)
    matched = [s for s in events if s.drop_time is not None]
    return SalesInference(tuple(events), len(in_history), used_drops, len(matched),
                          sum(1 for s in matched if s.kind == USED),
                          sum(1 for s in events if s.outlier), bool(rank))


def no_price_reason(s: SalesInference, used_last_year: int) -> str | None:
    """Why there is no used sale of the last year to price from (a code); None when there
    is one."""
    if used_last_year:
        return None
    if not s.has_history:
        return NO_HISTORY if not s.events and not s.drops else NO_RANK_HISTORY
    if not s.events:
        return NO_RANK_JUMP
    if not s.used_sales():
        return NO_USED_SALE
    return NO_RECENT_USED_SALE

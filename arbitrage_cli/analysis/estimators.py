"""List-at estimators, side by side (pure, deterministic). Each takes the Evidence of a
product at one moment and returns the predicted used sale price in cents, or None.

`seed` is the earlier system's rule (pricing.predict_list_at). The simple baselines are the
yardsticks `arbitrage backtest` measures every estimator against; `default` is the one the
pipeline uses.
"""

from __future__ import annotations

import bisect
import dataclasses
import math
import statistics
from collections.abc import Callable
from typing import Any

from arbitrage_cli.analysis import pricing
from arbitrage_cli.analysis.keepa_data import stat
from arbitrage_cli.analysis.sales import USED_CONDITION_CSV, Sale, SalesInference, infer_sales
from arbitrage_cli.keepa.constants import CSV

DAY = 1440


@dataclasses.dataclass(frozen=True)
class Evidence:
    """What a product says at Keepa minute `now` about the price a used copy sells at."""
    now: int
    sales: SalesInference
    used: list[Sale]  # inferred used sales, oldest first
    used_now: int | None  # Keepa's current lowest used price (item only)
    amazon_now: int | None  # Amazon's own offer now (None: Amazon is not selling)
    amazon_avg180: int | None
    amazon_avg365: int | None
    keepa_avg90_used: int | None  # Keepa's 90-day average of the lowest used price
    used_count: int | None = None  # Keepa's used offer count now
    condition_now: int | None = None  # of the cheapest used copy now (csv 19-22), if known
    # condition (2-5) -> the cheapest landed price of that condition now (csv 19-22)
    condition_prices: dict[int, int] = dataclasses.field(default_factory=dict)

    def recent(self, days: int) -> list[Sale]:
        return [s for s in self.used if self.now - s.time <= days * DAY]


def condition_prices(product: Any) -> dict[int, int]:
    """Used condition (2-5) -> its cheapest landed price now; empty when the per-condition
    series are absent (they come with live offers)."""
    landed = {c: stat(product, "current", i) for c, i in USED_CONDITION_CSV.items()}
    return {c: v for c, v in landed.items() if v}


def cheapest_condition(prices: dict[int, int]) -> int | None:
    return min(prices, key=lambda c: (prices[c], c)) if prices else None


def evidence(product: Any, now: int) -> Evidence:
    sales = infer_sales(product, now)
    by_condition = condition_prices(product)
    return Evidence(now, sales, sales.used_sales(), stat(product, "current", CSV["USED"]),
                    stat(product, "current", CSV["AMAZON"]),
                    stat(product, "avg180", CSV["AMAZON"]),
                    stat(product, "avg365", CSV["AMAZON"]),
                    stat(product, "avg90", CSV["USED"]),
                    stat(product, "current", CSV["COUNT_USED"]),
                    cheapest_condition(by_condition), by_condition)


def seed(ev: Evidence) -> pricing.ListAt:
    """The earlier system's rule: mode (else median) of the peak month, Amazon ceiling from
    the lowest of Amazon's current, 180- and 365-day prices."""
    return pricing.predict_list_at(ev.used, [ev.amazon_now, ev.amazon_avg180,
                                             ev.amazon_avg365], ev.used_now)


def _median(sales: list[Sale]) -> int | None:
    return int(round(statistics.median(s.price_cents for s in sales))) if sales else None


def median365(ev: Evidence) -> int | None:
    return _median(ev.recent(365))


def median90(ev: Evidence) -> int | None:
    return _median(ev.recent(90))


def keepa_avg90(ev: Evidence) -> int | None:
    return ev.keepa_avg90_used


Estimator = Callable[[Evidence], int | None]
BASELINES: dict[str, Estimator] = {
    "seed": lambda ev: seed(ev).list_at_cents,
    "median365": median365,
    "median90": median90,
    "keepa_avg90": keepa_avg90,
}


# -- the default -----------------------------------------------------------------------------
RECENT_DAYS, RECENT_HALF_LIFE = 365, 45  # the price level now: recent sales count most
SEASON_DAYS, SEASON_WEIGHT, SELL_WINDOW = 730, 8.0, 90  # the months a copy bought now sells in


@dataclasses.dataclass(frozen=True)
class Estimate:
    cents: int | None
    recent: int | None  # recency-weighted median of the last year's used sales
    season: int | None  # median of two years' used sales, the coming months weighted up
    basis: str  # recent+season | recent | season | none


def weighted_median(points: list[tuple[int, float]]) -> int | None:
    """The smallest value whose cumulative weight reaches half (deterministic)."""
    if not points:
        return None
    points = sorted(points)
    half, acc = sum(w for _, w in points) / 2, 0.0
    for value, w in points:
        acc += w
        if acc >= half:
            return value
    return points[-1][0]


def _months_ahead(now: int, days: int) -> set[int]:
    return {pricing.month_of(now + d * DAY) for d in range(0, days + 1, 15)}


def default(ev: Evidence) -> Estimate:
    """The geometric mean of where used prices are now (a median that halves a sale's weight
    every 45 days) and where they were in the coming three months of earlier years (a
    two-year median with those months weighted 8x): no peak month of one or two sales, no
    "mode" that is a month's lowest price, every sale priced from the used offers only.
    Chosen by `arbitrage backtest` (docs/benchmarks.md, "List-at backtest")."""
    recent = weighted_median([(s.price_cents, 0.5 ** ((ev.now - s.time) / (RECENT_HALF_LIFE * DAY)))
                              for s in ev.recent(RECENT_DAYS)])
    months = _months_ahead(ev.now, SELL_WINDOW)
    season = weighted_median([(s.price_cents, SEASON_WEIGHT if pricing.month_of(s.time) in months
                               else 1.0) for s in ev.recent(SEASON_DAYS)])
    if recent is None or season is None:
        value = recent if season is None else season
        return Estimate(value, recent, season, "none" if value is None else
                        "recent" if season is None else "season")
    value = int(round(math.exp((math.log(max(recent, 1)) + math.log(max(season, 1))) / 2)))
    return Estimate(value, recent, season, "recent+season")


def better_offer(ev: Evidence, condition: int | None) -> int | None:
    """The cheapest landed price of a copy in a strictly better condition than `condition`
    offered now: a buyer takes that one first, so ours sells at no more."""
    better = [v for c, v in ev.condition_prices.items() if condition is not None and c < condition]
    return min(better) if better else None


def for_condition(ev: Evidence, cents: int | None, condition: int | None) -> int | None:
    """A prediction for a copy of `condition`: never above a better copy offered now."""
    ceiling = better_offer(ev, condition)
    return cents if cents is None or ceiling is None else min(cents, ceiling)


ESTIMATORS: dict[str, Estimator] = {
    **BASELINES,
    "default": lambda ev: for_condition(ev, capped(ev, default(ev).cents), ev.condition_now)}


# -- the range -----------------------------------------------------------------------------
RANGE_QUANTILES = (0.2, 0.8)  # List at's range: where the coming median lands 60% of the time
TRACK_STEP_DAYS = 30


def track_record(ev: Evidence, horizon_days: int) -> list[float]:
    """The default's own log errors on this book's past: from every origin a horizon and a
    step apart before now, its prediction from the sales known then against the median of
    the used sales that followed within the horizon (all of them known now)."""
    used = ev.used
    times = [s.time for s in used]
    errors = []
    t = ev.now - horizon_days * DAY
    while times and t > times[0]:
        past = used[:bisect.bisect_right(times, t)]
        future = sorted(s.price_cents for s in used[bisect.bisect_right(times, t):
                                                     bisect.bisect_right(times, t + horizon_days * DAY)])
        if past and future:
            then = dataclasses.replace(ev, now=t, used=past)
            predicted = default(then).cents
            if predicted:
                errors.append(math.log(statistics.median(future) / predicted))
        t -= TRACK_STEP_DAYS * DAY
    return errors


def _between(values: list[float]) -> tuple[float, float]:
    """The order statistics of `values` that hold a new draw 60% of the time: the i-th and
    j-th of n with (j - i) / (n + 1) >= 0.6, so a short record gives a wide range."""
    values = sorted(values)
    n = len(values)
    i = max(1, math.floor(RANGE_QUANTILES[0] * (n + 1)))
    j = min(n, math.ceil(RANGE_QUANTILES[1] * (n + 1)))
    return values[i - 1], values[j - 1]


def default_range(ev: Evidence, horizon_days: int) -> tuple[int, int] | None:
    """The 20th and 80th percentile of the median used sale price of the coming horizon: the
    default's prediction times the spread of its own errors on this book's past (at least 3
    of them), else of the last year's single sales around their recent median; the Amazon
    ceiling caps both ends. No constant is fitted to any data set: the book's own record
    sets the width (docs/benchmarks.md, "List-at backtest": interval coverage)."""
    est = default(ev)
    if est.cents is None:
        return None
    errors = track_record(ev, horizon_days)
    if len(errors) < 3:
        center = est.recent or est.cents
        errors = [math.log(max(s.price_cents, 1) / max(center, 1)) for s in ev.recent(RECENT_DAYS)]
    if not errors:
        return None
    lo, hi = _between(errors)
    low = min(int(round(est.cents * math.exp(lo))), est.cents)
    high = max(int(round(est.cents * math.exp(hi))), est.cents)
    return capped(ev, low), capped(ev, high)


Range = Callable[[Evidence, int], "tuple[int, int] | None"]
RANGES: dict[str, Range] = {"default": default_range}


def capped(ev: Evidence, cents: int | None) -> int | None:
    """The Amazon ceiling the default applies: 90% of Amazon's own offer when Amazon sells the
    book now (an average of a year when it no longer does caps nothing real)."""
    if cents is not None and ev.amazon_now:
        return min(cents, int(pricing.AMAZON_CEILING * ev.amazon_now))
    return cents

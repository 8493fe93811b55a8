"""List-at estimators, side by side (pure, deterministic). Each takes the Evidence of a
product at one moment and returns the predicted used sale price in cents, or None.

`seed` is the earlier system's rule (pricing.predict_list_at). The simple baselines are the
yardsticks `arbitrage backtest` measures every estimator against; `default` is the one the
pipeline uses.
"""

from __future__ import annotations

import dataclasses
import math
import statistics
from collections.abc import Callable
from typing import Any

from arbitrage_cli.analysis import pricing
from arbitrage_cli.analysis.keepa_data import stat
from arbitrage_cli.analysis.sales import Sale, SalesInference, infer_sales
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

    def recent(self, days: int) -> list[Sale]:
        return [s for s in self.used if self.now - s.time <= days * DAY]


def evidence(product: Any, now: int) -> Evidence:
    sales = infer_sales(product, now)
    return Evidence(now, sales, sales.used_sales(), stat(product, "current", CSV["USED"]),
                    stat(product, "current", CSV["AMAZON"]),
                    stat(product, "avg180", CSV["AMAZON"]),
                    stat(product, "avg365", CSV["AMAZON"]),
                    stat(product, "avg90", CSV["USED"]))


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


ESTIMATORS: dict[str, Estimator] = {**BASELINES, "default": lambda ev: capped(ev, default(ev).cents)}


def capped(ev: Evidence, cents: int | None) -> int | None:
    """The Amazon ceiling the default applies: 90% of Amazon's own offer when Amazon sells the
    book now (an average of a year when it no longer does caps nothing real)."""
    if cents is not None and ev.amazon_now:
        return min(cents, int(pricing.AMAZON_CEILING * ev.amazon_now))
    return cents

"""List-at and the price statistics around it (domain.md §3.2 - §3.9, R16, R30).

List-at comes from inferred sales only: no sales, no List-at (no fallback to listing averages).
The Amazon ceiling caps the recommended price but the uncapped prediction is kept.
"""

from __future__ import annotations

import collections
import dataclasses
import datetime as dt
import statistics
from typing import Any

from arbitrage_cli.analysis.keepa_data import series, stat, valid
from arbitrage_cli.analysis.sales import Sale
from arbitrage_cli.keepa.constants import CSV
from arbitrage_cli.timefmt import epoch_from_keepa_minutes

HARD_CAP_CENTS = 150_000
AMAZON_CEILING = 0.90
TRIPWIRE_RATIO = 3.0
YEAR_MIN = 365 * 24 * 60


def month_of(keepa_minute: int) -> int:
    return dt.datetime.fromtimestamp(epoch_from_keepa_minutes(keepa_minute),
                                     tz=dt.timezone.utc).month


def median_cents(values: list[int]) -> int:
    return int(round(statistics.median(values)))


@dataclasses.dataclass(frozen=True)
class ListAt:
    list_at_cents: int | None  # the recommended price (capped); None: not a deal
    uncapped_cents: int | None  # the prediction before caps
    basis: str | None  # mode | median | none
    capped: bool  # lowered to the Amazon ceiling
    suspicious: bool  # > 3x the current used price: flagged and hidden, not accepted
    rejected: str | None  # over_hard_cap
    peak_month: int | None
    trough_month: int | None
    trough_cents: int | None
    ceiling_cents: int | None


def predict_list_at(sales: list[Sale], amazon_prices: list[int | None],
                    used_now: int | None) -> ListAt:
    prices = [s.price_cents for s in sales]
    peak = trough = trough_cents = None
    if not prices:
        return ListAt(None, None, "none", False, False, None, None, None, None, None)
    if len(prices) < 3:
        value, basis = median_cents(prices), "median"
    else:
        by_month: dict[int, list[int]] = collections.defaultdict(list)
        for s in sales:
            by_month[month_of(s.time)].append(s.price_cents)
        medians = {m: statistics.median(v) for m, v in by_month.items()}
        peak = max(sorted(medians), key=lambda m: medians[m])  # ties: earliest month
        trough = min(sorted(medians), key=lambda m: medians[m])
        trough_cents = median_cents(by_month[trough])
        counts = collections.Counter(by_month[peak])
        top = max(counts.values())
        if top > 1:
            value, basis = min(p for p, n in counts.items() if n == top), "mode"
        else:
            value, basis = median_cents(by_month[peak]), "median"
    amazon = [p for p in amazon_prices if p is not None and p > 0]
    ceiling = int(AMAZON_CEILING * min(amazon)) if amazon else None
    capped = ceiling is not None and value > ceiling
    recommended = ceiling if capped else value
    if recommended > HARD_CAP_CENTS:
        return ListAt(None, value, basis, capped, False, "over_hard_cap", peak, trough,
                      trough_cents, ceiling)
    suspicious = (not capped and used_now is not None and used_now > 0
                  and recommended / used_now > TRIPWIRE_RATIO)
    return ListAt(recommended, value, basis, capped, suspicious, None, peak, trough,
                  trough_cents, ceiling)


def one_year_average(sales: list[Sale], now: int) -> int | None:
    recent = [s.price_cents for s in sales if now - s.time <= YEAR_MIN]
    return int(round(statistics.fmean(recent))) if recent else None


def percent_down(price_now: int | None, avg: int | None) -> float | None:
    if price_now is None or avg is None or avg <= 0:
        return None
    return 0.0 if price_now > avg else (avg - price_now) * 100.0 / avg


def deal_trust(confirmed: int, drops: int) -> float | None:
    return None if drops <= 0 else float(round(confirmed * 100 / drops))


def trend(current: int | None, reference: int | None) -> str | None:
    if current is None or reference is None:
        return None
    return "rising" if current > reference else "falling" if current < reference else "flat"


def offers_trend(product: Any) -> str | None:
    """Used offer count now vs its 30-day average: rising competition is bad news."""
    return trend(stat(product, "current", CSV["COUNT_USED"]),
                 stat(product, "avg30", CSV["COUNT_USED"]))


def price_trend(product: Any) -> str | None:
    """Last N distinct used prices, first vs last; N by sales rank (fast sellers look
    further back). The earlier code keyed N on the Amazon price by mistake (§3.8)."""
    pts = valid(series(product, CSV["USED"]))
    collapsed: list[int] = []
    for _, v in pts:
        if v > 0 and (not collapsed or collapsed[-1] != v):
            collapsed.append(v)
    rank365 = stat(product, "avg365", CSV["SALES"])
    n = 10 if rank365 is not None and rank365 < 100_000 else \
        5 if rank365 is not None and rank365 < 500_000 else 3
    last = collapsed[-n:]
    if len(last) < 2:
        return "flat" if last else None
    return trend(last[-1], last[0])


def sales_rank(product: Any) -> int | None:
    rank = stat(product, "current", CSV["SALES"])
    if rank is None:
        pts = valid(series(product, CSV["SALES"]))
        rank = pts[-1][1] if pts else None
    if rank is None and isinstance(product, dict) and isinstance(product.get("salesRanks"), dict):
        for arr in product["salesRanks"].values():
            if isinstance(arr, list) and len(arr) >= 2 and isinstance(arr[-1], int) \
                    and arr[-1] > 0:
                return arr[-1]
    return rank

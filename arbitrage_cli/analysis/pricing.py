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
from arbitrage_cli.analysis.sales import percentile

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


def seasons(sales: list[Sale]) -> tuple[int | None, int | None, int | None]:
    """(peak month, trough month, trough median) of the monthly medians (years pooled), with
    3 or more sales; the seasonality columns read them."""
    if len(sales) < 3:
        return None, None, None
    by_month: dict[int, list[int]] = collections.defaultdict(list)
    for s in sales:
        by_month[month_of(s.time)].append(s.price_cents)
    medians = {m: statistics.median(v) for m, v in by_month.items()}
    peak = max(sorted(medians), key=lambda m: medians[m])  # ties: earliest month
    trough = min(sorted(medians), key=lambda m: medians[m])
    return peak, trough, median_cents(by_month[trough])


def predict_list_at(sales: list[Sale], amazon_prices: list[int | None],
                    used_now: int | None) -> ListAt:
    """The earlier system's rule (estimator `seed`): the mode of the peak month's sale prices
    (else their median), with 1-2 sales their median; capped at 90% of the lowest of
    Amazon's prices."""
    prices = [s.price_cents for s in sales]
    if not prices:
        return ListAt(None, None, "none", False, False, None, None, None, None, None)
    peak, trough, trough_cents = seasons(sales)
    if peak is None:
        value, basis = median_cents(prices), "median"
    else:
        counts = collections.Counter(s.price_cents for s in sales if month_of(s.time) == peak)
        top = max(counts.values())
        if top > 1:
            value, basis = min(p for p, n in counts.items() if n == top), "mode"
        else:
            value = median_cents([s.price_cents for s in sales if month_of(s.time) == peak])
            basis = "median"
    amazon = [p for p in amazon_prices if p is not None and p > 0]
    return finish(value, basis, min(amazon) if amazon else None, used_now,
                  (peak, trough, trough_cents))


def finish(value: int | None, basis: str, amazon_cents: int | None, used_now: int | None,
           season: tuple[int | None, int | None, int | None]) -> ListAt:
    """The caps every estimate goes through (domain.md §3.3): the Amazon ceiling (90% of
    `amazon_cents`), the $1,500 hard cap, the 3x trip-wire against the current used price."""
    peak, trough, trough_cents = season
    if value is None:
        return ListAt(None, None, "none", False, False, None, peak, trough, trough_cents, None)
    ceiling = int(AMAZON_CEILING * amazon_cents) if amazon_cents else None
    capped = ceiling is not None and value > ceiling
    recommended = ceiling if capped else value
    if recommended > HARD_CAP_CENTS:
        return ListAt(None, value, basis, capped, False, "over_hard_cap", peak, trough,
                      trough_cents, ceiling)
    suspicious = (not capped and used_now is not None and used_now > 0
                  and recommended / used_now > TRIPWIRE_RATIO)
    return ListAt(recommended, value, basis, capped, suspicious, None, peak, trough,
                  trough_cents, ceiling)


# -- how much to trust a List at, and how fast it sells ----------------------------------------
def confidence(sales: list[Sale], now: int) -> float | None:
    """0-1: how many of the last year's used sales support the List at, and how tight they
    are. support = n / (n + 5) (5 sales: 0.5), tightness = 1 / (1 + IQR / median); the
    confidence is their product, two decimals. None without a used sale in the year."""
    prices = sorted(s.price_cents for s in sales if now - s.time <= YEAR_MIN)
    if not prices:
        return None
    med = statistics.median(prices)
    spread = (percentile(prices, 0.75) - percentile(prices, 0.25)) / med if med > 0 else 1.0
    return round(len(prices) / (len(prices) + 5) / (1 + spread), 2)


def sale_days(sales: list[Sale], now: int, days: int = 180) -> int:
    """Days of the last `days` with at least one inferred sale of any kind (the demand a
    rank history shows; ScoutIQ's eScore counts the same days from the rank alone)."""
    return len({(now - s.time) // 1440 for s in sales if 0 <= now - s.time <= days * 1440})


def used_share(sales: list[Sale]) -> float:
    """The share of used copies among the sales whose kind is known (1 when none is): a sale
    of unknown kind counts for the used rate in that proportion."""
    used = sum(1 for s in sales if s.kind == "used")
    new = sum(1 for s in sales if s.kind == "new")
    return used / (used + new) if used + new else 1.0


def days_to_sell(sales: list[Sale], now: int, offers_ahead: int | None) -> float | None:
    """Expected days to sell one copy listed at the List at: the copies priced at or below
    it sell first, one at a time, at the used sale rate of the last 180 days (of the last
    year when fewer than 2 sold in 180). `sales`: every inferred sale; a new one does not
    count, one of unknown kind counts as the used share of the known ones. None without a
    used sale in the year."""
    share = used_share(sales)

    def rate(days: int) -> float:
        return sum(1.0 if s.kind == "used" else share if s.kind == "unknown" else 0.0
                   for s in sales if 0 <= now - s.time <= days * 1440)

    window = 180
    n = rate(window)
    if n < 2:
        window, n = 365, rate(365)
    if not any(s.kind == "used" and 0 <= now - s.time <= YEAR_MIN for s in sales) or n <= 0:
        return None
    return round(((offers_ahead or 0) + 1) * window / n, 1)


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

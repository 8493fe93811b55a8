"""A Keepa product as of an earlier Keepa minute T (pure): what Keepa would have answered at T.

Every csv series (and salesRanks) is cut at T, keeping the point still in effect; the stats
are recomputed from the cut series the way Keepa computes them (keepa-api.md §2.4: `current`
is the value in effect, `avgN` the time-weighted mean of the non-negative values over the N
days before, floor(), -1 when nothing qualifies; `salesRankDropsN` the rank jumps in the
window, analysis/sales.py). Keepa keeps in its csv prices it leaves out of its statistics
(a $2,345 listing on a $50 book): they lie above its own all-time maximum (`stats.max`), so
a price above it does not count in an average and the price before it holds (this matches
Keepa's used averages on every real file, where the raw csv is off by up to 3.4x; without
`stats.max` every price counts); the Amazon state is read from the Amazon series at T; the live
offers of that day are unknown, so there are none; the fees are those known at T (`fbaFees`
when its lastUpdate is not later; the undated referral and closing fees give way to the
defaults). Nothing after T survives: backtest predictions and charts at T use exactly what a
user would have seen then.
"""

from __future__ import annotations

import bisect
import copy
import operator
from typing import Any

from arbitrage_cli.analysis.keepa_data import csv_array, is_int, lst, obj, series, valid
from arbitrage_cli.analysis.sales import USED_CONDITION_CSV, jumps
from arbitrage_cli.keepa.constants import CSV, csv_has_shipping

DAY = 1440
WINDOWS = (30, 90, 180, 365)
# Fees Keepa gives without a date: what they were at T is unknown, so the defaults stand in.
UNDATED_FEES = ("referralFeePercentage", "referralFeePercent", "variableClosingFee")
USED_PRICE_CSV = (CSV["USED"], *USED_CONDITION_CSV.values())  # lowest used, each condition


def _cut(arr: list, t: int, width: int) -> list:
    times = arr[0:len(arr) - len(arr) % width:width]
    if set(map(type, times)) == {int} and all(map(operator.le, times, times[1:])):
        return arr[:bisect.bisect_right(times, t) * width]  # Keepa's order: one search
    out = []
    for i in range(0, len(arr) - width + 1, width):
        if is_int(arr[i]) and arr[i] <= t:
            out += arr[i:i + width]
    return out


def weighted_mean(points: list[tuple[int, int]], a: int, b: int,
                  times: list[int] | None = None) -> int:
    """floor() of the time-weighted mean of the non-negative values in effect over [a, b]
    (each value holds until the next point); -1 if none qualifies. `times`: the points'
    times, when the caller has them (then only the window's points are read)."""
    total = weight = 0
    first = max(0, bisect.bisect_right(times, a) - 1) if times is not None else 0
    for i in range(first, len(points)):
        t, v = points[i]
        if t >= b:
            break
        start = max(t, a)
        end = min(points[i + 1][0] if i + 1 < len(points) else b, b)
        if end <= start or v < 0:
            continue
        total += v * (end - start)
        weight += end - start
    return total // weight if weight else -1


def keepa_ceilings(product: dict) -> dict[int, int]:
    """csv index -> Keepa's all-time highest price (`stats.max`), for the used price series
    (the lowest used price and each condition's): what lies above it Keepa left out of its
    statistics. Only these: Keepa's own used averages are the keepa_avg90 baseline, and no
    other statistic at T reads the file's end."""
    highest = obj(product, "stats").get("max")
    out: dict[int, int] = {}
    if not isinstance(highest, list):
        return out
    for i in USED_PRICE_CSV:
        pair = highest[i] if i < len(highest) else None
        if isinstance(pair, list) and len(pair) == 2 and is_int(pair[1]) and pair[1] > 0:
            out[i] = pair[1]
    return out


def value_at(points: list[tuple[int, int]], t: int) -> int:
    v = -1
    for pt, pv in points:
        if pt > t:
            break
        v = pv
    return v


def as_of(product: Any, t: int) -> dict:
    """The product as Keepa would have served it at Keepa minute `t` (a new dict)."""
    p = product if isinstance(product, dict) else {}
    out = {k: copy.deepcopy(v) for k, v in p.items()
           if k not in ("csv", "stats", "offers", "liveOffersOrder", "salesRanks",
                        "buyBoxUsedHistory", "buyBoxSellerIdHistory", "monthlySoldHistory",
                        *UNDATED_FEES, "fbaFees")}
    fba = obj(p, "fbaFees")
    if is_int(fba.get("lastUpdate")) and 0 <= fba["lastUpdate"] <= t:  # known by then
        out["fbaFees"] = copy.deepcopy(fba)
    size = len(lst(p, "csv"))
    csv: list = [None] * size
    for i in range(size):
        arr = csv_array(p, i)
        if arr:
            cut = _cut(arr, t, 3 if csv_has_shipping(i) else 2)
            csv[i] = cut or None
    out["csv"] = csv
    ranks = obj(p, "salesRanks")
    if ranks:
        out["salesRanks"] = {k: _cut(v, t, 2) for k, v in ranks.items() if isinstance(v, list)}
    stats: dict[str, Any] = {name: [-1] * size for name in ("current", "avg", *(
        f"avg{n}" for n in WINDOWS))}
    cut_product = {"csv": csv}
    last_price_change = -1
    ceilings = keepa_ceilings(p)
    for i in range(size):
        pts = series(cut_product, i)  # landed prices for the _SHIPPING types
        if not pts:
            continue
        times = [pt for pt, _ in pts]
        stats["current"][i] = pts[-1][1]  # the series is cut at t: its last point holds
        counted = pts
        if i in ceilings:
            counted = [pt for pt in pts if pt[1] <= ceilings[i]]
        counted_times = [pt for pt, _ in counted]
        for n in WINDOWS:
            stats[f"avg{n}"][i] = weighted_mean(counted, t - n * DAY, t, counted_times)
        stats["avg"][i] = stats["avg365"][i]
        if i not in (CSV["SALES"], CSV["COUNT_NEW"], CSV["COUNT_USED"]):
            last_price_change = max(last_price_change, times[-1])
    rank = valid(series(cut_product, CSV["SALES"]))
    jumped = [rank[i][0] for i in jumps(rank)]
    for n in WINDOWS:
        stats[f"salesRankDrops{n}"] = len(jumped) - bisect.bisect_right(jumped, t - n * DAY)
    stats.update({"lastOffersUpdate": -1, "totalOfferCount": -2})
    out["stats"] = stats
    out["offersSuccessful"] = False
    out["lastUpdate"] = min(p["lastUpdate"], t) if is_int(p.get("lastUpdate")) else t
    out["lastPriceChange"] = last_price_change
    amazon = stats["current"][CSV["AMAZON"]] if size > CSV["AMAZON"] else -1
    out["availabilityAmazon"] = 0 if amazon > 0 else -1
    return out

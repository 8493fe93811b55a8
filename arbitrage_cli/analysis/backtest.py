"""Backtesting List-at (pure; issues 14 and 22): predict as of many earlier times T, compare
with the used sales that followed, one book one vote.

Cut points (rolling origin): T = end - horizon, end - horizon - step, ... back to where at
least `MIN_HISTORY_DAYS` of history precede T. Everything at T comes from the product as of T
(analysis/asof.py): nothing after T can leak into a cut point. The truth is the sales
inferred from the whole history, with the same rules, in (T, T + horizon]; a buy at T is at
Keepa's lowest used price at T, with the fees known at T.

Snapshots of one ASIN are one book: the latest history serves, and an earlier snapshot only
adds the cut points its own history reaches that the latest's does not. Every measure is
taken per book first (the median of its cut points; for a rate, its share) and then across
books (the median of the books; for a rate, their mean), so a book with many snapshots or a
long history weighs as much as any other; the all-cut-points median is reported beside it.
A 90% bootstrap interval over books (resampled, fixed seed) says how much of a difference
between estimators is noise.
"""

from __future__ import annotations

import dataclasses
import random
import statistics
from collections.abc import Iterable, Mapping

from arbitrage_cli.analysis.asof import DAY, as_of
from arbitrage_cli.analysis.business import BusinessSettings, FeeInputs, compute
from arbitrage_cli.analysis.deal import history
from arbitrage_cli.analysis.estimators import RANGES, Estimator
from arbitrage_cli.analysis.pricing import days_to_sell, used_share
from arbitrage_cli.analysis.sales import SalesInference, infer_sales

MIN_HISTORY_DAYS = 180
BOOTSTRAP_DRAWS, BOOTSTRAP_SEED = 1000, 22
VELOCITY_DAYS = 180  # the sale rate at T: the sales of the half year before it


@dataclasses.dataclass(frozen=True)
class CutPoint:
    book: str
    name: str
    t: int
    buy_cents: int | None  # Keepa's lowest used price at T (item only)
    fees: FeeInputs  # known at T, without buy price or List at
    condition: int | None  # of the cheapest used copy at T, when the series say
    predictions: dict[str, int | None]
    ranges: dict[str, tuple[int, int] | None]
    realized: tuple[int, ...]  # used sale prices in (T, T + horizon]
    realized_sales: int  # every inferred sale in (T, T + horizon]
    predicted_sales: float | None  # the sale rate at T times the horizon
    predicted_days: float | None  # days_to_sell at T
    realized_days: float | None  # the same formula on what followed


def first_time(product: dict) -> int | None:
    times = [arr[0] for arr in product.get("csv") or []
             if isinstance(arr, list) and arr and isinstance(arr[0], int)]
    return min(times) if times else None


def cut_times(first: int, end: int, horizon_days: int, step_days: int) -> list[int]:
    """T = end - horizon - k * step, newest first, while MIN_HISTORY_DAYS precede T."""
    out, t = [], end - horizon_days * DAY
    while t - first >= MIN_HISTORY_DAYS * DAY:
        out.append(t)
        t -= step_days * DAY
    return out


def cut(product: dict, t: int, horizon_days: int, estimators: Mapping[str, Estimator],
        truth: SalesInference, name: str = "") -> CutPoint:
    """The cut point at T; `truth`: the sales inferred from the whole history."""
    past = as_of(product, t)
    h = history(past, t)
    ev = h.evidence
    end = t + horizon_days * DAY
    window = [s for s in truth.events if t < s.time <= end]
    realized = tuple(s.price_cents for s in truth.used_sales() if t < s.time <= end)
    known = [s for s in ev.sales.events if t - s.time <= VELOCITY_DAYS * DAY]
    used_count = ev.used_count
    return CutPoint(
        book=product.get("asin") or name, name=name, t=t, buy_cents=ev.used_now, fees=h.fees,
        condition=ev.condition_now,
        predictions={k: fn(ev) for k, fn in estimators.items()},
        ranges={k: RANGES[k](ev, horizon_days) if k in RANGES else None for k in estimators},
        realized=realized, realized_sales=len(window),
        predicted_sales=len(known) / VELOCITY_DAYS * horizon_days if known else 0.0,
        predicted_days=days_to_sell(list(ev.sales.events), t, used_count),
        realized_days=_days_after(window, end, horizon_days, used_count))


def _days_after(window: list, end: int, horizon_days: int, offers_ahead: int | None
                ) -> float | None:
    """days_to_sell's formula on the sales that followed T (None when no used one did)."""
    share = used_share(window)
    n = sum(1.0 if s.kind == "used" else share if s.kind == "unknown" else 0.0 for s in window)
    if not any(s.kind == "used" for s in window) or n <= 0:
        return None
    return round(((offers_ahead or 0) + 1) * horizon_days / n, 1)


def book_points(items: Iterable[tuple[dict, int, str]], horizon_days: int, step_days: int,
                estimators: Mapping[str, Estimator]) -> list[CutPoint]:
    """Every cut point of every book: the latest snapshot of an ASIN serves its cut points;
    an earlier one only those older than the latest reaches (copies add nothing)."""
    books: dict[str, list[tuple[dict, int, str]]] = {}
    for product, end, name in items:
        books.setdefault(product.get("asin") or name, []).append((product, end, name))
    points = []
    for snaps in books.values():
        covered: int | None = None
        for product, end, name in sorted(snaps, key=lambda s: -s[1]):
            first = first_time(product)
            if first is None:
                continue
            times = cut_times(first, end, horizon_days, step_days)
            if covered is not None:
                times = [t for t in times if t < covered - step_days * DAY // 2]
            if not times:
                continue
            truth = infer_sales(product, end)
            points += [cut(product, t, horizon_days, estimators, truth, name) for t in times]
            covered = min(times) if covered is None else min(covered, min(times))
    return points


# -- scoring ----------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class BookScore:
    predicted: int
    sold: int
    mdape: float | None  # median absolute % error of its cut points with a sale
    over: float | None  # share of those predicted above the highest sale
    inside: float | None  # share of those whose realized median fell in the range


def _median_sale(p: CutPoint) -> float:
    return statistics.median(p.realized)


def book_scores(points: list[CutPoint], name: str) -> dict[str, BookScore]:
    by_book: dict[str, list[CutPoint]] = {}
    for p in points:
        if p.predictions.get(name) is not None:
            by_book.setdefault(p.book, []).append(p)
    out = {}
    for book, ps in by_book.items():
        sold = [p for p in ps if p.realized]
        ape = [abs(p.predictions[name] - _median_sale(p)) / _median_sale(p) * 100 for p in sold]
        ranged = [p for p in sold if p.ranges.get(name)]
        out[book] = BookScore(
            len(ps), len(sold), statistics.median(ape) if ape else None,
            sum(p.predictions[name] > max(p.realized) for p in sold) / len(sold) if sold else None,
            sum(p.ranges[name][0] <= _median_sale(p) <= p.ranges[name][1] for p in ranged)
            / len(ranged) if ranged else None)
    return out


def _profit(p: CutPoint, sale_cents: float | None, settings: BusinessSettings) -> int | None:
    if p.buy_cents is None or sale_cents is None:
        return None
    return compute(dataclasses.replace(p.fees, price_now_cents=p.buy_cents,
                                       list_at_cents=int(sale_cents)), settings).profit_cents


def _weighted(points: list[CutPoint], keep, hit) -> float | None:
    """Share of `keep` points that `hit`, each book weighing one (its points 1/n each)."""
    n: dict[str, int] = {}
    for p in points:
        if keep(p):
            n[p.book] = n.get(p.book, 0) + 1
    total = sum(1.0 for _ in n)
    if not total:
        return None
    return round(sum(1.0 / n[p.book] for p in points if keep(p) and hit(p)) / total, 4)


def _median(values: list[float]) -> float | None:
    return round(statistics.median(values), 1) if values else None


def _mean(values: list[float]) -> float | None:
    return round(statistics.fmean(values), 4) if values else None


def interval(values: list[float], draws: list[list[int]], stat) -> list[float] | None:
    """The 5th and 95th percentile of `stat` over bootstrap draws of `values` (by index)."""
    if not values:
        return None
    got = sorted(stat([values[i] for i in d]) for d in draws)
    return [round(got[int(0.05 * (len(got) - 1))], 4), round(got[int(0.95 * (len(got) - 1))], 4)]


def draws_for(n: int) -> list[list[int]]:
    rng = random.Random(BOOTSTRAP_SEED)
    return [[rng.randrange(n) for _ in range(n)] for _ in range(BOOTSTRAP_DRAWS)] if n else []


def score(points: list[CutPoint], name: str, settings: BusinessSettings | None = None) -> dict:
    """The estimator's report card, book by book."""
    settings = settings or BusinessSettings()
    books = book_scores(points, name)
    sold = [b for b in books.values() if b.sold]
    mdapes = [b.mdape for b in sold]
    overs = [b.over for b in sold]
    draws = draws_for(len(sold))
    predicted = [p for p in points if p.predictions.get(name) is not None]
    all_ape = [abs(p.predictions[name] - _median_sale(p)) / _median_sale(p) * 100
               for p in predicted if p.realized]

    def bet(p: CutPoint) -> bool:
        return (_profit(p, p.predictions[name], settings) or 0) > 0

    def won(p: CutPoint) -> bool:
        return bool(p.realized) and (_profit(p, _median_sale(p), settings) or 0) > 0

    insides = [b.inside for b in books.values() if b.inside is not None]
    return {
        "n": len(predicted), "books": len(books),
        "coverage": _mean([b.sold / b.predicted for b in books.values()]),
        "mdape_pct": _median(mdapes),
        "mdape_ci_pct": interval(mdapes, draws, statistics.median),
        "mdape_all_pct": _median(all_ape),
        "overestimate_rate": _mean(overs),
        "overestimate_ci": interval(overs, draws, statistics.fmean),
        "precision": _weighted(predicted, bet, won),
        "recall": _weighted([p for p in predicted if p.realized], won, bet),
        "interval_coverage": _mean(insides) if insides else None,
    }


def difference(points: list[CutPoint], a: str, b: str) -> dict:
    """a - b on book-weighted MdAPE and overestimate rate, over the cut points both predicted
    (an estimator that abstains where the evidence is thin must not win by abstaining), with
    90% bootstrap intervals over the books; `noise` when the interval holds 0;
    `better_books`: the books where a's MdAPE is lower than b's."""
    both = [p for p in points
            if p.predictions.get(a) is not None and p.predictions.get(b) is not None]
    sa, sb = book_scores(both, a), book_scores(both, b)
    common = sorted(k for k in sa if k in sb and sa[k].sold and sb[k].sold)
    out = {"books": len(common), "cut_points": sum(1 for p in both if p.realized),
           "better_books": sum(sa[k].mdape < sb[k].mdape for k in common)}
    draws = draws_for(len(common))
    for key, attr, stat in (("mdape_pct", "mdape", statistics.median),
                            ("overestimate_rate", "over", statistics.fmean)):
        x = [getattr(sa[k], attr) for k in common]
        y = [getattr(sb[k], attr) for k in common]
        if not common:
            out[key] = None
            continue
        got = sorted(stat([x[i] for i in d]) - stat([y[i] for i in d]) for d in draws)
        lo, hi = got[int(0.05 * (len(got) - 1))], got[int(0.95 * (len(got) - 1))]
        out[key] = {"difference": round(stat(x) - stat(y), 4), "ci": [round(lo, 4), round(hi, 4)],
                    "noise": lo <= 0 <= hi}
    return out


def velocity(points: list[CutPoint]) -> dict:
    """Predicted sales in the horizon (the rate at T) against the sales that followed, and
    days_to_sell at T against the same formula on what followed; book by book."""
    by_book: dict[str, list[CutPoint]] = {}
    for p in points:
        by_book.setdefault(p.book, []).append(p)
    ratios, within, days = [], [], []
    for ps in by_book.values():
        r = [p.predicted_sales / p.realized_sales for p in ps
             if p.realized_sales and p.predicted_sales is not None]
        if r:
            ratios.append(statistics.median(r))
            within.append(sum(0.5 <= x <= 2 for x in r) / len(r))
        d = [p.predicted_days / p.realized_days for p in ps
             if p.predicted_days and p.realized_days]
        if d:
            days.append(statistics.median(d))
    return {"books": len(ratios), "sales_ratio_median": _median_ratio(ratios),
            "sales_within_half_to_double": _mean(within),
            "days_to_sell_ratio_median": _median_ratio(days), "days_books": len(days)}


def _median_ratio(values: list[float]) -> float | None:
    return round(statistics.median(values), 2) if values else None


def by_condition(points: list[CutPoint], name: str) -> dict[str, dict]:
    """The estimator's book-weighted MdAPE by the condition of the copy bought at T."""
    labels = {2: "like_new", 3: "very_good", 4: "good", 5: "acceptable", None: "unknown"}
    out = {}
    for condition, label in labels.items():
        subset = [p for p in points if p.condition == condition]
        books = [b for b in book_scores(subset, name).values() if b.sold]
        if books:
            out[label] = {"books": len(books), "cut_points": sum(b.sold for b in books),
                          "mdape_pct": _median([b.mdape for b in books])}
    return out


def evaluate(items: Iterable[tuple[dict, int, str]], horizon_days: int,
             estimators: Mapping[str, Estimator], settings: BusinessSettings | None = None,
             step_days: int = 30) -> dict:
    """`items`: (product, end of its history in Keepa minutes, name). The report
    `arbitrage backtest --json` prints."""
    points = book_points(items, horizon_days, step_days, estimators)
    report = {"horizon_days": horizon_days, "step_days": step_days,
              "books": len({p.book for p in points}), "cut_points": len(points),
              "estimators": {name: score(points, name, settings) for name in estimators}}
    if "default" in estimators:
        report["differences"] = {name: difference(points, "default", name)
                                 for name in estimators if name != "default"}
        report["by_condition"] = by_condition(points, "default")
    report["velocity"] = velocity(points)
    return report

"""Backtesting List-at (pure): predict as of T = end of history - horizon, compare with the
used sales that followed (issue 14).

Everything at T comes from the product as of T (analysis/asof.py): nothing after T can leak
into a prediction. The truth is the used sales inferred from the full history, with the same
inference rules, in (T, T + horizon]. A buy at T is at Keepa's lowest used price at T.
"""

from __future__ import annotations

import dataclasses
import statistics
from collections.abc import Iterable, Mapping

from arbitrage_cli.analysis.asof import DAY, as_of
from arbitrage_cli.analysis.business import BusinessSettings, compute
from arbitrage_cli.analysis.deal import history
from arbitrage_cli.analysis.estimators import Estimator, evidence
from arbitrage_cli.analysis.sales import infer_sales


@dataclasses.dataclass(frozen=True)
class CutPoint:
    name: str
    asin: str | None
    t: int
    buy_cents: int | None  # Keepa's lowest used price at T (item only)
    fees: object  # FeeInputs at T, without buy price or List at
    predictions: dict[str, int | None]
    realized: tuple[int, ...]  # used sale prices in (T, T + horizon]


def cut(product: dict, end: int, horizon_days: int, estimators: Mapping[str, Estimator],
        name: str = "") -> CutPoint | None:
    """One cut point, or None when the history is shorter than the horizon."""
    t = end - horizon_days * DAY
    first = min((p[0] for p in _times(product)), default=None)
    if first is None or first >= t:
        return None
    past = as_of(product, t)
    ev = evidence(past, t)
    fees = history(past, t).fees
    realized = tuple(s.price_cents for s in infer_sales(product, end).used_sales()
                     if t < s.time <= t + horizon_days * DAY)
    return CutPoint(name, product.get("asin"), t, ev.used_now, fees,
                    {k: fn(ev) for k, fn in estimators.items()}, realized)


def _times(product: dict) -> Iterable[tuple[int]]:
    for arr in product.get("csv") or []:
        if isinstance(arr, list) and arr and isinstance(arr[0], int):
            yield (arr[0],)


def _profit(point: CutPoint, sale_cents: int | None, settings: BusinessSettings) -> int | None:
    if point.buy_cents is None or sale_cents is None:
        return None
    return compute(dataclasses.replace(point.fees, price_now_cents=point.buy_cents,
                                       list_at_cents=sale_cents), settings).profit_cents


def score(points: list[CutPoint], name: str, settings: BusinessSettings | None = None
          ) -> dict:
    """The estimator's report card on these cut points."""
    settings = settings or BusinessSettings()

    def realized_profitable(p: CutPoint) -> bool:
        median = int(statistics.median(p.realized)) if p.realized else None
        return (_profit(p, median, settings) or 0) > 0

    predicted = [p for p in points if p.predictions.get(name) is not None]
    sold = [p for p in predicted if p.realized]
    ape = [abs(p.predictions[name] - statistics.median(p.realized))
           / statistics.median(p.realized) * 100 for p in sold]
    over = [p.predictions[name] > max(p.realized) for p in sold]
    bets = [p for p in predicted if (_profit(p, p.predictions[name], settings) or 0) > 0]
    winners = [p for p in points if realized_profitable(p)]
    return {
        "n": len(predicted),
        "coverage": _ratio(len(sold), len(predicted)),
        "mdape_pct": round(statistics.median(ape), 1) if ape else None,
        "overestimate_rate": _ratio(sum(over), len(over)),
        "precision": _ratio(sum(realized_profitable(p) for p in bets), len(bets)),
        "recall": _ratio(sum(1 for p in winners if p in bets), len(winners)),
        "predicted_profitable": len(bets), "realized_profitable": len(winners),
    }


def _ratio(a: int, b: int) -> float | None:
    return round(a / b, 4) if b else None


def evaluate(items: Iterable[tuple[dict, int, str]], horizon_days: int,
             estimators: Mapping[str, Estimator],
             settings: BusinessSettings | None = None) -> dict:
    """`items`: (product, end of its history in Keepa minutes, name). The report
    `arbitrage backtest --json` prints."""
    points = [p for product, end, name in items
              if (p := cut(product, end, horizon_days, estimators, name)) is not None]
    return {"horizon_days": horizon_days, "products": len(points),
            "estimators": {name: score(points, name, settings) for name in estimators}}

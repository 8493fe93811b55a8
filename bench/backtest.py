"""List at against what happened next, estimator by estimator (issue 14).

    python -m bench.backtest --products 2000 --horizons 30 90 180

`arbitrage backtest` on the real files (../shared/real-keepa and its snapshots, each a cut
point) and on a simulator catalog, at each horizon; plus, for the default estimator, the
error by `list_at_confidence` band (does a higher confidence mean a smaller error?) and the
per-product analysis cost against the seed's.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from arbitrage_cli.analysis import estimators as est
from arbitrage_cli.analysis import pricing
from arbitrage_cli.analysis.asof import as_of
from arbitrage_cli.analysis.backtest import cut, score
from arbitrage_cli.commands.backtest import saved_products
from arbitrage_cli.simulator import Catalog, views
from arbitrage_cli.timefmt import keepa_minutes_from_epoch
from bench.machine import describe
from bench.tokens import EPOCH

REAL = Path(__file__).resolve().parent.parent.parent / "shared" / "real-keepa"


def simulated(products: int, seed: int = 11) -> list[tuple[dict, int, str]]:
    cat = Catalog(seed=seed, products=products, now=EPOCH)
    now = keepa_minutes_from_epoch(EPOCH)
    return [(views.product_json(cat.product(a), now, stats_days=365, history=True, days=None,
                                offers=None, offers_fetched_at=None), now, a)
            for a in cat.asins]


def bands(items, horizon: int) -> list[dict]:
    """The default's error by confidence band, from the same cut points."""
    out = {}
    for product, end, name in items:
        p = cut(product, end, horizon, {"default": est.ESTIMATORS["default"]}, name)
        if p is None or p.predictions["default"] is None or not p.realized:
            continue
        ev = est.evidence(as_of(product, p.t), p.t)
        c = pricing.confidence(ev.used, p.t) or 0.0
        band = "< 0.2" if c < 0.2 else "0.2-0.4" if c < 0.4 else ">= 0.4"
        ape = abs(p.predictions["default"] - statistics.median(p.realized)) \
            / statistics.median(p.realized) * 100
        out.setdefault(band, []).append(ape)
    return [{"band": b, "n": len(v), "mdape_pct": round(statistics.median(v), 1)}
            for b, v in sorted(out.items())]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--products", type=int, default=2000)
    ap.add_argument("--horizons", type=int, nargs="+", default=[30, 90, 180])
    args = ap.parse_args()
    sets = {"real": list(saved_products(REAL)) if REAL.is_dir() else [],
            "simulator": simulated(args.products)}
    results = {}
    for name, items in sets.items():
        results[name] = {}
        for h in args.horizons:
            started = time.perf_counter()
            points = [p for product, end, label in items
                      if (p := cut(product, end, h, est.ESTIMATORS, label)) is not None]
            results[name][str(h)] = {
                "cut_points": len(points), "books": len({p.asin for p in points}),
                "books_with_sales": len({p.asin for p in points if p.realized}),
                "estimators": {k: score(points, k) for k in est.ESTIMATORS},
                "seconds": round(time.perf_counter() - started, 1)}
    confidence = {name: bands(items, 90) for name, items in sets.items()}
    # the per-product cost of the estimate the pipeline makes, against the seed rule's
    sample = [est.evidence(p, end) for p, end, _ in sets["simulator"][:400]]
    timing = {}
    for name, fn in (("seed", est.seed), ("default", est.default)):
        best = None
        for _ in range(5):
            started = time.perf_counter()
            for ev in sample:
                fn(ev)
            elapsed = time.perf_counter() - started
            best = elapsed if best is None else min(best, elapsed)
        timing[name] = round(best / len(sample) * 1e6, 1)
    print(json.dumps({"machine": describe(), "products": args.products,
                      "real_files": len(sets["real"]), "results": results,
                      "confidence_bands_90": confidence,
                      "estimate_us_per_product": timing}, indent=2))


if __name__ == "__main__":
    main()

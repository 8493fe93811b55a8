"""Visible deals per 1,000 Keepa tokens: the history funnel against live offers for every
listed product (the seed, `--no-screen`), on the same catalog (issue 13).

    python -m bench.funnel --products 2000 --lags 0 60 360

For each divergence level (the simulator's `history_lag_minutes`: Keepa crawls each product
that often, so its stored history, stats and deal pages are up to that old while live offers
are current; cheaper copies listed since and copies sold since differ between what stage 1
judged and what stage 2 sees; stage 1 asks `update=1`, so Keepa refreshes what is older than
an hour, as documented), two backfills of one catalog at the same simulated moment: `--no-screen` and the
default funnel. recall = visible deals the funnel found / visible deals the full fetch
found. Then every real Keepa product in ../shared/real-keepa with live offers: the stage-1
verdict on its history alone (offers removed, as a history-only answer has none) against
the full analysis.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from arbitrage_cli.analysis import screen
from arbitrage_cli.analysis.asof import as_of
from arbitrage_cli.analysis.business import BusinessSettings
from arbitrage_cli.analysis.deal import analyse
from arbitrage_cli.clock import FakeClock
from arbitrage_cli.product_files import saved_products
from arbitrage_cli.explain import visibility
from arbitrage_cli.pipeline.backfill import BackfillOptions, backfill
from arbitrage_cli.simulator import Catalog, KeepaSimulator, start_simulator
from arbitrage_cli.simulator import listing as sim_listing
from arbitrage_cli.store import open_db
from bench.machine import describe
from bench.tokens import EPOCH, QUERY, client_for

REAL = Path(__file__).resolve().parent.parent.parent / "shared" / "real-keepa"
OFFERS_ONLY_CSV = (19, 20, 21, 22, 32)  # series a history-only answer does not carry


def backfilled(catalog: Catalog, lag: int, screening: bool) -> dict:
    clock = FakeClock(EPOCH)  # frozen: both runs see the same market
    sim = KeepaSimulator(catalog, clock=clock, refill_rate=100_000, tokens=10**7,
                         history_lag_minutes=lag)
    db = open_db(str(Path(tempfile.mkdtemp()) / "deals.db"))
    started = time.perf_counter()
    with start_simulator(sim) as server:
        summary = backfill(db, client_for(db, server.url, clock), QUERY,
                           BackfillOptions(screen=screening), clock=clock)
    tokens = {e: sum(r.tokens_consumed for r in sim.calls(e)) for e in ("deal", "product",
                                                                        "seller")}
    histories = sum(r.tokens_consumed for r in sim.calls("product")
                    if "offers" not in r.params)
    visible = {r["asin"] for r in db.query("select asin from visible_deals")}
    by_status = dict(db.execute("select status, count(*) from deals group by 1"))
    return {"outcome": summary["outcome"], "tokens": sum(tokens.values()),
            "tokens_by_endpoint": tokens, "history_tokens": histories,
            "offers_tokens": tokens["product"] - histories, "listed": db["deals"].count,
            "by_status": by_status, "visible": sorted(visible),
            "wall_seconds": round(time.perf_counter() - started, 1)}


def compare(products: int, lag: int, seed: int = 11) -> dict:
    catalog = Catalog(seed=seed, products=products, now=EPOCH)
    sim_listing.build_all(catalog)
    full = backfilled(catalog, lag, screening=False)
    catalog = Catalog(seed=seed, products=products, now=EPOCH)  # the same, untouched
    sim_listing.build_all(catalog)
    funnel = backfilled(catalog, lag, screening=True)
    per_k = {name: len(r["visible"]) * 1000 / r["tokens"] for name, r in
             (("full", full), ("funnel", funnel))}
    found = set(funnel["visible"]) & set(full["visible"])
    missed = sorted(set(full["visible"]) - set(funnel["visible"]))
    for r in (full, funnel):
        r["visible_deals"] = len(r.pop("visible"))
    return {"lag_minutes": lag, "products": products, "no_screen": full, "funnel": funnel,
            "visible_per_1000_tokens": {k: round(v, 2) for k, v in per_k.items()},
            "ratio": round(per_k["funnel"] / per_k["full"], 2) if per_k["full"] else None,
            "recall": round(len(found) / full["visible_deals"], 4) if full["visible_deals"]
            else None, "missed": missed}


def history_only(p: dict) -> dict:
    """A product as a history-only /product answer would carry it (real-keepa
    av-0593655036-raw-nooffers shows the shape)."""
    q = {k: v for k, v in p.items() if k not in ("offers", "liveOffersOrder")}
    q["offersSuccessful"] = False
    if isinstance(q.get("csv"), list):
        q["csv"] = [None if i in OFFERS_ONLY_CSV else c for i, c in enumerate(q["csv"])]
    return q


def real_files(settings: BusinessSettings | None = None, cut_min: int = 0) -> dict:
    """The stage-1 verdict on each real product's history against its full analysis;
    `cut_min`: judged from the history as Keepa served it that many minutes before the
    live offers were taken (analysis/asof.py), as a sync judges from data that old."""
    settings = settings or BusinessSettings()
    products = list(saved_products(REAL))
    out = {"files": len(products), "cut_minutes": cut_min, "with_live_offers": 0, "passed": 0, "visible": 0,
           "visible_passed": 0, "profitable_live": 0, "profitable_live_passed": 0,
           "bound_below_live_profit": [], "rejected_profitable_live": [], "verdicts": {}}
    for p, now, name in products:
        if p.get("offersSuccessful") is not True:
            continue
        a = analyse(p, None, now=now, settings=settings)
        metrics = vars(a.metrics)
        visible = not visibility(a.row, metrics)
        judged = as_of(p, now - cut_min) if cut_min else p
        v = screen.screen_product(history_only(judged), now=now - cut_min, settings=settings)
        out["with_live_offers"] += 1
        out["passed"] += v.verdict == screen.PASS
        out["visible"] += visible
        out["visible_passed"] += visible and v.verdict == screen.PASS
        live = metrics["profit_cents"]
        if live is not None and live > 0 and a.row["avg_1yr_cents"]:
            out["profitable_live"] += 1
            out["profitable_live_passed"] += v.verdict == screen.PASS
            if v.verdict != screen.PASS:
                out["rejected_profitable_live"].append(name)
        # the property recall rests on: the bound is never below the live profit
        if live is not None and v.bound_profit_cents is not None \
                and v.bound_profit_cents < live:
            out["bound_below_live_profit"].append(name)
        key = v.code or "pass"
        out["verdicts"][key] = out["verdicts"].get(key, 0) + 1
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--products", type=int, default=2000)
    ap.add_argument("--lags", type=int, nargs="+", default=[0, 60, 360])
    args = ap.parse_args()
    runs = [compare(args.products, lag) for lag in args.lags]
    print(json.dumps({"machine": describe(), "runs": runs,
                      "real_files": real_files() if REAL.is_dir() else None,
                      "real_files_cut_60": real_files(cut_min=60) if REAL.is_dir() else None},
                     indent=2))


if __name__ == "__main__":
    main()

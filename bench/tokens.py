"""Tokens per saved deal on a simulator catalog, next to the seed minimum of the same catalog.

    python -m bench.tokens --products 2000

The seed minimum is what the original design pays: one `/product` share with offers for
every listed product plus one `/seller` call for every saved deal. This measures the seed step
itself (`--no-screen`: live offers for every listed product): we pay the same product tokens,
the deal pages, and a seller call only for winners not in the seller cache. The funnel in
front of it (bench.funnel) decides which products get there at all.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from arbitrage_cli.clock import FakeClock
from arbitrage_cli.keepa.budget import TokenBudget
from arbitrage_cli.keepa.client import KeepaClient
from arbitrage_cli.pipeline.backfill import BackfillOptions, backfill
from arbitrage_cli.simulator import Catalog, KeepaSimulator, start_simulator
from arbitrage_cli.store import open_db
from bench.machine import describe

EPOCH = 1_795_132_800  # 2026-11-19 00:00 UTC: every run sees the same catalog
BENCH_KEY = "bench" + "0" * 59  # the simulator accepts any 64-character key
QUERY = {"domainId": 1, "priceTypes": [2], "dateRange": 3, "includeCategories": [283155],
         "sortType": 1}


def client_for(db, url: str, clock) -> KeepaClient:
    return KeepaClient(BENCH_KEY, base_url=url, budget=TokenBudget(db, clock), clock=clock)


def measure(products: int, seed: int = 11) -> dict:
    clock = FakeClock(EPOCH)  # frozen: the catalog does not move under the run
    sim = KeepaSimulator(Catalog(seed=seed, products=products, now=EPOCH), clock=clock,
                         refill_rate=100_000, tokens=10**7)
    db = open_db(str(Path(tempfile.mkdtemp()) / "deals.db"))
    started = time.perf_counter()
    with start_simulator(sim) as server:
        summary = backfill(db, client_for(db, server.url, clock), QUERY,
                           BackfillOptions(screen=False), clock=clock)
    seconds = time.perf_counter() - started
    tokens = {e: sum(r.tokens_consumed for r in sim.calls(e)) for e in ("deal", "product",
                                                                        "seller")}
    requests = {e: len(sim.calls(e)) for e in ("deal", "product", "seller")}
    saved = summary["deals_saved"]
    counters = summary["counters"]
    hits, fetched = counters["sellers_cached"], counters["sellers_fetched"]
    seed_min = (tokens["product"] + saved) / saved
    ours = sum(tokens.values()) / saved
    return {
        "products": products, "listed": db["deals"].count, "deals_saved": saved,
        "tokens": tokens, "requests": requests,
        "tokens_per_saved_deal": round(ours, 2),
        "tokens_per_saved_deal_without_pages": round(
            (tokens["product"] + tokens["seller"]) / saved, 2),
        "seed_minimum_tokens_per_deal": round(seed_min, 2),
        "ratio_to_seed_minimum": round(ours / seed_min, 3),
        "requests_per_saved_deal": round(sum(requests.values()) / saved, 3),
        "seed_minimum_requests_per_deal": round((requests["product"] + saved) / saved, 3),
        "seller_cache_hit_rate": round(hits / (hits + fetched), 3) if hits + fetched else None,
        "seller_lookups": {"cached": hits, "fetched": fetched},
        "wall_seconds": round(seconds, 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--products", type=int, default=2000)
    args = ap.parse_args()
    print(json.dumps({"machine": describe(), **measure(args.products)}, indent=2))


if __name__ == "__main__":
    main()

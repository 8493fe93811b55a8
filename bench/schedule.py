"""24 simulated hours of the README's cron schedule at a given refill rate (injectable clock).

    python -m bench.schedule --rates 5 20 60 --hours 24                # token throughput
    python -m bench.schedule --freshness --rates 5 20 60 --hours 24   # issue 12's invariant

Every 15 simulated minutes cron starts `sync --max-minutes 6`, then `backfill --max-minutes
7` (crontab.example; a test holds the two equal), and `janitor` every 4 hours; a launch that
finds the writer still busy would exit 3, so a tick that falls inside a running command is
skipped as cron would be. The clock is a FakeClock moved by the client's own waits, so a day
takes minutes.

Throughput: the token scheduler under constant demand. The catalog is sized so the backfill
cannot finish within the day, and the run uses `--no-screen` (live offers for every product):
with the funnel one query's listing (at most 10,000 deals) is exhausted within hours and the
rest of the refill would have nothing to do (bench.funnel measures the funnel). Reported per
rate: the share of refilled tokens spent on successful
calls (target >= 95%), 429 responses (target 0), the deepest balance (never below
-allowance), and deal saves per hour next to what the seed design could save at that rate.

Freshness (bench/freshness.py): a catalog the backfill can finish, whose products keep
changing, a moving listing, 2% of offer fetches failing, under both meanings of
`creationDate`.
"""

from __future__ import annotations

import argparse
import json
import time

from arbitrage_cli.keepa.budget import DEFAULT_ALLOWANCE, TokenBudget
from arbitrage_cli.keepa.client import KeepaClient
from arbitrage_cli.simulator import start_simulator
from bench.freshness import run_freshness
from bench.machine import describe
from bench.tokens import BENCH_KEY, EPOCH
from bench.cron import (BACKFILL_MAX_MINUTES, CRON_S, JANITOR_EVERY_S,  # noqa: F401
                        SYNC_MAX_MINUTES, TOKENS_PER_PRODUCT, cron, new_world)


def simulate(rate: int, hours: float, seed_minimum: float, seed: int = 5) -> dict:
    products = int(rate * 60 * hours / TOKENS_PER_PRODUCT * 1.3) + 200
    clock, catalog, sim, db, warm = new_world(rate, products, seed)
    started = time.perf_counter()
    with start_simulator(sim) as server:
        client = KeepaClient(BENCH_KEY, base_url=server.url, budget=TokenBudget(db, clock),
                             clock=clock)
        day = cron(db, client, clock, hours, screen=False)
    seconds = time.perf_counter() - started
    ok = sim.calls(None, status=200)
    useful = sum(r.tokens_consumed for r in ok)
    refilled = sim.bucket.refilled
    deals = db.execute("select count(*) from deals where status = 'deal'").fetchone()[0]
    elapsed_h = (clock.now() - EPOCH) / 3600
    theoretical = rate * 60 / seed_minimum
    by_backfill, by_sync = day["saves"]["backfill"], day["saves"]["sync"]
    return {
        "rate_per_min": rate, "simulated_hours": round(elapsed_h, 2), "catalog": products,
        "tokens_refilled": refilled, "tokens_spent_on_successful_calls": useful,
        "useful_share": round(useful / refilled, 4) if refilled else None,
        "tokens_lost_to_the_cap": sim.bucket.wasted, "balance_at_end": sim.bucket.balance,
        "responses_429": len([r for r in sim.log if r.status == 429]),
        "other_errors": len([r for r in sim.log if r.status not in (200, 429)]),
        "deepest_balance": sim.bucket.lowest, "allowance": DEFAULT_ALLOWANCE,
        "deals_in_db": deals, "deal_saves_by_backfill": by_backfill,
        "deal_saves_by_sync": by_sync,
        "deal_saves_per_hour": round((by_backfill + by_sync) / elapsed_h, 1),
        "seed_cost_max_deals_per_hour": round(theoretical, 1),
        "share_of_seed_cost_max": round((by_backfill + by_sync) / elapsed_h / theoretical, 3),
        "distinct_deals_per_hour": round(deals / elapsed_h, 1),
        "runs": day["runs"], "cron_ticks_skipped_busy": day["cron_ticks_skipped_busy"],
        "wall_seconds": round(seconds, 1), "catalog_generation_seconds": round(warm, 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rates", type=int, nargs="+", default=[5, 20, 60])
    ap.add_argument("--hours", type=float, default=24)
    ap.add_argument("--seed-minimum", type=float, default=9.63,
                    help="seed-minimum tokens per deal (bench.tokens measures it)")
    ap.add_argument("--freshness", action="store_true",
                    help="measure the sync invariant (coverage, hidden, retries) instead")
    ap.add_argument("--meanings", nargs="+", default=["changed", "found"],
                    help="with --freshness: creationDate meanings to run")
    ap.add_argument("--products", type=int, default=400, help="with --freshness: catalog")
    args = ap.parse_args()
    if args.freshness:

        results = [run_freshness(r, args.hours, m, args.products)
                   for m in args.meanings for r in args.rates]
    else:
        results = [simulate(r, args.hours, args.seed_minimum) for r in args.rates]
    print(json.dumps({"machine": describe(), "results": results}, indent=2))


if __name__ == "__main__":
    main()

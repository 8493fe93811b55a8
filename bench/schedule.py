"""24 simulated hours of cron-driven sync + backfill at a given refill rate (injectable clock).

    python -m bench.schedule --rates 5 20 60 --hours 24

Every 15 simulated minutes cron starts `sync`, then `backfill --max-minutes 13` (which runs
until it pauses for tokens or its 13 minutes are up, as in crontab.example); a launch that finds the writer still busy would exit 3, so a tick that falls inside a
running backfill is skipped as cron would be. The clock is a FakeClock moved by the client's own
waits, so a day takes minutes. The catalog is sized so the backfill cannot finish within the
day: every refilled token has work waiting.

Reported per rate: the share of refilled tokens spent on successful calls (target >= 95%), 429
responses (target 0: the client predicts the bucket), the deepest balance (never below
-allowance), and deal saves per hour (new deals and sync's refreshes of changed ones; every save is a full
analysis paid in tokens) next to what the seed design could save at that rate (rate x 60 / seed-minimum tokens per
deal; we can beat it, since our tokens per deal are below the seed minimum), plus the distinct deals in the database at the end.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from arbitrage_cli.clock import FakeClock
from arbitrage_cli.keepa.budget import DEFAULT_ALLOWANCE, TokenBudget
from arbitrage_cli.keepa.client import KeepaClient
from arbitrage_cli.pipeline.backfill import BackfillOptions, backfill
from arbitrage_cli.pipeline.sync import SyncOptions, sync
from arbitrage_cli.simulator import Catalog, KeepaSimulator, start_simulator, views
from arbitrage_cli.store import open_db
from bench.machine import describe
from bench.tokens import BENCH_KEY, EPOCH, QUERY

CRON_S = 15 * 60
TOKENS_PER_PRODUCT = 8.7  # measured by bench.tokens; sizes the catalog only


def simulate(rate: int, hours: float, seed_minimum: float, seed: int = 5) -> dict:
    clock = FakeClock(EPOCH)
    products = int(rate * 60 * hours / TOKENS_PER_PRODUCT * 1.3) + 200
    catalog = Catalog(seed=seed, products=products, now=EPOCH)
    warm = time.perf_counter()
    views.warm(catalog)  # generated up front: the first listing must not time out
    warm = time.perf_counter() - warm
    sim = KeepaSimulator(catalog, clock=clock, refill_rate=rate, tokens=0)
    db = open_db(str(Path(tempfile.mkdtemp()) / "deals.db"))
    end = EPOCH + hours * 3600
    outcomes: dict[str, int] = {}
    by_backfill = by_sync = skipped_ticks = 0
    started = time.perf_counter()
    with start_simulator(sim) as server:
        client = KeepaClient(BENCH_KEY, base_url=server.url, budget=TokenBudget(db, clock),
                             clock=clock)
        tick = EPOCH
        while tick < end:
            if clock.now() > tick:  # the previous launch was still running: cron's exit 3
                skipped_ticks += 1
            else:
                clock.advance(tick - clock.now())
                s = sync(db, client, QUERY, SyncOptions(), clock=clock)
                by_sync += s.get("deals_saved", 0) or 0
                outcomes[f"sync {s['outcome']}"] = outcomes.get(f"sync {s['outcome']}", 0) + 1
                if clock.now() < end:
                    b = backfill(db, client, QUERY, BackfillOptions(max_minutes=13),
                                 clock=clock)
                    by_backfill += b.get("deals_saved", 0) or 0
                    key = f"backfill {b['outcome']}"
                    outcomes[key] = outcomes.get(key, 0) + 1
            tick += CRON_S
    seconds = time.perf_counter() - started
    ok = sim.calls(None, status=200)
    useful = sum(r.tokens_consumed for r in ok)
    refilled = sim.bucket.refilled
    deals = db.execute("select count(*) from deals where status = 'deal'").fetchone()[0]
    elapsed_h = (clock.now() - EPOCH) / 3600
    theoretical = rate * 60 / seed_minimum
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
        "runs": outcomes, "cron_ticks_skipped_busy": skipped_ticks,
        "wall_seconds": round(seconds, 1), "catalog_generation_seconds": round(warm, 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rates", type=int, nargs="+", default=[5, 20, 60])
    ap.add_argument("--hours", type=float, default=24)
    ap.add_argument("--seed-minimum", type=float, default=9.63,
                    help="seed-minimum tokens per deal (bench.tokens measures it)")
    args = ap.parse_args()
    results = [simulate(r, args.hours, args.seed_minimum) for r in args.rates]
    print(json.dumps({"machine": describe(), "results": results}, indent=2))


if __name__ == "__main__":
    main()

"""The cron line every scheduling benchmark drives (crontab.example, a test holds them
equal): a world of simulator, catalog, clock and database, and `cron`, which runs the line's
commands every 15 simulated minutes. Shared by bench.schedule, bench.freshness,
bench.funnel_sync and bench.notify_latency."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from arbitrage_cli.clock import FakeClock
from arbitrage_cli.keepa.client import KeepaClient
from arbitrage_cli.pipeline.backfill import BackfillOptions, backfill
from arbitrage_cli.pipeline.janitor import janitor
from arbitrage_cli.pipeline.sync import SyncOptions, sync
from arbitrage_cli.simulator import Catalog, KeepaSimulator
from arbitrage_cli.simulator import listing as sim_listing
from arbitrage_cli.store import open_db
from bench.tokens import EPOCH, QUERY

CRON_S = 15 * 60
SYNC_MAX_MINUTES = 6  # crontab.example's values
BACKFILL_MAX_MINUTES = 7
JANITOR_EVERY_S = 4 * 3600
TOKENS_PER_PRODUCT = 8.7  # measured by bench.tokens; sizes the catalog only


def new_world(rate: int, products: int, seed: int, **sim_kw):
    clock = FakeClock(EPOCH)
    catalog = Catalog(seed=seed, products=products, now=EPOCH)
    warm = time.perf_counter()
    sim_listing.build_all(catalog)  # generated up front: the first listing must not time out
    sim = KeepaSimulator(catalog, clock=clock, refill_rate=rate, tokens=0, **sim_kw)
    db = open_db(str(Path(tempfile.mkdtemp()) / "deals.db"))
    return clock, catalog, sim, db, time.perf_counter() - warm


def cron(db, client: KeepaClient, clock: FakeClock, hours: float,
         at_tick: Callable[[float, str], None] | None = None, screen: bool = True,
         after_sync: Callable[[], None] | None = None) -> dict:
    """Drive crontab.example for `hours` of simulated time. `at_tick(tick, when)` is called
    with when="before" at each tick (before its commands) and "after" (once they ended).
    `screen`: the token funnel (False: `--no-screen`). `after_sync`: what the line runs
    between sync and backfill (notify)."""
    end = EPOCH + hours * 3600
    outcomes: dict[str, int] = {}
    saves = {"sync": 0, "backfill": 0}
    skipped = 0

    def count(summary: dict) -> None:
        key = f"{summary['command']} {summary['outcome']}"
        outcomes[key] = outcomes.get(key, 0) + 1
        saves[summary["command"]] = saves.get(summary["command"], 0) + \
            (summary.get("deals_saved") or 0)

    tick = EPOCH
    while tick < end:
        if clock.now() > tick:  # the previous launch was still running: cron's exit 3
            skipped += 1
        else:
            clock.advance(tick - clock.now())
            if at_tick:
                at_tick(tick, "before")
            count(sync(db, client, QUERY, SyncOptions(max_minutes=SYNC_MAX_MINUTES,
                                                      screen=screen), clock=clock))
            if after_sync:
                after_sync()
            if clock.now() < end:
                count(backfill(db, client, QUERY,
                               BackfillOptions(max_minutes=BACKFILL_MAX_MINUTES, screen=screen),
                               clock=clock))
            if (tick - EPOCH) % JANITOR_EVERY_S == 0 and tick > EPOCH:
                count(janitor(db, clock=clock))
            if at_tick:
                at_tick(tick, "after")
        tick += CRON_S
    return {"runs": outcomes, "saves": saves, "cron_ticks_skipped_busy": skipped}

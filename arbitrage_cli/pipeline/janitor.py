"""janitor: hide deals nobody has confirmed for a while, without amplifying a stall (R8).

It never deletes (a later confirmation by sync or backfill makes a row visible again), does
nothing while sync is unhealthy (a stalled sync must not look like "every deal went stale"),
and expires at most a share of the deals per run.
"""

from __future__ import annotations

import dataclasses
import logging
import math

import sqlite_utils

from arbitrage_cli.clock import Clock, SystemClock
from arbitrage_cli.store import runs, state
from arbitrage_cli.store.db import immediate
from arbitrage_cli.timefmt import iso_utc, parse_iso


@dataclasses.dataclass
class JanitorOptions:
    max_age_h: float = 72.0
    sync_grace_h: float = 2.0  # a successful sync must be at most this old
    max_share: float = 0.10
    dry_run: bool = False


def janitor(db: sqlite_utils.Database, options: JanitorOptions | None = None, *,
            clock: Clock | None = None) -> dict:
    options = options or JanitorOptions()
    clock = clock or SystemClock()
    run = runs.Run(db, "janitor", clock)
    now = clock.now()
    last_ok = state.get(db, "last_sync_success_at")
    healthy = last_ok is not None and now - parse_iso(last_ok) <= options.sync_grace_h * 3600
    candidates = list(db.query(
        "select asin, title, confirmed_at from deals where status = 'deal' and "
        "expired_at is null and confirmed_at < ? order by confirmed_at, asin",
        [iso_utc(now - options.max_age_h * 3600)]))
    total = db.execute("select count(*) from deals where status = 'deal' and "
                       "expired_at is null").fetchone()[0]
    cap = math.floor(total * options.max_share)
    chosen = candidates[:cap] if healthy else []
    run.stats.counters.update({"stale": len(candidates), "cap": cap, "expired": 0,
                               "sync_healthy": int(healthy)})
    if not healthy:
        outcome = "skipped: sync unhealthy"
        message = (f"last successful sync {last_ok or 'never'}; nothing expires until sync "
                   f"has succeeded within {options.sync_grace_h:g} h")
    elif options.dry_run:
        outcome, message = "dry run", f"would expire {len(chosen)} of {len(candidates)} stale"
    else:
        with immediate(db):
            db.conn.executemany("update deals set expired_at = ? where asin = ? and "
                                "expired_at is null", [(iso_utc(now), c["asin"]) for c in chosen])
        run.stats.counters["expired"] = len(chosen)
        outcome = "done"
        message = f"expired {len(chosen)} of {len(candidates)} stale (cap {cap})"
    summary = run.finish(outcome, message)
    logging.getLogger(__name__).info("janitor %s: %s, %.1f s", outcome, message,
                                     summary["duration_s"])
    summary["would_expire" if options.dry_run else "expired_asins"] = [c["asin"] for c in chosen]
    return summary

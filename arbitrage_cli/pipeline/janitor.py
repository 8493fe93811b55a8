"""janitor: hide deals Keepa stopped listing, on evidence, without amplifying a stall (R8).

A deal is hidden only when Keepa's listing has not shown it for the max age *and* a full walk
of the listing that started after its last sighting did not see it: absence is observed, never
assumed from a quiet sync. It never deletes (the next walk that sees the deal shows it again),
does nothing while sync is unhealthy, and hides at most a share of the deals per run (at least
one, so a small database can be cleaned too).
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

# When Keepa last showed the deal: a listing walk, or (rows from before listing evidence) the
# last fetch.
SEEN = "coalesce((select l.listed_at from listing l where l.asin = d.asin), d.confirmed_at, '')"
CANDIDATES_SQL = (f"select d.asin, {SEEN} as seen from deals d where d.status = 'deal' and "
                  f"d.expired_at is null and {SEEN} < :cutoff order by seen, d.asin")
# Re-checked inside the write: a walk that saw the deal since we read it wins.
EXPIRE_SQL = (f"update deals as d set expired_at = :now where d.asin = :asin and "
              f"d.expired_at is null and {SEEN} < :cutoff")


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
    walked = state.get(db, "full_walk_started_at")
    healthy = (last_ok is not None and walked is not None
               and now - parse_iso(last_ok) <= options.sync_grace_h * 3600)
    # absent for the max age, and absent from the last full walk of the listing
    cutoff = min(iso_utc(now - options.max_age_h * 3600), walked or "")
    candidates = list(db.query(CANDIDATES_SQL, {"cutoff": cutoff}))
    total = db.execute("select count(*) from deals where status = 'deal' and "
                       "expired_at is null").fetchone()[0]
    cap = math.ceil(total * options.max_share) if candidates else 0
    chosen = candidates[:cap] if healthy else []
    run.stats.counters.update({"stale": len(candidates), "cap": cap, "expired": 0,
                               "sync_healthy": int(healthy)})
    if not healthy:
        outcome = "skipped: sync unhealthy"
        message = (f"last successful sync {last_ok or 'never'}, last full listing walk "
                   f"{walked or 'never'}; nothing expires until sync has succeeded within "
                   f"{options.sync_grace_h:g} h after a full walk of the listing")
    elif options.dry_run:
        outcome = "dry run"
        message = (f"would expire {len(chosen)} of {len(candidates)} not listed by Keepa for "
                   f"{options.max_age_h:g} h (cap {cap})" if candidates else
                   f"nothing would expire: every deal was listed by Keepa within "
                   f"{options.max_age_h:g} h")
    else:
        with immediate(db):
            expired = [c["asin"] for c in chosen if db.execute(
                EXPIRE_SQL, {"now": iso_utc(now), "asin": c["asin"], "cutoff": cutoff}
            ).rowcount]
        chosen = [c for c in chosen if c["asin"] in set(expired)]
        run.stats.counters["expired"] = len(chosen)
        outcome = "done"
        message = (f"expired {len(chosen)} of {len(candidates)} not listed by Keepa for "
                   f"{options.max_age_h:g} h (cap {cap})")
    summary = run.finish(outcome, message)
    logging.getLogger(__name__).info("janitor %s: %s, %.1f s", outcome, message,
                                     summary["duration_s"])
    summary["would_expire" if options.dry_run else "expired_asins"] = [c["asin"] for c in chosen]
    return summary

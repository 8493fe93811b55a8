"""Everything `arbitrage status` reports, as one JSON-ready dict (R29)."""

from __future__ import annotations

import dataclasses

import sqlite_utils

from arbitrage_cli import __version__
from arbitrage_cli.clock import Clock, SystemClock
from arbitrage_cli.keepa.budget import Snapshot, project
from arbitrage_cli.store import listing, locks, queries, runs, schema, state
from arbitrage_cli.store import counts as deal_counts
from arbitrage_cli.store import frozen_sql as frozen
from arbitrage_cli.store import tokens as token_sql
from arbitrage_cli.timefmt import iso_utc, parse_iso
from arbitrage_cli.store import notifications


def token_status(db: sqlite_utils.Database, clock: Clock) -> dict | None:
    row = token_sql.read_snapshot(db)
    if row is None:
        return None
    snap = Snapshot(**{f: row[f] for f in token_sql.SNAPSHOT_FIELDS})
    now_ms = int(clock.now() * 1000)
    return {
        "tokens_left": snap.tokens_left, "refill_rate": snap.refill_rate,
        "observed_at": row["observed_at"],
        "projected_now": project(snap, now_ms), "capacity": snap.capacity,
        "reserved": token_sql.reserved_tokens(db, now_ms),
        "requests_total": row["requests_total"],
        "tokens_consumed_total": row["tokens_consumed_total"],
    }


def health(db: sqlite_utils.Database, now: float, sync_interval_min: float,
           lock_list: list) -> dict:
    """Answers to "is it working?", with the warnings status shows in red."""
    last_ok = state.get(db, "last_sync_success_at")
    syncs = runs.last_runs(db, limit=5, command="sync")
    wm = db.execute("select value, updated_at from system_state where key = 'watermark_iso'"
                    ).fetchone()
    warnings = []
    age = None if last_ok is None else now - parse_iso(last_ok)
    keepa_ok = state.get(db, "last_sync_success_keepa_at")
    if last_ok is not None and keepa_ok is not None:
        skew = parse_iso(last_ok) - parse_iso(keepa_ok)
        if abs(skew) > CLOCK_SKEW_S:
            warnings.append(f"this machine's clock was {_span(abs(skew))} "
                            f"{'behind' if skew < 0 else 'ahead of'} Keepa's at the last sync: "
                            f"set its time right (NTP)")
        # the later of the two is when it really happened, whichever clock was wrong
        age = now - max(parse_iso(last_ok), parse_iso(keepa_ok))
    if age is not None and age < 0:
        warnings.append(f"this machine's clock is {_span(-age)} behind the last successful "
                        f"sync ({last_ok}): it stepped back")
        age = 0.0
    if age is not None and age > 2 * sync_interval_min * 60:
        warnings.append(f"sync has not succeeded for {age / 3600:.1f} h (expected every "
                        f"{sync_interval_min:g} min): check cron and `arbitrage --db ... sync`")
    elif runs.holds_demo(db):
        warnings.append("this database holds simulated deals from `arbitrage demo`; real "
                        "backfill and sync refuse it (use another --db for your Keepa data)")
    elif age is None and (syncs or state.get(db, "backfill_completed_at")):
        warnings.append("sync has never succeeded: install the crontab (see README)")
    if wm and now - parse_iso(wm[1]) > 86400:
        warnings.append(f"the watermark has not moved since {wm[1]}")
    walked = state.get(db, "full_walk_completed_at")
    if walked and now - parse_iso(walked) > 86400:
        warnings.append(f"Keepa's listing has not been walked in full since {walked}: sync "
                        f"cannot prove which deals left it (is --max-pages too low?)")
    warnings += listing_warnings(db, now)
    fresh = listing.freshness(db, now, state.get(db, "full_walk_started_at"))
    overdue = db.execute("select count(*), min(next_check_at) from deals where retry_reason is "
                         "not null and next_check_at < ?",
                         [iso_utc(now - 2 * sync_interval_min * 60)]).fetchone()
    if overdue[0]:
        warnings.append(f"{overdue[0]} failed fetches are overdue for their retry (oldest due "
                        f"{overdue[1]}): is sync running, with tokens?")
    for lk in lock_list:
        if lk.owner_alive is False:
            warnings.append(f"lock '{lk.name}' belongs to a dead process (pid {lk.pid}); it is "
                            f"taken over when its lease ends, or `arbitrage locks release "
                            f"{lk.name}`")
    return {
        "sync": {"last_success_at": last_ok, "age_s": None if age is None else round(age),
                 "interval_min": sync_interval_min,
                 "last_outcomes": [r["outcome"] for r in syncs]},
        "watermark": {"iso": wm[0] if wm else None, "moved_at": wm[1] if wm else None},
        "listing": {"full_walk_completed_at": walked,
                    "full_walk_pages": state.get(db, "full_walk_pages"), **fresh},
        "warnings": warnings,
    }


CLOCK_SKEW_S = 300  # further apart than this, our clock and Keepa's disagree


def _span(seconds: float) -> str:
    return f"{seconds / 86400:.1f} days" if seconds >= 86400 else f"{seconds / 3600:.1f} h" \
        if seconds >= 3600 else f"{seconds / 60:.0f} min"


def listing_warnings(db: sqlite_utils.Database, now: float) -> list[str]:
    """Keepa's listing suddenly shrank, or the query lists more than Keepa serves."""
    out = []
    since = state.get(db, "shrink_since")
    if since is not None:
        was, now_listed = state.get(db, "shrink_from"), state.get(db, "shrink_listed")
        days = (now - parse_iso(since)) / 86400
        if now - parse_iso(since) < listing.SHRINK_TRUSTED_AFTER_S:
            out.append(f"Keepa's listing shrank from {was} to {now_listed} deals on {since}: "
                       f"not taken as proof that deals left it (Keepa may be down); the "
                       f"janitor hides nothing on it")
        else:
            out.append(f"Keepa's listing has held only {now_listed} deals (was {was}) for "
                       f"{days:.0f} days: check keepa_query.json (a category change? a filter "
                       f"that no longer matches?); the janitor now hides what left it, at most "
                       f"its --max-share a run")
    capped = state.get(db, "listing_capped_at")
    if capped is not None:
        out.append(f"your query lists more than the 10,000 deals Keepa serves (last on "
                   f"{capped}): narrow keepa_query.json; deals past the cap are never seen, "
                   f"and no walk of it counts as a full one")
    return out


def gather(db: sqlite_utils.Database, clock: Clock | None = None,
           sync_interval_min: float = 15.0) -> dict:
    clock = clock or SystemClock()
    # `screened`: judged without live offers (the funnel); `screened_promising`: of those,
    # how many could pay now
    kept = deal_counts.read(db)
    if kept is not None:  # kept by triggers: no scan of a million rows
        counts = {"deals_raw": kept.get("rows", 0), "deals_visible": kept.get("visible", 0),
                  "deals_by_status": deal_counts.by_status(kept),
                  "screened": sum(n for name, n in kept.items()
                                  if name.startswith("by:screened: ")),
                  "screened_promising": kept.get("screened_promising", 0)}
    else:  # a database not migrated yet, opened read-only
        counts = {
            "deals_raw": db.execute("select count(*) from deals").fetchone()[0],
            "deals_visible": queries.count(db),
            "deals_by_status": dict(db.execute(
                f"select substr({frozen.M014_BY_KEY}, 4), count(*) from deals group by 1 "
                "order by 1")),
            "screened": db.execute("select count(*) from deals where status = 'screened'"
                                   ).fetchone()[0],
            "screened_promising": db.execute(
                "select count(*) from deals where status = 'screened' and "
                "skip_reason = 'not_profitable' and screen_bound_cents > 0").fetchone()[0],
        }
    counts["sellers_cached"] = db.execute("select count(*) from sellers").fetchone()[0]
    lock_list = locks.list_locks(db, clock)
    return {
        "version": __version__,
        "database": schema.db_path(db),
        "schema_version": schema.schema_version(db),
        "now": iso_utc(clock.now()),
        "system_state": state.get_all(db),
        "tokens": token_status(db, clock),
        "locks": [dataclasses.asdict(lk) for lk in lock_list],
        "health": health(db, clock.now(), sync_interval_min, lock_list),
        "last_runs": runs.last_runs(db, limit=5),
        "counts": counts,
        "notify": notify_status(db),
    }


def notify_status(db: sqlite_utils.Database) -> dict:
    """The last `notify` run and the (target, deal) pairs its failures left for the next."""
    last = runs.last_runs(db, limit=1, command="notify")
    return {"last_run": last[0] if last else None,
            "pending_failures": notifications.pending_failures(db),
            "sent_total": notifications.sent_total(db)}

"""Everything `arbitrage status` reports, as one JSON-ready dict (R29)."""

from __future__ import annotations

import dataclasses

import sqlite_utils

from arbitrage_cli import __version__
from arbitrage_cli.clock import Clock, SystemClock
from arbitrage_cli.keepa.budget import Snapshot, project
from arbitrage_cli.store import locks, runs, schema, state
from arbitrage_cli.store import tokens as token_sql
from arbitrage_cli.timefmt import iso_utc


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


def gather(db: sqlite_utils.Database, clock: Clock | None = None) -> dict:
    clock = clock or SystemClock()
    counts = {
        "deals_raw": db.execute("select count(*) from deals").fetchone()[0],
        "deals_visible": db.execute("select count(*) from visible_deals").fetchone()[0],
        "deals_by_status": dict(db.execute(
            "select coalesce(skip_reason, status), count(*) from deals group by 1 order by 1")),
        "sellers_cached": db.execute("select count(*) from sellers").fetchone()[0],
    }
    return {
        "version": __version__,
        "database": schema.db_path(db),
        "schema_version": schema.schema_version(db),
        "now": iso_utc(clock.now()),
        "system_state": state.get_all(db),
        "tokens": token_status(db, clock),
        "locks": [dataclasses.asdict(lk) for lk in locks.list_locks(db, clock)],
        "last_runs": runs.last_runs(db, limit=5),
        "counts": counts,
    }

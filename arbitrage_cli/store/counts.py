"""Counts kept by triggers (schema migration 014): exact, and read in microseconds.

`status`, `/api/status` and the API's default total read them instead of counting a million
rows; `generation` grows with every change to deals, marks or gating, so a total cached for
any other filter is known to be current. A database from before migration 014 (opened
read-only, not migrated yet) has none: callers count the old way then.
"""

from __future__ import annotations

import sqlite3

import sqlite_utils

from arbitrage_cli.store import frozen_sql as frozen


def read(db: sqlite_utils.Database) -> dict[str, int] | None:
    try:
        return dict(db.execute("select name, n from deal_counts"))
    except sqlite3.OperationalError as exc:  # only a missing table means "not kept here"
        if "no such table" in str(exc):
            return None
        raise


def generation(db: sqlite_utils.Database) -> int | None:
    """Changes so far (compare for equality only). None when counts are not kept."""
    try:
        row = db.execute("select n from deal_counts where name = 'generation'").fetchone()
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):
            return None
        raise
    return row[0] if row else None


def by_status(counts: dict[str, int]) -> dict[str, int]:
    return {name[3:]: n for name, n in sorted(counts.items())
            if name.startswith("by:") and n}


def recount(db: sqlite_utils.Database) -> dict[str, int]:
    """Count everything afresh (what the triggers must always agree with)."""
    with db.atomic():
        for sql in frozen.M014_RECOUNT:
            db.execute(sql)
    return read(db) or {}

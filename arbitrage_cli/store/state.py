"""system_state: typed key/value progress that must survive a restart (R22, R29).

The value column is STRICT ANY, so an int stays an INTEGER and a string TEXT: no JSON
decoding, and Datasette shows real values.
"""

from __future__ import annotations

from typing import Any

import sqlite_utils

from arbitrage_cli.clock import Clock, SystemClock
from arbitrage_cli.timefmt import iso_utc

# Known keys and their types; a wrong type is a programming error caught at write time.
KNOWN_KEYS: dict[str, type] = {
    "backfill_page": int,
    "backfill_position": int,
    "backfill_query_hash": str,
    "backfill_completed_at": str,
    "watermark_iso": str,
    "watermark_keepa": int,
    "last_sync_success_at": str,
    "last_sync_success_keepa_at": str,  # the same moment by Keepa's clock
    "settings_version": int,
    "backfill_page_asins": str,
    "backfill_page_full": int,
    "backfill_started_at": str,
    # the last full walk of the listing that listed it to the end (pipeline/reconcile.py)
    "full_walk_started_at": str,
    "full_walk_completed_at": str,
    "full_walk_pages": int,
    "full_walk_listed": int,  # how many deals that walk listed
    # a listing that suddenly shrank (pipeline/reconcile.py judge_walk): since when, from
    # what size, and what the last walk listed; and the last walk stopped at Keepa's cap
    "shrink_since": str,
    "shrink_from": int,
    "shrink_listed": int,
    "listing_capped_at": str,
    # ASINs that passed the history screen; the backfill stopped before their live offers
    "backfill_passed": str,
    # winning sellers of deals saved before their /seller call could be paid for
    "sellers_owed": str,
}

_SCALARS = (int, float, str, type(None))


def get(db: sqlite_utils.Database, key: str, default: Any = None) -> Any:
    row = db.execute("select value from system_state where key = ?", [key]).fetchone()
    return default if row is None or row[0] is None else row[0]


def get_all(db: sqlite_utils.Database) -> dict[str, Any]:
    return {k: v for k, v in db.execute("select key, value from system_state order by key")}


def set_(db: sqlite_utils.Database, key: str, value: Any, clock: Clock | None = None) -> None:
    expected = KNOWN_KEYS.get(key)
    if isinstance(value, bool):
        value = int(value)
    if expected is not None and value is not None and not isinstance(value, expected):
        raise TypeError(f"system_state {key} must be {expected.__name__}, got {value!r}")
    if not isinstance(value, _SCALARS):
        raise TypeError(f"system_state {key}: only scalars are stored, got {type(value).__name__}")
    now = iso_utc((clock or SystemClock()).now())
    db.execute(
        "insert into system_state (key, value, updated_at) values (?, ?, ?) "
        "on conflict(key) do update set value = excluded.value, updated_at = excluded.updated_at",
        [key, value, now],
    )


def delete(db: sqlite_utils.Database, *keys: str) -> None:
    for key in keys:
        db.execute("delete from system_state where key = ?", [key])

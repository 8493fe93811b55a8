"""SQL of the shared token budget: snapshot row, in-flight reservations, observed costs."""

from __future__ import annotations

import sqlite_utils

from arbitrage_cli.timefmt import iso_utc

SNAPSHOT_FIELDS = ("tokens_left", "refill_rate", "refill_in_ms", "token_flow_reduction",
                   "keepa_timestamp_ms", "observed_at_ms")


def read_snapshot(db: sqlite_utils.Database) -> dict | None:
    rows = list(db.query("select * from keepa_tokens where id = 1"))
    return rows[0] if rows else None


# A response replaces the snapshot when it is newer; of two stamped in the same millisecond
# the lower balance wins (within a millisecond the balance can only fall), so responses of
# two processes arriving out of order never resurrect spent tokens.
_NEWER = ("(excluded.keepa_timestamp_ms > keepa_tokens.keepa_timestamp_ms or "
          "(excluded.keepa_timestamp_ms = keepa_tokens.keepa_timestamp_ms and "
          "excluded.tokens_left <= keepa_tokens.tokens_left))")


def write_snapshot(db: sqlite_utils.Database, snap: dict, tokens_consumed: int) -> None:
    """Store a newer snapshot; an older response arriving late only adds to the counters."""
    values = [snap[f] for f in SNAPSHOT_FIELDS]
    observed_at = iso_utc(snap["observed_at_ms"] / 1000)
    newer = ", ".join(f"{c} = iif({_NEWER}, excluded.{c}, keepa_tokens.{c})" for c in
                      ("tokens_left", "refill_rate", "refill_in_ms", "observed_at_ms",
                       "observed_at"))
    db.execute(
        "insert into keepa_tokens (id, tokens_left, refill_rate, refill_in_ms, "
        "token_flow_reduction, keepa_timestamp_ms, observed_at_ms, observed_at, requests_total, "
        "tokens_consumed_total) values (1, ?, ?, ?, ?, ?, ?, ?, 1, ?) "
        "on conflict(id) do update set "
        "requests_total = requests_total + 1, "
        "tokens_consumed_total = tokens_consumed_total + excluded.tokens_consumed_total, "
        f"{newer}, token_flow_reduction = excluded.token_flow_reduction, "
        "keepa_timestamp_ms = max(excluded.keepa_timestamp_ms, keepa_tokens.keepa_timestamp_ms)",
        values + [observed_at, tokens_consumed],
    )


def reserved_tokens(db: sqlite_utils.Database, now_ms: int) -> int:
    row = db.execute("select coalesce(sum(tokens), 0) from token_reservations "
                     "where expires_at_ms >= ?", [now_ms]).fetchone()
    return int(row[0])


def add_reservation(db: sqlite_utils.Database, owner: str, tokens: int, now_ms: int,
                    ttl_ms: int) -> int:
    # A crashed process never settles its reservation: it lapses after ttl_ms.
    db.execute("delete from token_reservations where expires_at_ms < ?", [now_ms])
    cur = db.execute(
        "insert into token_reservations (owner, tokens, created_at_ms, expires_at_ms) "
        "values (?, ?, ?, ?)", [owner, tokens, now_ms, now_ms + ttl_ms])
    return int(cur.lastrowid)


def drop_reservation(db: sqlite_utils.Database, reservation_id: int) -> None:
    db.execute("delete from token_reservations where id = ?", [reservation_id])


def cost_per_unit(db: sqlite_utils.Database, kind: str) -> tuple[float, int] | None:
    row = db.execute("select tokens_per_unit, samples from keepa_costs where kind = ?",
                     [kind]).fetchone()
    return (row[0], row[1]) if row else None


def save_cost(db: sqlite_utils.Database, kind: str, per_unit: float, samples: int,
              now_iso: str) -> None:
    db.execute(
        "insert into keepa_costs (kind, tokens_per_unit, samples, updated_at) values (?, ?, ?, ?) "
        "on conflict(kind) do update set tokens_per_unit = excluded.tokens_per_unit, "
        "samples = excluded.samples, updated_at = excluded.updated_at",
        [kind, per_unit, samples, now_iso])

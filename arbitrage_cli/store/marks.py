"""marks: the user's decisions on deals (bought, ignored, watch), in their own table: never an
edit of the deal row. A bought deal keeps what we predicted when it was bought, for a later
comparison with what it sold at."""

from __future__ import annotations

import sqlite_utils

from arbitrage_cli.clock import Clock, SystemClock
from arbitrage_cli.errors import ConfigError
from arbitrage_cli.store.db import immediate
from arbitrage_cli.timefmt import iso_utc

DECISIONS = ("bought", "ignored", "watch")
COLUMNS = ("asin", "decision", "note", "price_cents", "decided_at", "list_at_cents",
           "price_now_cents", "profit_cents")


def mark(db: sqlite_utils.Database, asin: str, decision: str, note: str | None = None,
         price_cents: int | None = None, clock: Clock | None = None) -> dict:
    """Record (or replace) the decision on a stored deal; returns the mark."""
    if decision not in DECISIONS:
        raise ConfigError(f"decision must be one of {', '.join(DECISIONS)}, got {decision!r}")
    if price_cents is not None and decision != "bought":
        raise ConfigError(f"--price is what you paid: only for bought, not {decision}")
    with immediate(db):
        row = db.execute("select list_at_cents, price_now_cents, profit_cents from deals "
                         "where asin = ?", [asin]).fetchone()
        if row is None:
            raise ConfigError(f"{asin}: not in this database (mark deals you have)")
        snapshot = row if decision == "bought" else (None, None, None)
        db.execute(
            "insert into marks (asin, decision, note, price_cents, decided_at, list_at_cents, "
            "price_now_cents, profit_cents) values (?, ?, ?, ?, ?, ?, ?, ?) "
            # the first `bought` snapshot stays: a later mark (a note, `watch`) keeps what was
            # predicted when the copy was bought
            # a re-mark without a note keeps the earlier one; only a bought copy has a price
            # paid (kept when a later `bought` does not repeat it)
            "on conflict(asin) do update set decision = excluded.decision, "
            "note = coalesce(excluded.note, marks.note), price_cents = case when "
            "excluded.decision = 'bought' then coalesce(excluded.price_cents, marks.price_cents) "
            "end, "
            "decided_at = excluded.decided_at, "
            "list_at_cents = coalesce(marks.list_at_cents, excluded.list_at_cents), "
            "price_now_cents = coalesce(marks.price_now_cents, excluded.price_now_cents), "
            "profit_cents = coalesce(marks.profit_cents, excluded.profit_cents)",
            [asin, decision, note, price_cents, iso_utc((clock or SystemClock()).now()),
             *snapshot])
    return get(db, asin)


def unmark(db: sqlite_utils.Database, asin: str) -> bool:
    return db.execute("delete from marks where asin = ?", [asin]).rowcount > 0


def get(db: sqlite_utils.Database, asin: str) -> dict | None:
    rows = list(db.query("select * from marks where asin = ?", [asin]))
    return rows[0] if rows else None


LISTING_COLUMNS = (*COLUMNS, "title", "list_at_now_cents", "buy_price_now_cents",
                   "profit_now_cents", "profit_paid_cents", "profit_now_paid_cents")


def listing(db: sqlite_utils.Database) -> list[dict]:
    """Every mark, newest first, with the deal's title and its numbers now (the profits at
    the price paid are decisions.py's `marks_listing`)."""
    return list(db.query(
        f"select {', '.join('m.' + c for c in COLUMNS)}, d.title, "
        "d.list_at_cents as list_at_now_cents, d.price_now_cents as buy_price_now_cents, "
        "d.profit_cents as profit_now_cents "
        "from marks m left join deals d on d.asin = m.asin order by m.decided_at desc, m.asin"))

"""The notifications table (migration 017): one row a deal a target a run, sent or failed.

What was sent decides what is due: a deal is due for a target until a row says it was sent
there, and again only when it got materially better than what was sent (price down by the
setting notify_price_drop_pct, or profit up by notify_profit_gain_cents). A failed attempt
leaves it due, so the next run delivers it (at least once); a sent one is never resent for
the same offer.
"""

from __future__ import annotations

import hashlib

import sqlite_utils

from arbitrage_cli.analysis.business import BusinessSettings
from arbitrage_cli.store.conn import immediate

NEW, RETRY, PRICE_DOWN, PROFIT_UP = "new", "retry", "price_down", "profit_up"
SENT, FAILED = "sent", "failed"


def fingerprint(url: str) -> str:
    """A target's name in the database and in output: never the URL, which holds tokens."""
    return hashlib.sha256(url.encode()).hexdigest()[:16]


def service(url: str) -> str:
    """The URL's scheme (json, tgram, discord, mailto, ...): says where, tells no secret."""
    return url.split("://", 1)[0].lower() if "://" in url else "?"


# each (target, ASIN)'s latest attempt that failed: the next run retries it
LATEST_FAILED = ("select n.target, n.asin from notifications n join (select target, asin, "
                 "max(id) as id from notifications group by target, asin) last "
                 "on last.id = n.id where n.outcome = 'failed'")


def last_sent(db: sqlite_utils.Database, target: str) -> dict[str, dict]:
    """ASIN -> the latest row sent to `target`."""
    return {r["asin"]: r for r in db.query(
        "select n.* from notifications n join (select asin, max(id) as id from notifications "
        "where target = ? and outcome = 'sent' group by asin) last on last.id = n.id",
        [target])}


def failed_asins(db: sqlite_utils.Database, target: str) -> set[str]:
    """The ASINs whose latest attempt at `target` failed."""
    return {r[1] for r in db.execute(f"{LATEST_FAILED} and n.target = ?", [target])}


def why_due(deal: dict, sent: dict | None, failed: bool, s: BusinessSettings) -> str | None:
    """Why `deal` is to be sent to a target that has `sent` (its last sent row), or None."""
    if sent is None:
        return RETRY if failed else NEW
    price, was = deal.get("price_now_cents"), sent.get("price_now_cents")
    if price is not None and was and price * 100 <= was * (100 - s.notify_price_drop_pct):
        return PRICE_DOWN
    profit, had = deal.get("profit_cents"), sent.get("profit_cents")
    if profit is not None and had is not None and profit >= had + s.notify_profit_gain_cents:
        return PROFIT_UP
    return None


def record(db: sqlite_utils.Database, rows: list[dict]) -> None:
    with immediate(db):  # a digest's rows all or none (the connection autocommits)
        db["notifications"].insert_all(rows)


def pending_failures(db: sqlite_utils.Database) -> int:
    """(target, ASIN) pairs whose latest attempt failed: the next run retries them."""
    return db.execute(f"select count(*) from ({LATEST_FAILED})").fetchone()[0]


def sent_total(db: sqlite_utils.Database) -> int:
    return db.execute("select count(*) from notifications where outcome = 'sent'").fetchone()[0]


def history(db: sqlite_utils.Database, limit: int = 100, before: int | None = None
            ) -> list[dict]:
    """The latest attempts, newest first (`before`: an id, for the next page)."""
    where, params = ("where id < ?", [before]) if before else ("", [])
    return list(db.query(f"select * from notifications {where} order by id desc limit ?",
                         [*params, limit]))

"""Writing deals, the seller cache and raw payloads. Updates always name their columns (R1)."""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterable

import sqlite_utils

from arbitrage_cli.analysis.deal import ANALYSIS_COLUMNS
from arbitrage_cli.timefmt import iso_utc

# Columns a fresh analysis owns. Freshness columns are handled below; `hidden` (the user's)
# and derived metrics (recalc's) are never touched here.
_COLS = sorted(ANALYSIS_COLUMNS)
# What describes the book does not disappear: a refresh that lacks it keeps the old value.
KEEP_IF_MISSING = frozenset({"title", "author", "category", "binding", "publisher",
                             "root_category", "image_name"})
# Outcomes that say "we could not look", not "the market changed" (R23): an existing row keeps
# its numbers and goes to the retry queue.
FETCH_FAILURES = frozenset({"offers_unknown", "not_returned", "analysis_error",
                            "incomplete_product", "duplicate_in_response"})
# Bounded backoff of a failing fetch: 15 min, 30, 1 h, 2 h, then every 3 h, never given up.
RETRY_FIRST_S = 15 * 60
RETRY_MAX_S = 3 * 3600
_INSERT = (f"insert into deals ({', '.join(_COLS)}, first_seen_at, confirmed_at, updated_at, "
           f"checked_keepa, screen_price_cents, screen_stage, retry_reason, retry_count, "
           f"retry_since_at, next_check_at, expired_at) values "
           f"({', '.join(':' + c for c in _COLS)}, :now, :now, :now, :checked_keepa, "
           f":screen_price_cents, :screen_stage, :retry_reason, :retry_count, :retry_since_at, "
           f":next_check, null) on conflict(asin) do update set ")
UPSERT_SQL = _INSERT + ", ".join(
    f"{c} = coalesce(excluded.{c}, deals.{c})" if c in KEEP_IF_MISSING else f"{c} = excluded.{c}"
    for c in _COLS if c != "asin") + (", confirmed_at = excluded.confirmed_at, "
                                       "updated_at = excluded.updated_at, "
                                       "checked_keepa = excluded.checked_keepa, "
                                       "screen_price_cents = excluded.screen_price_cents, "
                                       "screen_stage = excluded.screen_stage, "
                                       "retry_reason = null, retry_count = null, "
                                       "retry_since_at = null, next_check_at = null, "
                                       "expired_at = null")
FAILED_SQL = _INSERT + ("retry_reason = excluded.retry_reason, "
                        "retry_count = excluded.retry_count, "
                        "retry_since_at = coalesce(deals.retry_since_at, excluded.retry_since_at), "
                        "next_check_at = excluded.next_check_at")


def retry_delay_s(attempt: int) -> float:
    """Seconds before retry `attempt` (1 = the first retry)."""
    return min(RETRY_MAX_S, RETRY_FIRST_S * 2 ** max(0, attempt - 1))


def upsert_rows(db: sqlite_utils.Database, rows: Iterable[dict], now: float) -> int:
    """Save analysed rows. A row carries `checked_keepa` (when Keepa collected what it was
    analysed from), and a screened one the price it was judged at and the stage. A fetch
    failure never replaces what we had: it queues the ASIN for a retry with a bounded
    backoff."""
    rows = list(rows)
    failed = [r for r in rows if r.get("skip_reason") in FETCH_FAILURES]
    ok = [r for r in rows if r.get("skip_reason") not in FETCH_FAILURES]
    stamp = iso_utc(now)
    db.conn.executemany(UPSERT_SQL, [
        {"screen_price_cents": None, "screen_stage": None, **r, "now": stamp,
         "retry_reason": None, "retry_count": None, "retry_since_at": None,
         "next_check": None} for r in ok])
    if failed:
        marks = ", ".join("?" * len(failed))
        attempts = dict(db.execute(f"select asin, retry_count from deals where asin in "
                                   f"({marks})", [r["asin"] for r in failed]).fetchall())
        db.conn.executemany(FAILED_SQL, [
            {**r, "now": stamp, "checked_keepa": None, "screen_price_cents": None,
             "screen_stage": None, "retry_reason": r["skip_reason"],
             "retry_count": (attempts.get(r["asin"]) or 0) + 1, "retry_since_at": stamp,
             "next_check": iso_utc(now + retry_delay_s((attempts.get(r["asin"]) or 0) + 1))}
            for r in failed])
    return len(rows)


def screen_known(db: sqlite_utils.Database, verdicts: list[tuple[str, str, int | None, int]],
                 now: float, stage: int) -> None:
    """A free judgment on known rows: (asin, reason, judged price, Keepa minute of the
    listing), at `stage` (the deal page's). Only the screen's columns change; the last live
    numbers stay for reference, hidden."""
    db.conn.executemany(
        "update deals set status = 'screened', skip_reason = ?, screen_price_cents = ?, "
        "screen_stage = ?, checked_keepa = ?, updated_at = ?, retry_reason = null, "
        "retry_count = null, retry_since_at = null, next_check_at = null where asin = ?",
        [(code, price, stage, keepa, iso_utc(now), asin)
         for asin, code, price, keepa in verdicts])


def save_payloads(db: sqlite_utils.Database, products: dict[str, dict], keepa_minute: int,
                  now: float, *, replace: bool = True) -> None:
    """`replace=False` (the payload of a failed fetch): kept only when we have nothing, so
    `explain` always explains the row that is shown."""
    db.conn.executemany(
        "insert into keepa_products (asin, fetched_at, keepa_minute, product_zlib) "
        "values (?, ?, ?, ?) on conflict(asin) do "
        + ("update set fetched_at = excluded.fetched_at, keepa_minute = excluded.keepa_minute, "
           "product_zlib = excluded.product_zlib" if replace else "nothing"),
        [(asin, iso_utc(now), keepa_minute,
          zlib.compress(json.dumps(p, separators=(",", ":")).encode(), 6))
         for asin, p in products.items()])


def load_payload(db: sqlite_utils.Database, asin: str) -> tuple[dict, int] | None:
    row = db.execute("select product_zlib, keepa_minute from keepa_products where asin = ?",
                     [asin]).fetchone()
    if row is None:
        return None
    return _decoded(row[0]), row[1]


def payloads(db: sqlite_utils.Database):
    """(product, Keepa minute it was fetched, asin) of every stored payload, by ASIN."""
    for asin, blob, minute in db.execute(
            "select asin, product_zlib, keepa_minute from keepa_products order by asin"):
        yield _decoded(blob), minute, asin


def _decoded(blob: bytes) -> dict:
    return json.loads(zlib.decompress(blob))


# -- seller cache ---------------------------------------------------------------------------
def cached_sellers(db: sqlite_utils.Database, ids: Iterable[str], fresh_after: str
                   ) -> dict[str, dict]:
    """Seller rows fetched at or after `fresh_after` (including known-missing sellers)."""
    ids = list(ids)
    if not ids:
        return {}
    marks = ", ".join("?" * len(ids))
    rows = db.query(f"select * from sellers where seller_id in ({marks}) and fetched_at >= ?",
                    ids + [fresh_after])
    return {r["seller_id"]: r for r in rows}


def save_sellers(db: sqlite_utils.Database,
                 rows: Iterable[tuple[str, str | None, float | None, int | None, int]],
                 now: float) -> None:
    """Cache sellers as (id, name, rating %, rating count, found): one not found is cached
    too, so a missing seller is not asked for again within the TTL."""
    db.conn.executemany(
        "insert into sellers (seller_id, seller_name, rating_pct, rating_count, found, "
        "fetched_at) values (?, ?, ?, ?, ?, ?) on conflict(seller_id) do update set "
        "seller_name = excluded.seller_name, rating_pct = excluded.rating_pct, "
        "rating_count = excluded.rating_count, found = excluded.found, "
        "fetched_at = excluded.fetched_at",
        [r + (iso_utc(now),) for r in rows])


def rate_deals(db: sqlite_utils.Database, columns_by_seller: dict[str, dict]) -> None:
    """Write the seller columns of the deals won by these sellers (named columns only)."""
    for sid, cols in columns_by_seller.items():
        db.execute("update deals set seller_name = :seller_name, seller_rating_pct = "
                   ":seller_rating_pct, seller_rating_count = :seller_rating_count, "
                   "seller_quality = :seller_quality where seller_id = :sid",
                   {**cols, "sid": sid})


def seller_as_keepa(row: dict | None) -> dict | None:
    """A cached seller row in the Keepa seller shape the analysis reads."""
    if not row or not row.get("found"):
        return None
    return {"sellerId": row["seller_id"], "sellerName": row["seller_name"],
            "currentRating": int(row["rating_pct"]) if row["rating_pct"] is not None else -1,
            "currentRatingCount": row["rating_count"] if row["rating_count"] is not None
            else -1}

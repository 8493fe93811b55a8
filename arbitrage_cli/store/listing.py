"""The listing evidence: what Keepa's /deal listing said about each ASIN and when, kept apart
from when we last fetched the product (`deals.checked_keepa`). Sync's change detection and the
janitor read it; every listing walk (sync's and backfill's) writes it."""

from __future__ import annotations

from collections.abc import Iterable

import sqlite_utils

from arbitrage_cli.analysis.keepa_data import clean
from arbitrage_cli.keepa.constants import CSV
from arbitrage_cli.timefmt import iso_utc

SHRINK = 0.5  # a full walk listing less than half of the last one is suspect (reconcile)
SHRINK_TRUSTED_AFTER_S = 3 * 86400  # ... until walks have said so for three days
# Compared between two sightings: a difference is a change even when Keepa's times are
# ambiguous (creationDate has two documented meanings) or late.
FINGERPRINT = ("creation_keepa", "current_cents", "current_since_keepa", "used_cents")
# a field nobody recorded before (damaged, or added by a later version) is not a change
_CHANGED = " or ".join(f"(excluded.{c} is not null and listing.{c} is not null and "
                       f"excluded.{c} is not listing.{c})" for c in FINGERPRINT)
_KEPT = ", ".join(f"{c} = coalesce(excluded.{c}, listing.{c})"
                  for c in (*FINGERPRINT, "last_update_keepa"))
RECORD_SQL = (
    "insert into listing (asin, first_listed_at, listed_at, listed_keepa, creation_keepa, "
    "last_update_keepa, current_cents, current_since_keepa, used_cents) values (:asin, :now, "
    ":now, :keepa, :creation_keepa, :last_update_keepa, :current_cents, :current_since_keepa, "
    ":used_cents) "
    "on conflict(asin) do update set listed_at = excluded.listed_at, "
    "listed_keepa = excluded.listed_keepa, "
    # a row migrated from before listing evidence existed has nothing to compare with
    f"changed_keepa = case when listing.listed_keepa is not null and ({_CHANGED}) "
    f"then excluded.listed_keepa else listing.changed_keepa end, {_KEPT}")


def _at(values, index: int) -> int | None:
    if isinstance(values, list) and index < len(values):
        return clean(values[index])
    return None


def evidence(deal: dict, price_type: int) -> dict:
    """The fields of one /deal entry that say whether the product changed; a damaged field is
    None (unknown), never a guess."""
    return {"asin": deal["asin"],
            "creation_keepa": clean(deal.get("creationDate")) or None,
            "last_update_keepa": clean(deal.get("lastUpdate")),
            "current_cents": _at(deal.get("current"), price_type),
            "current_since_keepa": _at(deal.get("currentSince"), price_type),
            # the deal page's lowest used price (item only), what stage 0 judges at
            "used_cents": _at(deal.get("current"), CSV["USED"])}


def record(db: sqlite_utils.Database, deals: Iterable[dict], price_type: int, now: float,
           keepa_now: int) -> int:
    """Store what one listing page said (call inside the caller's transaction). Keepa lists
    these ASINs, so none of them stays hidden as stale."""
    rows = {}
    for d in deals:
        rows[d["asin"]] = {**evidence(d, price_type), "now": iso_utc(now), "keepa": keepa_now}
    db.conn.executemany(RECORD_SQL, list(rows.values()))
    db.conn.executemany("update deals set expired_at = null where asin = ? and "
                        "expired_at is not null", [(a,) for a in rows])
    return len(rows)


DUE_SQL = """
select l.asin, l.listed_at, l.listed_keepa, l.creation_keepa, l.current_cents,
  l.current_since_keepa, l.changed_keepa, l.used_cents,
  l.last_update_keepa as listed_update_keepa,
  d.asin is not null as known, d.status, d.skip_reason, d.hidden, d.retry_reason,
  d.next_check_at, d.checked_keepa, d.last_update_keepa, d.profit_cents, d.list_at_cents,
  d.shipping_cents, d.fba_fee_cents, d.referral_fee_pct, d.closing_fee_cents,
  d.price_now_cents, d.price_suspicious, d.avg_1yr_cents, d.expired_at,
  d.screen_price_cents, d.screen_bound_cents,
  (select p.keepa_minute from keepa_products p where p.asin = l.asin) as history_keepa,
  (select m.decision from marks m where m.asin = l.asin) as decision
from listing l left join deals d on d.asin = l.asin
where l.listed_at >= :since
order by l.asin
"""


def candidates(db: sqlite_utils.Database, since: str) -> list[dict]:
    """Every ASIN listed at or after `since`, with what we know of it (for the due queue)."""
    return list(db.query(DUE_SQL, {"since": since}))


def freshness(db: sqlite_utils.Database, now: float, listed_since: str | None) -> dict:
    """How far deals.db is behind Keepa's listing: failed fetches waiting for their retry, and,
    among the ASINs listed since `listed_since` (the last full walk), the ones never fetched
    and the ones whose listed change we have not checked yet."""
    row = db.execute(
        "select count(*), min(retry_since_at), min(next_check_at), "
        "coalesce(sum(next_check_at <= ?), 0) from deals where retry_reason is not null",
        [iso_utc(now)]).fetchone()
    reasons = dict(db.execute("select retry_reason, count(*) from deals where retry_reason "
                              "is not null group by 1 order by 1"))
    listed = db.execute(
        "select count(*), coalesce(sum(d.asin is null), 0), coalesce(sum(d.asin is not null "
        "and d.retry_reason is null and (d.checked_keepa is null or max(coalesce("
        "l.creation_keepa, 0), coalesce(l.current_since_keepa, 0), coalesce(l.changed_keepa, "
        "0)) > d.checked_keepa)), 0) from listing l left join deals d on d.asin = l.asin "
        "where l.listed_at >= ?", [listed_since or ""]).fetchone()
    return {"retries_pending": row[0], "oldest_failure_at": row[1], "next_retry_at": row[2],
            "retries_due": row[3], "retry_reasons": reasons, "listed": listed[0],
            "never_fetched": listed[1], "changes_unchecked": listed[2]}


def get(db: sqlite_utils.Database, asin: str) -> dict | None:
    rows = list(db.query("select * from listing where asin = ?", [asin]))
    return rows[0] if rows else None

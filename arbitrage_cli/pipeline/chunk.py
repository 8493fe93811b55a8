"""One chunk of ASINs, the seed way: ONE /product with offers, the cheapest live used offer
per product, ONE /seller for the winning sellers the cache lacks, then every row, the
sellers, the raw payloads, the derived metrics and the caller's progress in ONE transaction.
"""

from __future__ import annotations

import collections
import dataclasses
import logging
from collections.abc import Callable

import sqlite_utils

from arbitrage_cli.analysis.deal import analyse
from arbitrage_cli.analysis.offers import OfferChoice, select_offer
from arbitrage_cli.clock import Clock
from arbitrage_cli.keepa.client import SELLER_RE, KeepaClient
from arbitrage_cli.analysis.sellers import seller_rating, wilson_lower_bound
from arbitrage_cli.keepa.constants import MAX_SELLERS_PER_CALL, OFFERS_MIN
from arbitrage_cli import signals
from arbitrage_cli.keepa.errors import BudgetPaused
from arbitrage_cli.pipeline import fetch
from arbitrage_cli.pipeline.save import save_judged
from arbitrage_cli.store import deals as deal_store
from arbitrage_cli.store import state
from arbitrage_cli.timefmt import iso_utc

log = logging.getLogger(__name__)

HISTORY_DAYS = 1095  # what the sales inference reads (3 years)
STATS_DAYS = 365
NOT_RETURNED = "not_returned"
ANALYSIS_ERROR = "analysis_error"
INCOMPLETE = "incomplete_product"
DUPLICATE = "duplicate_in_response"  # one ASIN twice, differently: neither copy is trusted


@dataclasses.dataclass
class ChunkResult:
    saved: list[str] = dataclasses.field(default_factory=list)  # status 'deal'
    skipped: collections.Counter = dataclasses.field(default_factory=collections.Counter)
    failed: list[str] = dataclasses.field(default_factory=list)  # queued for a retry
    sellers_fetched: int = 0
    sellers_cached: int = 0
    bad_seller_ids: list = dataclasses.field(default_factory=list)
    duplicates: int = 0  # ASINs a response held more than once
    # the budget ran out (or a stop was asked) after the products were bought: saved, and
    # the run must now pause (or stop)
    paused: Exception | None = None


def skipped_row(asin: str, reason: str) -> dict:
    row = analyse({}).row
    row.update(asin=asin, status="skipped", skip_reason=reason)
    return row


def process_chunk(db: sqlite_utils.Database, client: KeepaClient, asins: list[str], *,
                  clock: Clock, seller_ttl_s: float,
                  on_commit: Callable[[sqlite_utils.Database], None] | None = None,
                  live: bool = False) -> ChunkResult:
    """`live`: the caller knows these products changed since our last look, so Keepa must
    collect the offers now (update=0) instead of serving its cache of the last hour."""
    got = fetch.products(client, asins, clock, offers=OFFERS_MIN, stats=STATS_DAYS,
                         days=HISTORY_DAYS, update=0 if live else None)
    products, conflicted, duplicates, now_keepa = (got.products, got.conflicted,
                                                   got.duplicates, got.keepa_minute)
    choices: dict[str, OfferChoice] = {}
    incomplete: set[str] = set()
    for asin, p in list(products.items()):
        if not all(isinstance(p.get(k), list) for k in ("csv", "offers")) or \
                not isinstance(p.get("stats"), dict):
            del products[asin]  # a broken answer is not evidence: keep what we had
            incomplete.add(asin)
            continue
        try:
            choices[asin] = select_offer(p)
        except Exception:  # noqa: BLE001 - a hostile payload must not stop the run
            log.warning("offer selection failed for %s", asin, exc_info=True)
    winners = sorted({c.winner.seller_id for c in choices.values() if c.winner})
    cache = deal_store.cached_sellers(db, winners, iso_utc(clock.now() - seller_ttl_s))
    missing = [s for s in winners if s not in cache]
    # An id Keepa gave us that /seller would refuse (keepa/client.SELLER_RE) is skipped, with
    # the deal kept and its seller unrated: one odd offer must not stop every run here.
    bad_ids = [s for s in missing if not isinstance(s, str) or not SELLER_RE.match(s)]
    if bad_ids:
        log.warning("skipping malformed seller id(s) from Keepa: %s", bad_ids[:5])
        missing = [s for s in missing if s not in bad_ids]
    # Sellers an earlier chunk could not pay for ride along (the one call takes 100 ids).
    owed = [s for s in (state.get(db, "sellers_owed") or "").split(",") if s]
    winners_missing = list(missing)
    room = max(0, MAX_SELLERS_PER_CALL - len(missing))
    missing += [s for s in owed if s not in missing][:room]
    fetched: dict = {}
    paused: BudgetPaused | signals.StopRequested | None = None
    if missing:
        try:
            body = client.seller(missing)
            fetched = body.get("sellers") if isinstance(body.get("sellers"), dict) else {}
        except (BudgetPaused, signals.StopRequested) as exc:
            # the products are paid for: save them now, their sellers unrated until a later
            # chunk's call (never throw bought offers away), then pause or stop
            paused, missing = exc, []
            owed = sorted(set(owed) | set(winners_missing))
    result = ChunkResult(sellers_fetched=len(missing),
                         sellers_cached=len(winners) - len(winners_missing) - len(bad_ids),
                         bad_seller_ids=bad_ids, duplicates=duplicates)
    rows = []
    for asin in asins:
        p = products.get(asin)
        if p is None or asin not in choices:
            reason = (INCOMPLETE if asin in incomplete else DUPLICATE if asin in conflicted
                      else NOT_RETURNED if p is None else ANALYSIS_ERROR)
            rows.append(skipped_row(asin, reason))
            continue
        choice = choices[asin]
        seller = None
        if choice.winner:
            sid = choice.winner.seller_id
            seller = fetched.get(sid) if sid in fetched else deal_store.seller_as_keepa(
                cache.get(sid))
        try:
            # the row's derived metrics come from recalc's SQL below, with the settings of
            # this very transaction
            rows.append(analyse(p, seller, now=now_keepa, offer=choice).row)
        except Exception:  # noqa: BLE001
            log.warning("analysis failed for %s", asin, exc_info=True)
            rows.append(skipped_row(asin, ANALYSIS_ERROR))
    for row in rows:
        if row["skip_reason"] in deal_store.FETCH_FAILURES:
            result.failed.append(row["asin"])
        else:
            # when Keepa collected what this row was analysed from: sync compares it with the
            # last change the listing reports
            row["checked_keepa"] = row.get("offers_checked_keepa") or now_keepa
        if row["status"] == "deal":
            result.saved.append(row["asin"])
        else:
            result.skipped[row["skip_reason"]] += 1
    good = {a: p for a, p in products.items() if a not in result.failed}

    def sellers(db: sqlite_utils.Database) -> None:
        if missing:
            deal_store.save_sellers(db, seller_rows(missing, fetched), clock.now())
            # every deal these sellers won gets the fresh rating (an earlier paused chunk's
            # deals were saved unrated)
            deal_store.rate_deals(db, {sid: seller_columns(fetched.get(sid)) for sid in missing})
        if owed:
            state.set_(db, "sellers_owed", ",".join(s for s in owed if s not in missing), clock)

    save_judged(db, rows, good, now_keepa, clock, recalc=asins, first=sellers, then=on_commit,
                evidence={a: p for a, p in products.items() if a not in good})
    result.paused = paused
    return result


def seller_rows(asked, found: dict[str, dict]) -> list[tuple]:
    """What the seller cache keeps of a /seller answer: (id, name, rating %, rating count,
    found) for every id asked, those it did not return as not found."""
    rows = []
    for sid in asked:
        obj = found.get(sid)
        if isinstance(obj, dict):
            pct, count = seller_rating(obj)
            name = obj.get("sellerName") if isinstance(obj.get("sellerName"), str) else None
            rows.append((sid, name, float(pct) if pct is not None else None, count, 1))
        else:
            rows.append((sid, None, None, None, 0))
    return rows


def seller_columns(seller: dict | None) -> dict:
    """The deal row's seller columns from a /seller object (all None when not found)."""
    pct, count = seller_rating(seller) if isinstance(seller, dict) else (None, None)
    name = seller.get("sellerName") if isinstance(seller, dict) else None
    return {"seller_name": name if isinstance(name, str) else None,
            "seller_rating_pct": float(pct) if pct is not None else None,
            "seller_rating_count": count,
            "seller_quality": wilson_lower_bound(pct, count) if seller else None}

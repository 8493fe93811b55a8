"""What Keepa's deal listing says, page by page: the first step of both ways through the
pipeline. backfill pages the query in its own order and resumes by page; sync walks it newest
change first (reconcile.walk). Each page is recorded as evidence (the `listing` table: sync's
change detection and the janitor read it) in the transaction that reads it.

    listing.py (what Keepa lists) -> reconcile.plan or backfill (which stage judges what)
    -> funnel.py (stage 0 records the deal page's verdicts; stage 1 judges histories;
    stage 2, chunk.py, the seed step: live offers, one seller call), both fetching their
    products through fetch.py -> save.py (rows, products and derived metrics in one
    transaction)
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable

import sqlite_utils

from arbitrage_cli.analysis.deal import reference_time
from arbitrage_cli.analysis.keepa_data import clean
from arbitrage_cli.clock import Clock
from arbitrage_cli.dealquery import price_type
from arbitrage_cli.keepa.client import ASIN_RE, KeepaClient
from arbitrage_cli.keepa.constants import DEALS_PER_PAGE
from arbitrage_cli.store import listing
from arbitrage_cli.store.db import immediate
from arbitrage_cli.timefmt import keepa_minutes_from_epoch

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Page:
    number: int
    deals: list[dict]  # the entries naming a valid ASIN
    count: int  # entries the page held (damaged ones too)
    keepa_now: int  # Keepa minute the answer was made

    @property
    def full(self) -> bool:
        """A full page: the listing goes on after it."""
        return page_is_full(self.count)


def read_page(db: sqlite_utils.Database, client: KeepaClient, query: dict, number: int,
              clock: Clock, also: Callable[[Page], None] | None = None, **selection) -> Page:
    """Page `number` of the query's listing (`selection` overrides the query's, e.g. its
    sortType), recorded with `also(page)` in one transaction."""
    body = client.deal({**query, **selection, "page": number})
    deals, count = listed_deals(body)
    page = Page(number, deals, count,
                reference_time(body) or keepa_minutes_from_epoch(clock.now()))
    with immediate(db):
        listing.record(db, deals, price_type(query), clock.now(), page.keepa_now)
        if also is not None:
            also(page)
    return page


def listed_deals(body: dict) -> tuple[list[dict], int]:
    """The deals of a /deal answer that name a valid ASIN (creationDate None when damaged) and
    how many entries the page held. The count is the raw one: a damaged entry on a full page
    must not make the listing stop early."""
    deals = body.get("deals") if isinstance(body.get("deals"), dict) else {}
    dr = deals.get("dr") if isinstance(deals.get("dr"), list) else []
    good = []
    for d in dr:
        if not (isinstance(d, dict) and isinstance(d.get("asin"), str)
                and ASIN_RE.match(d["asin"])):
            log.warning("deal page entry without a valid ASIN dropped")
            continue
        if not clean(d.get("creationDate")):  # damaged, a sentinel, or implausibly huge
            # the ASIN is still worth processing; callers treat the time as unknown
            log.warning("deal page entry %s has no valid creationDate", d["asin"])
            d = {**d, "creationDate": None}
        good.append(d)
    return good, len(dr)


def page_is_full(count: int) -> bool:
    return count >= DEALS_PER_PAGE

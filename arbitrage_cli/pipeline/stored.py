"""Stored deals analysed again from what deals.db keeps (the Keepa product, the cached seller,
the current settings): no tokens. The chart, explain, serve-json and the Datasette plugin
read deals this way; the store only stores."""

from __future__ import annotations

import sqlite_utils

from arbitrage_cli.analysis.deal import analyse
from arbitrage_cli.store import settings as settings_store
from arbitrage_cli.store.deals import cached_sellers, load_payload, seller_as_keepa
from arbitrage_cli.store import listing, marketplace, marks, restrictions


def reanalyse(db: sqlite_utils.Database, asin: str):
    """(analysis, stored row) of a saved deal from its stored Keepa product, its cached
    seller and the current settings: no tokens. None when the ASIN was never fetched."""
    found = stored_product(db, asin)
    return None if found is None else found[1:]


def stored_product(db: sqlite_utils.Database, asin: str):
    """(Keepa product, analysis, stored row), as reanalyse (the chart needs the product)."""
    loaded = load_payload(db, asin)
    if loaded is None:
        return None
    product, now = loaded
    stored = db["deals"].get(asin)
    sid = stored.get("seller_id")
    seller = seller_as_keepa(cached_sellers(db, [sid], "").get(sid)) if sid else None
    return (product, analyse(product, seller, now=now, settings=settings_store.load(db)),
            stored)


def explain_inputs(db: sqlite_utils.Database, asin: str) -> dict | None:
    """Everything `explain` reports on a stored deal (explain.report's arguments): its
    re-analysis, the stored row, its gating status, listing evidence and mark. No tokens."""
    found = stored_product(db, asin)
    if found is None:
        return None
    return {"a": found[1], "stored": found[2],
            "gating": restrictions.get(db, asin), "listed": listing.get(db, asin),
            "settings": settings_store.load(db), "mark": marks.get(db, asin),
            "domain": marketplace.stored(db)}

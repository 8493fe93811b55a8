"""The last step of the pipeline, the same for every stage that fetched: the judged rows, the
Keepa products they were judged from, and their derived metrics, in one transaction.

recalc's SQL fills the derived columns (profit, ROI, ...) inside that very transaction, so
the settings it reads are either from before a concurrent `settings set` (whose recalc then
covers these rows) or after it: never a mix.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import sqlite_utils

from arbitrage_cli.clock import Clock
from arbitrage_cli.pipeline.recalc import recalc_rows
from arbitrage_cli.store import deals as deal_store
from arbitrage_cli.store.db import immediate


def save_judged(db: sqlite_utils.Database, rows: list[dict], products: dict[str, dict],
                keepa_minute: int, clock: Clock, *, evidence: dict[str, dict] | None = None,
                recalc: Iterable[str] | None = None,
                first: Callable[[sqlite_utils.Database], None] | None = None,
                then: Callable[[sqlite_utils.Database], None] | None = None) -> None:
    """`rows` and the `products` they were judged from (replacing what is stored);
    `evidence`: products kept only where none is stored yet (a failed fetch's answer);
    `recalc`: the ASINs whose metrics to recompute (default: the rows'); `first` and `then`
    run inside the same transaction before and after."""
    asins = [r["asin"] for r in rows] if recalc is None else list(recalc)
    with immediate(db):
        if first:
            first(db)
        deal_store.upsert_rows(db, rows, clock.now())
        deal_store.save_payloads(db, products, keepa_minute, clock.now())
        if evidence:
            deal_store.save_payloads(db, evidence, keepa_minute, clock.now(), replace=False)
        if asins:
            recalc_rows(db, asins=asins)
        if then:
            then(db)

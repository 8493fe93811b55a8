"""recalc: every derived business column of every deal from stored inputs and the current
settings, in ONE set-based UPDATE (no Keepa, no per-row Python).

The SQL mirrors analysis/business.py term for term (integer basis points, integer cents,
the same rounding); tests/test_recalc.py holds the two equal on random inputs. Explicit
clearing: a missing input makes the derived value NULL (R11). Only rows whose values change
are written, so a second run changes nothing.
"""

from __future__ import annotations

import dataclasses
import logging
import time

import sqlite_utils

from arbitrage_cli.analysis.business import BusinessSettings, basis_points
from arbitrage_cli.clock import Clock, SystemClock
from arbitrage_cli.store import settings as settings_store
from arbitrage_cli.store.db import immediate
from arbitrage_cli.store.runs import Run
from arbitrage_cli.timefmt import iso_utc

# Reusable SQL terms (parameters are bound by name).
REF_BP = ("coalesce(cast(round(referral_fee_pct * 100) as integer), :default_referral_bp)")
FBA = "coalesce(fba_fee_cents, :default_fba)"
CLOSING = "coalesce(closing_fee_cents, :default_closing)"


def all_in(price: str) -> str:
    return f"({price} + iif(:tax_exempt, 0, ({price} * :tax_bp + 5000) / 10000) + :prep + :ship)"


ALL_IN = all_in("price_now_cents")


def fees(price: str) -> str:
    return f"({FBA} + ({price} * {REF_BP} + 5000) / 10000 + {CLOSING})"


FEES = fees("list_at_cents")
PROFIT = f"(list_at_cents - {ALL_IN} - {FEES})"
# The profit if the copy sells at the low end of List at's range (a cautious user's filter).
PROFIT_LOW = f"(list_at_low_cents - {ALL_IN} - {fees('list_at_low_cents')})"
# The history screen's bound (analysis/screen.py): the profit at the price a screened product
# was judged at, less the margin; a settings change can turn it positive at 0 tokens.
SCREEN_BUY = "(screen_price_cents * (10000 - :screen_margin_bp) / 10000)"
MIN_DEN = f"(10000 - :markup_bp - {REF_BP})"

DERIVED = {
    "fba_fee_estimated": "fba_fee_cents is null",
    "referral_fee_estimated": "referral_fee_pct is null",
    "closing_fee_estimated": "closing_fee_cents is null",
    "all_in_cost_cents": ALL_IN,
    "amazon_fees_cents": f"iif(list_at_cents is null, null, {FEES})",
    "profit_cents": PROFIT,
    "margin_pct": f"iif(list_at_cents > 0, {PROFIT} * 100.0 / list_at_cents, null)",
    "roi_pct": f"iif({ALL_IN} > 0, {PROFIT} * 100.0 / {ALL_IN}, null)",
    "min_listing_price_cents":
        f"iif({MIN_DEN} > 0, (({ALL_IN} + {FBA} + {CLOSING}) * 10000 + {MIN_DEN} - 1)"
        f" / {MIN_DEN}, null)",
    "screen_bound_cents": f"(list_at_cents - {all_in(SCREEN_BUY)} - {FEES})",
    "profit_low_cents": PROFIT_LOW,
    "settings_version": ":version",
}
RECALC_COLUMNS = frozenset(DERIVED)
RECALC_CACHE_KIB = 256 * 1024

UPDATE_SQL = (
    "update deals set " + ", ".join(f"{c} = {e}" for c, e in DERIVED.items())
    + " where " + " or ".join(f"{c} is not ({e})" for c, e in DERIVED.items())
)


def sql_params(s: BusinessSettings, version: int) -> dict:
    return {
        "prep": s.prep_fee_cents, "ship": s.inbound_shipping_cents,
        "tax_bp": basis_points(s.tax_pct), "tax_exempt": int(s.tax_exempt),
        "markup_bp": basis_points(s.markup_pct), "default_fba": s.default_fba_fee_cents,
        "default_referral_bp": basis_points(s.default_referral_pct),
        "default_closing": s.default_closing_fee_cents, "version": version,
        "screen_margin_bp": basis_points(s.screen_margin_pct),
    }


@dataclasses.dataclass
class RecalcResult:
    rows: int
    changed: int
    seconds: float
    settings_version: int

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else float("inf")


def recalc_rows(db: sqlite_utils.Database, where: str = "", params: dict | None = None,
                settings: BusinessSettings | None = None, asins: list[str] | None = None
                ) -> int:
    """The UPDATE alone (inside the caller's transaction); `where` (with named `params`)
    narrows it, `asins` to the rows a step just saved. Returns rows changed."""
    s = settings or settings_store.load(db)
    bound = {**sql_params(s, settings_store.version(db)), **(params or {})}
    if asins is not None:
        names = [f"asin{i}" for i in range(len(asins))]
        bound.update(zip(names, asins))
        chosen = f"asin in ({', '.join(':' + n for n in names)})"
        where = f"({where}) and {chosen}" if where else chosen
    sql = UPDATE_SQL.replace(" where ", " where (", 1) + ")" + (f" and ({where})" if where else "")
    return db.execute(sql, bound).rowcount


def _derived_indexes(db: sqlite_utils.Database) -> list[tuple[str, str]]:
    """(name, create sql) of the indexes on deals that cover a derived column, in their key
    or in a partial-index WHERE clause."""
    out = []
    for name, sql in db.execute("select name, sql from sqlite_master where type = 'index' "
                                "and tbl_name = 'deals' and sql is not null").fetchall():
        cols = {r[2] for r in db.execute(f"pragma index_info([{name}])")}
        if cols & RECALC_COLUMNS or any(c in sql for c in RECALC_COLUMNS):
            out.append((name, sql))
    return out


def recalc(db: sqlite_utils.Database, clock: Clock | None = None, *, record_run: bool = True
           ) -> RecalcResult:
    clock = clock or SystemClock()
    run = Run(db, "recalc", clock) if record_run else None
    started = time.perf_counter()
    try:
        # A whole-table rewrite: a bigger page cache, and the indexes on derived columns
        # rebuilt once afterwards instead of updated row by row (same transaction, so
        # readers see the old or the new table, never a half).
        cache = db.execute("pragma cache_size").fetchone()[0]
        db.execute(f"pragma cache_size = {-RECALC_CACHE_KIB}")
        with immediate(db):
            indexes = _derived_indexes(db)
            for name, _ in indexes:
                db.execute(f"drop index [{name}]")
            changed = recalc_rows(db)
            for _, sql in indexes:
                db.execute(sql)
            rows = db.execute("select count(*) from deals").fetchone()[0]
        db.execute(f"pragma cache_size = {cache}")
    except BaseException as exc:
        if run:
            run.finish("failed", f"{type(exc).__name__}: {exc}")
        raise
    result = RecalcResult(rows, changed, time.perf_counter() - started,
                          settings_store.version(db))
    if run:
        run.stats.counters = {"rows": rows, "changed": changed,
                              "settings_version": result.settings_version}
        run.finish("done", f"recalculated {changed} of {rows} rows")
    logging.getLogger(__name__).info("recalc done: %d of %d rows changed, %.2f s, settings "
                                     "version %d", changed, rows, result.seconds,
                                     result.settings_version)
    return result


__all__ = ["RECALC_COLUMNS", "RecalcResult", "iso_utc", "recalc", "recalc_rows"]

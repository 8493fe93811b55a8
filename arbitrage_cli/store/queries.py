"""The one deals query (issue 6): visibility rule, filters, whitelisted sort, keyset cursor.

Used by `deals`, serve-json and status counts. Values are always bound parameters; sort
columns come only from SORTS. NULLs sort last in both directions (coalesce to an extreme), so
keyset pagination stays exact; ties are broken by asin.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import math
import sqlite3
from collections.abc import Iterator
from typing import Any

import sqlite_utils

from arbitrage_cli.errors import ConfigError
from arbitrage_cli.keepa.constants import CONDITIONS, USED_CONDITIONS
from arbitrage_cli.store.schema import INDEXED_SORTS, VISIBLE_WHERE, gating_columns, \
    link_columns

SORTS = {
    "profit": "profit_cents", "roi": "roi_pct", "margin": "margin_pct", "rank": "sales_rank",
    "percent_down": "percent_down_pct", "last_change": "last_price_change_keepa",
    "list_at": "list_at_cents", "price": "price_now_cents", "deal_trust": "deal_trust_pct",
    "seller_quality": "seller_quality", "drops_30": "drops_30", "updated": "updated_at",
    "confidence": "list_at_confidence", "days_to_sell": "days_to_sell",
    "sale_days": "sale_days_180",
}
TEXT_SORTS = {"updated"}
BIG = 9.0e18
# Above this many full-text matches, walking a sort index and probing the match set reads
# fewer rows than fetching and sorting every match (measured at 100k deals: a word matching
# 19k titles took 16 ms the first way and 4 ms the second; a rare word is the other way round).
WALK_ABOVE_MATCHES = 1500


# Every exported deal carries its gating (listing restriction) status and approval link, the
# links to look at it, and the user's decision on it.
GATING_COLUMNS = gating_columns("deals")
MARK_COLUMN = "(select m.decision from marks m where m.asin = deals.asin) as mark"
DEAL_SELECT = f"deals.*, {GATING_COLUMNS}, {link_columns('deals')}, {MARK_COLUMN}"
# Decided deals leave the default lists (DealFilters.include_marked brings them back).
UNMARKED = ("not exists (select 1 from marks m where m.asin = deals.asin and "
            "m.decision in ('bought', 'ignored'))")


class QueryError(ConfigError):
    """A bad filter, sort or cursor: exit 2 on the command line, HTTP 400 in serve-json."""


@dataclasses.dataclass(frozen=True)
class DealFilters:
    min_profit: float | None = None  # dollars
    min_profit_low: float | None = None  # dollars, at the low end of List at's range
    min_roi: float | None = None  # percent
    max_rank: int | None = None
    min_drops_30: int | None = None
    min_percent_down: float | None = None
    min_deal_trust: float | None = None  # percent
    min_seller_quality: float | None = None  # 0-10, as shown
    min_confidence: float | None = None  # list_at_confidence, 0-1
    max_days_to_sell: float | None = None
    min_sale_days: int | None = None  # days with a sale in the last 180
    keyword: str | None = None
    conditions: tuple[int, ...] = ()
    hide_gated: bool = False
    hide_amazon: bool = False
    include_marked: bool = False  # bought and ignored deals too
    sort: str = "profit"
    descending: bool = True

    def __post_init__(self):
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if field.name in THRESHOLDS and value is not None:
                _check_number(field.name, value)
        if self.sort not in SORTS:
            raise QueryError(f"sort must be one of {', '.join(sorted(SORTS))}, got {self.sort!r}")
        bad = [c for c in self.conditions if c not in USED_CONDITIONS]
        if bad:  # every deal is a used copy: another code would match nothing, silently
            raise QueryError(
                f"conditions {bad} match no deal: deals are used copies, condition "
                + ", ".join(f"{c} ({CONDITIONS[c].replace('Used - ', '')})"
                            for c in sorted(USED_CONDITIONS)))


INT64 = 2**63 - 1


def _check_number(name: str, value: Any) -> None:
    """A threshold SQLite can compare: finite, and within its 64-bit integers."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise QueryError(f"{name} must be a number, got {value!r}")
    if isinstance(value, float) and not math.isfinite(value):
        raise QueryError(f"{name} must be a finite number, got {value}")
    if not -INT64 <= value <= INT64:
        raise QueryError(f"{name} is out of range: {value}")


def _fts_phrase(keyword: str) -> str:
    """Every word quoted: user input can never be FTS syntax (no errors, no surprises).
    Control characters (a NUL ends the string for SQLite's FTS parser) become spaces."""
    clean = "".join(c if c.isprintable() else " " for c in keyword)
    return " ".join('"' + w.replace('"', '""') + '"' for w in clean.split())


def sort_expr(sort: str, descending: bool) -> str:
    """The ORDER BY expression for a whitelisted sort. Partial indexes (schema migration 006)
    are built from this very text: SQLite uses an expression index only when they match."""
    col = SORTS[sort]
    if sort in TEXT_SORTS:
        return f"coalesce({col}, '{'' if descending else '~'}')"
    return f"coalesce({col}, {-BIG if descending else BIG})"


def _sort_expr(f: DealFilters) -> str:
    return sort_expr(f.sort, f.descending)


# Each threshold filter binds its own name. Units are converted in SQL, so the same text serves
# Datasette's canned queries, whose form values arrive as the dollars and 0-10 grades people
# type ("k/10 or better" as shown, domain.md §3.6).
THRESHOLDS = {
    "min_profit": "profit_cents >= round(:min_profit * 100)",
    "min_profit_low": "profit_low_cents >= round(:min_profit_low * 100)",
    "min_roi": "roi_pct >= :min_roi",
    "max_rank": "sales_rank <= :max_rank",
    "min_drops_30": "drops_30 >= :min_drops_30",
    "min_percent_down": "percent_down_pct >= :min_percent_down",
    "min_deal_trust": "deal_trust_pct >= :min_deal_trust",
    "min_seller_quality": "seller_quality >= (:min_seller_quality - 0.5) / 10.0",
    "min_confidence": "list_at_confidence >= :min_confidence",
    "max_days_to_sell": "days_to_sell <= :max_days_to_sell",
    "min_sale_days": "sale_days_180 >= :min_sale_days",
}


def where_clause(f: DealFilters, walk: bool = False) -> tuple[str, dict[str, Any]]:
    terms, params = [f"({VISIBLE_WHERE})"], {}

    def add(term: str, **values: Any) -> None:
        terms.append(term)
        params.update(values)

    for name, term in THRESHOLDS.items():
        value = getattr(f, name)
        if value is not None:
            add(term, **{name: value})
    if f.keyword and _fts_phrase(f.keyword):
        # the match set: probed while walking a sort index, or joined first (`source()`)
        add("deals_fts match :keyword" if not walk else
            "+deals.rowid in (select rowid from deals_fts where deals_fts match :keyword)",
            keyword=_fts_phrase(f.keyword))
    if f.conditions:
        marks = ", ".join(f":c{i}" for i in range(len(f.conditions)))
        add(f"condition in ({marks})", **{f"c{i}": c for i, c in enumerate(f.conditions)})
    if f.hide_gated:
        terms.append("asin not in (select asin from user_restrictions "
                     "where status = 'restricted')")
    if f.hide_amazon:
        terms.append("coalesce(amazon_selling, 0) = 0")
    if not f.include_marked:
        terms.append(UNMARKED)
    return " and ".join(terms), params


def source(f: DealFilters, walk: bool | str = False) -> str:
    """FROM clause. A keyword search either walks the sort index (many matches: stop after
    one page) or starts from the few full-text matches (CROSS JOIN fixes that order); a
    threshold few deals pass starts from its own index (`walk` names it)."""
    if isinstance(walk, str):
        return f"deals indexed by {walk}"
    if walk:
        return f"deals indexed by idx_visible_{f.sort}"
    if f.keyword and _fts_phrase(f.keyword):
        return "deals_fts cross join deals on deals.rowid = deals_fts.rowid"
    return "deals"


def _decided(db: sqlite_utils.Database, key: tuple, decide):
    """A plan decision remembered per connection until any commit (data_version): a server
    asked the same question again, or for its next page, decides without counting again."""
    version = db.execute("pragma data_version").fetchone()[0]
    cache = getattr(db, "_plan_cache", None)
    if cache is None or cache[0] != version:
        cache = db._plan_cache = (version, {})
    if key not in cache[1]:
        cache[1][key] = decide()
    return cache[1][key]


def _has_index(db: sqlite_utils.Database, name: str) -> bool:
    """Absent before its migration (006 sort indexes, 015 filter indexes)."""
    return _decided(db, ("index", name), lambda: bool(db.execute(
        "select 1 from sqlite_master where type = 'index' and name = ?", [name]).fetchone()))


def should_walk(db: sqlite_utils.Database, f: DealFilters) -> bool:
    """Choose the keyword plan from the number of matches (FTS5 counts them without reading
    the rows). Only a descending indexed sort can be walked."""
    phrase = f.keyword and _fts_phrase(f.keyword)
    if not phrase or f.sort not in INDEXED_SORTS or not f.descending:
        return False
    return _has_index(db, f"idx_visible_{f.sort}") and _decided(
        db, ("matches", phrase), lambda: db.execute(
            "select count(*) from deals_fts where deals_fts match ?", [phrase]
        ).fetchone()[0]) > WALK_ABOVE_MATCHES


# filter -> the column its index (migration 015) covers
FILTER_INDEXES = {"min_deal_trust": "deal_trust_pct", "min_confidence": "list_at_confidence",
                  "max_days_to_sell": "days_to_sell", "min_sale_days": "sale_days_180",
                  "min_seller_quality": "seller_quality", "min_percent_down": "percent_down_pct",
                  "min_drops_30": "drops_30", "max_rank": "sales_rank",
                  "conditions": "condition"}
# Below this many passing deals, reading them from the filter's index and sorting them beats
# walking the sort index (which reads visible/passing rows until a page is full: 1.5 s at a
# million rows for a threshold no deal passes, 1-3 ms for one most deals pass).
FEW_MATCHES = 2000


def filter_index(db: sqlite_utils.Database, f: DealFilters) -> str | None:
    """The index of the filter fewest visible deals pass, when that is few (each candidate
    counted up to FEW_MATCHES, so deciding costs a few milliseconds at most)."""
    if f.keyword and _fts_phrase(f.keyword):
        return None
    wanted = [name for name in FILTER_INDEXES if getattr(f, name) not in (None, ())]
    if not wanted:
        return None
    best = None
    for name in wanted:
        index = f"idx_filter_{FILTER_INDEXES[name]}"
        if not _has_index(db, index):
            continue
        term, params = where_clause(DealFilters(**{name: getattr(f, name)}, include_marked=True))
        n = _decided(db, ("passing", name, getattr(f, name)), lambda: db.execute(
            f"select count(*) from (select 1 from deals indexed by {index} where {term} "
            f"limit {FEW_MATCHES})", params).fetchone()[0])
        if n < FEW_MATCHES and (best is None or n < best[0]):
            best = (n, index)
    return best[1] if best else None


def plan(db: sqlite_utils.Database, f: DealFilters) -> bool | str:
    """How to read a page: walk the sort index for a common keyword (True), start from a
    rare threshold's index (its name), or let SQLite choose (False)."""
    return should_walk(db, f) or filter_index(db, f) or False


def encode_cursor(sort_value: Any, asin: str) -> str:
    raw = json.dumps([sort_value, asin], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[Any, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        value, asin = json.loads(raw)
        if not isinstance(asin, str) or isinstance(value, (dict, list, bool)):
            raise ValueError
        return value, asin
    except (ValueError, TypeError, UnicodeDecodeError):
        raise QueryError("malformed cursor") from None


def select_sql(f: DealFilters, limit: int | None, cursor: str | None, walk: bool | str = False,
               columns: str = DEAL_SELECT, sort_key: bool = True) -> tuple[str, dict]:
    where, params = where_clause(f, walk)
    expr = _sort_expr(f)
    if cursor:
        value, asin = decode_cursor(cursor)
        op = "<" if f.descending else ">"
        where += f" and ({expr} {op} :cur_v or ({expr} = :cur_v and deals.asin > :cur_a))"
        params.update(cur_v=value, cur_a=asin)
    order = f"{expr} {'desc' if f.descending else 'asc'}, deals.asin asc"
    sql = (f"select {columns}{f', {expr} as _sort' if sort_key else ''} from {source(f, walk)} "
           f"where {where} order by {order}")
    if limit is not None:
        sql += " limit :limit"
        params["limit"] = limit
    return sql, params


def _rows(db: sqlite_utils.Database, f: DealFilters, limit: int | None,
          cursor: str | None) -> Iterator[tuple[dict, Any]]:
    """(row, its sort value), one by one: streams, nothing is loaded whole."""
    sql, params = select_sql(f, limit, cursor, plan(db, f))
    cur = db.execute(sql, params)
    names = [d[0] for d in cur.description]
    for values in cur:
        row = dict(zip(names, values))
        yield row, row.pop("_sort")


def deal_tuples(db: sqlite_utils.Database, f: DealFilters, limit: int | None = None
                ) -> tuple[list[str], Iterator[tuple]]:
    """The column names and the rows as SQLite's cursor gives them (tuples): an export
    writes them without a dict per row. Measured against formatting in SQL (printf, one
    line a row): SQLite 3.40's per-field functions (json_quote, the CSV quoting test) cost
    more than Python's csv and json encoders, and its printf is not exact for every double."""
    sql, params = select_sql(f, limit, None, plan(db, f), sort_key=False)
    cur = db.conn.execute(sql, params)
    return [d[0] for d in cur.description], cur


def iter_deals(db: sqlite_utils.Database, f: DealFilters, limit: int | None = None,
               cursor: str | None = None) -> Iterator[dict]:
    return (row for row, _ in _rows(db, f, limit, cursor))


def page(db: sqlite_utils.Database, f: DealFilters, limit: int, cursor: str | None = None
         ) -> tuple[list[dict], str | None]:
    """One keyset page and the cursor of the next one (None at the end)."""
    rows = list(_rows(db, f, limit + 1, cursor))
    more = len(rows) > limit
    rows = rows[:limit]
    nxt = encode_cursor(rows[-1][1], rows[-1][0]["asin"]) if more and rows else None
    return [row for row, _ in rows], nxt


ORDER_ONLY = frozenset({"sort", "descending", "include_marked"})


def unfiltered(f: DealFilters) -> bool:
    """Every visible deal (marked ones too or not), in any order: a count the triggers keep."""
    return all(getattr(f, field.name) == field.default for field in dataclasses.fields(f)
               if field.name not in ORDER_ONLY)


def count(db: sqlite_utils.Database, f: DealFilters | None = None) -> int:
    f = f or DealFilters()
    if unfiltered(f):
        name = "visible_all" if f.include_marked else "visible"
        try:
            kept = db.execute("select n from deal_counts where name = ?", [name]).fetchone()
        except sqlite3.OperationalError:  # before migration 014
            kept = None
        if kept is not None:
            return kept[0]
    where, params = where_clause(f)  # counting every match: the join is the cheaper plan
    return db.execute(f"select count(*) from {source(f)} where {where}", params).fetchone()[0]


def get_deal(db: sqlite_utils.Database, asin: str) -> dict | None:
    """One stored deal (visible or not) in the shape every list returns, or None."""
    cur = db.execute(f"select {DEAL_SELECT} from deals where asin = ?", [asin])
    values = cur.fetchone()
    return dict(zip([d[0] for d in cur.description], values)) if values else None


def deal_columns(db: sqlite_utils.Database) -> list[str]:
    """The columns of every deal row, known before any row (a CSV header that does not
    depend on what matched)."""
    cur = db.execute(f"select {DEAL_SELECT} from deals limit 0")
    return [d[0] for d in cur.description]

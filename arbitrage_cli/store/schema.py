"""The one place the schema of deals.db is defined (DESIGN §5), as sqlite-utils migrations.

Rules: money is integer cents (`*_cents`), percentages REAL (`*_pct`), Keepa times integer
minutes (`*_keepa`), other times fixed-width UTC ISO text (`*_at`), unknown is NULL. Tables are
STRICT so a formatted string can never land in a number column (R10).

Append new migrations at the end; never edit one that has shipped.
"""

from __future__ import annotations

import sqlite3

import sqlite_utils
from sqlite_utils.migrations import Migrations

from arbitrage_cli.store import frozen_sql as frozen
from arbitrage_cli.store import visibility
from arbitrage_cli.errors import SchemaTooNew
from arbitrage_cli.store.conn import db_path, immediate  # noqa: F401 - db_path: re-exported

MIGRATION_SET = "arbitrage_cli"
migrations = Migrations(MIGRATION_SET)

# deals: inputs that recalc needs are kept apart from the metrics it derives.
DEAL_COLUMNS: dict[str, type] = {
    "asin": str,
    # processing outcome: 'deal' (analysed) or 'skipped' with skip_reason
    "status": str,
    "skip_reason": str,
    "title": str,
    "author": str,
    "category": str,
    "binding": str,
    "publisher": str,
    "root_category": int,
    # the winning live used offer
    "seller_id": str,
    "seller_name": str,
    "seller_rating_pct": float,
    "seller_rating_count": int,
    "seller_quality": float,
    "condition": int,
    "is_fba": int,
    "price_cents": int,
    "shipping_cents": int,
    "price_now_cents": int,
    "used_offer_count": int,
    "live_offer_count": int,
    # price prediction (from inferred sales only, R16)
    "list_at_cents": int,
    "list_at_uncapped_cents": int,
    "list_at_basis": str,
    "list_at_capped": int,
    "price_suspicious": int,
    "trough_price_cents": int,
    "peak_month": int,
    "trough_month": int,
    "season": str,
    "sells": str,
    "avg_1yr_cents": int,
    "percent_down_pct": float,
    "recent_sale_cents": int,
    "sales_inferred": int,
    "offer_drops": int,
    "deal_trust_pct": float,
    "offers_trend": str,
    "price_trend": str,
    "sales_rank": int,
    "drops_30": int,
    "drops_90": int,
    "drops_365": int,
    "amazon_price_cents": int,
    "amazon_selling": int,
    # fee inputs; *_estimated = 1 when a documented default stood in for missing data
    "fba_fee_cents": int,
    "fba_fee_estimated": int,
    "referral_fee_pct": float,
    "referral_fee_estimated": int,
    "closing_fee_cents": int,
    # (closing_fee_estimated: added by migration 002)
    # derived by recalc from the inputs above and the settings
    "all_in_cost_cents": int,
    "amazon_fees_cents": int,
    "profit_cents": int,
    "margin_pct": float,
    "roi_pct": float,
    "min_listing_price_cents": int,
    "settings_version": int,
    # freshness
    "last_update_keepa": int,
    "last_price_change_keepa": int,
    "offers_checked_keepa": int,
    "first_seen_at": str,
    "confirmed_at": str,
    "updated_at": str,
    "next_check_at": str,
    "expired_at": str,
    "hidden": int,
}

# The one visibility rule (R24), written once in store/visibility.py as terms from which
# this SQL and the Python predicate both come.
VISIBLE_BASE, VISIBLE_WHERE = visibility.VISIBLE_BASE, visibility.VISIBLE_WHERE
# Written only by recalc (pipeline/recalc.py defines how; a test holds the two lists equal).
DERIVED_COLUMNS = frozenset({
    "fba_fee_estimated", "referral_fee_estimated", "closing_fee_estimated",
    "all_in_cost_cents", "amazon_fees_cents", "profit_cents", "margin_pct", "roi_pct",
    "min_listing_price_cents", "settings_version", "screen_bound_cents", "profit_low_cents"})

FTS_COLUMNS = ["title", "author", "category"]


@migrations(name="001_initial")
def m001_initial(db: sqlite_utils.Database) -> None:
    db["deals"].create(
        frozen.M001_DEAL_COLUMNS, pk="asin", strict=True,
        not_null={"status", "hidden"}, defaults={"status": "new", "hidden": 0},
    )
    db["deals"].create_index(["status"])
    db["system_state"].create(
        {"key": str, "value": "ANY", "updated_at": str}, pk="key", strict=True,
        not_null={"updated_at"},
    )
    db["locks"].create(
        {"name": str, "owner": str, "pid": int, "host": str, "acquired_at": str,
         "heartbeat_at": str, "expires_at": str},
        pk="name", strict=True, not_null={"owner", "pid", "host", "acquired_at",
                                          "heartbeat_at", "expires_at"},
    )
    # One row (id = 1): the last token snapshot any process saw, shared by all of them.
    db["keepa_tokens"].create(
        {"id": int, "tokens_left": int, "refill_rate": int, "refill_in_ms": int,
         "token_flow_reduction": float, "keepa_timestamp_ms": int, "observed_at_ms": int,
         "observed_at": str, "requests_total": int, "tokens_consumed_total": int},
        pk="id", strict=True,
    )
    # Tokens promised to calls in flight, so two processes never spend the last tokens twice.
    db["token_reservations"].create(
        {"id": int, "owner": str, "tokens": int, "created_at_ms": int, "expires_at_ms": int},
        pk="id", strict=True, not_null={"owner", "tokens", "created_at_ms", "expires_at_ms"},
    )
    # Observed tokens per unit (per ASIN, per seller, per page), to correct the predictions (R3).
    db["keepa_costs"].create(
        {"kind": str, "tokens_per_unit": float, "samples": int, "updated_at": str},
        pk="kind", strict=True,
    )
    db["sellers"].create(
        {"seller_id": str, "seller_name": str, "rating_pct": float, "rating_count": int,
         "found": int, "fetched_at": str},
        pk="seller_id", strict=True, not_null={"found", "fetched_at"},
    )
    db["runs"].create(
        {"id": int, "command": str, "started_at": str, "finished_at": str, "outcome": str,
         "requests": int, "tokens_consumed": int, "deals_saved": int, "deals_skipped": int,
         "skip_reasons": str, "counters": str, "message": str, "pid": int, "host": str},
        pk="id", strict=True, not_null={"command", "started_at"},
    )
    db["runs"].create_index(["command", "started_at"])
    db["settings"].create(
        {"key": str, "value": "ANY", "updated_at": str}, pk="key", strict=True,
        not_null={"updated_at"},
    )
    db["user_restrictions"].create(
        {"asin": str, "status": str, "is_restricted": int, "approval_url": str,
         "message": str, "checked_at": str, "retry_at": str},
        pk="asin", strict=True, not_null={"status"}, defaults={"status": "unknown"},
    )
    db.create_view("visible_deals", frozen.M001_VISIBLE_DEALS_SQL, replace=True)


def ensure_shape(db: sqlite_utils.Database) -> None:
    """Idempotent touches after migrations: a table `transform` drops FTS triggers, so put
    them back (and refill the index) whenever they are missing."""
    if "deals_fts" in db.table_names() and not any(
            t.name.startswith("deals_a") for t in db["deals"].triggers):
        db["deals"].enable_fts(FTS_COLUMNS, create_triggers=True, replace=True)
        db["deals"].rebuild_fts()
    # sqlite-utils' update trigger re-indexes a row whenever ANY column changes: recalc
    # rewriting profits would rewrite the whole search index. Fire only for searched columns.
    row = db.execute("select sql from sqlite_master where type = 'trigger' and "
                     "name = 'deals_au'").fetchone()
    if row and "AFTER UPDATE ON" in row[0]:
        cols = ", ".join(f'"{c}"' for c in FTS_COLUMNS)
        with db.atomic():
            db.execute('drop trigger "deals_au"')
            db.execute(row[0].replace("AFTER UPDATE ON", f"AFTER UPDATE OF {cols} ON", 1))
    # A table `transform` drops the count triggers too: put them back and count afresh.
    if "deal_counts" in db.table_names():
        have = {t.name for t in db["deals"].triggers} | {t.name for t in db["marks"].triggers}
        if not set(frozen.M014_TRIGGERS) <= have | {
                t.name for t in db["user_restrictions"].triggers}:
            with db.atomic():
                for name, sql in frozen.M014_TRIGGERS.items():
                    db.execute(f"drop trigger if exists {name}")
                    db.execute(sql)
                for sql in frozen.M014_RECOUNT:
                    db.execute(sql)


def known_migrations() -> list[str]:
    return [m.name for m in migrations._migrations]


def applied_migrations(db: sqlite_utils.Database) -> list[str]:
    return [m.name for m in migrations.applied(db)]


def schema_version(db: sqlite_utils.Database) -> str | None:
    applied = applied_migrations(db)
    return applied[-1] if applied else None


def check_version(db: sqlite_utils.Database) -> None:
    """Refuse a database written by a newer arbitrage_cli: we would misread it."""
    unknown = [name for name in applied_migrations(db) if name not in known_migrations()]
    if unknown:
        raise SchemaTooNew(
            f"database {db_path(db)} has schema migrations this version of arbitrage_cli does "
            f"not know ({', '.join(unknown)}); it was written by a newer version. Upgrade "
            f"arbitrage_cli (pip install -U arbitrage_cli) or use another --db."
        )


def migrate(db: sqlite_utils.Database) -> None:
    check_version(db)
    if not migrations.pending(db):
        ensure_shape(db)
        return
    # Two cron runs may open a fresh database at the same moment: serialise on the write lock
    # and re-check inside it, so only one applies the migrations.
    try:
        with immediate(db):
            check_version(db)
            migrations.apply(db)
            ensure_shape(db)
    except sqlite3.OperationalError:
        if migrations.pending(db):
            raise


@migrations(name="002_closing_fee_estimated")
def m002_closing_fee_estimated(db: sqlite_utils.Database) -> None:
    # The $1.80 closing fee falls back to a default like the other fees: flag it the same way.
    db["deals"].add_column("closing_fee_estimated", int)


@migrations(name="003_keepa_products")
def m003_keepa_products(db: sqlite_utils.Database) -> None:
    # The Keepa product each deal was analysed from (zlib JSON), so `explain` and a
    # re-analysis need no tokens.
    db["keepa_products"].create(
        {"asin": str, "fetched_at": str, "keepa_minute": int, "product_zlib": bytes},
        pk="asin", strict=True, not_null={"fetched_at", "keepa_minute", "product_zlib"},
    )


@migrations(name="004_full_text_search")
def m004_full_text_search(db: sqlite_utils.Database) -> None:
    # keyword search over title, author and category (sqlite-utils FTS5, kept by triggers;
    # ensure_shape narrows the update trigger to those columns)
    db["deals"].enable_fts(frozen.M004_FTS_COLUMNS, create_triggers=True)


@migrations(name="005_deals_pretty_view")
def m005_deals_pretty_view(db: sqlite_utils.Database) -> None:
    # For people browsing in Datasette: dollars, condition labels; numbers stay in `deals`.
    db.create_view("deals_pretty", frozen.M005_DEALS_PRETTY_SQL, replace=True)




INDEXED_SORTS = ("profit", "roi", "rank", "last_change")


@migrations(name="006_visible_sort_indexes")
def m006_visible_sort_indexes(db: sqlite_utils.Database) -> None:
    # Partial indexes over the visible rows only, in the exact sort expressions the query
    # layer emits: the default list and the common sorts read 50 rows instead of sorting all.
    # nearly every row has status 'deal': that index only misleads the planner
    db.execute("drop index if exists idx_deals_status")
    for sql in frozen.M006_INDEXES:
        db.execute(sql)


# The database's marketplace (store/marketplace.py; amazon.com for a database from before).
AMAZON_HOST_SQL = ("'https://www.amazon.' || coalesce((select value from system_state "
                   "where key = 'amazon_tld'), 'com')")
KEEPA_DOMAIN_SQL = "coalesce((select value from system_state where key = 'domain_id'), 1)"


def link_columns(table: str) -> str:
    """Where to look at and buy a deal, on the database's marketplace: Amazon's page,
    Keepa's, the cover (the query layer; migration 012's view writes the same out)."""
    return (f"{AMAZON_HOST_SQL} || '/dp/' || {table}.asin || '?psc=1&aod=1' as amazon_url, "
            f"'https://keepa.com/#!product/' || {KEEPA_DOMAIN_SQL} || '-' || {table}.asin "
            f"as keepa_url, case when {table}.image_name is not null then "
            f"'https://m.media-amazon.com/images/I/' || {table}.image_name end as image_url")


def gating_columns(table: str) -> str:
    """A deal's gating status and approval link, as every reader shows them (the query layer
    and the deals_pretty view)."""
    return (f"coalesce((select r.status from user_restrictions r where r.asin = {table}.asin), "
            f"'unknown') as gating, (select r.approval_url from user_restrictions r "
            f"where r.asin = {table}.asin) as approval_url")




@migrations(name="007_gating")
def m007_gating(db: sqlite_utils.Database) -> None:
    # A restriction answer holds for one condition: remember which, so a deal whose winning
    # offer changed condition is checked again. Browsing shows the gating status.
    db["user_restrictions"].add_column("condition_type", str)
    db.create_view("deals_pretty", frozen.M007_DEALS_PRETTY_SQL, replace=True)


@migrations(name="008_listing_evidence")
def m008_listing_evidence(db: sqlite_utils.Database) -> None:
    # Issue 12. What Keepa's /deal listing said about each ASIN and when (the evidence sync's
    # change detection and the janitor read), kept apart from when we fetched the product; and
    # a retry queue for failed fetches on deals. The SQL is written out as it shipped, so a
    # later change of a constant cannot change what this migration does.
    db.execute("""create table listing (
        asin text primary key,
        first_listed_at text not null,
        listed_at text not null,
        listed_keepa integer,
        creation_keepa integer,
        last_update_keepa integer,
        current_cents integer,
        current_since_keepa integer,
        changed_keepa integer
    ) strict""")
    db.execute("create index idx_listing_listed_at on listing (listed_at)")
    for column, kind in (("checked_keepa", "integer"), ("retry_reason", "text"),
                         ("retry_count", "integer"), ("retry_since_at", "text")):
        db.execute(f"alter table deals add column {column} {kind}")
    failures = "('offers_unknown', 'not_returned', 'analysis_error', 'incomplete_product')"
    # A failure used to leave an existing row as it was, so a failure reason on a row means the
    # ASIN was never fetched successfully: those rows wait for their retry.
    db.execute(f"""update deals set retry_reason = skip_reason, retry_count = 1,
        retry_since_at = updated_at where skip_reason in {failures}""")
    db.execute(f"""update deals set checked_keepa = coalesce(offers_checked_keepa,
        cast(strftime('%s', updated_at) as integer) / 60 - 21564000)
        where status != 'new' and (skip_reason is null or skip_reason not in {failures})""")
    db.execute("update deals set next_check_at = null where retry_reason is null")
    db.execute("""insert into listing (asin, first_listed_at, listed_at)
        select asin, coalesce(first_seen_at, confirmed_at), confirmed_at from deals
        where confirmed_at is not null""")
    db.execute("create index idx_deals_retry on deals (next_check_at) "
               "where retry_reason is not null")


@migrations(name="009_history_screen")
def m009_history_screen(db: sqlite_utils.Database) -> None:
    # Issue 13. A product judged from its history (or the deal page's price) and not worth live
    # offers is stored with status 'screened', the reason in skip_reason, the price it was
    # judged at and at which stage (0 deal page, 1 history); recalc keeps the bound profit at
    # that price current with the settings. The listing keeps the deal page's lowest used
    # price (current[USED]) whatever price type the query asks for.
    for column in ("screen_price_cents", "screen_stage", "screen_bound_cents"):
        db.execute(f"alter table deals add column {column} integer")
    db.execute("alter table listing add column used_cents integer")


@migrations(name="010_list_at_confidence_velocity")
def m010_list_at_confidence_velocity(db: sqlite_utils.Database) -> None:
    # Issue 14. How much to trust a List at (0-1, pricing.confidence) and how fast it sells:
    # expected days to sell one copy at that price, and days with a used sale in the last 180.
    db.execute("alter table deals add column list_at_confidence real")
    db.execute("alter table deals add column days_to_sell real")
    db.execute("alter table deals add column sale_days_180 integer")


@migrations(name="011_links_marks_visibility")
def m011_links_marks_visibility(db: sqlite_utils.Database) -> None:
    # Issue 15. The cover's image name; the user's decisions in their own table (a bought one
    # keeps what we predicted then); in the raw table, why a row is (not) visible and the
    # condition's label, computed by SQLite from the row (virtual: never stored twice); and
    # the Datasette dollar view rebuilt with numbers that stay numbers, the cover, the links
    # and the mark. The SQL is written out as it shipped.
    db.execute("alter table deals add column image_name text")
    db.execute("""create table marks (
        asin text primary key,
        decision text not null check (decision in ('bought', 'ignored', 'watch')),
        note text,
        price_cents integer,
        decided_at text not null,
        list_at_cents integer,
        price_now_cents integer,
        profit_cents integer
    ) strict""")
    db.execute("""alter table deals add column visibility text generated always as (
        case when status = 'deal' and hidden = 0 and expired_at is null
            and coalesce(price_suspicious, 0) = 0 and list_at_cents > 0 and avg_1yr_cents > 0
            and profit_cents > 0 then 'visible'
        else rtrim(
            iif(status != 'deal', 'not a deal: ' || coalesce(skip_reason, status) || '; ', '')
            || iif(hidden != 0, 'hidden by you; ', '')
            || iif(expired_at is not null, 'not listed by Keepa for 72 h; ', '')
            || iif(coalesce(price_suspicious, 0) != 0,
                   'List at over 3x the used price, needs review; ', '')
            || iif(coalesce(list_at_cents, 0) <= 0 or coalesce(avg_1yr_cents, 0) <= 0,
                   'no used sale in the last year; ', '')
            || iif(coalesce(profit_cents, 0) <= 0, 'not profitable; ', ''), '; ')
        end) virtual""")
    db.execute("""alter table deals add column condition_label text generated always as (
        case condition when 1 then 'New' when 2 then 'Used - Like New'
            when 3 then 'Used - Very Good' when 4 then 'Used - Good'
            when 5 then 'Used - Acceptable' when 6 then 'Refurbished'
            when 7 then 'Collectible - Like New' when 8 then 'Collectible - Very Good'
            when 9 then 'Collectible - Good' when 10 then 'Collectible - Acceptable'
            when 11 then 'Rental' end) virtual""")
    db.execute("drop view if exists deals_pretty")
    db.execute(frozen.M011_DEALS_PRETTY_SQL)


@migrations(name="012_marketplace_links")
def m012_marketplace_links(db: sqlite_utils.Database) -> None:
    # Issue 16: one marketplace per database; the dollar view's links follow it.
    db.execute("drop view if exists deals_pretty")
    db.execute(frozen.M012_DEALS_PRETTY_SQL)


@migrations(name="013_list_at_range")
def m013_list_at_range(db: sqlite_utils.Database) -> None:
    # Issue 22. List at comes with its range (the 20th and 80th percentile of the coming
    # horizon's median used sale, analysis/estimators.default_range) and the profit at the
    # low end of it, which recalc keeps current with the settings.
    for column in ("list_at_low_cents", "list_at_high_cents", "profit_low_cents"):
        db.execute(f"alter table deals add column {column} integer")
    db.execute("drop view if exists deals_pretty")
    db.execute(frozen.M013_DEALS_PRETTY_SQL)


@migrations(name="014_deal_counts")
def m014_deal_counts(db: sqlite_utils.Database) -> None:
    # Issue 24. Counts kept by triggers (store/counts.py reads them): `status` and the API's
    # default total stop counting a million rows, and `generation` tells serve-json when a
    # cached total for any other filter is stale (every change to deals, marks or gating).
    db.execute("create table deal_counts (name text primary key, n integer not null) strict")
    for sql in frozen.M014_TRIGGERS.values():
        db.execute(sql)
    for sql in frozen.M014_RECOUNT:
        db.execute(sql)


@migrations(name="015_filter_indexes")
def m015_filter_indexes(db: sqlite_utils.Database) -> None:
    # Issue 24: a threshold few deals pass (a deal trust nobody reaches, a rare condition)
    # walked the whole profit index to fill a page: 1.5 s at a million rows.
    for sql in frozen.M015_INDEXES:
        db.execute(sql)


@migrations(name="016_visibility_words")
def m016_visibility_words(db: sqlite_utils.Database) -> None:
    # Issue 25: "not a deal: not_profitable; not profitable" becomes "screened from its
    # history: not profitable"; deals_pretty loses profit_cents (profit sorts as a number).
    db.execute("drop view if exists deals_pretty")
    db.execute("alter table deals drop column visibility")
    db.execute(frozen.M016_VISIBILITY)
    db.execute(frozen.M016_DEALS_PRETTY_SQL)


@migrations(name="017_notifications")
def m017_notifications(db: sqlite_utils.Database) -> None:
    # Issue 26: exactly what notify sent (or failed to send) to which target.
    db.execute(frozen.M017_NOTIFICATIONS)
    db.execute(frozen.M017_INDEX)

"""The Datasette plugin (entry point `datasette`): money and percentages shown as people read
them while the columns stay numbers (so sorting by profit sorts numbers), the cover as an
image, links that open, and a chart page per deal at /-/arbitrage/chart/ASIN (its SVG at
/-/arbitrage/chart/ASIN.svg), drawn by arbitrage_cli.chart from the stored Keepa product.
"""

from __future__ import annotations

import html

from datasette import hookimpl
from datasette.utils.asgi import Response
from markupsafe import Markup

from arbitrage_cli.money import SYMBOLS, money
from arbitrage_cli.store.marketplace import stored

# deals_pretty and the canned queries name their dollar and percent columns so.
DOLLARS = frozenset({"buy", "list_at", "list_at_low", "list_at_high", "profit", "profit_low",
                     "paid", "total_profit", "best_profit", "profit_then", "profit_now"})
PERCENT = frozenset({"roi", "margin"})
LINKS = {"amazon_url": "Amazon", "keepa_url": "Keepa", "approval_url": "request approval"}
PRETTY_TABLES = frozenset({None, "deals_pretty", "marks_pretty"})  # None: a canned query


_SYMBOLS: dict[str, str] = {}  # database name -> its marketplace's currency symbol


async def _symbol(datasette, database: str) -> str:
    """The currency of the database's marketplace (store/marketplace.py), read once."""
    if database not in _SYMBOLS:
        try:
            rows = await datasette.get_database(database).execute(
                "select value from system_state where key = 'domain_id'")
            domain = rows.first()[0] if rows.first() else 1
        except Exception:  # noqa: BLE001 - not an arbitrage_cli database
            domain = 1
        _SYMBOLS[database] = SYMBOLS.get(domain, "$")
    return _SYMBOLS[database]


@hookimpl
def render_cell(value, column, table, database, datasette):
    if value is None:
        return None
    if table in PRETTY_TABLES and isinstance(value, (int, float)) and \
            not isinstance(value, bool):
        if column in DOLLARS:  # the view's dollars are cents / 100
            async def shown():
                return money(value * 100, sym=await _symbol(datasette, database))
            return shown
        if column in PERCENT:
            return f"{value:.0f}%"
        if column == "sales_rank" and isinstance(value, int):  # 1,234,567 (a number below)
            return f"{value:,}"
    if not isinstance(value, str):
        return None
    if column in ("cover", "image_url") and value.startswith("https://"):
        return Markup(f'<img src="{html.escape(value)}" alt="cover" loading="lazy" '
                      f'style="max-height:80px">')
    if column in LINKS and value.startswith("https://"):
        return Markup(f'<a href="{html.escape(value)}" rel="noopener">{LINKS[column]}</a>')
    if column == "chart" and value.startswith("/-/arbitrage/chart/"):
        return Markup(f'<a href="{html.escape(value)}">chart</a>')
    return None


async def _database(datasette, wanted: str | None):
    """The database holding deals: the one named by ?db=, else the first with a deals table."""
    names = [wanted] if wanted else [n for n in datasette.databases if n != "_internal"]
    for name in names:
        if name in datasette.databases:
            db = datasette.get_database(name)
            if await db.table_exists("keepa_products"):
                return db
    return None


async def _chart(datasette, request, asin: str):
    from arbitrage_cli.pipeline.stored import stored_product

    db = await _database(datasette, request.args.get("db"))
    days = request.args.get("days", "365")
    if db is None:
        return None, "no database with deals (arbitrage_cli's deals.db) is open"
    if not days.isdigit() or not 7 <= int(days) <= 3650:
        return None, "days must be a whole number within 7..3650"

    def draw(conn):
        import sqlite_utils

        from arbitrage_cli import chart

        found = stored_product(sqlite_utils.Database(conn), asin)
        if found is None:
            return None
        from arbitrage_cli.explain import links

        product, analysis, row = found
        svg = chart.render(product, analysis, days=int(days)).decode()
        row = {**row, **links(asin, None, stored(sqlite_utils.Database(conn)) or 1)}
        return svg[svg.index("<svg"):], row  # inline in HTML: no XML prolog

    try:
        drawn = await db.execute_fn(draw)
    except Exception as exc:  # noqa: BLE001 - a database without the tables
        return None, f"cannot read deals from {db.name}: {type(exc).__name__}"
    if drawn is None:
        return None, f"no stored product {asin} in {db.name}"
    return drawn, db.name


async def chart_page(datasette, request):
    asin = request.url_vars["asin"].upper()
    drawn, note = await _chart(datasette, request, asin)
    if drawn is None:
        return Response.html(f"<h1>{html.escape(note)}</h1>", status=404)
    svg, row = drawn
    title = html.escape(row.get("title") or asin)
    sym = await _symbol(datasette, note)
    facts = " · ".join(f"{label} {money(row.get(key), 'unknown', sym)}" for label, key in (
        ("buy", "price_now_cents"), ("List at", "list_at_cents"),
        ("likely from", "list_at_low_cents"), ("to", "list_at_high_cents"),
        ("profit", "profit_cents"), ("at the low end", "profit_low_cents")))
    links = (f'<a href="{html.escape(row["amazon_url"])}">Amazon</a> · '
             f'<a href="{html.escape(row["keepa_url"])}">Keepa</a> · '
             f'<a href="{datasette.urls.table(note, "deals")}/{asin}">row</a> · '
             f'<a href="{datasette.urls.table(note, "deals_pretty")}">all deals</a>')
    body = (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{asin} chart</title>"
            f"</head><body style='font-family:sans-serif;margin:1em'>"
            f"<h1 style='font-size:1.2em'>{asin} {title}</h1><p>{facts}</p><p>{links}</p>"
            f"<div class='chart'>{svg}</div></body></html>")
    return Response.html(body)


async def chart_svg(datasette, request):
    asin = request.url_vars["asin"].upper()
    drawn, note = await _chart(datasette, request, asin)
    if drawn is None:
        return Response.text(note, status=404)
    return Response(drawn[0], content_type="image/svg+xml")


@hookimpl
def register_routes():
    return [(r"^/-/arbitrage/chart/(?P<asin>[0-9A-Za-z]{10})\.svg$", chart_svg),
            (r"^/-/arbitrage/chart/(?P<asin>[0-9A-Za-z]{10})$", chart_page)]


# Columns a view carries for Datasette's machinery, not for people: full-text search needs
# the deals rowid in deals_pretty (fts_pk), but a seller reading the table has no use for it.
MACHINERY = {"deals_pretty": ("search_rowid",)}


@hookimpl
def extra_body_script(table):
    hidden = MACHINERY.get(table)
    if not hidden:
        return None
    selector = ", ".join(f".col-{c}" for c in hidden)
    return f"document.querySelectorAll({selector!r}).forEach(e => e.remove());"

from __future__ import annotations

import dataclasses

import typer

from arbitrage_cli.commands.filters import with_filters


@with_filters
def deals(
    ctx: typer.Context,
    filters: dict,
    limit: int = typer.Option(None, "--limit", min=1, help="At most this many deals."),
    include_marked: bool = typer.Option(False, "--include-marked",
                                        help="Also deals you marked bought or ignored."),
    all_columns: bool = typer.Option(False, "--all-columns",
                                     help="csv: every stored column (cents shown as dollars), "
                                          "not the readable set."),
    fmt: str = typer.Option(None, "--format", metavar="FORMAT",
                            help="table (fits the terminal), json, ndjson or csv. Default: a "
                                 "table on a terminal, json when piped or redirected."),
) -> None:
    """Show the visible deals as a table, or export them to stdout (JSON, NDJSON, CSV).

    Example:

        arbitrage deals --min-profit 10
        arbitrage deals --format ndjson | jq -r .asin
        arbitrage deals --format csv > deals.csv

    csv is for spreadsheets: dollars with two decimals, percents with one, the columns a
    seller reads (--all-columns for every stored one); json and ndjson keep integer cents.
    """
    import sys

    from arbitrage_cli import output
    from arbitrage_cli.store import open_db
    from arbitrage_cli.store.queries import DealFilters, deal_tuples, iter_deals

    if fmt is None:  # as gh does: people get a table, programs get JSON
        fmt = "table" if sys.stdout.isatty() else "json"
    output.check_format(fmt)
    db = open_db(ctx.obj.db_path, must_exist=True)
    title = None
    # People reading the table see what they call a deal (setting min_profit, default $5);
    # programs reading json/csv get every visible deal unless they ask for less.
    sort = filters["sort"]
    if filters["min_profit"] is None and fmt == "table":
        from arbitrage_cli.money import money
        from arbitrage_cli.store import settings as settings_store

        least = settings_store.load(db).min_profit_cents
        filters["min_profit"] = least / 100 if least else None
        title = (f"Deals with a profit of {money(least)} or more (setting min_profit; "
                 "--min-profit 0 lists all)") if least else None
    filters = DealFilters(**filters, include_marked=include_marked)
    from arbitrage_cli.store import settings as settings_store

    if fmt == "table":
        rows = list(iter_deals(db, filters, limit=limit or 50))
        s = settings_store.load(db)
        con = output.console()
        if con.width < CARD_WIDTH:
            print_cards(rows, s, sort, include_marked, title, con)
        else:
            output.write(rows, fmt, (), deal_table(s, marked=include_marked, sort=sort),
                         title=title)
        return
    names, rows = deal_tuples(db, filters, limit=limit)  # tuples from the cursor
    if fmt == "csv" and not all_columns:
        s = settings_store.load(db)
        output.write_sheet([n for n, _ in SHEET], (
            tuple(f(r, s) for _, f in SHEET) for r in (dict(zip(names, t)) for t in rows)))
    elif fmt == "csv":
        output.write_sheet(names, rows)
    else:
        output.write_tuples(names, rows, fmt)


def _money(key: str):
    from arbitrage_cli.money import money

    return lambda r: money(r.get(key))


def _short_condition(r: dict) -> str:
    from arbitrage_cli.keepa.constants import CONDITIONS

    return CONDITIONS.get(r.get("condition"), "?").replace("Used - ", "")


SORT_COLUMN = {"days_to_sell": "sells in", "confidence": "conf.", "sale_days": "sale days",
               "rank": "rank", "roi": "ROI", "list_at": "list at", "price": "buy",
               "profit": "profit", "seller_quality": "seller"}


def deal_table(settings=None, marked: bool = False, sort: str | None = None):
    """The table's columns, most decisive first to stay on a narrow terminal: what to pay
    at most for the target ROI, how fast and how surely it sells, who else sells it."""
    from arbitrage_cli.analysis.business import BusinessSettings, max_buy_cents
    from arbitrage_cli.output import Column
    from arbitrage_cli.words import known, roi

    s = settings or BusinessSettings()

    def max_buy(r: dict) -> str:
        from arbitrage_cli.money import money

        return money(max_buy_cents(r.get("list_at_cents"), r.get("amazon_fees_cents"), s))

    def number(key: str, fmt: str):
        return lambda r: "-" if r.get(key) is None else format(r[key], fmt)

    columns = (
        Column("ASIN", lambda r: r["asin"]),
        Column("title", lambda r: r.get("title") or "", flex=True),
        Column("cond.", _short_condition, priority=4),
        Column("buy", _money("price_now_cents"), justify="right"),
        Column(f"max@{s.target_roi_pct:g}%", max_buy, priority=2, justify="right"),
        Column("list at", _money("list_at_cents"), justify="right"),
        Column("profit", _money("profit_cents"), justify="right"),
        Column("ROI", lambda r: roi(r.get("roi_pct")), priority=2, justify="right"),
        Column("sells in", lambda r: known(r.get("days_to_sell"), "{:.0f}d", "-"), priority=3,
               justify="right"),
        Column("conf.", number("list_at_confidence", ".2f"), priority=5, justify="right"),
        Column("sale days", number("sale_days_180", "d"), priority=5, justify="right"),
        Column("offers", number("live_offer_count", "d"), priority=6, justify="right"),
        Column("rank", lambda r: f"{r['sales_rank']:,}" if r.get("sales_rank") else "-",
               priority=6, justify="right"),
        Column("AMZ", lambda r: "yes" if r.get("amazon_selling") else "", priority=6),
        Column("gating", lambda r: r.get("gating") or "unknown", priority=7),
        # asked for the marked deals too: which is which stays on screen
        Column("mark", lambda r: r.get("mark") or "", priority=2 if marked else 7),
        Column("seller", lambda r: r.get("seller_name") or "", priority=8),
    )
    # the column the list is sorted by stays on screen, however narrow
    return tuple(dataclasses.replace(c, priority=1) if c.heading == SORT_COLUMN.get(sort)
                 else c for c in columns)


DEAL_TABLE = deal_table()


def _max_buy(r: dict, s) -> int | None:
    from arbitrage_cli.analysis.business import max_buy_cents

    return max_buy_cents(r.get("list_at_cents"), r.get("amazon_fees_cents"), s)


def _field(key: str):
    return lambda r, s: r.get(key)


# csv for a spreadsheet: what a seller reads, in the table's order (output.write_sheet shows
# *_cents in dollars and *_pct with one decimal under a heading without the suffix)
SHEET = (
    ("asin", _field("asin")), ("title", _field("title")), ("author", _field("author")),
    ("condition", lambda r, s: _short_condition(r)), ("buy_cents", _field("price_now_cents")),
    ("max_buy_cents", _max_buy), ("list_at_cents", _field("list_at_cents")),
    ("list_at_low_cents", _field("list_at_low_cents")),
    ("list_at_high_cents", _field("list_at_high_cents")),
    ("profit_cents", _field("profit_cents")), ("profit_low_cents", _field("profit_low_cents")),
    ("roi_pct", _field("roi_pct")), ("margin_pct", _field("margin_pct")),
    ("days_to_sell", _field("days_to_sell")), ("confidence", _field("list_at_confidence")),
    ("sale_days_180", _field("sale_days_180")), ("used_offers", _field("live_offer_count")),
    ("sales_rank", _field("sales_rank")),
    ("amazon_sells", lambda r, s: "yes" if r.get("amazon_selling") else "no"),
    ("gating", lambda r, s: r.get("gating") or "unknown"),
    ("approval_url", _field("approval_url")), ("mark", _field("mark")),
    ("seller", _field("seller_name")), ("amazon_url", _field("amazon_url")),
    ("keepa_url", _field("keepa_url")),
)

CARD_WIDTH = 60  # below this a table of deals is unreadable: two lines a deal instead


def print_cards(rows: list[dict], s, sort: str | None, marked: bool, title: str | None,
                con) -> None:
    """A narrow terminal (a phone): each deal in two lines, the ASIN and title, then buy ->
    List at, profit (ROI), and what else fits (the sorted-by value first)."""
    from arbitrage_cli.money import money
    from arbitrage_cli.words import known, roi

    if title:
        con.print(title, soft_wrap=False)
    if not rows:
        con.print("deals: none")
        return
    con.print("buy -> List at, profit (ROI)", style="dim")
    extra = {"max": lambda r: f"max {money(_max_buy(r, s))}",
             "days_to_sell": lambda r: known(r.get("days_to_sell"), "sells in {:.0f}d",
                                             "sells in -"),
             "confidence": lambda r: f"conf. {r['list_at_confidence'] or 0:.2f}",
             "sale_days": lambda r: f"{r.get('sale_days_180') or 0} sale days",
             "rank": lambda r: f"rank {r['sales_rank']:,}" if r.get("sales_rank") else "",
             "mark": lambda r: r.get("mark") or ""}
    # the sorted-by value (when line 2 lacks it) and the mark asked for lead the title line
    lead = [k for k in (sort, "mark" if marked else None) if k in extra]
    order = [k for k in extra if k not in lead and k != "mark"]
    for r in rows:
        head = " ".join([r["asin"], *filter(None, (extra[k](r) for k in lead)),
                         r.get("title") or ""])
        con.print(head if len(head) <= con.width else head[:con.width - 1] + "\u2026",
                  soft_wrap=True, highlight=False)
        line = (f"  {money(r.get('price_now_cents'))} -> {money(r.get('list_at_cents'))}, "
                f"{money(r.get('profit_cents'))} ({roi(r.get('roi_pct'))})")
        for key in order:
            more = extra[key](r)
            if more and len(line) + 2 + len(more) <= con.width:
                line += "  " + more
        con.print(line, soft_wrap=True, highlight=False)

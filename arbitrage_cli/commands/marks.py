"""`arbitrage mark | unmark | marks`: the user's decisions on deals."""

from __future__ import annotations

import math

import typer

from arbitrage_cli.errors import ConfigError


def _cents(dollars: float | None) -> int | None:
    if dollars is None:
        return None
    if not math.isfinite(dollars) or not 0 <= dollars <= 100_000:
        raise ConfigError(f"--price must be a price in dollars within 0..100000, got {dollars}")
    return round(dollars * 100)


def mark(
    ctx: typer.Context,
    asin: str = typer.Argument(..., help="The ASIN."),
    decision: str = typer.Argument(..., help="bought, ignored or watch."),
    note: str = typer.Option(None, "--note", help="Why, where, which copy."),
    price: float = typer.Option(None, "--price", help="What you paid, dollars."),
) -> None:
    """Record a decision: bought and ignored deals leave the default lists (deals,
    serve-json, Datasette's deals_pretty; --include-marked brings them back); watch stays.
    A bought deal keeps its List at, buy price and profit of now, to compare later.

    Example:

        arbitrage mark 0131103628 bought --price 23.10 --note "FBA box 4"
    """
    from arbitrage_cli.money import money
    from arbitrage_cli.store import marks, open_db

    m = marks.mark(open_db(ctx.obj.db_path, must_exist=True), asin.strip().upper(),
                   decision.strip().lower(), note, _cents(price))
    extra = (f" (predicted then: List at {money(m['list_at_cents'])}, buy "
             f"{money(m['price_now_cents'])}, profit {money(m['profit_cents'])})"
             if m["decision"] == "bought" else "")
    typer.echo(f"{m['asin']}: {m['decision']}{extra}", err=True)


def unmark(ctx: typer.Context, asin: str = typer.Argument(..., help="The ASIN.")) -> None:
    """Forget the decision on a deal: it is listed again if it is visible.

    Example:

        arbitrage unmark 0131103628
    """
    from arbitrage_cli.store import marks, open_db

    asin = asin.strip().upper()
    if not marks.unmark(open_db(ctx.obj.db_path, must_exist=True), asin):
        raise ConfigError(f"{asin}: no mark to remove (arbitrage marks lists them)")
    typer.echo(f"{asin}: unmarked", err=True)


def marks_(
    ctx: typer.Context,
    fmt: str = typer.Option("table", "--format", help="table, json, ndjson or csv."),
) -> None:
    """List your decisions, newest first, with what the deal shows now.

    Example:

        arbitrage marks --format csv > decisions.csv
    """
    from arbitrage_cli import output
    from arbitrage_cli.decisions import marks_listing
    from arbitrage_cli.store import marks, open_db

    output.check_format(fmt)
    rows = marks_listing(open_db(ctx.obj.db_path, must_exist=True))
    output.write(rows, fmt, marks.LISTING_COLUMNS, MARK_TABLE, title="Your decisions")


def _paid_or(r: dict, paid: str, predicted: str):
    return r[paid] if r.get(paid) is not None else r.get(predicted)


def _mark_table():
    from arbitrage_cli.money import money
    from arbitrage_cli.output import Column
    from arbitrage_cli.timefmt import local_time

    return (
        Column("ASIN", lambda r: r["asin"]),
        Column("decision", lambda r: r["decision"]),
        # title and note are what a person finds a book by: they stay (shortened) at 80
        # columns; the date and the profit then go first
        Column("when", lambda r: local_time(r["decided_at"]), priority=4),
        Column("title", lambda r: r.get("title") or "", flex=True),
        Column("paid", lambda r: money(r.get("price_cents"), ""), priority=2,
               justify="right"),
        # a bought copy's profits at the price paid, when it was given
        Column("profit then", lambda r: money(_paid_or(r, "profit_paid_cents",
                                                       "profit_cents"), ""),
               priority=3, justify="right"),
        Column("profit now", lambda r: money(_paid_or(r, "profit_now_paid_cents",
                                                      "profit_now_cents"), ""),
               priority=2, justify="right"),
        Column("note", lambda r: r.get("note") or "", flex=True),
    )


MARK_TABLE = _mark_table()

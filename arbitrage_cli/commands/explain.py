from __future__ import annotations

import json
from pathlib import Path

import typer

from arbitrage_cli.errors import ConfigError


def file_settings(ctx: typer.Context):
    """(settings, where they came from) for a --product-file: those of --db when that
    database exists (never creating one), else the defaults."""
    from arbitrage_cli.analysis.business import BusinessSettings
    from arbitrage_cli.store import open_db
    from arbitrage_cli.store import settings as settings_store

    path = ctx.obj.db_path
    if path and Path(path).exists():
        db = open_db(path, readonly=True)
        if db["settings"].exists():
            return settings_store.load(db), f"from {path}"
        return BusinessSettings(), f"defaults; {path} holds no settings"
    return BusinessSettings(), f"defaults; {path} does not exist"


def sparks(product: dict, now: int) -> dict[str, str]:
    from arbitrage_cli.chart import sparkline
    from arbitrage_cli.keepa.constants import CSV

    out = {}
    for label, index, invert in (("used price, 1 yr", CSV["USED"], False),
                                 ("rank (up: better)", CSV["SALES"], True)):
        line = sparkline(product, index, now, invert=invert)
        if line:
            out[label] = line
    return out


def explain(
    ctx: typer.Context,
    asin: str = typer.Argument(..., help="The ASIN (ISBN-10 for most books)."),
    product_file: Path = typer.Option(None, "--product-file",
                                      help="A saved Keepa /product response or product object: "
                                           "no key, no network; uses the settings of --db when "
                                           "that database exists."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Show every number of a deal and where it came from: offers, seller, sales, List at,
    fees, profit, visibility.

    Example:

        arbitrage explain 0131103628
        arbitrage explain 0131103628 --product-file product.json --json
    """
    from arbitrage_cli import explain as ex
    from arbitrage_cli.analysis.deal import analyse
    from arbitrage_cli.product_files import from_file

    asin = asin.strip().upper()
    if product_file is not None:
        product, now = from_file(product_file, asin)
        settings, source = file_settings(ctx)
        domain = product.get("domainId")
        inputs = {"a": analyse(product, None, now=now, settings=settings),
                  "settings": settings, "settings_source": source,
                  "domain": domain if isinstance(domain, int) else None}
    else:
        from arbitrage_cli.pipeline.stored import explain_inputs
        from arbitrage_cli.store import deals as deal_store
        from arbitrage_cli.store import open_db

        db = open_db(ctx.obj.db_path, must_exist=True)
        inputs = explain_inputs(db, asin)
        if inputs is None:
            raise ConfigError(f"{asin}: not in {ctx.obj.db_path} (run backfill, or use "
                              f"--product-file)")
        product = deal_store.load_payload(db, asin)[0]
        inputs["settings_source"] = f"from {ctx.obj.db_path}"
    result = ex.report(**inputs)
    if as_json:
        typer.echo(json.dumps(result, indent=2))
    else:
        typer.echo(ex.to_text(result, sparks(product, inputs["a"].now)))

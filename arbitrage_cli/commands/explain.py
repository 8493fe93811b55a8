from __future__ import annotations

import json
from pathlib import Path

import typer

from arbitrage_cli.config import read_json_file
from arbitrage_cli.errors import ConfigError


def _from_file(path: Path, asin: str) -> tuple[dict, int | None]:
    from arbitrage_cli.analysis.deal import reference_time

    data = read_json_file(path)
    if isinstance(data, dict) and isinstance(data.get("products"), list):
        found = [p for p in data["products"] if isinstance(p, dict) and p.get("asin") == asin]
        if not found:
            raise ConfigError(f"{path}: no product with asin {asin} in 'products'")
        return found[0], reference_time(data)
    if isinstance(data, dict) and data.get("asin") == asin:
        return data, None
    raise ConfigError(f"{path}: expected a Keepa /product response or a product object "
                      f"with asin {asin}")


def explain(
    ctx: typer.Context,
    asin: str = typer.Argument(..., help="The ASIN (ISBN-10 for most books)."),
    product_file: Path = typer.Option(None, "--product-file",
                                      help="A saved Keepa /product response or product object: "
                                           "no key, no network, no database needed."),
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

    asin = asin.strip().upper()
    if product_file is not None:
        product, now = _from_file(product_file, asin)
        inputs = {"a": analyse(product, None, now=now)}
    else:
        from arbitrage_cli.store import deals as deal_store
        from arbitrage_cli.store import open_db

        inputs = deal_store.explain_inputs(open_db(ctx.obj.db_path), asin)
        if inputs is None:
            raise ConfigError(f"{asin}: not in {ctx.obj.db_path} (run backfill, or use "
                              f"--product-file)")
    result = ex.report(**inputs)
    typer.echo(json.dumps(result, indent=2) if as_json else ex.to_text(result))

from __future__ import annotations

import sys
from pathlib import Path

import typer

from arbitrage_cli.errors import ConfigError


def chart(
    ctx: typer.Context,
    asin: str = typer.Argument(..., help="The ASIN (ISBN-10 for most books)."),
    out: str = typer.Option(None, "--out", metavar="FILE",
                            help="FILE.svg or FILE.png (default ASIN.svg; - for SVG on "
                                 "stdout)."),
    days: int = typer.Option(365, "--days", min=7, max=3650, help="Days of history shown."),
    full_range: bool = typer.Option(False, "--full-range", metavar="",
                                    help="Show every price (by default spikes far above the "
                                         "sales, List at and buy price are clipped, marked "
                                         "and counted)."),
    product_file: Path = typer.Option(None, "--product-file",
                                      help="A saved Keepa /product response or product object "
                                           "instead of the database."),
) -> None:
    """Draw a deal's price history: used, new and Amazon prices, inferred sales, List at,
    trough and buy price, sales rank and used offers. From stored data: 0 tokens.

    Example:

        arbitrage chart 0131103628 --out book.png
    """
    from arbitrage_cli import chart as charts

    asin = asin.strip().upper()
    target = out or f"{asin}.svg"
    fmt = "svg" if target == "-" else Path(target).suffix.lower().lstrip(".")
    if fmt not in charts.FORMATS:
        raise ConfigError(f"--out {target}: the file must end in .svg or .png")
    product, analysis = load(ctx, asin, product_file)
    image = charts.render(product, analysis, days=days, fmt=fmt, full_range=full_range)
    if target == "-":
        sys.stdout.buffer.write(image)
        return
    try:
        Path(target).write_bytes(image)
    except OSError as exc:
        raise ConfigError(f"--out {target}: cannot write ({exc.strerror})") from None
    typer.echo(f"wrote {target} ({len(image) // 1024} KB, {days} days)", err=True)


def load(ctx: typer.Context, asin: str, product_file: Path | None):
    """(product, analysis) from --product-file (with the settings of --db when it exists)
    or from the database."""
    from arbitrage_cli.analysis.deal import analyse
    from arbitrage_cli.commands.explain import file_settings
    from arbitrage_cli.product_files import from_file

    if product_file is not None:
        product, now = from_file(product_file, asin)
        settings, _ = file_settings(ctx)
        return product, analyse(product, None, now=now, settings=settings)
    from arbitrage_cli.pipeline.stored import stored_product
    from arbitrage_cli.store import open_db

    found = stored_product(open_db(ctx.obj.db_path, must_exist=True), asin)
    if found is None:
        raise ConfigError(f"{asin}: not in {ctx.obj.db_path} (run backfill, or use "
                          f"--product-file)")
    return found[0], found[1]

from __future__ import annotations

from pathlib import Path

import typer

app = typer.Typer(no_args_is_help=True)


@app.callback()
def _group() -> None:
    """The deal query backfill and sync walk (keepa_query.json, or the packaged default).

    Example:

        arbitrage query init && $EDITOR keepa_query.json
    """


@app.command("init")
def init(
    out: Path = typer.Option(Path("keepa_query.json"), "--out", metavar="FILE",
                             help="Where to write it."),
    force: bool = typer.Option(False, "--force", metavar="", help="Replace an existing file."),
) -> None:
    """Write the packaged default query (Books, used price drops) to a file you can edit.

    Example:

        arbitrage query init --out ~/keepa_query.json
    """
    from arbitrage_cli import dealquery

    path = dealquery.init(out, force)
    typer.echo(f"wrote {path}: backfill and sync use ./keepa_query.json when it exists "
               f"(or --query FILE)", err=True)

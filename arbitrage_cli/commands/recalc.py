from __future__ import annotations

import json

import typer

from arbitrage_cli.store import open_db


def recalc(ctx: typer.Context,
           as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON.")
           ) -> None:
    """Recompute profit, margin, ROI and fees of every deal from stored data (no Keepa call).

    Example:

        arbitrage recalc --json
    """
    from arbitrage_cli.pipeline.recalc import recalc as run_recalc

    result = run_recalc(open_db(ctx.obj.db_path, must_exist=True))
    summary = {"rows": result.rows, "changed": result.changed,
               "seconds": round(result.seconds, 3), "settings_version": result.settings_version}
    if as_json:
        typer.echo(json.dumps(summary))
    else:
        typer.echo(said(result), err=True)


def said(result) -> str:
    """One sentence for recalc and settings set/import: every deal is recomputed; how many
    of them changed."""
    return (f"recalculated all {result.rows} deals: {result.changed} changed (settings "
            f"version {result.settings_version}, {result.seconds:.2f} s)")

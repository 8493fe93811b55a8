from __future__ import annotations

import json

import typer


def janitor(
    ctx: typer.Context,
    max_age_hours: float = typer.Option(72, "--max-age-hours", min=1,
                                        help="Hide deals not confirmed for this long."),
    sync_grace_hours: float = typer.Option(2, "--sync-grace-hours", min=0.1,
                                           help="Do nothing unless sync succeeded this recently."),
    max_share: float = typer.Option(0.10, "--max-share", min=0.0, max=1.0,
                                    help="Expire at most this share of deals per run."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Only list what would expire."),
    as_json: bool = typer.Option(False, "--json", help="Print the run summary as JSON."),
) -> None:
    """Hide (never delete) deals nobody confirmed lately, only while sync is healthy.

    Example:

        0 */4 * * *  arbitrage --db ~/deals.db janitor
    """
    from arbitrage_cli.pipeline.janitor import JanitorOptions
    from arbitrage_cli.pipeline.janitor import janitor as run_janitor
    from arbitrage_cli.store import open_db

    summary = run_janitor(open_db(ctx.obj.db_path, must_exist=True), JanitorOptions(
        max_age_h=max_age_hours, sync_grace_h=sync_grace_hours, max_share=max_share,
        dry_run=dry_run))
    if as_json:
        typer.echo(json.dumps(summary, sort_keys=True))
        return
    typer.echo(f"janitor {summary['outcome']}: {summary['message']}", err=True)
    for asin in summary.get("would_expire", []):
        typer.echo(asin)

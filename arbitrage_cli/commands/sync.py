from __future__ import annotations

from pathlib import Path

import typer


def sync(
    ctx: typer.Context,
    max_pages: int = typer.Option(67, "--max-pages", min=1, max=67,
                                  help="Deal pages to read at most (5 tokens each)."),
    min_tokens: int = typer.Option(30, "--min-tokens", help="Skip the run below this balance."),
    chunk_size: int = typer.Option(2, "--chunk-size", min=1, max=100,
                                   help="ASINs per /product call."),
    max_minutes: float = typer.Option(None, "--max-minutes", min=0.1,
                                      help="Stop before a chunk that would end later than this "
                                           "(resume next run); from cron, keep sync and "
                                           "backfill together under the interval."),
    reconcile_share: float = typer.Option(
        0.10, "--reconcile-share", min=0.0, max=1.0,
        help="Share of the refill that full walks of Keepa's listing may take (5 tokens per "
             "150 deals); they catch what the cheap walk cannot see."),
    refresh_hours: float = typer.Option(
        24, "--refresh-hours", min=0,
        help="Re-fetch a visible deal Keepa re-crawled at most this often, with tokens left "
             "over (0: never)."),
    no_screen: bool = typer.Option(
        False, "--no-screen",
        help="Buy live offers for every listed product (the seed's exact behaviour) instead "
             "of judging each from its history first (1 token) and the deal page (free)."),
    query: Path = typer.Option(None, "--query", envvar="ARBITRAGE_QUERY",
                               help="Deal query file [default: ./keepa_query.json]."),
    as_json: bool = typer.Option(False, "--json", help="Print the run summary as JSON."),
) -> None:
    """Reconcile deals.db with Keepa's current deal listing (for cron).

    Walks the listing (cheaply down to the watermark, or in full when due), records what it
    says per ASIN, then fetches with live offers, best value first: failed fetches whose retry
    time has come, changed deals, new ones, and visible deals Keepa re-crawled. A deal Keepa
    still lists is never hidden; a failure is retried with a bounded backoff.

    Example:

        */15 * * * *  arbitrage --db ~/deals.db sync --query ~/keepa_query.json
    """
    from arbitrage_cli.commands.backfill import keepa_writer, report
    from arbitrage_cli.pipeline.sync import SyncOptions
    from arbitrage_cli.pipeline.sync import sync as run_sync

    with keepa_writer(ctx.obj, query) as (db, client, q):
        summary = run_sync(db, client, q, SyncOptions(
            chunk_size=chunk_size, max_pages=max_pages, min_tokens=min_tokens,
            max_minutes=max_minutes, reconcile_share=reconcile_share, refresh_hours=refresh_hours,
            screen=not no_screen))
        report(summary, as_json)

from __future__ import annotations

from pathlib import Path

import typer

from arbitrage_cli import dealquery


def sync(
    ctx: typer.Context,
    max_pages: int = typer.Option(67, "--max-pages", min=1, max=67,
                                  help="Deal pages to read at most (5 tokens each)."),
    min_tokens: int = typer.Option(30, "--min-tokens", help="Skip the run below this balance."),
    chunk_size: int = typer.Option(2, "--chunk-size", min=1, max=100,
                                   help="ASINs per /product call."),
    query: Path = typer.Option(None, "--query", envvar="ARBITRAGE_QUERY",
                               help="Deal query file [default: ./keepa_query.json]."),
    as_json: bool = typer.Option(False, "--json", help="Print the run summary as JSON."),
) -> None:
    """Refresh only the deals that changed since the last sync (for cron).

    Example:

        */15 * * * *  arbitrage --db ~/deals.db sync --query ~/keepa_query.json
    """
    from arbitrage_cli.commands.backfill import report
    from arbitrage_cli.keepa.budget import TokenBudget
    from arbitrage_cli.keepa.client import KeepaClient
    from arbitrage_cli.pipeline.sync import SyncOptions
    from arbitrage_cli.pipeline.sync import sync as run_sync
    from arbitrage_cli.store import open_db

    cfg = ctx.obj
    q, _ = dealquery.load(query)
    key = cfg.keepa_key()
    db = open_db(cfg.db_path)
    client = KeepaClient(key, base_url=cfg.keepa_url, budget=TokenBudget(db))
    summary = run_sync(db, client, q, SyncOptions(chunk_size=chunk_size, max_pages=max_pages,
                                                  min_tokens=min_tokens))
    report(summary, as_json)

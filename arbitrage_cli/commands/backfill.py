from __future__ import annotations

import contextlib
import json
import sys
from pathlib import Path

import typer

from arbitrage_cli import dealquery


def make_progress():
    """rich progress on a terminal; nothing when stderr is not one (cron, pipes)."""
    if not sys.stderr.isatty():
        return None, None
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                   TextColumn("{task.fields[info]}"), console=Console(stderr=True),
                   transient=False)
    task = bar.add_task("page 0", total=None, info="")

    def update(event: str, data: dict) -> None:
        eta = data.get("eta_s")
        bar.update(task, description=f"page {data['page']}", total=data["asins"],
                   completed=data["position"],
                   info=(f"{data.get('saved', 0)} deals, {data.get('skipped', 0)} skipped, "
                         f"{data.get('tokens', 0)} tokens"
                         + (f", tokens allow the page in ~{eta / 60:.0f} min" if eta else "")
                         if event == "chunk" else ""))

    return bar, update


def backfill(
    ctx: typer.Context,
    chunk_size: int = typer.Option(2, "--chunk-size", min=1, max=100,
                                   help="ASINs per /product call."),
    max_deals: int = typer.Option(None, "--max-deals", min=1,
                                  help="Stop after saving this many deals (resume later)."),
    max_minutes: float = typer.Option(None, "--max-minutes", min=0.1,
                                      help="Stop after this many minutes (resume later); from "
                                           "cron, keep it under the interval so sync runs."),
    restart: bool = typer.Option(False, "--restart", help="Start over from page 0."),
    refresh: bool = typer.Option(False, "--refresh",
                                 help="Buy again what a run (sync) checked within "
                                      "--refresh-hours; by default it is skipped."),
    refresh_hours: float = typer.Option(24, "--refresh-hours", min=0,
                                        help="What any run checked this recently is fresh."),
    seller_ttl_hours: float = typer.Option(168, "--seller-ttl-hours", min=0,
                                           help="Reuse cached seller ratings this long."),
    no_screen: bool = typer.Option(
        False, "--no-screen",
        help="Buy live offers for every listed product (the seed's exact behaviour) instead "
             "of judging each from its history first (1 token) and the deal page (free)."),
    query: Path = typer.Option(None, "--query", envvar="ARBITRAGE_QUERY",
                               help="Deal query file [default: ./keepa_query.json]."),
    as_json: bool = typer.Option(False, "--json", help="Print the run summary as JSON."),
) -> None:
    """Walk the query's Keepa deal pages and save every product as a deal or with a reason.

    Each product's history is judged first (1 token, 20 a call): only books that could be
    profitable 10% (setting screen_margin_pct) below Keepa's lowest used price get live
    offers (6-12 tokens, 2 a call); the others are saved as screened, with the reason and
    the price. Resumable: progress is
    saved as it goes; run it again to continue. When tokens run out it stops cleanly
    (exit 0) and says when the refill allows more.

    Example:

        KEEPA_API_KEY_FILE=~/.keepa arbitrage backfill --chunk-size 2
    """
    from arbitrage_cli.pipeline.backfill import BackfillOptions
    from arbitrage_cli.pipeline.backfill import backfill as run_backfill

    with keepa_writer(ctx.obj, query) as (db, client, q):
        bar, update = make_progress()
        if bar:
            bar.start()
        try:
            options = BackfillOptions(chunk_size=chunk_size, max_deals=max_deals,
                                      max_minutes=max_minutes, restart=restart,
                                      refresh=refresh, refresh_hours=refresh_hours,
                                      screen=not no_screen,
                                      seller_ttl_s=seller_ttl_hours * 3600)
            summary = run_backfill(db, client, q, options, progress=update)
        finally:
            if bar:
                bar.stop()
        report(summary, as_json)


@contextlib.contextmanager
def keepa_writer(cfg, query: str | None):
    """What backfill and sync start with: the query (bad config exits 2 before any token or
    row), the key, the database and a Keepa client asking the query's marketplace (a mix
    exits 2). A failed first run leaves no database behind."""
    from arbitrage_cli.keepa.budget import TokenBudget
    from arbitrage_cli.keepa.client import KeepaClient, checked_base_url
    from arbitrage_cli.store import marketplace, open_db
    from arbitrage_cli.store.db import kept_only_if_used

    q, source = dealquery.load(query)
    if source == dealquery.PACKAGED:  # said once a run: which deals are being walked
        typer.echo(f"note: no ./keepa_query.json here: using {source}", err=True)
    key = cfg.keepa_key()
    checked_base_url(cfg.keepa_url)  # exit 2 before the database is touched
    with kept_only_if_used(cfg.db_path):
        db = open_db(cfg.db_path)
        domain = marketplace.claim(db, q.get("domainId", 1), source)
        yield db, KeepaClient(key, base_url=cfg.keepa_url, budget=TokenBudget(db),
                              domain=domain), q


def report(summary: dict, as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(summary, sort_keys=True))
        return
    counters, reasons = summary["counters"], summary["skip_reasons"]
    typer.echo(f"{summary['command']} {summary['outcome']}: {summary['deals_saved']} deals saved, "
               f"{summary['deals_skipped']} skipped"
               + (f" ({', '.join(f'{k} {v}' for k, v in reasons.items())})" if reasons else "")
               + f", {summary['requests']} requests, {summary['tokens_consumed']} tokens"
               + (f", {counters['tokens_per_saved_deal']} tokens/deal"
                  if counters.get("tokens_per_saved_deal") else "")
               + f", {summary['duration_s']:.1f} s"
               + (f"; {summary['message']}" if summary.get("message") else ""), err=True)

from __future__ import annotations

import json
import os
from pathlib import Path

import typer

from arbitrage_cli.commands.filters import with_filters

URLS_ENV = "ARBITRAGE_NOTIFY_URLS"


@with_filters
def notify(
    ctx: typer.Context,
    filters: dict,
    to: list[str] = typer.Option(None, "--to", metavar="URL", help=(
        f"An Apprise URL to notify (repeatable): json://host/path, tgram://token/chat, "
        f"discord://id/token, mailto://..., ntfy://topic. Default: ${URLS_ENV} "
        f"(space or comma separated).")),
    to_file: Path = typer.Option(None, "--to-file", metavar="FILE", help=(
        "A file of Apprise URLs, one a line (# comments); keep it chmod 600.")),
    limit: int = typer.Option(20, "--limit", min=1, help="At most this many deals a message."),
    chart_base: str = typer.Option(None, "--chart-base", metavar="URL",
                                   envvar="ARBITRAGE_CHART_BASE", help=(
                                       "serve-json's address, for a chart link in each "
                                       "message.")),
    dry_run: bool = typer.Option(False, "--dry-run",
                                 help="Say what would be sent; send and record nothing."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Tell the seller of new and better deals, once, through Apprise (phone, chat, mail).

    Sends the visible deals that pass the filters and that a target has not been sent, or
    that got better since (buy price down 5% or profit up $5: the settings
    notify_price_drop_pct and notify_profit_gain), as one message a target. A target that
    fails keeps its deals for the next run. URLs hold tokens: they are never printed,
    logged or stored (a target is its fingerprint). Bought and ignored deals never go.

    Example:

        arbitrage notify --to 'ntfy://my-deals' --min-profit 10 --max-rank 500000
        arbitrage sync && arbitrage notify --to-file ~/.arbitrage-notify
    """
    from arbitrage_cli.pipeline.notify import Options
    from arbitrage_cli.pipeline.notify import notify as run_notify
    from arbitrage_cli.store import open_db
    from arbitrage_cli.store.queries import DealFilters

    urls = target_urls(to, to_file)
    db = open_db(ctx.obj.db_path, must_exist=True)
    summary = run_notify(db, urls, Options(filters=DealFilters(**filters), limit=limit,
                                           dry_run=dry_run, chart_base=chart_base))
    if as_json:
        typer.echo(json.dumps(summary, sort_keys=True))
        return
    for t in summary["targets"]:
        if dry_run:
            what = f"would send {len(t['asins'])}"
        elif t["failed"]:
            what = f"FAILED: {t['failed']} deals kept for the next run"
        else:
            what = f"sent {t['sent']}"
        typer.echo(f"{t['service']} target {t['target']}: {what}"
                   + (f" ({t['more']} more beyond --limit)" if t["more"] else ""), err=True)
    typer.echo(f"notify: {summary['matched']} deals match the filters; "
               f"{sum(t['sent'] for t in summary['targets'])} sent, "
               f"{sum(t['failed'] for t in summary['targets'])} failed"
               + (" (dry run: nothing sent or recorded)" if dry_run else ""), err=True)
    if any(t["failed"] for t in summary["targets"]):
        raise typer.Exit(1)


def target_urls(to: list[str] | None, to_file: Path | None) -> list[str]:
    """The URLs from --to, --to-file and the environment, each a known secret from here on
    (redacted from every log line and error); exit 2 naming what is missing or wrong."""
    from arbitrage_cli.config import warn_if_shared
    from arbitrage_cli.errors import ConfigError
    from arbitrage_cli.logs import add_secret

    urls = list(to or [])
    if to_file is not None:
        try:
            text = to_file.read_text()
        except OSError as exc:
            raise ConfigError(f"--to-file {to_file}: {exc.strerror}") from None
        warn_if_shared(to_file, "--to-file")
        urls += [line.strip() for line in text.splitlines()
                 if line.strip() and not line.strip().startswith("#")]
    if not urls:
        urls = os.environ.get(URLS_ENV, "").replace(",", " ").split()
    if not urls:
        raise ConfigError(f"no target: give --to URL, --to-file FILE or set {URLS_ENV} "
                          f"(Apprise URLs, e.g. ntfy://my-topic or json://host/path)")
    for url in urls:
        for part in secret_parts(url):
            add_secret(part)
        if "://" not in url:
            raise ConfigError(f"a notify target is not an Apprise URL (scheme://...): "
                              f"{url[:8]}... (check --to, --to-file or {URLS_ENV})")
    return urls


def secret_parts(url: str) -> list[str]:
    """The URL and every piece of it long enough to be a token (path segments, user,
    password, query values): any of them may turn up alone in a plugin's message."""
    import re

    return [url, *re.split(r"[/:@?&=#]+", url.split("://", 1)[-1])]

"""`arbitrage restrictions check | import | set`: gating status per ASIN."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import typer

from arbitrage_cli.errors import ConfigError
from arbitrage_cli.store import open_db

app = typer.Typer(no_args_is_help=True)


@app.callback()
def _group() -> None:
    """Listing restrictions (gating): check with Amazon's SP-API, import or set by hand, list.

    Example:

        arbitrage restrictions check --stale-after 7d
    """

# When an error may be retried: quota and outages soon, a missing permission tomorrow, a
# request Amazon calls invalid next week.
RETRY_AFTER_S = {"soon": 15 * 60, 403: 86400, 401: 86400, "invalid": 7 * 86400}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([dhm])\s*$")


def parse_duration(text: str) -> float:
    m = _DURATION.match(text or "")
    if not m:
        raise ConfigError(f"--stale-after must look like 7d, 12h or 30m, got {text!r}")
    return float(m.group(1)) * {"d": 86400, "h": 3600, "m": 60}[m.group(2)]


@app.command("check")
def check(
    ctx: typer.Context,
    asin: list[str] = typer.Option(None, "--asin", help="Check these ASINs (repeatable) "
                                                         "whatever their state."),
    stale_after: str = typer.Option("7d", help="Check again answers older than this."),
    limit: int = typer.Option(None, min=1, help="At most this many ASINs this run."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Ask Amazon's Selling Partner API whether you may list each deal in its condition.

    Checks deals with no status, a stale one (--stale-after), a changed condition, or an error
    whose retry time has come, best deals first, at most 5 requests a second. Credentials from
    SPAPI_CLIENT_ID, SPAPI_CLIENT_SECRET, SPAPI_REFRESH_TOKEN and SPAPI_SELLER_ID (or a JSON
    file named by SPAPI_CREDENTIALS_FILE); never from the command line.

    Example:

        arbitrage restrictions check --stale-after 7d
    """
    from rich.console import Console
    from rich.progress import Progress

    from arbitrage_cli.clock import SystemClock
    from arbitrage_cli.spapi import CONDITION_TYPES, SpApiClient, SpApiError, load_credentials
    from arbitrage_cli.store import restrictions as store

    stale_s = parse_duration(stale_after)
    asins = [store.checked_asin(a, "--asin") for a in asin or []]
    creds = load_credentials()
    if creds is None:
        raise ConfigError("no SP-API credentials: set SPAPI_CLIENT_ID, SPAPI_CLIENT_SECRET, "
                          "SPAPI_REFRESH_TOKEN and SPAPI_SELLER_ID (or SPAPI_CREDENTIALS_FILE), "
                          "or use `arbitrage restrictions import FILE.csv` / `restrictions "
                          "set ASIN STATUS`")
    clock = getattr(ctx.obj, "clock", None) or SystemClock()
    db = open_db(ctx.obj.db_path, must_exist=True)
    todo = store.conditions_of(db, asins) if asins else store.due(db, clock.now(), stale_s)
    todo = todo[:limit] if limit else todo
    client = SpApiClient(creds, clock=clock)
    counts = {"allowed": 0, "restricted": 0, "error": 0}
    # a bar on a terminal (10,000 deals take ~35 minutes at 5/s); nothing under cron
    with Progress(console=Console(stderr=True), disable=not sys.stderr.isatty()) as bar:
        task = bar.add_task("restrictions", total=len(todo))
        for n, (a, condition) in enumerate(todo, start=1):
            bar.advance(task)
            ctype = CONDITION_TYPES.get(condition) if condition is not None else None
            try:
                r = client.restrictions(a, ctype)
            except SpApiError as exc:
                wait = RETRY_AFTER_S["soon"] if exc.retryable else \
                    RETRY_AFTER_S.get(exc.status, RETRY_AFTER_S["invalid"])
                store.save(db, a, "error", now=clock.now(), message=exc.message,
                           condition_type=ctype, retry_at=clock.now() + wait)
                counts["error"] += 1
                if exc.status in (401, 403):  # the same for every ASIN: stop the quota burn
                    typer.echo(f"stopped after {n}: {exc} (check the app's Listings role)",
                               err=True)
                    break
                continue
            store.save(db, a, r.status, now=clock.now(), approval_url=r.approval_url,
                       message=r.message, condition_type=ctype)
            counts[r.status] += 1
    summary = {"checked": sum(counts.values()), **counts, "requests": client.calls,
               "due": len(todo)}
    if as_json:
        typer.echo(json.dumps(summary))
    else:
        typer.echo(f"restrictions: {summary['checked']} checked, {counts['allowed']} allowed, "
                   f"{counts['restricted']} restricted, {counts['error']} errors "
                   f"({client.calls} requests)", err=True)


@app.command("import")
def import_(ctx: typer.Context,
            path: Path = typer.Argument(..., help="CSV with a header: asin,status[,approval_url]")
            ) -> None:
    """Load statuses from a CSV (asin,status[,approval_url]); all rows or none.

    Example:

        printf 'asin,status,approval_url\\n' > gated.csv
        printf '0134685997,restricted,\\n' >> gated.csv
        arbitrage restrictions import gated.csv
    """
    from arbitrage_cli.clock import SystemClock
    from arbitrage_cli.store import restrictions as store

    rows = store.parse_csv(path)
    n = store.import_rows(open_db(ctx.obj.db_path), rows, SystemClock().now())
    typer.echo(f"imported {n} restriction(s) from {path}", err=True)


@app.command("set")
def set_(ctx: typer.Context,
         asin: str = typer.Argument(..., help="The ASIN."),
         status: str = typer.Argument(..., help="allowed, restricted or unknown."),
         approval_url: str = typer.Option(None, help="Seller Central approval link.")) -> None:
    """Set one ASIN's status by hand.

    Example:

        arbitrage restrictions set 0134685997 restricted
    """
    from arbitrage_cli.clock import SystemClock
    from arbitrage_cli.store import restrictions as store

    e = store.entry(asin, status, approval_url, where="restrictions set")
    store.save(open_db(ctx.obj.db_path), e["asin"], e["status"], now=SystemClock().now(),
               approval_url=e["approval_url"], message="set by hand")
    typer.echo(f"{e['asin']}: {e['status']}", err=True)


@app.command("list")
def list_(ctx: typer.Context,
          status: str = typer.Option(None, "--status", help="Only this status: allowed, "
                                                           "restricted, error or unknown."),
          fmt: str = typer.Option("table", "--format", help="table, json, ndjson or csv.")
          ) -> None:
    """Show the stored gating statuses, restricted first.

    Example:

        arbitrage restrictions list --status restricted --format csv
    """
    from arbitrage_cli import output
    from arbitrage_cli.output import Column
    from arbitrage_cli.store import restrictions as store
    from arbitrage_cli.timefmt import local_time

    output.check_format(fmt)
    if status is not None and status not in store.STATUSES:
        raise ConfigError(f"--status must be one of {', '.join(store.STATUSES)}, got "
                          f"{status!r}")
    rows = store.listing(open_db(ctx.obj.db_path, must_exist=True), status)
    table = (Column("ASIN", lambda r: r["asin"]), Column("status", lambda r: r["status"]),
             Column("checked", lambda r: local_time(r["checked_at"]), priority=2),
             Column("title", lambda r: r.get("title") or "", flex=True, priority=3),
             Column("message", lambda r: r.get("message") or "", flex=True, priority=4),
             Column("approval", lambda r: r.get("approval_url") or "", priority=5))
    output.write(rows, fmt, store.LISTING_COLUMNS, table, title="Listing restrictions")

from __future__ import annotations

import json

import typer
from rich.console import Console
from rich.table import Table

from arbitrage_cli.store import open_db
from arbitrage_cli.store.status import gather


def status(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print one JSON document."),
    sync_interval: float = typer.Option(15, "--sync-interval", min=1,
                                        help="Minutes between cron syncs (for the warning)."),
) -> None:
    """Show schema version, state, token snapshot, locks, last runs and deal counts.

    Example:

        arbitrage status --json | jq .counts
    """
    db = open_db(ctx.obj.db_path)
    info = gather(db, sync_interval_min=sync_interval)
    if as_json:
        typer.echo(json.dumps(info, indent=2, sort_keys=True))
        return
    render(info, Console(soft_wrap=True))


def render(info: dict, console: Console) -> None:
    c = info["counts"]
    console.print(f"[bold]arbitrage_cli {info['version']}[/] database {info['database']} "
                  f"(schema {info['schema_version']})")
    console.print(f"deals: {c['deals_raw']} raw, {c['deals_visible']} visible; "
                  f"sellers cached: {c['sellers_cached']}")
    if c["screened"]:
        console.print(f"  screened from history or the deal page (no live offers bought): "
                      f"{c['screened']}; {c['screened_promising']} of them could pay now and "
                      f"get live offers at the next sync")
    if c["deals_by_status"]:
        console.print("  by status: " + ", ".join(f"{k} {v}" for k, v in
                                                  c["deals_by_status"].items()))
    t = info["tokens"]
    if t is None:
        console.print("tokens: no snapshot yet (no Keepa call made)")
    else:
        console.print(f"tokens: {t['tokens_left']} at {t['observed_at']}, projected now "
                      f"{t['projected_now']} of {t['capacity']} (refill {t['refill_rate']}/min, "
                      f"reserved {t['reserved']})")
    h = info["health"]
    sync_line = (f"sync: last success {h['sync']['last_success_at']} "
                 f"({h['sync']['age_s'] / 60:.0f} min ago)" if h["sync"]["last_success_at"]
                 else "sync: no successful run yet")
    if h["sync"]["last_outcomes"]:
        sync_line += "; last outcomes: " + ", ".join(h["sync"]["last_outcomes"])
    console.print(sync_line)
    console.print(f"watermark: {h['watermark']['iso'] or 'none yet'}"
                  + (f" (moved {h['watermark']['moved_at']})" if h["watermark"]["moved_at"]
                     else ""))
    ls = h["listing"]
    console.print(f"listing: {ls['listed']} deals listed by Keepa (last full walk "
                  f"{ls['full_walk_completed_at'] or 'never'}"
                  + (f", {ls['full_walk_pages']} pages" if ls["full_walk_pages"] else "")
                  + f"); {ls['never_fetched']} not fetched yet, {ls['changes_unchecked']} "
                  f"changes not checked yet")
    retry = (f"retries: {ls['retries_pending']} failed fetches pending"
             + (f" ({', '.join(f'{k} {v}' for k, v in ls['retry_reasons'].items())}), oldest "
                f"since {ls['oldest_failure_at']}, {ls['retries_due']} due now, next at "
                f"{ls['next_retry_at']}" if ls["retries_pending"] else ""))
    console.print(retry)
    for w in h["warnings"]:
        console.print(f"[bold red]WARNING[/] [red]{w}[/]")
    state = info["system_state"]
    def short(v) -> str:
        text = str(v)
        return text if len(text) <= 40 else f"{text[:37]}..."

    console.print("state: " + (", ".join(f"{k}={short(v)}" for k, v in state.items())
                               or "empty"))
    if info["locks"]:
        for lk in info["locks"]:
            alive = {True: "alive", False: "[red]dead[/]", None: "other host"}[lk["owner_alive"]]
            expired = " [red]expired[/]" if lk["expired"] else ""
            console.print(f"lock {lk['name']}: {lk['owner']} pid {lk['pid']} on {lk['host']} "
                          f"({alive}){expired} since {lk['acquired_at']}")
    else:
        console.print("locks: none held")
    if info["last_runs"]:
        table = Table("id", "command", "started", "outcome", "requests", "tokens", "saved",
                      "skipped", title="last runs")
        for r in info["last_runs"]:
            table.add_row(str(r["id"]), r["command"], r["started_at"], r["outcome"] or "",
                          str(r["requests"] or 0), str(r["tokens_consumed"] or 0),
                          str(r["deals_saved"] or 0), str(r["deals_skipped"] or 0))
        console.print(table)
    else:
        console.print("runs: none yet")

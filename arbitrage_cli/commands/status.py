from __future__ import annotations

import json
from typing import TYPE_CHECKING

import typer

from arbitrage_cli.store import open_db
from arbitrage_cli.store.status import gather
from arbitrage_cli.timefmt import local_time

if TYPE_CHECKING:  # rich only for the human text: `status --json` in a pipe never loads it
    from rich.console import Console


NO_BALANCE = ("none recorded yet (backfill and sync record Keepa's balance; demo "
              "does not)")


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
    db = open_db(ctx.obj.db_path, must_exist=True)
    info = gather(db, sync_interval_min=sync_interval)
    if as_json:
        typer.echo(json.dumps(info, indent=2, sort_keys=True))
        return
    from rich.console import Console

    render(info, Console())


LABEL = 12  # width of the labels of status' lines


class _Lines:
    """Labelled lines in two columns: a long value wraps under itself, not under the label."""

    def __init__(self) -> None:
        from rich.table import Table

        self.grid = Table.grid(padding=(0, 1))
        self.grid.add_column(no_wrap=True, style="bold", min_width=LABEL)
        self.grid.add_column(overflow="fold")

    def __call__(self, _console: Console, label: str, text: str) -> None:
        self.grid.add_row(f"{label}:", text)


def _backfill(state: dict) -> str:
    if state.get("backfill_completed_at"):
        return f"complete since {local_time(state['backfill_completed_at'])}"
    if state.get("backfill_started_at") is None:
        return "not started"
    listed = state.get("backfill_page_asins") or ""
    n = len(listed.split(",")) if isinstance(listed, str) and listed else 0
    return (f"on page {state.get('backfill_page', 0)}, position "
            f"{state.get('backfill_position', 0)} of {n}; started "
            f"{local_time(state['backfill_started_at'])}; the next backfill resumes there")


SHOWN_STATE = {"backfill_completed_at", "backfill_page", "backfill_page_asins",
               "backfill_page_full", "backfill_position", "backfill_started_at",
               "watermark_iso", "watermark_keepa", "full_walk_completed_at", "full_walk_pages",
               "last_sync_success_at", "backfill_query_hash", "amazon_tld", "domain_id"}


def _is_time(value) -> bool:
    """A stored UTC ISO time (shown as local time on the terminal; JSON keeps it as is)."""
    import re

    return isinstance(value, str) and bool(
        re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?Z", value))


def render(info: dict, console: Console) -> None:
    _line = _Lines()
    c = info["counts"]
    console.print(f"[bold]arbitrage_cli {info['version']}[/], database {info['database']} "
                  f"(schema {info['schema_version']})", highlight=False)
    _line(console, "deals", f"{c['deals_raw']} raw, {c['deals_visible']} visible; sellers "
                            f"cached: {c['sellers_cached']}")
    if c["deals_by_status"]:
        _line(console, "  by status", ", ".join(f"{k} {v}" for k, v in
                                                c["deals_by_status"].items()))
    if c["screened"]:
        _line(console, "  screened", f"{c['screened']} judged from history or the deal page "
                                     f"(no live offers bought); {c['screened_promising']} "
                                     f"could pay now and get live offers at the next sync")
    t = info["tokens"]
    _line(console, "tokens", NO_BALANCE if t is None else
          f"{t['tokens_left']} at {local_time(t['observed_at'])}, projected now "
          f"{t['projected_now']} of {t['capacity']} (refill {t['refill_rate']}/min, "
          f"reserved {t['reserved']})")
    state = info["system_state"]
    _line(console, "backfill", _backfill(state))
    h = info["health"]
    sync = (f"last success {local_time(h['sync']['last_success_at'])} "
            f"({h['sync']['age_s'] / 60:.0f} min ago)" if h["sync"]["last_success_at"]
            else "no successful run yet")
    if h["sync"]["last_outcomes"]:
        sync += "; last outcomes: " + ", ".join(h["sync"]["last_outcomes"])
    _line(console, "sync", sync)
    _line(console, "watermark", local_time(h["watermark"]["iso"], "none yet")
          + (f" (moved {local_time(h['watermark']['moved_at'])})"
             if h["watermark"]["moved_at"] else ""))
    state = info.get("system_state") or {}
    if state.get("amazon_tld"):  # the marketplace in words, not its two internal keys
        _line(console, "marketplace", f"amazon.{state['amazon_tld']}")
    ls = h["listing"]
    _line(console, "listing", f"{ls['listed']} deals listed by Keepa; last full walk "
                              f"{local_time(ls['full_walk_completed_at'])}"
          + (f" ({ls['full_walk_pages']} pages)" if ls["full_walk_pages"] else "")
          + f"; {ls['never_fetched']} not fetched yet, {ls['changes_unchecked']} changes "
            f"not checked yet")
    _line(console, "retries", f"{ls['retries_pending']} failed fetches pending"
          + (f" ({', '.join(f'{k} {v}' for k, v in ls['retry_reasons'].items())}), oldest "
             f"since {local_time(ls['oldest_failure_at'])}, {ls['retries_due']} due now, "
             f"next at {local_time(ls['next_retry_at'])}" if ls["retries_pending"] else ""))
    n = info["notify"]
    last = n["last_run"]
    _line(console, "notify", "never run (arbitrage notify --help)" if last is None else
          f"last {local_time(last['finished_at'] or last['started_at'])} {last['outcome']}"
          f"; {n['sent_total']} sent in all"
          + (f"; [red]{n['pending_failures']} failed, retried next run[/]"
             if n["pending_failures"] else "; nothing pending"))
    for key, value in state.items():
        if key not in SHOWN_STATE:
            _line(console, key.replace("_", " "),
                  local_time(value) if _is_time(value) else str(value))
    if info["locks"]:
        for lk in info["locks"]:
            alive = {True: "alive", False: "[red]dead[/]", None: "other host"}[lk["owner_alive"]]
            expired = " [red]expired[/]" if lk["expired"] else ""
            _line(console, "lock", f"{lk['name']} held by {lk['owner']} pid {lk['pid']} on "
                                   f"{lk['host']} ({alive}){expired} since "
                                   f"{local_time(lk['acquired_at'])}")
    else:
        _line(console, "locks", "none held")
    console.print(_line.grid, highlight=False)
    for w in h["warnings"]:
        console.print(f"[bold red]WARNING[/] [red]{w}[/]")
    from arbitrage_cli.output import Column, print_table

    runs_table = (
        Column("id", lambda r: str(r["id"]), justify="right"),
        Column("command", lambda r: r["command"]),
        Column("started", lambda r: local_time(r["started_at"])),
        Column("outcome", lambda r: r["outcome"] or "running?"),
        Column("tokens", lambda r: str(r["tokens_consumed"] or 0), justify="right"),
        Column("saved", lambda r: str(r["deals_saved"] or 0), justify="right"),
        Column("skipped", lambda r: str(r["deals_skipped"] or 0), priority=2,
               justify="right"),
        Column("requests", lambda r: str(r["requests"] or 0), priority=3, justify="right"))
    print_table(info["last_runs"], runs_table, title="last runs", con=console)

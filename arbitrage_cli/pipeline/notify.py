"""`arbitrage notify` (issue 26): the visible deals a target has not been told of, or that got
materially better since, as one digest a target a run, through Apprise.

Runs under its own advisory lock (two notify runs never overlap, so nothing is sent twice;
sync may run meanwhile), with a `runs` row. Each target's attempt is recorded with the deals
it carried as soon as it returns: a failure leaves them due for the next run, and a stop
request (Ctrl-C, SIGTERM) is honoured between targets, never in the middle of a record.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable

import sqlite_utils

from arbitrage_cli import signals
from arbitrage_cli.clock import Clock, SystemClock
from arbitrage_cli.money import money
from arbitrage_cli.store import locks, notifications, runs, schema
from arbitrage_cli.store import settings as settings_store
from arbitrage_cli.store.queries import DealFilters, iter_deals
from arbitrage_cli.timefmt import iso_utc
from arbitrage_cli.words import known, roi
from arbitrage_cli.keepa.constants import CONDITIONS

log = logging.getLogger(__name__)
LOCK = "notify"
Send = Callable[[str, str, str], bool]  # (url, title, markdown body) -> delivered


@dataclasses.dataclass
class Options:
    filters: DealFilters = dataclasses.field(default_factory=DealFilters)
    limit: int = 20
    dry_run: bool = False
    chart_base: str | None = None  # serve-json's address, for a chart link in each message


def send_with_apprise(url: str, title: str, body: str) -> bool:
    """One target, one digest; Apprise turns the Markdown into what the service takes."""
    import apprise

    app = apprise.Apprise()
    if not app.add(url):
        return False
    return bool(app.notify(title=title, body=body, body_format=apprise.NotifyFormat.MARKDOWN))


def deal_lines(d: dict, chart_base: str | None = None) -> list[str]:
    """A deal as a seller decides it: what, what to pay, what it sells for, how soon."""
    rng = (f" (likely {money(d['list_at_low_cents'])}-{money(d['list_at_high_cents'])})"
           if d.get("list_at_low_cents") is not None and d.get("list_at_high_cents") is not None
           else "")
    days = known(d.get("days_to_sell"), "sells in about {:.0f} days", "days to sell unknown")
    links = [f"[Amazon]({d['amazon_url']})", f"[Keepa]({d['keepa_url']})"]
    if chart_base:
        links.append(f"[chart]({chart_base.rstrip('/')}/api/deals/{d['asin']}/chart.svg)")
    return [f"**{d.get('title') or d['asin']}** ({d['asin']}, "
            f"{CONDITIONS.get(d.get('condition'), 'condition unknown')})",
            f"Buy {money(d.get('price_now_cents'))} landed; List at "
            f"{money(d.get('list_at_cents'))}{rng}; profit {money(d.get('profit_cents'))} "
            f"(ROI {roi(d.get('roi_pct'))}); {days}; gating {d.get('gating') or 'unknown'}",
            " · ".join(links)]


def digest(deals: list[tuple[dict, str]], more: int, chart_base: str | None = None
           ) -> tuple[str, str]:
    """(title, Markdown body) of one message for `deals` ((deal, why) pairs)."""
    new = sum(why in (notifications.NEW, notifications.RETRY) for _, why in deals)
    better = len(deals) - new
    title = ", ".join(p for p in (f"{new} new deal{'s' * (new != 1)}" if new else "",
                                  f"{better} better" if better else "") if p)
    blocks = []
    for d, why in deals:
        lines = deal_lines(d, chart_base)
        if why == notifications.PRICE_DOWN:
            lines[0] += " - price down"
        elif why == notifications.PROFIT_UP:
            lines[0] += " - profit up"
        blocks.append("\n".join(lines))
    if more:
        blocks.append(f"...and {more} more matched beyond --limit {len(deals)} "
                      f"(they come in the next runs)")
    return f"arbitrage: {title}", "\n\n".join(blocks)


def due(db: sqlite_utils.Database, target: str, candidates: list[dict], settings
        ) -> list[tuple[dict, str]]:
    sent, failed = notifications.last_sent(db, target), notifications.failed_asins(db, target)
    out = []
    for d in candidates:
        why = notifications.why_due(d, sent.get(d["asin"]), d["asin"] in failed, settings)
        if why:
            out.append((d, why))
    return out


def notify(db: sqlite_utils.Database, urls: list[str], options: Options | None = None,
           send: Send = send_with_apprise, clock: Clock | None = None) -> dict:
    """Send what is due to every target; returns the summary (no URL in it)."""
    options = options or Options()
    clock = clock or SystemClock()
    # bought and ignored deals are never notified, whatever the filters ask
    filters = dataclasses.replace(options.filters, include_marked=False)
    s = settings_store.load(db)
    lock = run = None
    if not options.dry_run:
        lock = locks.acquire(db, LOCK, clock=clock)
        if schema.db_path(db) != ":memory:":
            lock.start_heartbeat(schema.db_path(db))  # a slow service must not lose the lock
        run = runs.Run(db, "notify", clock)
        # we hold its lock: a notify run still 'running' died without a word (SIGKILL)
        runs.close_dead(db, ("notify",), run.id, clock.now(),
                        lock.previous.heartbeat_at if lock.previous else None)
    targets, candidates, outcome, message = [], [], "failed", None  # until it ends well
    try:
        candidates = list(iter_deals(db, filters))
        with signals.stop_gracefully():
            for url in urls:
                if signals.requested():
                    message = signals.MESSAGE
                    break
                targets.append(_one(db, url, candidates, options, s, send, clock, run))
        outcome = "stopped" if message else "done"
    except KeyboardInterrupt:
        outcome, message = "interrupted", signals.INTERRUPTED
        raise
    except BaseException as exc:
        message = f"{type(exc).__name__}: {exc}"
        raise
    finally:
        summary = {"targets": targets, "matched": len(candidates), "dry_run": options.dry_run}
        if run is not None:
            run.stats.counters = {"sent": sum(t["sent"] for t in targets),
                                  "failed": sum(t["failed"] for t in targets)}
            summary.update(run=run.finish(outcome, message)["id"], outcome=outcome)
        if lock is not None:
            lock.release()
    return summary


def _one(db, url: str, candidates: list[dict], options: Options, s, send: Send,
         clock: Clock, run) -> dict:
    target = notifications.fingerprint(url)
    todo = due(db, target, candidates, s)
    shown, more = todo[:options.limit], max(0, len(todo) - options.limit)
    out = {"target": target, "service": notifications.service(url), "due": len(todo),
           "sent": 0, "failed": 0, "more": more, "asins": [d["asin"] for d, _ in shown]}
    if not shown or options.dry_run:
        return out
    title, body = digest(shown, more, options.chart_base)
    try:
        ok = send(url, title, body)
    except Exception as exc:  # noqa: BLE001 - a plugin's failure is the target's failure
        log.warning("notify: %s target %s failed: %s", out["service"], target,
                    type(exc).__name__)
        ok = False
    when = iso_utc(clock.now())
    notifications.record(db, [{
        "asin": d["asin"], "target": target, "service": out["service"], "attempted_at": when,
        "outcome": notifications.SENT if ok else notifications.FAILED, "reason": why,
        "run_id": run.id if run else None, "price_now_cents": d.get("price_now_cents"),
        "list_at_cents": d.get("list_at_cents"), "profit_cents": d.get("profit_cents"),
        "roi_pct": d.get("roi_pct")} for d, why in shown])
    out["sent" if ok else "failed"] = len(shown)
    log.info("notify: %s target %s: %d %s", out["service"], target, len(shown),
             "sent" if ok else "failed, kept for the next run")
    return out

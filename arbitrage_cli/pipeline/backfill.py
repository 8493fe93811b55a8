"""backfill: walk the query's /deal pages and process their ASINs chunk by chunk (seed
architecture). Progress (page, position, the page's ASINs) is committed with each chunk's
rows, so a kill loses at most the chunk in flight and a rerun resumes where it stopped.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from collections.abc import Callable

import sqlite_utils

from arbitrage_cli.analysis.screen import Stage
from arbitrage_cli.clock import Clock, SystemClock
from arbitrage_cli.keepa.client import KeepaClient, canonical_json
from arbitrage_cli.pipeline import funnel
from arbitrage_cli.pipeline import listing as pages
from arbitrage_cli.pipeline.funnel import HISTORY_BATCH
from arbitrage_cli.pipeline.runner import WRITER_LOCK, Deadline, check_domain, run_locked
from arbitrage_cli.store import runs, state
from arbitrage_cli.store.db import immediate
from arbitrage_cli.timefmt import iso_utc, keepa_minutes_from_epoch

log = logging.getLogger(__name__)
__all__ = ["WRITER_LOCK", "BackfillOptions", "backfill"]
KEYS = ("backfill_page", "backfill_position", "backfill_page_asins", "backfill_page_full",
        "backfill_started_at", "backfill_query_hash", "backfill_completed_at", "backfill_passed")


@dataclasses.dataclass
class BackfillOptions:
    chunk_size: int = 2
    max_deals: int | None = None
    # Stop (cleanly, resumable) after this long, so the next cron tick's sync gets the lock:
    # on a fast plan the budget never pauses a backfill and it would hold it all day.
    max_minutes: float | None = None
    restart: bool = False
    # The history screen (pipeline/funnel.py) in front of live offers; False: the seed's
    # exact behaviour, live offers for every listed product.
    screen: bool = True
    history_batch: int = HISTORY_BATCH
    seller_ttl_s: float = 7 * 86400
    lease_s: float = 300
    # A product any run checked this recently (sync, an earlier backfill) is not bought
    # again; `refresh` (or `restart`) buys it anyway.
    refresh_hours: float = 24.0
    refresh: bool = False


Progress = Callable[[str, dict], None]


def query_hash(query: dict) -> str:
    return hashlib.sha256(canonical_json(query).encode()).hexdigest()[:16]


def _reset(db: sqlite_utils.Database, qhash: str, clock: Clock) -> None:
    with immediate(db):
        state.delete(db, *KEYS)
        state.set_(db, "backfill_page", 0, clock)
        state.set_(db, "backfill_position", 0, clock)
        state.set_(db, "backfill_started_at", iso_utc(clock.now()), clock)
        state.set_(db, "backfill_query_hash", qhash, clock)


def backfill(db: sqlite_utils.Database, client: KeepaClient, query: dict,
             options: BackfillOptions | None = None, *, clock: Clock | None = None,
             progress: Progress | None = None, command: str = "backfill") -> dict:
    """Run until done, paused for tokens, `max_deals`, or an error; returns the run summary.
    Raises LockHeld (exit 3) when another writer holds the lock; re-raises Keepa key errors
    (exit 4) after recording the run."""
    options = options or BackfillOptions()
    clock = clock or SystemClock()
    progress = progress or (lambda event, data: None)
    check_domain(query, client)
    return run_locked(db, client, command, clock, options.lease_s,
                      lambda lock, run: _walk(db, client, query, options, clock, progress,
                                              lock, run))


def _walk(db, client, query, options, clock, progress, lock, run) -> tuple[str, str | None]:
    qhash = query_hash(query)
    if options.restart or state.get(db, "backfill_query_hash") != qhash:
        _reset(db, qhash, clock)
    elif state.get(db, "backfill_completed_at"):
        return "done", (f"already complete ({state.get(db, 'backfill_completed_at')}); "
                        "use --restart to run it again")
    started = state.get(db, "backfill_started_at")
    stats = run.stats
    deadline = Deadline(clock, options.max_minutes).bind(client)
    while True:
        page = state.get(db, "backfill_page", 0)
        listed = state.get(db, "backfill_page_asins")
        if listed is None:
            def remember(p: pages.Page) -> None:  # a resume never re-lists a stored page
                state.set_(db, "backfill_page_asins", ",".join(unique(p)), clock)
                state.set_(db, "backfill_page_full", int(p.full), clock)
                state.set_(db, "backfill_position", 0, clock)

            asins = unique(pages.read_page(db, client, query, page, clock, also=remember))
        else:
            asins = [a for a in listed.split(",") if a]
        position = state.get(db, "backfill_position", 0)
        progress("page", {"page": page, "asins": len(asins), "position": position})
        step = options.history_batch if options.screen else options.chunk_size
        stage = Stage.HISTORY if options.screen else Stage.OFFERS
        while position < len(asins):
            lock.check()
            if not deadline.allows_next():
                return "stopped", deadline.message()
            chunk = asins[position:position + step]
            done = _saved_since(db, chunk, started)
            fresh = set() if options.refresh or options.restart else _fresh(
                db, [a for a in chunk if a not in done],
                keepa_minutes_from_epoch(clock.now()) - options.refresh_hours * 60)
            if fresh:
                stats.counters["skipped_fresh"] = (stats.counters.get("skipped_fresh", 0)
                                                   + len(fresh))
            todo = [a for a in chunk if a not in done and a not in fresh]
            end = position + len(chunk)
            if todo:
                passed = set(filter(None, (state.get(db, "backfill_passed") or "").split(",")))
                result, stopped = funnel.run(
                    db, client, [(a, Stage.OFFERS if a in passed else stage) for a in todo],
                    clock=clock,
                    seller_ttl_s=options.seller_ttl_s, live=False,
                    chunk_size=options.chunk_size, history_batch=step, deadline=deadline,
                    check=lock.check)
                funnel.tally(stats, result)
                with immediate(db):
                    state.set_(db, "backfill_passed", ",".join(result.unfetched), clock)
                if result.paused:  # what it bought is saved and skipped on resume
                    raise result.paused
                if stopped:  # the batch is done again on resume; what it saved is skipped
                    return "stopped", deadline.message()
            with immediate(db):
                state.set_(db, "backfill_position", end, clock)
            stats.counters["already_saved"] = stats.counters.get("already_saved", 0) + len(done)
            position = end
            progress("chunk", {"page": page, "position": position, "asins": len(asins),
                               "saved": stats.deals_saved, "skipped": stats.deals_skipped,
                               "tokens": client.tokens_consumed,
                               "eta_s": _eta_s(client, run, len(asins) - position)})
            if options.max_deals is not None and stats.deals_saved >= options.max_deals:
                return "stopped", f"--max-deals {options.max_deals} reached; rerun to resume"
        with immediate(db):
            if state.get(db, "backfill_page_full"):
                state.set_(db, "backfill_page", page + 1, clock)
                state.delete(db, "backfill_page_asins", "backfill_page_full")
                state.set_(db, "backfill_position", 0, clock)
            else:
                state.set_(db, "backfill_completed_at", iso_utc(clock.now()), clock)
                return "done", None


def unique(page) -> list[str]:
    return list(dict.fromkeys(d["asin"] for d in page.deals))


def _eta_s(client: KeepaClient, run: runs.Run, remaining: int) -> float | None:
    """Seconds until this page is done if tokens are the limit: what the remaining ASINs
    will cost at the cost seen so far, less the balance, at the refill rate."""
    done = sum(run.stats.skip_reasons.values()) + run.stats.deals_saved
    snap = client.budget.snapshot() if client.budget else None
    if not done or snap is None or snap.refill_rate <= 0:
        return None
    need = client.tokens_consumed / done * remaining
    balance = client.budget.balance() or 0
    return max(0.0, need - balance) / snap.refill_rate * 60


def _fresh(db: sqlite_utils.Database, asins: list[str], since_keepa: float) -> set[str]:
    """The ASINs whose stored numbers were checked with Keepa at or after `since_keepa`."""
    if not asins:
        return set()
    marks = ", ".join("?" * len(asins))
    return {r[0] for r in db.execute(
        f"select asin from deals where asin in ({marks}) and checked_keepa >= ? and "
        f"retry_reason is null", asins + [since_keepa])}


def _saved_since(db: sqlite_utils.Database, asins: list[str], since: str | None) -> set[str]:
    if not asins or not since:
        return set()
    marks = ", ".join("?" * len(asins))
    return {r[0] for r in db.execute(
        f"select asin from deals where asin in ({marks}) and updated_at >= ?",
        asins + [since])}

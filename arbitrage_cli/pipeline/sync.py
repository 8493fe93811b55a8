"""sync: reconcile deals.db with Keepa's current deal listing, from cron (R5, R6, R23).

Each run: one listing walk (the cheap incremental one down to the watermark, or a full one when
it is due, pipeline/reconcile.py), then the due queue in order of value — failed fetches whose
retry time has come, changed deals, new ASINs, re-crawled visible deals — through the same
chunk step as backfill, live offers every time. The invariant it keeps: every deal Keepa lists
ends up in deals.db with a price checked after its last change (within the token budget),
nothing is hidden while Keepa lists it, and a failure is retried, never forgotten.
"""

from __future__ import annotations

import dataclasses
import logging

import sqlite_utils

from arbitrage_cli.analysis.deal import reference_time
from arbitrage_cli.analysis.screen import Stage
from arbitrage_cli.clock import Clock, SystemClock
from arbitrage_cli.keepa.client import KeepaClient
from arbitrage_cli.pipeline import funnel, reconcile
from arbitrage_cli.pipeline.backfill import query_hash
from arbitrage_cli.pipeline.runner import Deadline, check_domain, run_locked
from arbitrage_cli.store import settings as settings_store
from arbitrage_cli.store import state
from arbitrage_cli.timefmt import iso_utc, keepa_minutes_from_epoch

log = logging.getLogger(__name__)
MAX_PAGES = 67  # Keepa serves at most 10,000 deals per query


@dataclasses.dataclass
class SyncOptions:
    chunk_size: int = 2
    max_pages: int = MAX_PAGES
    min_tokens: int = 30  # skip the run below this balance (a chunk and a page)
    max_minutes: float | None = None
    # Share of the refill that full walks of the listing may take (5 tokens per 150 deals).
    reconcile_share: float = 0.10
    # The incremental walk reads this far past the watermark: a change Keepa records late.
    overlap_min: int = 60
    # Visible deals Keepa re-crawled are fetched again at most this often (0: never).
    refresh_hours: float = 24.0
    retry_window_h: float = 72.0  # retry a failed fetch while its ASIN was listed this recently
    screen: bool = True  # the token funnel (stage 0 and 1); False: live offers for everything
    seller_ttl_s: float = 7 * 86400
    lease_s: float = 300


def sync(db: sqlite_utils.Database, client: KeepaClient, query: dict,
         options: SyncOptions | None = None, *, clock: Clock | None = None) -> dict:
    options = options or SyncOptions()
    clock = clock or SystemClock()
    check_domain(query, client)
    return run_locked(db, client, "sync", clock, options.lease_s,
                      lambda lock, run: _sync(db, client, query, options, clock, lock, run))


def backfill_running(db: sqlite_utils.Database, query: dict) -> bool:
    """A backfill of this query has started and not finished: new ASINs are its work."""
    return (state.get(db, "backfill_query_hash") == query_hash(query)
            and state.get(db, "backfill_completed_at") is None)


def _sync(db, client, query, options, clock, lock, run) -> tuple[str, str | None]:
    envelope = client.token()  # free: the freshest balance before deciding anything
    balance = client.budget.balance() if client.budget else None
    if balance is not None and balance < options.min_tokens:
        return "skipped: low tokens", (f"balance {balance} < --min-tokens "
                                       f"{options.min_tokens}")
    deadline = Deadline(clock, options.max_minutes).bind(client)
    watermark = state.get(db, "watermark_keepa")
    full = reconcile.full_walk_due(db, clock.now(), options.reconcile_share,
                                   envelope.get("refillRate"))
    w = reconcile.walk(db, client, query, full=full, watermark=watermark,
                       max_pages=options.max_pages, overlap_min=options.overlap_min,
                       clock=clock)
    moved = reconcile.finish_walk(db, w, watermark, clock)
    # The listing is recorded: whatever happens to the fetches below, this run saw Keepa's
    # listing, and what it found waits in the database.
    state.set_(db, "last_sync_success_at", iso_utc(clock.now()), clock)
    if isinstance(envelope.get("timestamp"), int) and envelope["timestamp"] > 0:
        # Keepa's clock beside ours: a machine clock that was wrong at the time cannot make a
        # fresh success look days old once it is fixed (store/status.py)
        state.set_(db, "last_sync_success_keepa_at", iso_utc(envelope["timestamp"] / 1000),
                   clock)
    counters = run.stats.counters
    counters.update({"walk": "full" if w.full else "incremental", "pages": w.pages,
                     "listed": w.listed, "full_listing": int(w.to_end),
                     "walk_complete": int(w.complete), "out_of_order": int(w.out_of_order),
                     "capped": int(w.capped), "watermark_moved": int(moved),
                     "suspect_walk": int(w.suspect)})
    now_keepa = reference_time(envelope) or keepa_minutes_from_epoch(clock.now())
    todo = reconcile.due(db, now=clock.now(), now_keepa=now_keepa,
                         settings=settings_store.load(db),
                         include_new=not backfill_running(db, query),
                         refresh_after_min=options.refresh_hours * 60 or None,
                         retry_window_s=options.retry_window_h * 3600,
                         screening=options.screen)
    for d in todo:
        counters[f"due_{d.kind}"] = counters.get(f"due_{d.kind}", 0) + 1
    free = [d for d in todo if d.stage == Stage.LISTING]
    if free:  # stage 0: the deal page's price says no; record it, no tokens
        funnel.record_listing_verdicts(db, [(d.asin, d.verdict.code, d.verdict.judged_cents,
                                             d.listed_keepa) for d in free], clock)
        run.stats.skip_reasons.update(d.verdict.code for d in free)
        counters["screened_free"] = len(free)
    message = None if w.complete else (
        f"listing cut at --max-pages {options.max_pages}: the watermark stays; a later walk "
        f"lists the rest")
    if w.suspect:
        message = (f"Keepa's listing shrank to {w.listed} deals (from "
                   f"{state.get(db, 'shrink_from')}): not taken as proof that deals left it; "
                   f"see `arbitrage status`")
        log.warning("sync: %s", message)
    elif w.capped:
        message = ("Keepa lists at most 10,000 deals of this query and it has more: narrow "
                   "keepa_query.json to see the rest")
    result, stopped = funnel.run(
        db, client, [(d.asin, d.stage) for d in todo if d.stage != Stage.LISTING],
        clock=clock, seller_ttl_s=options.seller_ttl_s, live=True,
        chunk_size=options.chunk_size, deadline=deadline, check=lock.check)
    funnel.tally(run.stats, result)
    if result.paused:
        raise result.paused
    if stopped:
        return "stopped", deadline.message()
    return "done", message

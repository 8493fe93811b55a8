"""The token funnel in front of the seed step (issue 13), shared by backfill and sync.

Stage 1 asks `/product` for history and stats only (1 token a product, batched) and judges
each book with analysis/screen.py; the ones that could be profitable go on to stage 2, the seed
step (pipeline/chunk.py: live offers in chunks of 2, one `/seller` for uncached winners). A
screened book is stored with status 'screened', its reason, the price it was judged at and its
history payload, so `explain` and `status` account for it and nothing is fetched twice for no
reason. Stage 0 (free, the deal page's price against a stored List at) is sync's and is
decided in pipeline/reconcile.py.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import logging

import sqlite_utils

from arbitrage_cli.analysis import screen
from arbitrage_cli.analysis.screen import Stage
from arbitrage_cli.analysis.deal import INVALID_PRODUCT, analyse
from arbitrage_cli.clock import Clock
from arbitrage_cli.keepa.client import KeepaClient
from arbitrage_cli import signals
from arbitrage_cli.keepa.errors import BudgetPaused
from arbitrage_cli.pipeline.chunk import (ANALYSIS_ERROR, DUPLICATE, HISTORY_DAYS,
                                          INCOMPLETE, NOT_RETURNED, STATS_DAYS, ChunkResult,
                                          process_chunk, skipped_row)
from arbitrage_cli.pipeline.recalc import recalc_rows
from arbitrage_cli.pipeline import fetch
from arbitrage_cli.pipeline.save import save_judged
from arbitrage_cli.pipeline.runner import Deadline
from arbitrage_cli.store import deals as deal_store
from arbitrage_cli.store import settings as settings_store
from arbitrage_cli.store.db import immediate

log = logging.getLogger(__name__)
# 20 histories a call: 20 tokens, so the budget's worst case stays small and rows keep
# flowing at the seed's pace even on a 5 tokens/min plan.
HISTORY_BATCH = 20


@dataclasses.dataclass
class FunnelResult(ChunkResult):
    histories: int = 0  # products asked for history only (stage 1)
    passed: int = 0  # of those, sent on to live offers
    screened: collections.Counter = dataclasses.field(default_factory=collections.Counter)
    offers: int = 0  # products asked with live offers (stage 2)
    # passed the screen, but the run stopped before their live offers: the next run fetches
    # them without judging their history again (which would spend a token and the time)
    unfetched: list[str] = dataclasses.field(default_factory=list)

    def add(self, chunk: ChunkResult) -> None:
        self.saved += chunk.saved
        self.skipped.update(chunk.skipped)
        self.failed += chunk.failed
        self.sellers_fetched += chunk.sellers_fetched
        self.sellers_cached += chunk.sellers_cached
        self.duplicates += chunk.duplicates


def screen_histories(db: sqlite_utils.Database, client: KeepaClient, asins: list[str], *,
                     clock: Clock, result: FunnelResult) -> list[str]:
    """Stage 1 for up to 100 ASINs in one call; returns the ones worth live offers. The
    others are saved in one transaction: screened (with their history), or skipped (not a
    product), or queued for a retry (not returned, broken)."""
    # update=1 (Keepa's default, no extra token): a history older than an hour is refreshed
    # first, so the price judged at is at most an hour older than the live offers
    got = fetch.products(client, asins, clock, stats=STATS_DAYS, days=HISTORY_DAYS, update=1)
    returned, conflicted, duplicates, now_keepa = (got.products, got.conflicted,
                                                   got.duplicates, got.keepa_minute)
    result.duplicates += duplicates
    settings = settings_store.load(db)
    rows, payloads, passes = [], {}, []
    for asin in asins:
        p = returned.get(asin)
        if p is None:
            rows.append(skipped_row(asin, DUPLICATE if asin in conflicted else NOT_RETURNED))
            continue
        try:
            a = analyse(p, None, now=now_keepa)
        except Exception:  # noqa: BLE001 - a hostile payload must not stop the run
            log.warning("analysis failed for %s", asin, exc_info=True)
            rows.append(skipped_row(asin, ANALYSIS_ERROR))
            continue
        if a.skip_reason == INVALID_PRODUCT:  # not a product Amazon sells: final
            rows.append({**a.row, "checked_keepa": now_keepa})
            payloads[asin] = p
            continue
        if not (isinstance(p.get("csv"), list) and isinstance(p.get("stats"), dict)):
            rows.append(skipped_row(asin, INCOMPLETE))  # a broken answer is not evidence
            continue
        verdict = screen.judge(a.history, a.history.used_now_cents, settings)
        if verdict.verdict == screen.PASS:
            passes.append(asin)
            continue
        result.screened[verdict.code] += 1
        rows.append({**a.row, "status": "screened", "skip_reason": verdict.code,
                     "screen_price_cents": verdict.judged_cents,
                     "screen_stage": Stage.HISTORY, "checked_keepa": now_keepa})
        payloads[asin] = p
    result.histories += len(asins)
    result.passed += len(passes)
    for row in rows:
        if row["skip_reason"] in deal_store.FETCH_FAILURES:
            result.failed.append(row["asin"])
    save_judged(db, rows, payloads, now_keepa, clock)
    return passes


def record_listing_verdicts(db: sqlite_utils.Database,
                            verdicts: list[tuple[str, str, int | None, int]],
                            clock: Clock) -> None:
    """Stage 0: the deal page's price already said no (reconcile judged it, no token spent):
    (asin, reason, judged price, Keepa minute of the listing) recorded, profits recomputed."""
    with immediate(db):
        deal_store.screen_known(db, verdicts, clock.now(), Stage.LISTING)
        recalc_rows(db, asins=[v[0] for v in verdicts])


def run(db: sqlite_utils.Database, client: KeepaClient, items: list[tuple[str, int]], *,
        clock: Clock, seller_ttl_s: float, live: bool, chunk_size: int = 2,
        history_batch: int = HISTORY_BATCH, deadline: Deadline | None = None,
        check=None) -> tuple[FunnelResult, bool]:
    """(ASIN, stage) in the order given: runs of stage-1 ASINs are screened `history_batch`
    at a time and their survivors fetched with live offers right away; stage-2 ASINs go
    straight to the seed step, `chunk_size` at a time. Returns (result, stopped by the
    deadline). `check`: called before every call (the lock's). When the budget runs out,
    `result.paused` holds why: the caller counts what was done, then pauses."""
    result = FunnelResult()
    try:
        return _run(db, client, items, result, clock=clock, seller_ttl_s=seller_ttl_s,
                    live=live, chunk_size=chunk_size, history_batch=history_batch,
                    deadline=deadline, check=check)
    except (BudgetPaused, signals.StopRequested) as exc:
        result.paused = exc
        return result, False


def _run(db, client, items, result, *, clock, seller_ttl_s, live, chunk_size, history_batch,
         deadline, check) -> tuple[FunnelResult, bool]:

    def allowed() -> bool:
        if check:
            check()
        return deadline is None or deadline.allows_next()

    def offers(asins: list[str]) -> bool:
        for i in range(0, len(asins), chunk_size):
            result.unfetched = asins[i:]
            if not allowed():
                return False
            part = asins[i:i + chunk_size]
            with deadline.unit() if deadline else contextlib.nullcontext():
                chunk = process_chunk(db, client, part, clock=clock,
                                      seller_ttl_s=seller_ttl_s, live=live)
            result.add(chunk)
            result.offers += len(part)
            result.unfetched = asins[i + chunk_size:]
            if chunk.paused:
                raise chunk.paused
        return True

    i = 0
    while i < len(items):
        stage = items[i][1]
        size = history_batch if stage == Stage.HISTORY else chunk_size
        group = []
        while i < len(items) and items[i][1] == stage and len(group) < size:
            group.append(items[i][0])
            i += 1
        if not allowed():
            return result, True
        if stage == Stage.HISTORY:
            with deadline.unit() if deadline else contextlib.nullcontext():
                passes = screen_histories(db, client, group, clock=clock, result=result)
        else:
            passes = group
        if not offers(passes):
            return result, True
    return result, False


def tally(stats, result: FunnelResult) -> None:
    """Add a funnel result to a run's stats (runs row and summary): screened books count as
    skipped with their reason, so saved + skipped = every product judged."""
    stats.deals_saved += len(result.saved)
    stats.skip_reasons.update(result.skipped)
    stats.skip_reasons.update(result.screened)
    for key in ("sellers_fetched", "sellers_cached", "histories", "passed", "offers",
                "duplicates"):
        stats.counters[key] = stats.counters.get(key, 0) + getattr(result, key)
    stats.counters["failed"] = stats.counters.get("failed", 0) + len(result.failed)

"""sync: keep deals.db fresh from cron at a cost that grows with the changes (R5, R6, R23).

Keepa's /deal sortType 1 lists deals newest change first (`creationDate`, the last change of
the queried price type). We page until we pass the watermark, checking that order on every
page: if a page breaks it, we log it and list everything instead, comparing per ASIN. Only
ASINs that are new or changed after our last look are fetched, oldest change first, through
the same chunk step as backfill; the watermark (Keepa minutes, never the local clock) moves
only over what was fully processed.
"""

from __future__ import annotations

import dataclasses
import logging

import sqlite_utils

from arbitrage_cli.analysis.deal import reference_time
from arbitrage_cli.clock import Clock, SystemClock
from arbitrage_cli.keepa.client import KeepaClient
from arbitrage_cli.pipeline.runner import run_locked
from arbitrage_cli.pipeline.chunk import listed_deals, process_chunk
from arbitrage_cli.store import state
from arbitrage_cli.store.db import immediate
from arbitrage_cli.timefmt import iso_utc, keepa_minutes_from_epoch, keepa_minutes_to_iso

log = logging.getLogger(__name__)
MAX_PAGES = 67  # Keepa serves at most 10,000 deals per query


@dataclasses.dataclass
class SyncOptions:
    chunk_size: int = 2
    max_pages: int = MAX_PAGES
    min_tokens: int = 30  # skip the run below this balance (a chunk and a page)
    initial_lookback_h: float = 24.0  # no watermark yet: changes of the last day
    seller_ttl_s: float = 7 * 86400
    next_check_s: float = 86400
    lease_s: float = 300


@dataclasses.dataclass(frozen=True)
class Listed:
    asin: str
    changed: int  # creationDate, Keepa minutes


def sync(db: sqlite_utils.Database, client: KeepaClient, query: dict,
         options: SyncOptions | None = None, *, clock: Clock | None = None) -> dict:
    options = options or SyncOptions()
    clock = clock or SystemClock()
    return run_locked(
        db, client, "sync", clock, options.lease_s,
        lambda lock, run: _sync(db, client, query, options, clock, lock, run),
        on_done=lambda: state.set_(db, "last_sync_success_at", iso_utc(clock.now()), clock))


def _sync(db, client, query, options, clock, lock, run) -> tuple[str, str | None]:
    envelope = client.token()  # free: the freshest balance before deciding anything
    balance = client.budget.balance() if client.budget else None
    if balance is not None and balance < options.min_tokens:
        return "skipped: low tokens", (f"balance {balance} < --min-tokens "
                                       f"{options.min_tokens}")
    watermark = state.get(db, "watermark_keepa")
    if watermark is None:  # Keepa's clock, not ours: deal times are Keepa's
        now = reference_time(envelope) or keepa_minutes_from_epoch(clock.now())
        watermark = now - int(options.initial_lookback_h * 60)
    listed, full = _list_changes(client, {**query, "sortType": 1}, watermark, options)
    run.stats.counters.update({"listed": len(listed), "full_listing": int(full)})
    known = _last_checked(db, [x.asin for x in listed])
    todo = sorted((x for x in listed if x.changed > watermark
                   and (known.get(x.asin) is None or known[x.asin] < x.changed)),
                  key=lambda x: (x.changed, x.asin))
    run.stats.counters["changed"] = len(todo)
    if not todo:
        newest = max((x.changed for x in listed if x.changed > watermark), default=None)
        if newest is not None:
            with immediate(db):
                _set_watermark(db, newest, clock)
        return "done", None
    for i in range(0, len(todo), options.chunk_size):
        lock.check()
        chunk = todo[i:i + options.chunk_size]
        nxt = todo[i + options.chunk_size] if i + options.chunk_size < len(todo) else None
        # Everything changed at or before `mark` is processed once this chunk commits; a
        # tie with the next unprocessed deal holds the mark one minute back.
        mark = chunk[-1].changed if nxt is None or nxt.changed > chunk[-1].changed \
            else chunk[-1].changed - 1

        def commit(tx, mark=mark):
            if mark > (state.get(tx, "watermark_keepa") or 0):
                _set_watermark(tx, mark, clock)

        result = process_chunk(db, client, [x.asin for x in chunk], clock=clock,
                               seller_ttl_s=options.seller_ttl_s,
                               next_check_s=options.next_check_s, on_commit=commit,
                               live=True)
        run.stats.deals_saved += len(result.saved)
        run.stats.skip_reasons.update(result.skipped)
    return "done", None


def _set_watermark(db: sqlite_utils.Database, minute: int, clock: Clock) -> None:
    state.set_(db, "watermark_keepa", minute, clock)
    state.set_(db, "watermark_iso", keepa_minutes_to_iso(minute), clock)


def _list_changes(client: KeepaClient, query: dict, watermark: int, options: SyncOptions
                  ) -> tuple[list[Listed], bool]:
    """Deals changed after the watermark, trusting sortType 1 only as far as each page
    proves it; (listing, fell_back_to_full_listing)."""
    seen: dict[str, Listed] = {}
    trusted, last = True, None
    for page in range(options.max_pages):
        dr, full = listed_deals(client.deal({**query, "page": page}))
        for d in dr:
            if d["creationDate"] is None:  # damaged time: refetch it rather than miss it
                seen.setdefault(d["asin"], Listed(d["asin"], watermark + 1))
                continue
            if trusted and last is not None and d["creationDate"] > last:
                log.warning("sync: Keepa page %d is not ordered by deal age (%s after %s); "
                            "listing every page instead", page, d["creationDate"], last)
                trusted = False
            last = d["creationDate"] if last is None else min(last, d["creationDate"])
            prev = seen.get(d["asin"])
            if prev is None or d["creationDate"] > prev.changed:
                seen[d["asin"]] = Listed(d["asin"], d["creationDate"])
        if not full:
            break
        if trusted and last is not None and last <= watermark:
            break  # the rest of the (proven) order is older than the watermark
    return list(seen.values()), not trusted


def _last_checked(db: sqlite_utils.Database, asins: list[str]) -> dict[str, int | None]:
    out: dict[str, int | None] = {}
    for i in range(0, len(asins), 500):
        part = asins[i:i + 500]
        marks = ", ".join("?" * len(part))
        out.update(db.execute(f"select asin, offers_checked_keepa from deals "
                              f"where asin in ({marks}) and status != 'new'", part).fetchall())
    return out

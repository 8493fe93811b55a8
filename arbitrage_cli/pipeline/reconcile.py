"""The listing walks and the due queue: what sync must judge, and in which order.

Keepa lists a deal while its product was updated in the last 12 hours, the listing moves while
we page it, and a deal's `creationDate` has two documented meanings (the last change of the
queried price type, or when the deal was found: keepa-api.md §4). So nothing rests on one
field:

* every walk records per ASIN what the listing said (store/listing.py). A listed deal is due
  when it is new, when the listing reports a change after our last check (`currentSince` or
  `creationDate` newer than `deals.checked_keepa`), or when what it reports differs from the
  previous sighting;
* the cheap incremental walk reads sortType 1 (newest `creationDate` first) down to the
  watermark; a full walk reads the whole listing often enough to catch what the incremental
  walk cannot see (moving pages, the "found" meaning, late changes), within a bounded share of
  the token budget;
* a walk cut short (`--max-pages`, a pause for tokens) never moves the watermark; what it did
  list is recorded, so nothing it found is lost.
"""

from __future__ import annotations

import dataclasses
import logging

import sqlite_utils

from arbitrage_cli.analysis import screen
from arbitrage_cli.analysis.business import BusinessSettings
from arbitrage_cli.clock import Clock
from arbitrage_cli.keepa.client import KeepaClient
from arbitrage_cli.keepa.constants import MAX_LISTED_DEALS, TOKENS_PER_DEAL_PAGE
from arbitrage_cli.pipeline import listing as pages
from arbitrage_cli.store import listing, state
from arbitrage_cli.store.listing import SHRINK, SHRINK_TRUSTED_AFTER_S
from arbitrage_cli.store.db import immediate
from arbitrage_cli.store.visibility import visible
from arbitrage_cli.timefmt import iso_utc, keepa_minutes_to_iso, parse_iso

log = logging.getLogger(__name__)


@dataclasses.dataclass
class Walk:
    full: bool  # set out to list everything
    started: float
    pages: int = 0
    listed: int = 0
    to_end: bool = False  # the listing ended: a short page
    reached: bool = False  # an incremental walk got down to the watermark
    capped: bool = False  # stopped at Keepa's 10,000 deals: not the end of the listing
    out_of_order: bool = False
    newest: int | None = None  # newest creationDate seen
    suspect: bool = False  # a full walk that suddenly lists far less: not proof of absence

    @property
    def complete(self) -> bool:
        """Everything newer than the watermark was listed (a capped walk lists the newest
        10,000: nothing past them can be listed by any walk)."""
        return self.to_end or self.reached or self.capped


def walk(db: sqlite_utils.Database, client: KeepaClient, query: dict, *, full: bool,
         watermark: int | None, max_pages: int, overlap_min: int, clock: Clock) -> Walk:
    """Page the listing newest change first and record every page's evidence as it comes. An
    incremental walk trusts the order only as far as each page proves it: if a page breaks it,
    it lists every page instead."""
    w = Walk(full=full or watermark is None, started=clock.now())
    trusted, last, total = not w.full, None, 0
    for page in range(max_pages):
        p = pages.read_page(db, client, query, page, clock, sortType=1)
        w.pages, w.listed, total = w.pages + 1, w.listed + len(p.deals), total + p.count
        for d in p.deals:
            c = d["creationDate"]
            if c is None:
                continue
            w.newest = c if w.newest is None else max(w.newest, c)
            if trusted and last is not None and c > last:
                log.warning("sync: Keepa page %d is not ordered by deal age (%s after %s); "
                            "listing every page instead", page, c, last)
                trusted, w.out_of_order = False, True
            last = c if last is None else min(last, c)
        if total >= MAX_LISTED_DEALS:  # its last page is short: check the cap first
            w.capped = True
            log.warning("sync: Keepa lists at most %d deals of a query and this one has more; "
                        "narrow keepa_query.json to see the rest", MAX_LISTED_DEALS)
            break
        if not p.full:
            w.to_end = True
            break
        if trusted and last is not None and last <= watermark - overlap_min:
            w.reached = True
            break
    return w


def full_walk_due(db: sqlite_utils.Database, now: float, share: float,
                  refill_rate: int | None) -> bool:
    """A full walk costs its pages; spread them so they take at most `share` of the refill."""
    done = state.get(db, "full_walk_completed_at")
    if done is None:
        return True
    if share <= 0:
        return False
    pages = state.get(db, "full_walk_pages", 1)
    interval_s = pages * TOKENS_PER_DEAL_PAGE / (share * max(1, refill_rate or 1)) * 60
    return now - parse_iso(done) >= interval_s


def judge_walk(db: sqlite_utils.Database, w: Walk, now: float) -> None:
    """A listing that suddenly shrinks (empty, or under half the last full walk) is suspect:
    an outage on Keepa's side or a query a category change broke, not proof that the deals
    left. Only when walks have said so for three days is the smaller listing taken as it is."""
    if not w.to_end:
        return
    before = state.get(db, "shrink_from") or state.get(db, "full_walk_listed")
    if before is None:  # no full walk yet: an empty listing hides nothing, nothing to judge
        return
    if w.listed >= SHRINK * before:
        return
    since = state.get(db, "shrink_since")
    w.suspect = since is None or now - parse_iso(since) < SHRINK_TRUSTED_AFTER_S


def finish_walk(db: sqlite_utils.Database, w: Walk, watermark: int | None, clock: Clock) -> bool:
    """Move the watermark over a walk that listed everything down to it; remember a full walk
    that reached the listing's end (the janitor's proof of absence), unless it is suspect.
    Returns whether the watermark moved."""
    judge_walk(db, w, clock.now())
    moved = (w.complete and not w.suspect and w.newest is not None
             and (watermark is None or w.newest > watermark))
    with immediate(db):
        if moved:
            state.set_(db, "watermark_keepa", w.newest, clock)
            state.set_(db, "watermark_iso", keepa_minutes_to_iso(w.newest), clock)
        if w.capped:
            state.set_(db, "listing_capped_at", iso_utc(clock.now()), clock)
        elif w.to_end:
            state.delete(db, "listing_capped_at")
        if w.to_end and not w.suspect:
            state.set_(db, "full_walk_started_at", iso_utc(w.started), clock)
            state.set_(db, "full_walk_completed_at", iso_utc(clock.now()), clock)
            state.set_(db, "full_walk_pages", w.pages, clock)
            state.set_(db, "full_walk_listed", w.listed, clock)
        _remember_shrink(db, w, clock)
    return moved


def _remember_shrink(db: sqlite_utils.Database, w: Walk, clock: Clock) -> None:
    """Keep when a shrink began and from what size, until a full walk lists as much again."""
    if not w.to_end:
        return
    if w.suspect or state.get(db, "shrink_since") is not None:
        before = state.get(db, "shrink_from") or state.get(db, "full_walk_listed")
        if not w.suspect and before is not None and w.listed >= SHRINK * before:
            state.delete(db, "shrink_since", "shrink_from", "shrink_listed")
            return
        if state.get(db, "shrink_since") is None:
            state.set_(db, "shrink_since", iso_utc(clock.now()), clock)
            state.set_(db, "shrink_from", before, clock)
        state.set_(db, "shrink_listed", w.listed, clock)


# -- the due queue ---------------------------------------------------------------------------
RETRY, CHANGED, NEW, REFRESH, SCREEN = "retry", "changed", "new", "refresh", "screen"
Stage = screen.Stage  # the funnel stage a due ASIN goes to (LISTING: decided for free)
HISTORY_MAX_AGE_MIN = 7 * 24 * 60  # older stored history is fetched again (1 token)


@dataclasses.dataclass(frozen=True)
class Due:
    asin: str
    kind: str
    tier: int  # lower first
    rank: int  # higher first within a tier
    stage: Stage  # LISTING (the deal page's price rejected it: record it), HISTORY or OFFERS
    verdict: screen.Screen | None = None  # stage 0's, when it judged
    listed_keepa: int | None = None  # when the listing showed the price stage 0 judged at


def plan(rows: list[dict], *, now: float, now_keepa: int, listed_since: str,
         retry_since: str, settings: BusinessSettings, include_new: bool,
         refresh_after_min: float | None, screening: bool = True) -> list[Due]:
    """Order the work: failed fetches whose retry time has come; changed deals that could be
    profitable at the listed price (best first); new ASINs (newest first); other changed
    deals; and, with what is left, visible deals Keepa re-crawled (a winner can change
    without the lowest used price changing). A deal marked bought or ignored is never due. With `screening`, stage 0 judges every known
    deal with a stored List at and a fresh history against the deal page's lowest used price
    for free: a reject only records that price; a book without a List at, or with an old
    history, goes through its history (stage 1) first."""
    now_iso, out = iso_utc(now), []

    def stage0(r: dict, kind: str, tier: int) -> Due:
        fresh = (r["history_keepa"] is not None
                 and r["history_keepa"] >= now_keepa - HISTORY_MAX_AGE_MIN)
        if not screening:
            v = screen.screen_stored(r, r["used_cents"], settings) \
                if r["list_at_cents"] is not None else None
            rank = v.bound_profit_cents if v and v.bound_profit_cents is not None else -(1 << 40)
            return Due(r["asin"], kind, tier if v and v.verdict == screen.PASS else 3, rank,
                       Stage.OFFERS)
        if r["list_at_cents"] is None or not fresh:
            if visible(r):  # on the user's screen and changed: never behind an unknown ASIN
                return Due(r["asin"], kind, tier, r["profit_cents"], Stage.HISTORY)
            return Due(r["asin"], kind, 3 if tier == 1 else tier, -(1 << 40), Stage.HISTORY)
        v = screen.screen_stored(r, r["used_cents"], settings)
        if v.verdict == screen.REJECT:
            return Due(r["asin"], SCREEN, -1, 0, Stage.LISTING, v,
                       r["listed_keepa"] or now_keepa)
        rank = v.bound_profit_cents if v.bound_profit_cents is not None else 1 << 40
        return Due(r["asin"], kind, tier, rank, Stage.OFFERS, v)

    for r in rows:
        if r.get("decision") in ("bought", "ignored"):
            continue  # the user decided: no token more (the walks keep its evidence; unmark)
        current = r["listed_at"] >= listed_since
        if not r["known"] or r["status"] == "new":
            if include_new and current:
                out.append(Due(r["asin"], NEW, 2, r["creation_keepa"] or 0,
                               Stage.HISTORY if screening else Stage.OFFERS))
            continue
        if r["retry_reason"]:
            if r["listed_at"] >= retry_since and (r["next_check_at"] or "") <= now_iso:
                d = stage0(r, RETRY, 0)
                out.append(dataclasses.replace(d, tier=0, rank=r["profit_cents"] or 0)
                           if d.stage != Stage.LISTING else d)
            continue
        if not current:
            continue
        reported = [t for t in (r["creation_keepa"], r["current_since_keepa"],
                                r["changed_keepa"]) if t is not None]
        checked = r["checked_keepa"]
        if checked is None or (reported and max(reported) > checked):
            out.append(stage0(r, CHANGED, 1))
        elif (r["status"] == "screened" and r["skip_reason"] == screen.NOT_PROFITABLE
              and screening and (r["screen_bound_cents"] or 0) > 0):
            # the settings changed (recalc) and the price it was judged at now pays
            out.append(Due(r["asin"], CHANGED, 1, r["screen_bound_cents"], Stage.OFFERS))
        elif (refresh_after_min and visible(r) and r["listed_update_keepa"] is not None
              and r["last_update_keepa"] is not None
              and r["listed_update_keepa"] > r["last_update_keepa"]
              and checked < now_keepa - refresh_after_min):
            out.append(Due(r["asin"], REFRESH, 4, -checked, Stage.OFFERS))
    out.sort(key=lambda d: (d.tier, -d.rank, d.asin))
    return out


def due(db: sqlite_utils.Database, *, now: float, now_keepa: int, settings: BusinessSettings,
        include_new: bool, refresh_after_min: float | None, retry_window_s: float,
        screening: bool = True) -> list[Due]:
    """The due queue as of now. "Listed" means seen since the start of the last full walk
    (anything older is not in Keepa's listing any more); a failed fetch is retried while its
    ASIN was listed within the retry window."""
    full_started = state.get(db, "full_walk_started_at") or ""
    retry_since = iso_utc(now - retry_window_s)
    rows = listing.candidates(db, min(full_started, retry_since))
    return plan(rows, now=now, now_keepa=now_keepa, listed_since=full_started,
                retry_since=retry_since, settings=settings, include_new=include_new,
                refresh_after_min=refresh_after_min, screening=screening)

"""What the deal listing reads of every product, kept for the whole catalog; whole products
are generated on demand and only the most recently used are kept.

Keepa's /deal answers from every product's current state, so a catalog must know all of
them before it answers the first listing; a whole product (three years of market, offers,
rank reports: ~250 KB) cannot be kept for thousands. A `Listing` keeps what a deal reads
(the series from LISTING_DAYS before the catalog's creation, the change minutes, title and
category: ~45 KB), cut from the whole product, so the listing is the same one it would
be from the whole product. A catalog builds the listings of all its products before the
simulator says it is ready, on every CPU: products are independent and deterministic, so
a worker process builds any share of them and sends back only the listings.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import multiprocessing
import os
import sys
from array import array
from collections.abc import Callable

from arbitrage_cli.simulator.catalog import DAY, Catalog, SimProduct
from arbitrage_cli.simulator.series import Series, kept_from
from arbitrage_cli.simulator.views import build_series, series_points

# the 90-day deal window (the longest dateRange) and a few days for a product's last crawl
LISTING_DAYS = 95
PARALLEL_FROM = 400  # below this many products a worker process costs more than it saves
CHUNK = 50


@dataclasses.dataclass(slots=True)
class Listing:
    asin: str
    title: str
    category: tuple[int, str]
    tracking_since: int
    refresh_minutes: int
    change_times: array  # from the last change before `since`
    series: dict[int, Series]  # each from the point in effect at `since`, and the one before
    since: int  # Keepa minute from which it answers as the whole product does

    def covers(self, t: int) -> bool:
        return t >= self.since


def listing_of(p: SimProduct, since: int) -> Listing:
    series = {idx: Series(points, ships)
              for idx, (points, ships) in series_points(p, since).items()}
    k = kept_from(p.change_times, since)
    return Listing(p.asin, p.title, p.category, p.tracking_since, p.refresh_minutes,
                   p.change_times[k:], series, since)


def window_start(catalog: Catalog) -> int:
    return catalog.created - LISTING_DAYS * DAY


def listing(catalog: Catalog, asin: str) -> Listing | None:
    """The listing of `asin` (built now if need be); None for a product a test changed (only
    the whole product has it right) or one not in the catalog."""
    i = catalog.index_of(asin)
    if i is None or catalog.changed(i):
        return None
    item = catalog.listings.get(i)
    if item is None:
        item = catalog.listings[i] = listing_of(catalog.product(asin), window_start(catalog))
    return item


# -- building every listing, on every CPU ----------------------------------------------------
_worker_catalog: Catalog | None = None


def _start_worker(args: dict) -> None:
    global _worker_catalog
    _worker_catalog = Catalog(**args)


def _build_chunk(indices: list[int]) -> list[Listing]:
    cat = _worker_catalog
    return [listing_of(cat.generate(i), window_start(cat)) for i in indices]


def build_all(catalog: Catalog, progress: Callable[[int, int], None] | None = None,
              workers: int | None = None) -> None:
    """The listing of every product now, so that the first /deal answers at once.
    `progress(done, total)` is called as products are done and at the end. `workers`:
    processes (default: one per CPU, none for a small catalog)."""
    total = len(catalog.asins)
    missing = [i for i in range(total) if i not in catalog.listings]
    if workers is None:
        workers = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else \
            os.cpu_count() or 1  # the CPUs this process may use, not the machine's
        workers = workers if len(missing) >= PARALLEL_FROM else 1
    done = total - len(missing)
    if workers <= 1 or len(missing) < 2 * CHUNK:
        for n, i in enumerate(missing, start=1):
            listing(catalog, catalog.asins[i])
            if progress and (n % 100 == 0 or n == len(missing)):
                progress(done + n, total)
        if progress and not missing:
            progress(total, total)
        return
    chunks = [missing[k:k + CHUNK] for k in range(0, len(missing), CHUNK)]
    # forked on Linux (3.14 makes forkserver the default: it would run the caller's main
    # script again in every worker); it is called before any server thread starts
    context = multiprocessing.get_context("fork") if sys.platform == "linux" else None
    with concurrent.futures.ProcessPoolExecutor(
            workers, mp_context=context, initializer=_start_worker,
            initargs=(catalog.args,)) as pool:
        for chunk, listings in zip(chunks, pool.map(_build_chunk, chunks)):
            for i, item in zip(chunk, listings):
                catalog.listings[i] = item
            done += len(chunk)
            if progress:
                progress(done, total)


def deal_view(catalog: Catalog, asin: str, earliest: int):
    """(what a deal reads of the product, its series) answering for minutes from
    `earliest`: the listing when it reaches back that far, else the whole product (then
    generated again unless it is among the most recent: a Product Finder query on a
    180- or 365-day average costs ~8 ms a product)."""
    item = listing(catalog, asin)
    if item is not None and item.covers(earliest):
        return item, item.series
    p = catalog.product(asin)
    return p, build_series(p)


__all__ = ["LISTING_DAYS", "Listing", "build_all", "deal_view", "listing_of"]

"""Products from Keepa, for every stage that pays for them: one batched `/product` call and
what of its answer can be trusted (stage 1 asks for history, stage 2 for live offers too;
the seed step's one `/seller` call depends on the winner it picks, so chunk.py makes it)."""

from __future__ import annotations

import dataclasses
import logging

from arbitrage_cli.analysis.deal import reference_time
from arbitrage_cli.clock import Clock
from arbitrage_cli.keepa.client import KeepaClient
from arbitrage_cli.timefmt import keepa_minutes_from_epoch

log = logging.getLogger(__name__)


@dataclasses.dataclass
class Fetched:
    products: dict[str, dict]  # ASIN -> product, the ones to judge
    conflicted: set[str]  # held twice with different contents: neither kept
    duplicates: int  # ASINs held twice
    keepa_minute: int  # when Keepa made the answer


def products(client: KeepaClient, asins: list[str], clock: Clock, **params) -> Fetched:
    """One `/product` call for `asins` with `params` (offers, stats, days, update)."""
    resp = client.product(asins, **params)
    found, conflicted, duplicates = returned_products(resp, asins)
    return Fetched(found, conflicted, duplicates,
                   reference_time(resp) or keepa_minutes_from_epoch(clock.now()))


def returned_products(resp: dict, asins: list[str]) -> tuple[dict[str, dict], set[str], int]:
    """(ASIN -> product, ASINs held twice with different contents, how many were held twice)
    of a /product answer. A second copy that differs makes both untrustworthy (a hostile or
    broken answer once saved a 1-cent buy price that way): neither is kept, the ASIN waits
    for its retry; an exact repeat is harmless."""
    products: dict[str, dict] = {}
    conflicted: set[str] = set()
    duplicates = 0
    for p in resp.get("products") if isinstance(resp.get("products"), list) else []:
        if not (isinstance(p, dict) and p.get("asin") in asins):
            continue
        asin = p["asin"]
        if asin in products:
            duplicates += 1
            if p != products[asin]:
                conflicted.add(asin)
            continue
        products[asin] = p
    for asin in conflicted:
        del products[asin]
    if duplicates:
        log.warning("a /product answer held %d ASIN(s) twice; %d differently (kept neither)",
                    duplicates, len(conflicted))
    return products, conflicted, duplicates

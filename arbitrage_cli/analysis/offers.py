"""Seed step 2: the single cheapest LIVE used offer by landed price (domain.md §2.2, R12, R13).

Only offers listed in `liveOffersOrder` are live (the `offers` array also holds historical
offers); an offer last seen before `stats.lastOffersUpdate` is stale even if listed there.
`offersSuccessful: false` means the offer fetch failed: unknown, never "no competition".
"""

from __future__ import annotations

import dataclasses
from typing import Any

from arbitrage_cli.analysis.keepa_data import clean, is_int, lst, obj, triples
from arbitrage_cli.keepa.constants import USED_CONDITIONS

# Reasons a product has no buy price (stored as deals.skip_reason).
OFFERS_UNKNOWN = "offers_unknown"
NO_LIVE_OFFER = "no_live_offer"
NO_LIVE_USED_OFFER = "no_live_used_offer"
GHOST_OFFER = "ghost_offer"
NO_PRICED_OFFER = "no_priced_offer"


@dataclasses.dataclass(frozen=True)
class OfferCandidate:
    index: int
    seller_id: str | None
    condition: int | None
    is_fba: bool
    price_cents: int | None
    shipping_cents: int | None  # as Keepa sent it (-1 unshippable/unknown, -2 undetermined)
    landed_cents: int | None
    live: bool
    verdict: str  # winner | historical | stale | not_used | no_price | ghost_mfn_shipping |
    # unknown_shipping | pricier


@dataclasses.dataclass(frozen=True)
class OfferChoice:
    winner: OfferCandidate | None
    reason: str | None  # why there is no winner
    candidates: tuple[OfferCandidate, ...]

    @property
    def live_count(self) -> int:
        return sum(1 for c in self.candidates if c.live)


def _rank(c: OfferCandidate) -> tuple:
    # lowest landed price; ties: better condition (2 = like new), then FBA, then seller, index
    return (c.landed_cents, c.condition, not c.is_fba, c.seller_id or "", c.index)


def select_offer(product: Any) -> OfferChoice:
    offers = lst(product, "offers")
    if not isinstance(product, dict) or product.get("offersSuccessful") is not True:
        return OfferChoice(None, OFFERS_UNKNOWN, ())
    live_idx = {i for i in lst(product, "liveOffersOrder") if is_int(i) and 0 <= i < len(offers)}
    refreshed = clean(obj(product, "stats").get("lastOffersUpdate"))
    candidates, eligible = [], []
    saw_used_live = saw_ghost = False
    for i, offer in enumerate(offers):
        if not isinstance(offer, dict):
            continue
        pts = triples(offer.get("offerCSV") if isinstance(offer.get("offerCSV"), list) else [])
        price, ship = (pts[-1][1], pts[-1][2]) if pts else (None, None)
        cond = offer.get("condition") if is_int(offer.get("condition")) else None
        fba = offer.get("isFBA") is True
        seller = offer.get("sellerId") if isinstance(offer.get("sellerId"), str) else None
        live = i in live_idx
        last_seen = clean(offer.get("lastSeen"))
        landed = None
        if not live:
            verdict = "historical"
        elif refreshed is not None and last_seen is not None and last_seen < refreshed:
            verdict, live = "stale", False
        elif cond not in USED_CONDITIONS:
            verdict = "not_used"
        else:
            saw_used_live = True
            if price is None or price <= 0:
                verdict = "no_price"
            elif ship == -1 and fba:
                verdict, landed = "eligible", price  # FBA ships free to the buyer
            elif ship is None or ship == -2 or ship < -1:
                verdict = "unknown_shipping"
                saw_ghost = True
            elif ship == -1:
                verdict = "ghost_mfn_shipping"  # R13: merchant offer, shipping unknown
                saw_ghost = True
            else:
                verdict, landed = "eligible", price + ship
        cand = OfferCandidate(i, seller, cond, fba, price, ship, landed, live, verdict)
        candidates.append(cand)
        if verdict == "eligible" and seller:
            eligible.append(cand)
    if not eligible:
        reason = (NO_LIVE_OFFER if not live_idx else GHOST_OFFER if saw_ghost
                  else NO_LIVE_USED_OFFER if not saw_used_live else NO_PRICED_OFFER)
        return OfferChoice(None, reason, tuple(candidates))
    best = min(eligible, key=_rank)
    final = tuple(dataclasses.replace(c, verdict="winner" if c is best else "pricier")
                  if c.verdict == "eligible" else c for c in candidates)
    return OfferChoice(next(c for c in final if c.verdict == "winner"), None, final)

"""One product (+ its winning seller) -> one deal row. Every analysis step runs once (R26)
and every stored column has exactly one producer (R14): ANALYSIS_COLUMNS here, the derived
business columns in recalc, the freshness columns in the pipeline.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from arbitrage_cli.analysis import estimators, pricing, seasons
from arbitrage_cli.analysis.business import BusinessSettings, FeeInputs, Metrics, compute
from arbitrage_cli.analysis.keepa_data import clean, clean_float, is_int, lst, obj, stat, \
    stat_scalar
from arbitrage_cli.analysis.offers import OfferChoice, select_offer
from arbitrage_cli.analysis.sales import SalesInference
from arbitrage_cli.analysis.sellers import seller_rating, wilson_lower_bound
from arbitrage_cli.keepa.constants import CSV
from arbitrage_cli.timefmt import keepa_minutes_from_epoch

INVALID_PRODUCT = "invalid_product"
NO_INFERRED_SALES = "no_inferred_sales"


@dataclasses.dataclass(frozen=True)
class DealAnalysis:
    asin: str | None
    now: int
    offer: OfferChoice
    sales: SalesInference
    list_at: pricing.ListAt
    seller: dict | None
    seller_rating: tuple[int | None, int | None]
    seller_quality: float | None
    metrics: Metrics
    row: dict[str, Any]
    skip_reason: str | None
    history: History | None = None  # what the history alone says (the screen's input)
    condition_cap: int | None = None  # a better-condition offer that capped the List at


def reference_time(payload: Any) -> int | None:
    """The Keepa minute to analyse at: the response `timestamp` when known (reproducible),
    else the product's lastUpdate."""
    if isinstance(payload, dict) and is_int(payload.get("timestamp")) and payload["timestamp"] > 0:
        return keepa_minutes_from_epoch(payload["timestamp"] / 1000)
    return None


def _text(product: dict, key: str) -> str | None:
    v = product.get(key)
    return v if isinstance(v, str) and v else None


def _category(product: dict) -> str | None:
    tree = [c for c in lst(product, "categoryTree") if isinstance(c, dict)]
    names = [c.get("name") for c in tree if isinstance(c.get("name"), str)]
    return names[-1] if names else None


def _author(product: dict) -> str | None:
    author = _text(product, "author")
    if author:
        return author
    for c in lst(product, "contributors"):
        if isinstance(c, list) and c and isinstance(c[0], str):
            return c[0]
    return None


def _image(product: dict) -> str | None:
    """The main image's file name: `images[0]` (its medium size) or the deprecated
    `imagesCSV` (keepa-api.md §2.2)."""
    for img in lst(product, "images"):
        if isinstance(img, dict):
            name = img.get("m") or img.get("l")
            if isinstance(name, str) and name:
                return name
        break
    names = _text(product, "imagesCSV")
    first = names.split(",")[0].strip() if names else ""
    return first or None


def _referral_pct(product: dict) -> float | None:
    pct = clean_float(product.get("referralFeePercentage"))
    if pct is None:
        pct = clean_float(product.get("referralFeePercent"))
    return pct if pct is None or pct <= 100 else None


@dataclasses.dataclass(frozen=True)
class History:
    """What a product's history alone says (no offers): the part the full analysis and the
    history screen share, so the screen can never judge differently (R20)."""
    sales: SalesInference
    used: list
    list_at: pricing.ListAt
    avg_1yr_cents: int | None
    used_now_cents: int | None  # Keepa's current lowest used price, item only
    fees: FeeInputs  # with no buy price
    estimate: estimators.Estimate  # the default estimator's parts
    confidence: float | None  # 0-1, pricing.confidence
    sale_days_180: int  # days with a sale of any kind in the last 180
    # the 20th-80th percentile of the coming horizon's median sale (estimators.default_range)
    range_cents: tuple[int, int] | None = None
    evidence: estimators.Evidence | None = None


def history(p: dict, now: int) -> History:
    ev = estimators.evidence(p, now)
    est = estimators.default(ev)
    used = ev.used
    # Amazon's ceiling from its offer now, not from a year's average (issue 14)
    list_at = pricing.finish(est.cents, est.basis, ev.amazon_now, ev.used_now,
                             pricing.seasons(used))
    fba_fees = obj(p, "fbaFees")
    fees = FeeInputs(None, list_at.list_at_cents, clean(fba_fees.get("pickAndPackFee")),
                     _referral_pct(p), clean(p.get("variableClosingFee")))
    span = None
    if list_at.list_at_cents is not None:
        span = estimators.default_range(ev, estimators.SELL_WINDOW)
    if span is not None:  # the same Amazon ceiling capped both: the range holds the List at
        span = (min(span[0], list_at.list_at_cents), max(span[1], list_at.list_at_cents))
    return History(ev.sales, used, list_at, pricing.one_year_average(used, now), ev.used_now,
                   fees, est, pricing.confidence(used, now),
                   pricing.sale_days(list(ev.sales.events), now), span, ev)


def for_condition(h: History, condition: int | None) -> tuple[int | None, tuple | None,
                                                              int | None]:
    """(List at, range, the better-condition offer that capped them) for a copy of
    `condition`: a buyer takes a better copy offered for less first (estimators)."""
    cents, span = h.list_at.list_at_cents, h.range_cents
    ceiling = estimators.better_offer(h.evidence, condition) if h.evidence else None
    if cents is None or ceiling is None or ceiling >= cents:
        return cents, span, None
    return ceiling, (min(span[0], ceiling), ceiling) if span else None, ceiling


def offers_ahead(offer: OfferChoice, list_at: int | None, used_count: int | None) -> int | None:
    """Copies that sell before ours: live used offers landed at or below the List at; with
    the live offers unknown, Keepa's used offer count (an upper bound)."""
    if offer.candidates:
        return sum(1 for c in offer.candidates if c.verdict in ("winner", "pricier")
                   and list_at is not None and c.landed_cents <= list_at)
    return used_count


def analyse(product: Any, seller: dict | None = None, *, now: int | None = None,
            settings: BusinessSettings | None = None,
            offer: OfferChoice | None = None) -> DealAnalysis:
    """`offer`: the offer choice when the caller already made it (to fetch the winning
    seller first); it is not recomputed."""
    settings = settings or BusinessSettings()
    p = product if isinstance(product, dict) else {}
    asin = p.get("asin") if isinstance(p.get("asin"), str) else None
    if now is None:
        now = clean(p.get("lastUpdate")) or 0
    offer = offer if offer is not None else select_offer(p)
    h = history(p, now)
    sales, used, list_at = h.sales, h.used, h.list_at
    rating = seller_rating(seller) if offer.winner else (None, None)
    quality = wilson_lower_bound(*rating) if offer.winner else None
    winner = offer.winner
    price_now = winner.landed_cents if winner else None
    list_at_cents, span, condition_cap = for_condition(h, winner.condition if winner else None)
    inputs = dataclasses.replace(h.fees, price_now_cents=price_now, list_at_cents=list_at_cents)
    metrics = compute(inputs, settings)
    avg_1yr = h.avg_1yr_cents
    season, sells = seasons.classify(_text(p, "title"), _category(p), _text(p, "manufacturer"),
                                     list_at.peak_month)
    if asin is None or p.get("productType") not in (0, None):
        skip = INVALID_PRODUCT
    elif winner is None:
        skip = offer.reason
    elif list_at.rejected:
        skip = f"list_at_{list_at.rejected}"
    elif list_at_cents is None:
        skip = NO_INFERRED_SALES
    else:
        skip = None
    amazon_now = stat(p, "current", CSV["AMAZON"])
    row = {
        "asin": asin,
        "status": "deal" if skip is None else "skipped",
        "skip_reason": skip,
        "title": _text(p, "title"),
        "author": _author(p),
        "category": _category(p),
        "binding": _text(p, "binding"),
        "publisher": _text(p, "manufacturer"),
        "image_name": _image(p),
        "root_category": clean(p.get("rootCategory")),
        "seller_id": winner.seller_id if winner else None,
        "seller_name": (seller.get("sellerName") if winner and isinstance(seller, dict)
                        and isinstance(seller.get("sellerName"), str) else None),
        "seller_rating_pct": float(rating[0]) if rating[0] is not None else None,
        "seller_rating_count": rating[1],
        "seller_quality": quality,
        "condition": winner.condition if winner else None,
        "is_fba": int(winner.is_fba) if winner else None,
        "price_cents": winner.price_cents if winner else None,
        "shipping_cents": (price_now - winner.price_cents) if winner else None,
        "price_now_cents": price_now,
        "used_offer_count": stat(p, "current", CSV["COUNT_USED"]),
        "live_offer_count": offer.live_count if offer.candidates else None,
        "list_at_cents": list_at_cents,
        "list_at_low_cents": span[0] if span else None,
        "list_at_high_cents": span[1] if span else None,
        "list_at_uncapped_cents": list_at.uncapped_cents,
        "list_at_basis": list_at.basis,
        "list_at_capped": int(list_at.capped),
        "price_suspicious": int(list_at.suspicious),
        "trough_price_cents": list_at.trough_cents,
        "peak_month": list_at.peak_month,
        "trough_month": list_at.trough_month,
        "season": season,
        "sells": sells,
        "avg_1yr_cents": avg_1yr,
        "percent_down_pct": pricing.percent_down(price_now, avg_1yr),
        "recent_sale_cents": used[-1].price_cents if used else None,
        "sales_inferred": len(used),
        "list_at_confidence": h.confidence,
        "sale_days_180": h.sale_days_180,
        "days_to_sell": pricing.days_to_sell(list(sales.events), now, offers_ahead(
            offer, list_at_cents, stat(p, "current", CSV["COUNT_USED"]))),
        "offer_drops": sales.used_drops,
        "deal_trust_pct": pricing.deal_trust(sales.used_matched, sales.used_drops),
        "offers_trend": pricing.offers_trend(p),
        "price_trend": pricing.price_trend(p),
        "sales_rank": pricing.sales_rank(p),
        "drops_30": stat_scalar(p, "salesRankDrops30"),
        "drops_90": stat_scalar(p, "salesRankDrops90"),
        "drops_365": stat_scalar(p, "salesRankDrops365"),
        "amazon_price_cents": amazon_now,
        "amazon_selling": int((amazon_now or 0) > 0 or p.get("availabilityAmazon") == 0),
        "fba_fee_cents": inputs.fba_fee_cents,
        "referral_fee_pct": inputs.referral_fee_pct,
        "closing_fee_cents": inputs.closing_fee_cents,
        "last_update_keepa": clean(p.get("lastUpdate")),
        "last_price_change_keepa": clean(p.get("lastPriceChange")),
        "offers_checked_keepa": stat_scalar(p, "lastOffersUpdate"),
    }
    return DealAnalysis(asin, now, offer, sales, list_at, seller if winner else None, rating,
                        quality, metrics, row, skip, h, condition_cap)


ANALYSIS_COLUMNS = frozenset(analyse({}).row)

"""What Keepa returns for a simulated product at a given Keepa minute: csv, stats, offers and
deal objects, with Keepa's field names, types and sentinels (keepa-api.md §2, §4)."""

from __future__ import annotations

import bisect
import math

from arbitrage_cli.keepa.constants import (AMAZON_SELLER_ID, CSV, CSV_SIZE, DATE_RANGE_DAYS,
                                           USED_CONDITIONS)
from arbitrage_cli.simulator.catalog import BOOKS_ROOT, DAY, SimOffer, SimProduct
from arbitrage_cli.simulator.market import KEEPA_RANK_DROP
from arbitrage_cli.simulator.series import Series, kept_from
from arbitrage_cli.simulator.sweep import USED_CSV, landed, offer_series

# Keepa fills the used-with-shipping series (and the used buy box) only when offers are
# requested: flag O in keepa-api.md §2.3. csv 2 (lowest used) has no shipping.
OFFERS_ONLY_CSV = frozenset(USED_CSV.values())
PRICE_TYPES = {0, 1, 2, 4, 5, 6, 7, 8, 9, 10, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29,
               30, 31, 32, 33}
MAX_HISTORICAL_OFFERS = 80


def build_series(p: SimProduct) -> dict[int, Series]:
    """Every populated csv series over the whole simulated horizon (kept on the product
    until a change to it drops them: Catalog.reprice)."""
    if p.series is None:
        p.series = {i: Series(pts, ships) for i, (pts, ships) in series_points(p).items()}
    return p.series


def series_points(p: SimProduct, since: int | None = None
                  ) -> dict[int, tuple[list, list | None]]:
    """csv index -> (its change points [(minute, value)], their shipping or None); from
    `since` on: the point in effect then, the one before it and every later one."""
    out = offer_series(p, since)
    rank = p.rank_points
    k = kept_from(rank.t, since)
    out[3] = (list(zip(rank.t[k:], rank.v[k:])), None)
    if p.amazon_prices:
        k = kept_from([x[0] for x in p.amazon_prices], since)
        out[0] = ([tuple(x) for x in p.amazon_prices[k:]], None)
    return out


def last_update(p: SimProduct, now: int) -> int:
    i = bisect.bisect_right(p.change_times, now) - 1
    changed = p.change_times[i] if i >= 0 else p.tracking_since
    ticks = (now - p.tracking_since) // p.refresh_minutes
    return max(changed, p.tracking_since + ticks * p.refresh_minutes)


def last_price_change(p: SimProduct, series: dict[int, Series], now: int) -> int:
    return max((s.since(now) for i, s in series.items() if i in PRICE_TYPES), default=-1)


def _arr(fill: int = -1) -> list:
    return [fill] * CSV_SIZE


def stats_object(p: SimProduct, series: dict[int, Series], now: int, days: int,
                 offers_view: dict | None, offers_fetched_at: int | None) -> dict:
    start = now - days * DAY
    st = {k: _arr() for k in ("current", "avg", "avg30", "avg90", "avg180", "avg365",
                              "atIntervalStart", "outOfStockPercentageInInterval",
                              "outOfStockPercentage30", "outOfStockPercentage90",
                              "outOfStockPercentage180", "outOfStockPercentage365")}
    st.update({"min": [None] * CSV_SIZE, "max": [None] * CSV_SIZE,
               "minInInterval": [None] * CSV_SIZE, "maxInInterval": [None] * CSV_SIZE,
               "isLowest": [False] * CSV_SIZE, "isLowest90": [False] * CSV_SIZE})
    for i, s in series.items():
        cur = s.at(now)
        st["current"][i] = cur
        st["avg"][i] = s.mean(start, now)
        for n in (30, 90, 180, 365):
            st[f"avg{n}"][i] = s.mean(now - n * DAY, now)
        st["atIntervalStart"][i] = s.at(start)
        lo, hi = s.extremes(s.t[0], now)
        st["min"][i], st["max"][i] = lo, hi
        st["minInInterval"][i], st["maxInInterval"][i] = s.extremes(start, now)
        if i in PRICE_TYPES:
            st["outOfStockPercentageInInterval"][i] = s.out_of_stock_pct(start, now)
            for n in (30, 90, 180, 365):
                st[f"outOfStockPercentage{n}"][i] = s.out_of_stock_pct(now - n * DAY, now)
            st["isLowest"][i] = cur >= 0 and lo is not None and cur <= lo[1]
            lo90, _ = s.extremes(now - 90 * DAY, now)
            st["isLowest90"][i] = cur >= 0 and lo90 is not None and cur <= lo90[1]
    rank = series[3]
    for n in (30, 90, 180, 365):
        st[f"salesRankDrops{n}"] = rank.drops(now - n * DAY, now, KEEPA_RANK_DROP)
    st["outOfStockCountAmazon30"] = 0
    st["outOfStockCountAmazon90"] = 0
    st["deltaPercent90_monthlySold"] = None
    st["lightningDealInfo"] = None
    st["totalOfferCount"] = sum(1 for o in p.offers if o.live_at(now))
    st["lastOffersUpdate"] = offers_fetched_at if offers_fetched_at is not None else -1
    for key in ("buyBoxPrice", "buyBoxShipping"):
        st[key] = -2
    st.update({"buyBoxIsUnqualified": None, "buyBoxIsShippable": None, "buyBoxIsFBA": None,
               "buyBoxIsAmazon": None, "buyBoxIsMAP": None, "buyBoxSellerId": None})
    if offers_view is not None:
        st.update(offers_view["stats"])
    else:
        st.update({"offerCountFBA": -2, "offerCountFBM": -2, "retrievedOfferCount": -2})
    return st


def offer_json(o: SimOffer, at: int, live: bool, since: int | None) -> dict:
    prices = [x for x in o.prices if x[0] <= at]
    if since is not None:
        keep = [x for x in prices if x[0] >= since]
        prices = ([prices[len(prices) - len(keep) - 1]] if len(keep) < len(prices) else []) + keep
    price, ship = o.price_at(at)
    out = {
        "offerId": o.offer_id, "lastSeen": at if live else o.ended, "sellerId": o.seller_id,
        "offerCSV": [v for x in prices for v in x], "condition": o.condition,
        "isPrime": o.is_fba, "isMAP": False, "isShippable": o.is_fba or ship >= 0,
        "isAddonItem": False, "isPreorder": False, "isWarehouseDeal": False, "isScam": False,
        "shipsFromChina": False, "isAmazon": o.is_amazon, "isFBA": o.is_fba,
        "isPrimeExcl": False, "lastStockUpdate": 0,
    }
    if o.comment:
        out["conditionComment"] = o.comment
    return out


def offers_view(p: SimProduct, at: int, max_offers: int, only_live: bool,
                since: int | None, successful: bool = True) -> dict:
    """`offers`, `liveOffersOrder` and the offer-derived stats as of the fetch time `at`."""
    live = sorted((o for o in p.offers if o.live_at(at)),
                  key=lambda o: (landed(*o.price_at(at)), o.offer_id))[:max_offers]
    live_ids = {o.offer_id for o in live}
    historical = sorted((o for o in p.offers if o.ended is not None and o.ended <= at
                         and o.listed <= at), key=lambda o: -o.ended)[:MAX_HISTORICAL_OFFERS]
    if since is not None:
        historical = [o for o in historical if o.ended >= since]
    if not successful:
        chosen = sorted(historical, key=lambda o: o.offer_id)
    elif only_live:
        chosen = sorted(live, key=lambda o: o.offer_id)
    else:
        chosen = sorted(live + historical, key=lambda o: o.offer_id)
    arr = [offer_json(o, at, o.offer_id in live_ids and successful, since) for o in chosen]
    position = {o.offer_id: i for i, o in enumerate(chosen)}
    used_live = [o for o in live if o.condition in USED_CONDITIONS]
    best_used = min(used_live, key=lambda o: (landed(*o.price_at(at)), o.offer_id), default=None)
    new_live = [o for o in live if o.condition == 1]
    stats = {
        "offerCountFBA": sum(1 for o in new_live if o.is_fba),
        "offerCountFBM": sum(1 for o in new_live if not o.is_fba),
        "retrievedOfferCount": len(live) if successful else 0,
        "buyBoxUsedPrice": best_used.price_at(at)[0] if best_used else -1,
        "buyBoxUsedShipping": best_used.price_at(at)[1] if best_used else -1,
        "buyBoxUsedSellerId": best_used.seller_id if best_used else None,
        "buyBoxUsedIsFBA": best_used.is_fba if best_used else None,
        "buyBoxUsedCondition": best_used.condition if best_used else None,
        "sellerIdsLowestFBA": None, "sellerIdsLowestFBM": None, "isAddonItem": False,
    }
    counts = [0] * 8
    for o in live:
        slot = {1: 0, 2: 2, 3: 2, 4: 2, 5: 2}.get(o.condition, 4)
        counts[slot + (0 if o.is_fba else 1)] += 1
    view = {"offers": arr, "offersSuccessful": successful,
            "buyBoxEligibleOfferCounts": counts, "stats": stats if successful else
            {"offerCountFBA": -2, "offerCountFBM": -2, "retrievedOfferCount": 0}}
    if successful:
        view["liveOffersOrder"] = [position[o.offer_id] for o in live]
    return view


def product_json(p: SimProduct, now: int, *, stats_days: int | None, history: bool,
                 days: int | None, offers: dict | None, offers_fetched_at: int | None) -> dict:
    """`now`: the minute Keepa's stored data of the product reflects (its last update);
    `offers`: the offers view, fetched live or from Keepa's offer cache."""
    series = build_series(p)
    if offers is None:
        series = {i: s for i, s in series.items() if i not in OFFERS_ONLY_CSV}
    since = now - days * DAY if days else None
    csv: list = [None] * CSV_SIZE
    for i, s in series.items():
        csv[i] = s.flat(now, since)
    leaf_id, leaf_name = p.category
    amazon_live = any(o.is_amazon and o.live_at(now) for o in p.offers)
    out = {
        "asin": p.asin, "domainId": 1, "productType": 0, "parentAsin": None,
        "title": p.title, "rootCategory": BOOKS_ROOT, "categories": [leaf_id],
        "categoryTree": [{"catId": BOOKS_ROOT, "name": "Books"},
                         {"catId": leaf_id, "name": leaf_name}],
        "productGroup": "Book", "binding": p.binding, "type": "ABIS_BOOK",
        "author": p.author, "contributors": [[p.author, "author"]],
        "manufacturer": p.publisher, "publicationDate": p.publication_date,
        "releaseDate": -1, "numberOfPages": 200 + p.index % 600, "numberOfItems": 1,
        "packageWeight": 300 + p.index % 900, "packageLength": 229, "packageWidth": 152,
        "packageHeight": 25, "itemWeight": -1, "eanList": ["978" + p.asin[:9] + "0"],
        "upcList": None, "imagesCSV": f"{p.asin}L.jpg",
        "trackingSince": p.tracking_since, "listedSince": p.listed_since,
        "lastUpdate": last_update(p, now), "lastPriceChange": last_price_change(p, series, now),
        "lastRatingUpdate": p.tracking_since, "lastStockUpdate": 0, "lastEbayUpdate": 0,
        "availabilityAmazon": 0 if amazon_live else -1, "newPriceIsMAP": False,
        "isAdultProduct": False, "isEligibleForTradeIn": p.index % 3 == 0,
        "isEligibleForSuperSaverShipping": True, "isRedirectASIN": False, "isSNS": False,
        "isHeatSensitive": False, "isB2B": False, "launchpad": False, "g": 0,
        "fbaFees": ({"lastUpdate": p.tracking_since, "pickAndPackFee": p.fba_fee}
                    if p.fba_fee is not None else None),
        "referralFeePercentage": p.referral_pct if p.referral_pct is not None else -1,
        "referralFeePercent": int(p.referral_pct) if p.referral_pct is not None else -1,
        "variableClosingFee": p.closing_fee,
        "salesRankReference": BOOKS_ROOT,
        "salesRankDisplayGroup": "book_display_on_website",
        "websiteDisplayGroup": "book_display_on_website", "websiteDisplayGroupName": "Book",
        "monthlySold": 0, "coupon": None, "promotions": None, "deals": None,
    }
    if history:
        out["csv"] = csv
        out["salesRanks"] = {str(BOOKS_ROOT): series[3].flat(now, since)}
        out["salesRankReferenceHistory"] = [p.tracking_since, BOOKS_ROOT]
    else:
        out["csv"] = None
    if offers is not None:
        out.update({k: v for k, v in offers.items() if k != "stats"})
    else:
        # requested without offers: no offers, no liveOffersOrder (real-keepa
        # av-0593655036-raw-nooffers)
        out["offersSuccessful"] = False
    if stats_days is not None:
        out["stats"] = stats_object(p, series, now, stats_days, offers, offers_fetched_at)
    return out


def deal_json(p, series: dict[int, Series], now: int, price_type: int, date_range: int
              ) -> dict:
    """`p`: the product or its listing (simulator/listing.py); `series`: its series."""
    current, since, delta_last = _arr(), _arr(), _arr(0)
    avg = [_arr() for _ in range(4)]
    delta = [_arr(0) for _ in range(4)]
    pct = [_arr(0) for _ in range(4)]
    for i, s in series.items():
        cur = s.at(now)
        current[i], since[i] = cur, s.since(now)
        prev = s.previous_value(now)
        delta_last[i] = prev - cur if prev >= 0 and cur >= 0 else 0
        for r, n in DATE_RANGE_DAYS.items():
            a = s.mean(now - n * DAY, now)
            avg[r][i] = a
            if a > 0 and cur >= 0:
                delta[r][i] = a - cur
                pct[r][i] = round((a - cur) * 100 / a)
    leaf_id, _ = p.category
    return {
        "asin": p.asin, "parentAsin": None, "title": p.title, "rootCat": BOOKS_ROOT,
        "categories": [leaf_id], "image": [ord(c) for c in f"{p.asin}L.jpg"],
        "current": current, "currentSince": since, "deltaLast": delta_last,
        "delta": delta, "deltaPercent": pct, "avg": avg,
        "creationDate": since[price_type], "lastUpdate": last_update(p, now),
        "lightningEnd": 0, "warehouseCondition": 0, "warehouseConditionComment": None,
    }


def offer_pages(found: int) -> int:
    return max(1, math.ceil(found / 10))


__all__ = ["AMAZON_SELLER_ID", "CSV", "build_series", "deal_json", "last_update",
           "offer_pages", "offers_view", "product_json", "series_points"]

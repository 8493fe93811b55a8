"""Keepa-shaped products written to the reference's exact field names (keepa-api.md §2).

`product(...)` returns what /product?offers=20&stats=365 returns for one item: a 36-slot
`csv` with pairs and `_SHIPPING` triples, a `stats` object with 36-slot arrays, `offers`
(live and historical) and `liveOffersOrder`.
"""

from __future__ import annotations

from arbitrage_cli.keepa.constants import CSV, CSV_SIZE

NOW = 8_400_000  # Keepa minute (2026-12-21)
DAY = 1440
HOUR = 60


def offer(offer_id, seller, price, ship, *, condition=4, fba=False, last_seen=NOW,
          history=()):
    csv = []
    for t, p, s in history:
        csv += [t, p, s]
    csv += [last_seen - DAY, price, ship]
    return {"offerId": offer_id, "lastSeen": last_seen, "sellerId": seller, "offerCSV": csv,
            "condition": condition, "isPrime": fba, "isMAP": False,
            "isShippable": fba or ship >= 0, "isAddonItem": False, "isPreorder": False,
            "isWarehouseDeal": False, "isScam": False, "shipsFromChina": False,
            "isAmazon": seller == "ATVPDKIKX0DER", "isFBA": fba, "isPrimeExcl": False,
            "lastStockUpdate": 0}


def flat(points):
    out = []
    for pt in points:
        out += list(pt)
    return out


def product(*, asin="0123456789", offers=(), live=None, csv=None, current=None, avg=None,
            successful=True, title="Principles of Biology", fba_fee=412, referral=15.0,
            closing=180, **extra):
    csv_arr = [None] * CSV_SIZE
    for name, points in (csv or {}).items():
        csv_arr[CSV[name]] = flat(points)
    stats = {k: [-1] * CSV_SIZE for k in ("current", "avg", "avg30", "avg90", "avg180",
                                          "avg365", "atIntervalStart")}
    for name, value in (current or {}).items():
        stats["current"][CSV[name]] = value
    for (window, name), value in (avg or {}).items():
        stats[window][CSV[name]] = value
    stats.update({"salesRankDrops30": 4, "salesRankDrops90": 11, "salesRankDrops180": -1,
                  "salesRankDrops365": 40, "lastOffersUpdate": NOW, "totalOfferCount":
                  len(live if live is not None else offers)})
    p = {
        "asin": asin, "domainId": 1, "productType": 0, "title": title,
        "rootCategory": 283155, "categories": [75],
        "categoryTree": [{"catId": 283155, "name": "Books"}, {"catId": 75,
                                                              "name": "Science & Math"}],
        "binding": "Paperback", "author": "A. Chen", "manufacturer": "Norton",
        "lastUpdate": NOW, "lastPriceChange": NOW - 3 * HOUR, "csv": csv_arr, "stats": stats,
        "offers": list(offers), "offersSuccessful": successful,
        "fbaFees": {"lastUpdate": NOW - 30 * DAY, "pickAndPackFee": fba_fee}
        if fba_fee is not None else None,
        "referralFeePercentage": referral if referral is not None else -1,
        "variableClosingFee": closing if closing is not None else -1,
        "availabilityAmazon": -1,
    }
    if successful:
        p["liveOffersOrder"] = list(range(len(offers))) if live is None else list(live)
    p.update(extra)
    return p


def sales_history(sales, *, start_rank=400_000, rank_delay=30, used_price=2500,
                  sale_prices=None):
    """csv series for a product whose used count drops at each time in `sales`, each
    followed `rank_delay` minutes later by a rank improvement; the used price before each
    drop is taken from `sale_prices` (or `used_price`)."""
    t0 = min(sales) - 30 * DAY
    count, rank = len(sales) + 3, start_rank
    counts, ranks, prices = [(t0, count)], [(t0, rank)], [(t0, used_price)]
    for i, t in enumerate(sorted(sales)):
        price = sale_prices[i] if sale_prices else used_price
        prices.append((t - 5 * HOUR, price))
        count -= 1
        counts.append((t, count))
        prices.append((t, price + 700))  # the next-cheapest copy
        rank = int(rank * 0.4)
        ranks.append((t + rank_delay, rank))
        rank = int(rank * 2.5)
        ranks.append((t + 3 * DAY, rank))
    return {"COUNT_USED": counts, "SALES": sorted(ranks), "USED": prices}

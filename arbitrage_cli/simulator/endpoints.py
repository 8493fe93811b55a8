"""The simulator's endpoint logic: parameters in, (payload, cost) out, Keepa's rules.

Raises BadRequest for what Keepa answers with 400 (405 for an out-of-range parameter).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable

from arbitrage_cli.keepa.constants import (CSV, DATE_RANGE_DAYS, DEAL_FIELDS, DEAL_PRICE_TYPES,
                                           DEALS_PER_PAGE, DOMAINS, TOKENS_PER_DEAL_PAGE,
                                           TOKENS_PER_OFFER_PAGE, TOKENS_PER_QUERY)
from arbitrage_cli.simulator import listing, views
from arbitrage_cli.simulator.catalog import BOOKS_ROOT, DAY, Catalog
from arbitrage_cli.timefmt import keepa_minutes_from_epoch

PRODUCT_PARAMS = {"key", "domain", "asin", "code", "code-limit", "stats", "update", "history",
                  "days", "offers", "only-live-offers", "rating", "buybox", "stock", "rental",
                  "videos", "aplus", "historical-variations"}
SELLER_PARAMS = {"key", "domain", "seller", "storefront", "update"}
DEAL_PARAMS = {"key", "domain", "selection"}
QUERY_PARAMS = {"key", "domain", "selection", "stats"}
QUERY_METRICS = ("current", "avg30", "avg90", "avg180", "avg365", "lastPriceChange")
QUERY_FIELD = re.compile(r"^(%s)_([A-Z_]+)_(lte|gte)$" % "|".join(QUERY_METRICS))
DEAL_MAX_AGE_MIN = 12 * 60  # only products updated within the last 12 h are deals [DOC]
DEAL_CACHE_MIN = 2  # a query's result is cached 120 s [JAVA]
# The two readings of a deal's `creationDate` (keepa-api.md §4, §9 item 5): Keepa's
# documentation says "last change of the requested price type", Keepa's Java client says "the
# time this deal was found". Nothing here can ask the real service, so the simulator serves
# either and the pipeline is tested under both.
CREATION_CHANGED = "changed"
CREATION_FOUND = "found"
CREATION_MEANINGS = (CREATION_CHANGED, CREATION_FOUND)


class BadRequest(Exception):
    def __init__(self, message: str, status: int = 400, error_type: str = "invalidParameter"):
        super().__init__(message)
        self.status, self.error_type = status, error_type


def _check_params(params: dict[str, str], allowed: set[str]) -> None:
    unknown = sorted(set(params) - allowed)
    if unknown:
        raise BadRequest("You used an invalid parameter for this API call. Please check the "
                         f"documentation: {', '.join(unknown)}")


def _int(params: dict[str, str], name: str, default: int | None = None, lo: int | None = None,
         hi: int | None = None, status: int = 400) -> int | None:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(f"{name} must be an integer") from None
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise BadRequest(f"{name} is out of the allowed range", status=status)
    return value


def _domain(params: dict[str, str]) -> None:
    if _int(params, "domain", 1) not in DOMAINS:
        raise BadRequest("invalid domain")


def product_request(params: dict[str, str], now: int) -> dict:
    """Validate /product parameters (before any token is charged)."""
    _check_params(params, PRODUCT_PARAMS)
    _domain(params)
    asins = [a for a in params.get("asin", "").split(",") if a]
    if not asins or "code" in params:
        raise BadRequest("provide asin (code lookups are not simulated)")
    if len(asins) > 100:
        raise BadRequest("at most 100 ASINs per request")
    req = {
        "asins": asins,
        "offers": _int(params, "offers", None, 20, 100, status=405),
        "update": _int(params, "update", 1, -1),
        "days": _int(params, "days", None, 1),
        "history": _int(params, "history", 1, 0, 1) == 1,
        "only_live": _int(params, "only-live-offers", 0, 0, 1) == 1,
        "stats_days": None,
    }
    if "stats" in params:
        raw = params["stats"]
        if "," in raw:
            start = raw.split(",")[0]
            if not start.isdigit():
                raise BadRequest("stats range must be epoch milliseconds 'start,end'")
            start_min = keepa_minutes_from_epoch(int(start) / 1000)
            req["stats_days"] = max(1, math.ceil((now - start_min) / DAY))
        else:
            req["stats_days"] = _int(params, "stats", None, 1)
    return req


def product(cat: Catalog, req: dict, now: int, fetched: dict[str, int],
            offers_fail_asin: str | None = None,
            view: Callable[[str, int], int] | None = None,
            refresh: Callable[[str, int], None] | None = None) -> tuple[dict, int]:
    """`fetched`: the simulator's memory of when each product's live offers were last
    collected (Keepa serves them from cache, for 5 tokens, within `update` hours). `view`:
    the minute Keepa's stored history of a product reflects (its last crawl); a live offer
    fetch, or a history older than `update` hours, brings it up to date (`refresh` is told,
    so later answers and the deal listing reflect it)."""
    asins, offers, update, days = req["asins"], req["offers"], req["update"], req["days"]
    history, only_live, stats_days = req["history"], req["only_live"], req["stats_days"]
    products, cost = [], 0
    for asin in asins:
        p = cat.product(asin)
        if p is None:
            products.append({"asin": asin, "domainId": 1, "productType": 4, "title": None,
                             "csv": None})
            continue
        offer_view = None
        if offers is not None:
            last = fetched.get(asin)
            cached = last is not None and update >= 0 and now - last < update * 60
            failed = asin == offers_fail_asin
            at = last if cached else now
            if not cached and not failed:
                fetched[asin] = now
            offer_view = views.offers_view(p, at, offers, only_live,
                                           now - days * DAY if days else None,
                                           successful=not failed)
            if failed:
                cost += 1
            elif cached:
                cost += 5
            else:
                found = len(offer_view["liveOffersOrder"])
                cost += TOKENS_PER_OFFER_PAGE * views.offer_pages(min(found, offers))
                if update == 0 and now - views.last_update(p, now) < 60:
                    cost += 1  # forced refresh of a product updated within the hour
        else:
            cost += 1
            if update == 0 and now - views.last_update(p, now) < 60:
                cost += 1
        seen = now if offer_view is not None or view is None else view(asin, now)
        if offer_view is None and refresh is not None and update >= 0 and \
                now - seen > update * 60:
            seen = now  # `update`: Keepa refreshes a product whose data is older [DOC]
        if seen == now and refresh is not None:
            refresh(asin, now)
        products.append(views.product_json(p, seen, stats_days=stats_days, history=history,
                                           days=days, offers=offer_view,
                                           offers_fetched_at=fetched.get(asin)))
    return {"products": products}, cost


def seller_json(cat: Catalog, seller_id: str, now: int) -> dict | None:
    s = cat.seller_by_id.get(seller_id)
    if s is None:
        return None
    rated = s.rating_pct >= 0
    pct, count = (s.rating_pct, s.rating_count) if rated else (-1, 0)
    recent = max(0, count // 200)
    return {
        "domainId": 1, "sellerId": s.seller_id, "sellerName": s.name,
        "trackedSince": s.tracked_since, "lastUpdate": now - 600, "lastRatingUpdate": now - 900,
        "csv": ([[s.tracked_since, max(0, pct - 2), now - 900, pct],
                 [s.tracked_since, count // 2, now - 900, count]] if rated else None),
        "currentRating": pct, "currentRatingCount": count, "ratingsLast30Days": recent,
        "ratingCount": [recent, recent * 3, recent * 12, count],
        "positiveRating": [pct] * 4 if rated else [-1] * 4,
        "neutralRating": [max(0, (100 - pct) // 2)] * 4 if rated else [-1] * 4,
        "negativeRating": [100 - pct - max(0, (100 - pct) // 2)] * 4 if rated else [-1] * 4,
        "recentFeedback": [], "hasFBA": s.fba_share > 0.3, "shipsFromChina": False,
        "totalStorefrontAsins": [now - 1440, 50 + int(s.weight * 1000)],
    }


def seller(cat: Catalog, params: dict[str, str], now: int) -> tuple[dict, int]:
    _check_params(params, SELLER_PARAMS)
    _domain(params)
    ids = [s for s in params.get("seller", "").split(",") if s]
    if not ids or len(ids) > 100:
        raise BadRequest("seller: between 1 and 100 seller ids")
    if len(ids) > 1 and _int(params, "storefront", 0) == 1:
        raise BadRequest("storefront cannot be used with a batch of sellers")
    found = {}
    for sid in dict.fromkeys(ids):
        obj = seller_json(cat, sid, now)
        if obj is not None:
            found[sid] = obj
    return {"sellers": found}, len(found)


def parse_selection(params: dict[str, str], body: bytes | None) -> dict:
    raw = params.get("selection")
    if raw is None and body:
        raw = body.decode("utf-8", "replace")
    if not raw:
        raise BadRequest("selection is required")
    try:
        sel = json.loads(raw)
    except ValueError:
        raise BadRequest("selection is not valid JSON") from None
    if not isinstance(sel, dict):
        raise BadRequest("selection must be a JSON object")
    return sel


def _num(sel: dict, name: str, default=None):
    """Keepa silently ignores numbers sent as strings (keepa-api.md §4)."""
    v = sel.get(name, default)
    return v if isinstance(v, int) and not isinstance(v, bool) else default


def _range(sel: dict, name: str) -> tuple[int, int] | None:
    v = sel.get(name)
    if not (isinstance(v, list) and len(v) == 2 and all(isinstance(x, int) for x in v)):
        return None
    return v[0], v[1]


def _in_range(value: int, rng: tuple[int, int] | None) -> bool:
    if rng is None:
        return True
    lo, hi = rng
    return value >= lo and (hi < 0 or value <= hi)


def deal(cat: Catalog, params: dict[str, str], body: bytes | None, now: int,
         cache: dict, found: dict | None = None,
         view: Callable[[str, int], int] | None = None) -> tuple[dict, int]:
    """`found`: when given, `creationDate` means "the time this deal was found" and this is
    the memory of when each listed deal was found, per query (see CREATION_FOUND)."""
    _check_params(params, DEAL_PARAMS)
    sel = parse_selection(params, body)
    unknown = sorted(set(sel) - DEAL_FIELDS)
    if unknown:
        raise BadRequest(f"unknown deal selection field(s): {', '.join(unknown)}")
    if _num(sel, "domainId") not in DOMAINS:
        raise BadRequest("domainId is required (an integer domain id)")
    pts = sel.get("priceTypes", [0])
    pts = [pts] if isinstance(pts, int) else pts
    if not (isinstance(pts, list) and len(pts) == 1 and pts[0] in DEAL_PRICE_TYPES):
        raise BadRequest("priceTypes must hold exactly one supported price type")
    pt = pts[0]
    date_range = _num(sel, "dateRange", 0)
    if date_range not in DATE_RANGE_DAYS:
        raise BadRequest("dateRange must be 0..3")
    page = _num(sel, "page", 0)
    if page < 0 or page * DEALS_PER_PAGE >= 10_000:
        raise BadRequest("page out of range")
    key = json.dumps({k: v for k, v in sel.items() if k != "page"}, sort_keys=True)
    hit = cache.get(key)
    if hit is None or now - hit[0] >= DEAL_CACHE_MIN:
        memory = found.setdefault(key, {}) if found is not None else None
        hit = (now, _deal_list(cat, sel, pt, date_range, now, memory, view))
        cache[key] = hit
    matches = hit[1]
    dr = matches[page * DEALS_PER_PAGE:(page + 1) * DEALS_PER_PAGE]
    return {"deals": {"dr": dr, "categoryIds": [BOOKS_ROOT] if matches else [],
                      "categoryNames": ["Books"] if matches else [],
                      "categoryCount": [len(matches)] if matches else []}}, TOKENS_PER_DEAL_PAGE


def _deal_list(cat: Catalog, sel: dict, pt: int, date_range: int, now: int,
               found: dict | None = None,
               view: Callable[[str, int], int] | None = None) -> list[dict]:
    """Every deal of the query at `now`, in its sort order. `found` (the "found" meaning of
    creationDate): ASIN -> minute it was found; a deal keeps that time while it stays listed,
    one that (re-)enters is found now, and on the first listing a deal counts as found when
    its current price appeared. `view`: what Keepa's data of each product reflects (its
    last crawl); a deal is listed while that update is at most 12 h old."""
    ranges = sel.get("isRangeEnabled", True) is not False
    include = sel.get("includeCategories") or []
    exclude = sel.get("excludeCategories") or []
    words = str(sel.get("titleSearch") or "").lower().split()
    out = []
    for asin in cat.asins:
        seen = view(asin, now) if view else now
        p, series = listing.deal_view(cat, asin, seen - max(DATE_RANGE_DAYS.values()) * DAY)
        if now - views.last_update(p, seen) > DEAL_MAX_AGE_MIN or p.tracking_since > now:
            continue
        cats = {BOOKS_ROOT, p.category[0]}
        if include and not cats & set(include) or exclude and cats & set(exclude):
            continue
        if words and not all(w in p.title.lower() for w in words):
            continue
        d = views.deal_json(p, series, seen, pt, date_range)
        cur = d["current"][pt]
        if cur <= 0:
            continue
        if sel.get("mustHaveAmazonOffer") is True and d["current"][0] <= 0:
            continue
        if sel.get("mustNotHaveAmazonOffer") is True and d["current"][0] > 0:
            continue
        if ranges:
            rank = d["current"][CSV["SALES"]]
            if not _in_range(cur, _range(sel, "currentRange")):
                continue
            if _range(sel, "salesRankRange") and (rank <= 0 or not
                                                  _in_range(rank, _range(sel, "salesRankRange"))):
                continue
            if not _in_range(d["deltaPercent"][date_range][pt], _range(sel, "deltaPercentRange")):
                continue
            if not _in_range(d["delta"][date_range][pt], _range(sel, "deltaRange")):
                continue
            if not _in_range(d["deltaLast"][pt], _range(sel, "deltaLastRange")):
                continue
        out.append(d)
    if found is not None:
        first = "listed" not in found
        known = found.get("listed", {})
        for d in out:
            d["creationDate"] = known.get(d["asin"], d["creationDate"] if first else now)
        found["listed"] = {d["asin"]: d["creationDate"] for d in out}
    sort_type = _num(sel, "sortType", 1) or 1
    keys = {1: lambda d: -d["creationDate"], 2: lambda d: -d["delta"][date_range][pt],
            3: lambda d: d["current"][CSV["SALES"]] if d["current"][CSV["SALES"]] > 0 else 1 << 40,
            4: lambda d: -d["deltaPercent"][date_range][pt]}
    if abs(sort_type) not in keys:
        raise BadRequest("sortType must be 1..4 (negative to reverse)")
    out.sort(key=lambda d: (keys[abs(sort_type)](d), d["asin"]), reverse=sort_type < 0)
    return out[:10_000]


def query(cat: Catalog, params: dict[str, str], body: bytes | None, now: int
          ) -> tuple[dict, int]:
    _check_params(params, QUERY_PARAMS)
    _domain(params)
    sel = parse_selection(params, body)
    per_page = _num(sel, "perPage", 50)
    page = _num(sel, "page", 0)
    if per_page < 50 or page < 0 or page * per_page > 10_000:
        raise BadRequest("perPage must be >= 50 and page x perPage <= 10000")
    filters, reach = [], 0  # reach: the longest average asked for, in days
    for name, value in sel.items():
        if name in ("page", "perPage", "sort", "productType"):
            continue
        if name == "rootCategory":
            filters.append(lambda p, s, v=value: BOOKS_ROOT in (v if isinstance(v, list) else [v]))
            continue
        if name == "title":
            filters.append(lambda p, s, v=str(value).lower(): v in p.title.lower())
            continue
        m = QUERY_FIELD.match(name)
        if not m or m.group(2) not in CSV or not isinstance(value, int):
            raise BadRequest(f"unsupported Product Finder field {name}")
        metric, idx, op = m.group(1), CSV[m.group(2)], m.group(3)
        reach = max(reach, int(metric[3:]) if metric.startswith("avg") else 0)
        filters.append(lambda p, s, metric=metric, idx=idx, op=op, v=value:
                       _query_match(p, s, metric, idx, op, v, now))
    hits = []
    for asin in cat.asins:
        p, s = listing.deal_view(cat, asin, now - reach * DAY)
        if p.tracking_since > now:
            continue
        if all(f(p, s) for f in filters):
            rank = s[3].at(now)
            hits.append((rank if rank > 0 else 1 << 40, p.asin))
    hits.sort()
    asins = [asin for _, asin in hits[page * per_page:(page + 1) * per_page]]
    return {"asinList": asins, "totalResults": len(hits)}, \
        TOKENS_PER_QUERY + math.ceil(len(asins) / 100)


def _query_match(p, series, metric: str, idx: int, op: str, value: int, now: int) -> bool:
    s = series.get(idx)
    if s is None:
        return False
    if metric == "current":
        x = s.at(now)
    elif metric == "lastPriceChange":
        x = s.since(now)
    else:
        x = s.mean(now - int(metric[3:]) * DAY, now)
    if x < 0:
        return False
    return x <= value if op == "lte" else x >= value

"""The simulator must look like Keepa (keepa-api.md): field names, types, sentinels, layouts,
prices and the token bucket. Requests go through real HTTP to the in-process server."""

from __future__ import annotations

import gzip
import json

import pytest
import requests

from arbitrage_cli.keepa.constants import CSV, CSV_SIZE, csv_has_shipping
from arbitrage_cli.simulator import Catalog
from arbitrage_cli.simulator.faults import FaultPlan
from tests.conftest import SENTINEL_KEY, SIM_EPOCH

ENVELOPE = {"timestamp": int, "tokensLeft": int, "refillIn": int, "refillRate": int,
            "tokenFlowReduction": float, "tokensConsumed": int, "processingTimeInMs": int}


def get(server, endpoint, **params):
    return requests.get(f"{server.url}/{endpoint}", params={"key": SENTINEL_KEY, **params},
                        timeout=10)


def assert_envelope(body):
    for field, typ in ENVELOPE.items():
        assert isinstance(body[field], typ), (field, body.get(field))
    assert 0 <= body["refillIn"] < 60_000


@pytest.fixture
def sim(sim_factory):
    return sim_factory(refill_rate=20)


def deal_page(server, **sel):
    selection = {"page": 0, "domainId": 1, "priceTypes": [2], "dateRange": 3, "sortType": 1}
    selection.update(sel)
    return get(server, "deal", selection=json.dumps(selection))


def some_asins(catalog, n):
    return catalog.asins[:n]


def test_product_with_offers_has_keepa_shape(sim, catalog):
    _, server = sim
    r = get(server, "product", domain=1, asin=",".join(some_asins(catalog, 3)), offers=20,
            stats=365, history=1)
    assert r.status_code == 200
    body = r.json()
    assert_envelope(body)
    assert len(body["products"]) == 3
    for p in body["products"]:
        assert isinstance(p["asin"], str) and len(p["asin"]) == 10
        assert p["productType"] == 0 and p["domainId"] == 1 and p["rootCategory"] == 283155
        assert isinstance(p["title"], str) and isinstance(p["categoryTree"], list)
        assert len(p["csv"]) == CSV_SIZE
        for i, series in enumerate(p["csv"]):
            if series is None:
                continue
            width = 3 if csv_has_shipping(i) else 2
            assert len(series) % width == 0, (i, len(series))
            times = series[::width]
            assert times == sorted(times)
            assert all(isinstance(v, int) for v in series)
        st = p["stats"]
        for name in ("current", "avg", "avg30", "avg90", "avg180", "avg365", "atIntervalStart",
                     "min", "max", "minInInterval", "maxInInterval", "isLowest", "isLowest90",
                     "outOfStockPercentage30", "outOfStockPercentage90"):
            assert len(st[name]) == CSV_SIZE, name
        assert all(isinstance(v, int) for v in st["current"])
        for name in ("salesRankDrops30", "salesRankDrops90", "salesRankDrops180",
                     "salesRankDrops365", "totalOfferCount", "lastOffersUpdate"):
            assert isinstance(st[name], int), name
        assert p["offersSuccessful"] is True
        assert isinstance(p["variableClosingFee"], int)
        assert isinstance(p["referralFeePercentage"], (int, float))
        assert p["fbaFees"] is None or set(p["fbaFees"]) == {"lastUpdate", "pickAndPackFee"}
        for o in p["offers"]:
            assert set(o) >= {"offerId", "lastSeen", "sellerId", "offerCSV", "condition",
                              "isPrime", "isMAP", "isShippable", "isAmazon", "isFBA"}
            assert len(o["offerCSV"]) % 3 == 0 and len(o["offerCSV"]) >= 3
        # liveOffersOrder indexes the live offers; they were seen at the last offers update,
        # the historical ones earlier (keepa-api.md §2.6).
        live = set(p["liveOffersOrder"])
        assert all(0 <= i < len(p["offers"]) for i in live)
        for i, o in enumerate(p["offers"]):
            if i in live:
                assert o["lastSeen"] == st["lastOffersUpdate"]
            else:
                assert o["lastSeen"] < st["lastOffersUpdate"]
        # stats for _SHIPPING types are landed prices; USED is the lowest item price
        used_live = [p["offers"][i] for i in live if p["offers"][i]["condition"] in (2, 3, 4, 5)]
        if used_live:
            assert st["current"][CSV["USED"]] == min(o["offerCSV"][-2] for o in used_live)
            assert st["current"][CSV["COUNT_USED"]] == len(used_live)


def test_historical_offers_present_and_some_cheaper_than_live(sim, catalog):
    _, server = sim
    r = get(server, "product", domain=1, asin=",".join(catalog.asins[:20]), offers=20, stats=90)
    cheaper = 0
    for p in r.json()["products"]:
        live = set(p["liveOffersOrder"])
        assert len(p["offers"]) >= len(live)
        hist = [o["offerCSV"][-2] for i, o in enumerate(p["offers"]) if i not in live]
        lv = [o["offerCSV"][-2] for i, o in enumerate(p["offers"]) if i in live]
        if hist and lv and min(hist) < min(lv):
            cheaper += 1
    assert cheaper >= 1, "the catalog must contain historical offers cheaper than live ones"


def test_catalog_has_the_cases_analysis_needs():
    catalog = Catalog(seed=11, products=80, now=SIM_EPOCH)
    now = catalog.created
    ps = catalog.all_products()
    offers = [o for p in ps for o in p.offers if o.live_at(now)]
    assert any(not o.is_fba and o.prices[-1][2] == -1 for o in offers), "MFN shipping -1"
    assert any(o.is_fba and o.prices[-1][2] == -1 for o in offers), "FBA shipping -1"
    assert any(o.prices[-1][2] == 0 for o in offers), "free shipping"
    assert any(p.amazon_prices for p in ps), "Amazon sells some items"
    assert any(not any(o.live_at(now) and o.condition in (2, 3, 4, 5) for o in p.offers)
               for p in ps), "items with no used offer"
    sellers = [o.seller_id for o in offers]
    assert max(sellers.count(s) for s in set(sellers)) >= 5, "big sellers recur"


def test_same_seed_same_catalog():
    a = Catalog(seed=5, products=5, now=SIM_EPOCH)
    b = Catalog(seed=5, products=5, now=SIM_EPOCH)
    c = Catalog(seed=6, products=5, now=SIM_EPOCH)
    assert a.asins == b.asins != c.asins
    pa, pb = a.product(a.asins[2]), b.product(b.asins[2])
    assert pa.rank_points == pb.rank_points and pa.title == pb.title


def test_history_0_and_days_and_only_live(sim, catalog):
    _, server = sim
    asin = catalog.asins[0]
    p = get(server, "product", domain=1, asin=asin, history=0).json()["products"][0]
    assert p["csv"] is None and "salesRanks" not in p
    full = get(server, "product", domain=1, asin=asin).json()["products"][0]
    short = get(server, "product", domain=1, asin=asin, days=30).json()["products"][0]
    assert len(short["csv"][CSV["SALES"]]) < len(full["csv"][CSV["SALES"]])
    live = get(server, "product", domain=1, asin=asin, offers=20, update=0,
               **{"only-live-offers": 1}).json()["products"][0]
    assert sorted(live["liveOffersOrder"]) == list(range(len(live["offers"])))


def test_product_costs_follow_keepa_pricing(sim, catalog):
    s, server = sim
    asins = catalog.asins[:4]
    r = get(server, "product", domain=1, asin=",".join(asins))
    assert r.json()["tokensConsumed"] == 4  # 1 per product without offers
    r = get(server, "product", domain=1, asin=",".join(asins), offers=20).json()
    expected = sum(6 * max(1, -(-min(len(p["liveOffersOrder"]), 20) // 10))
                   for p in r["products"])
    assert r["tokensConsumed"] == expected
    # offers collected less than `update` hours ago are served from cache for 5 tokens flat
    again = get(server, "product", domain=1, asin=asins[0], offers=20).json()
    assert again["tokensConsumed"] == 5
    assert [rec.tokens_consumed for rec in s.log] == [4, expected, 5]


def test_seller_costs_one_per_found_seller(sim, catalog):
    _, server = sim
    ids = [catalog.sellers[0].seller_id, catalog.sellers[1].seller_id, "A0000000000NOPE"]
    body = get(server, "seller", domain=1, seller=",".join(ids)).json()
    assert body["tokensConsumed"] == 2
    assert set(body["sellers"]) == set(ids[:2])
    seller = body["sellers"][ids[0]]
    for field, typ in {"sellerId": str, "sellerName": str, "trackedSince": int,
                       "currentRating": int, "currentRatingCount": int, "ratingCount": list,
                       "positiveRating": list, "hasFBA": bool}.items():
        assert isinstance(seller[field], typ), field
    assert 0 <= seller["currentRating"] <= 100


def test_deal_endpoint_pages_filters_and_costs(sim, catalog):
    _, server = sim
    body = deal_page(server).json()
    assert_envelope(body)
    assert body["tokensConsumed"] == 5
    dr = body["deals"]["dr"]
    assert 0 < len(dr) <= 150
    d = dr[0]
    for name in ("current", "currentSince", "deltaLast"):
        assert len(d[name]) == CSV_SIZE
    for name in ("delta", "deltaPercent", "avg"):
        assert len(d[name]) == 4 and len(d[name][0]) == CSV_SIZE  # [dateRange][csvType]
    assert isinstance(d["image"], list) and all(isinstance(c, int) for c in d["image"])
    # sortType 1: deal age, newest first
    ages = [x["creationDate"] for x in dr]
    assert ages == sorted(ages, reverse=True)
    # sortType 4: percentage delta (desc), not "last update"
    by_pct = deal_page(server, sortType=4).json()["deals"]["dr"]
    pcts = [x["deltaPercent"][3][2] for x in by_pct]
    assert pcts == sorted(pcts, reverse=True)
    # range filters
    rng = deal_page(server, currentRange=[2000, 4000]).json()["deals"]["dr"]
    assert all(2000 <= x["current"][2] <= 4000 for x in rng)
    assert rng and len(rng) < len(dr)  # the range filter kept some and dropped some
    # a string where Keepa wants an integer is ignored, as Keepa does
    ignored = deal_page(server, currentRange=["2000", "4000"]).json()["deals"]["dr"]
    assert len(ignored) == len(dr)


def test_query_and_token_endpoints(sim, catalog):
    _, server = sim
    sel = {"rootCategory": [283155], "current_SALES_gte": 1, "perPage": 50}
    body = get(server, "query", domain=1, selection=json.dumps(sel)).json()
    assert isinstance(body["asinList"], list) and isinstance(body["totalResults"], int)
    assert body["tokensConsumed"] == 10 + 1
    tok = get(server, "token").json()
    assert_envelope(tok) if "processingTimeInMs" in tok else None
    assert tok["tokensConsumed"] == 0


@pytest.mark.parametrize("params,status", [
    ({"domain": 1, "asin": "0000000000", "bogus": 1}, 400),  # unknown parameter
    ({"domain": 1, "asin": "0000000000", "offers": 10}, 405),  # offers out of 20..100
    ({"domain": 99, "asin": "0000000000"}, 400),
])
def test_errors_carry_envelope_and_cost_nothing(sim, params, status):
    _, server = sim
    r = get(server, "product", **params)
    assert r.status_code == status
    body = r.json()
    assert_envelope(body)
    assert body["tokensConsumed"] == 0
    assert body["error"]["type"]


def test_unknown_path_and_bad_and_expired_keys(sim_factory):
    sim, server = sim_factory(keys={SENTINEL_KEY}, expired_keys={"EXPIRED"})
    assert requests.get(f"{server.url}/deals", params={"key": SENTINEL_KEY}).status_code == 404
    bad = requests.get(f"{server.url}/token", params={"key": "nope"})
    assert bad.status_code == 400 and "tokensLeft" in bad.json()
    sim.keys = None
    assert requests.get(f"{server.url}/token", params={"key": "EXPIRED"}).status_code == 402


def test_bucket_runs_into_negative_then_refuses_with_429(sim_factory, catalog, clock):
    sim, server = sim_factory(refill_rate=5, tokens=3)
    asins = ",".join(catalog.asins[:3])
    r = get(server, "product", domain=1, asin=asins, offers=20)
    assert r.status_code == 200  # balance 3 > 0: executed although it costs more
    left = r.json()["tokensLeft"]
    assert left < 0
    r = get(server, "product", domain=1, asin=asins)
    assert r.status_code == 429
    body = r.json()
    assert body["tokensConsumed"] == 0 and body["tokensLeft"] == left and "error" not in body
    # refills: +rate per minute, capped at 60 x rate
    clock.advance(10 * 3600)
    assert get(server, "token").json()["tokensLeft"] == 5 * 60


def test_gzip_when_asked(sim):
    _, server = sim
    raw = requests.get(f"{server.url}/token", params={"key": SENTINEL_KEY},
                       headers={"Accept-Encoding": "gzip"}, stream=True)
    assert raw.headers["Content-Encoding"] == "gzip"
    assert "tokensLeft" in json.loads(gzip.decompress(raw.raw.read()))


def test_time_moves_products(catalog, clock, sim_factory):
    cat = Catalog(seed=11, products=30, now=SIM_EPOCH)
    sim, server = sim_factory(catalog=cat)
    asins = ",".join(cat.asins)
    before = {p["asin"]: p["lastUpdate"] for p in
              get(server, "product", domain=1, asin=asins).json()["products"]}
    clock.advance(6 * 3600)
    after = {p["asin"]: p["lastUpdate"] for p in
             get(server, "product", domain=1, asin=asins).json()["products"]}
    moved = [a for a in before if after[a] > before[a]]
    assert moved and all(after[a] >= before[a] for a in before)


def test_fault_plan_parse_and_draw():
    plan = FaultPlan.parse("429=0.5,storm429=2,timeout_s=1", seed=1)
    assert [plan.draw(), plan.draw()] == ["429", "429"]
    draws = [plan.draw() for _ in range(200)]
    assert 60 < draws.count("429") < 140
    with pytest.raises(ValueError):
        FaultPlan.parse("explode=1")


def test_offersfail_returns_historical_offers_only(sim_factory, catalog):
    sim, server = sim_factory(faults=FaultPlan({"offersfail": 1.0}))
    body = get(server, "product", domain=1, asin=catalog.asins[0], offers=20, stats=30).json()
    p = body["products"][0]
    assert p["offersSuccessful"] is False and "liveOffersOrder" not in p
    assert body["tokensConsumed"] == 1

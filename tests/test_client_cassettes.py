"""The client on recorded Keepa HTTP (recorded from the simulator; key redacted).

Replay needs no server: the base URL points nowhere. Re-record with
`pytest tests/test_client_cassettes.py --record-mode=rewrite`.
"""

from __future__ import annotations

import pytest

from arbitrage_cli.clock import FakeClock
from arbitrage_cli.keepa.budget import TokenBudget
from arbitrage_cli.keepa.client import KeepaClient
from arbitrage_cli.simulator import Catalog, KeepaSimulator, start_simulator
from arbitrage_cli.store import open_db
from tests.conftest import CASSETTE_DIR, SENTINEL_KEY, SIM_EPOCH

CAT = dict(seed=21, products=12, now=SIM_EPOCH)


@pytest.fixture
def client(request):
    clock = FakeClock(SIM_EPOCH)
    server = None
    if request.config.getoption("--record-mode") in (None, "none"):
        url = "http://keepa.invalid"  # replay only: any real connection would fail
    else:
        server = start_simulator(KeepaSimulator(Catalog(**CAT), clock=clock, refill_rate=20))
        url = server.url
    yield KeepaClient(SENTINEL_KEY, base_url=url, budget=TokenBudget(open_db(":memory:"), clock),
                      clock=clock)
    if server:
        server.stop()


ASINS = Catalog(**CAT).asins


@pytest.mark.vcr
def test_product_with_offers(client):
    body = client.product(ASINS[:2], offers=20, stats=90)
    products = body["products"]
    assert [p["asin"] for p in products] == ASINS[:2]
    for p in products:
        assert p["offersSuccessful"] is True
        assert all(0 <= i < len(p["offers"]) for i in p["liveOffersOrder"])
        assert len(p["csv"]) == 36 and len(p["stats"]["current"]) == 36
    assert client.tokens_consumed == body["tokensConsumed"] > 0
    assert client.budget.snapshot().tokens_left == body["tokensLeft"]


@pytest.mark.vcr
def test_seller_deal_query_token(client):
    deals = client.deal({"priceTypes": [2], "dateRange": 3, "sortType": 1, "page": 0})
    dr = deals["deals"]["dr"]
    assert dr and all(len(d["asin"]) == 10 for d in dr)
    product = client.product([dr[0]["asin"]], offers=20, stats=90)["products"][0]
    live = [product["offers"][i] for i in product["liveOffersOrder"]]
    sellers = client.seller([o["sellerId"] for o in live][:3])["sellers"]
    assert sellers and all(isinstance(s["sellerName"], str) for s in sellers.values())
    found = client.query({"rootCategory": [283155], "current_SALES_gte": 1, "perPage": 50})
    assert found["totalResults"] >= len(found["asinList"]) > 0
    assert client.token()["tokensConsumed"] == 0


def test_cassettes_exist_and_hold_no_key():
    files = list(CASSETTE_DIR.glob("*.yaml"))
    assert len(files) >= 2
    for f in files:
        text = f.read_text()
        assert SENTINEL_KEY not in text
        assert "key=REDACTED" in text


def test_matcher_ignores_key_and_selection_key_order():
    from types import SimpleNamespace

    from tests.conftest import _keepa_query

    a = SimpleNamespace(uri='http://x/deal?key=A&selection={"page":0,"priceTypes":[2]}')
    b = SimpleNamespace(uri='http://y/deal?key=REDACTED&selection={"priceTypes":[2],"page":0}')
    c = SimpleNamespace(uri='http://y/deal?key=A&selection={"priceTypes":[2],"page":1}')
    _keepa_query(a, b)
    with pytest.raises(AssertionError):
        _keepa_query(a, c)

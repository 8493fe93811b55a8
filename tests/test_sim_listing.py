"""The simulator's deal listing reads each product's listing (simulator/listing.py), a cut of
the whole product: the answers must be the ones the whole product gives, whether the
listings are built in one process or several, and a product a test changes must be answered
from the whole product, never from a stale listing."""

from __future__ import annotations

import json

import pytest

from arbitrage_cli.keepa.constants import CSV, DATE_RANGE_DAYS
from arbitrage_cli.simulator import Catalog, endpoints, listing, views
from arbitrage_cli.simulator.catalog import DAY, KEPT_PRODUCTS
from tests.conftest import SIM_EPOCH


@pytest.fixture(scope="module")
def cat():
    c = Catalog(seed=5, products=120, now=SIM_EPOCH)
    listing.build_all(c, workers=1)
    return c


def moments(c: Catalog) -> list[int]:
    return [c.created, c.created + DAY + 17, c.created + 20 * DAY + 611, c.horizon]


def test_a_listing_answers_every_deal_field_as_the_whole_product(cat):
    compared = 0
    for asin in cat.asins:
        item = listing.listing(cat, asin)
        p = cat.product(asin)
        whole = views.build_series(p)
        assert set(item.series) == set(whole)
        assert len(item.change_times) < len(p.change_times) or p.tracking_since > item.since
        for t in moments(cat):
            assert views.last_update(item, t) == views.last_update(p, t)
            for dr in DATE_RANGE_DAYS:
                for pt in (CSV["USED"], CSV["NEW"], CSV["AMAZON"]):
                    assert views.deal_json(item, item.series, t, pt, dr) == \
                        views.deal_json(p, whole, t, pt, dr), (asin, t, dr, pt)
                    compared += 1
    assert compared > 1000


def test_listings_built_by_worker_processes_are_the_same(cat):
    other = Catalog(**cat.args)
    listing.build_all(other, workers=2)  # 120 products: more than two chunks, so processes
    assert set(other.listings) == set(range(120))
    t = cat.created + 3 * DAY
    for i, asin in enumerate(cat.asins):
        a, b = cat.listings[i], other.listings[i]
        for pt in (CSV["USED"], CSV["SALES"]):
            assert views.deal_json(a, a.series, t, pt, 2) == views.deal_json(b, b.series, t, pt, 2)


def _deal_asins(c: Catalog, now: int) -> list[str]:
    sel = {"domainId": 1, "priceTypes": [CSV["USED"]], "dateRange": 1, "sortType": 4,
           "deltaPercentRange": [10, 100]}
    return [d["asin"] for d in endpoints._deal_list(c, sel, CSV["USED"], 1, now)]


def test_the_deal_listing_and_product_finder_match_whole_products(cat):
    whole = Catalog(**cat.args)  # every product changed: none answers from a listing
    for asin in whole.asins:
        whole.reprice(asin, whole.created - 10**7, 1.0)  # before any history: no change
    now = cat.created + 2 * DAY
    assert _deal_asins(cat, now) == _deal_asins(whole, now)
    assert len(_deal_asins(cat, now)) > 5
    for field in ("avg90_USED_gte", "avg365_USED_gte"):  # 365 days: beyond any listing
        body = json.dumps({"productType": 0, field: 1500, "perPage": 50}).encode()
        ours, _ = endpoints.query(cat, {"domain": "1"}, body, now)
        theirs, _ = endpoints.query(whole, {"domain": "1"}, body, now)
        assert ours == theirs and ours["totalResults"] > 0


def test_a_changed_product_is_listed_as_changed(cat):
    c = Catalog(**cat.args)
    listing.build_all(c, workers=1)
    now = c.created + DAY
    sel = {"domainId": 1, "priceTypes": [CSV["USED"]], "dateRange": 0, "isRangeEnabled": False}
    before = {d["asin"]: d for d in endpoints._deal_list(c, sel, CSV["USED"], 0, now)}
    asin = next(a for a, d in before.items() if d["current"][CSV["USED"]] > 1000)
    c.reprice(asin, now - 5, 0.5)
    after = {d["asin"]: d for d in endpoints._deal_list(c, sel, CSV["USED"], 0, now)}
    assert after[asin]["current"][CSV["USED"]] < before[asin]["current"][CSV["USED"]]
    assert after[asin]["currentSince"][CSV["USED"]] == now - 5
    assert listing.listing(c, asin) is None  # never the stale listing again


def test_whole_products_are_kept_for_the_most_recently_used_only():
    c = Catalog(seed=5, products=KEPT_PRODUCTS + 40, now=SIM_EPOCH)
    first = c.product(c.asins[0])
    for asin in c.asins:
        c.product(asin)
    assert len(c._products) == KEPT_PRODUCTS
    again = c.product(c.asins[0])  # dropped, generated anew: the same product
    assert again is not first
    assert [(s.time, s.price) for s in again.sales] == [(s.time, s.price) for s in first.sales]
    assert list(again.rank_points) == list(first.rank_points)


def test_a_sweep_from_a_minute_on_has_the_whole_sweeps_points_from_then():
    """From `since` on: the point in effect then at its own minute, the value before it, and
    every later point, as the sweep over the whole history has them."""
    c = Catalog(seed=9, products=80, now=SIM_EPOCH)
    checked = 0
    for i in range(80):
        p = c.generate(i)
        whole = views.series_points(p)
        for since in (c.created - 95 * DAY, c.created - 400 * DAY, p.tracking_since + 7,
                      c.horizon + DAY):
            part = views.series_points(p, since)
            assert set(part) == set(whole)
            for idx, (pts, ships) in whole.items():
                k = max(0, sum(1 for t, _ in pts if t <= since) - 1)  # in effect at since
                got, got_ships = part[idx]
                assert got[-(len(pts) - k):] == pts[k:], (i, idx, since)
                if ships is not None:
                    assert got_ships[-(len(pts) - k):] == ships[k:]
                if k >= 1:
                    assert got[-(len(pts) - k) - 1][1] == pts[k - 1][1]  # the value before
                    checked += 1
    assert checked > 500


def test_a_product_repriced_at_a_minute_it_already_had_is_answered_anew():
    c = Catalog(seed=5, products=40, now=SIM_EPOCH)
    now = c.created + DAY
    asin = next(a for a in c.asins
                if views.build_series(c.product(a))[CSV["USED"]].at(now) > 1000)
    p = c.product(asin)
    before = views.build_series(p)[CSV["USED"]].at(now)  # built and cached on the product
    at = max(t for t in p.change_times if t <= now)  # a minute the product already changed at
    c.reprice(asin, at, 0.5)
    assert views.build_series(c.product(asin))[CSV["USED"]].at(now) < before

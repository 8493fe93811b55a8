"""Seed rule 2: the cheapest live used offer by landed price, on Keepa-shaped products."""

from __future__ import annotations

from arbitrage_cli.analysis.offers import (GHOST_OFFER, NO_LIVE_USED_OFFER, OFFERS_UNKNOWN,
                                           select_offer)
from tests.keepa_fixtures import DAY, NOW, offer, product

BIG, SMALL, OTHER = "A2BIGSELLER0001", "A3SMALLSELLER02", "A4OTHERSELLER03"


def test_historical_offer_cheaper_than_live_ones_is_ignored():
    offers = [offer(0, BIG, 900, 399, last_seen=NOW - 40 * DAY),  # sold weeks ago
              offer(1, SMALL, 2500, 399), offer(2, OTHER, 2300, 399)]
    choice = select_offer(product(offers=offers, live=[2, 1]))
    assert choice.winner.index == 2 and choice.winner.landed_cents == 2699
    assert {c.index: c.verdict for c in choice.candidates} == {0: "historical", 1: "pricier",
                                                               2: "winner"}


def test_landed_price_not_item_price_decides():
    offers = [offer(0, BIG, 2000, 599), offer(1, SMALL, 2300, 0)]
    assert select_offer(product(offers=offers)).winner.seller_id == SMALL


def test_only_merchant_offers_with_unknown_shipping_is_a_ghost():
    offers = [offer(0, BIG, 1500, -1), offer(1, SMALL, 1700, -1)]
    choice = select_offer(product(offers=offers))
    assert choice.winner is None and choice.reason == GHOST_OFFER
    assert {c.verdict for c in choice.candidates} == {"ghost_mfn_shipping"}


def test_fba_with_unknown_shipping_counts_zero():
    offers = [offer(0, BIG, 1800, -1, fba=True), offer(1, SMALL, 1500, 399)]
    w = select_offer(product(offers=offers)).winner
    assert w.seller_id == BIG and w.landed_cents == 1800 and w.is_fba


def test_undetermined_shipping_or_price_is_rejected():
    offers = [offer(0, BIG, 1000, -2), offer(1, SMALL, -2, 399), offer(2, OTHER, 2000, 399)]
    choice = select_offer(product(offers=offers))
    assert choice.winner.index == 2
    assert choice.candidates[0].verdict == "unknown_shipping"
    assert choice.candidates[1].verdict == "no_price"


def test_no_used_offers_only_new_and_amazon():
    offers = [offer(0, "ATVPDKIKX0DER", 3000, 0, condition=1, fba=True),
              offer(1, BIG, 2800, 399, condition=1), offer(2, SMALL, 900, 399, condition=7)]
    choice = select_offer(product(offers=offers))
    assert choice.winner is None and choice.reason == NO_LIVE_USED_OFFER


def test_offers_fetch_failed_is_unknown_not_no_competition():
    offers = [offer(0, BIG, 1000, 399, last_seen=NOW - 9 * DAY)]
    choice = select_offer(product(offers=offers, successful=False))
    assert choice.winner is None and choice.reason == OFFERS_UNKNOWN


def test_listed_live_but_not_seen_at_last_refresh_is_stale():
    offers = [offer(0, BIG, 1000, 399, last_seen=NOW - 2 * DAY), offer(1, SMALL, 2000, 399)]
    choice = select_offer(product(offers=offers))
    assert choice.winner.index == 1 and choice.candidates[0].verdict == "stale"


def test_ties_broken_by_condition_then_fba_deterministically():
    offers = [offer(0, BIG, 2000, 0, condition=4), offer(1, SMALL, 2000, 0, condition=3),
              offer(2, OTHER, 2000, 0, condition=3, fba=True)]
    for order in ([0, 1, 2], [2, 1, 0], [1, 0, 2]):
        assert select_offer(product(offers=offers, live=order)).winner.index == 2


def test_duplicates_in_live_order_and_bad_indexes_are_harmless():
    offers = [offer(0, BIG, 2000, 0), offer(1, SMALL, 1500, 0)]
    choice = select_offer(product(offers=offers, live=[1, 1, 7, -1, "x"]))
    assert choice.winner.index == 1 and choice.live_count == 1


def test_simulator_products_never_pick_a_historical_or_ghost_offer(sim_factory, catalog):
    import requests

    from tests.conftest import SENTINEL_KEY

    _, server = sim_factory()
    body = requests.get(f"{server.url}/product", params={
        "key": SENTINEL_KEY, "asin": ",".join(catalog.asins[:20]), "offers": 20,
        "stats": 90}).json()
    picked = 0
    for p in body["products"]:
        choice = select_offer(p)
        if choice.winner:
            picked += 1
            o = p["offers"][choice.winner.index]
            assert choice.winner.index in p["liveOffersOrder"]
            assert o["condition"] in (2, 3, 4, 5)
            assert o["isFBA"] or o["offerCSV"][-1] >= 0
            landed = [p["offers"][i]["offerCSV"][-2] + max(0, p["offers"][i]["offerCSV"][-1])
                      for i in p["liveOffersOrder"] if p["offers"][i]["condition"] in (2, 3, 4, 5)
                      and (p["offers"][i]["isFBA"] or p["offers"][i]["offerCSV"][-1] >= 0)
                      and p["offers"][i]["offerCSV"][-2] > 0]
            assert choice.winner.landed_cents == min(landed)
    assert picked >= 10

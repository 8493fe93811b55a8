"""Inferred sales and List-at on Keepa-shaped csv arrays (domain.md §3.1-3.3, R16, R19)."""

from __future__ import annotations

import dataclasses

import pytest

from arbitrage_cli.analysis.deal import NO_INFERRED_SALES, analyse
from arbitrage_cli.analysis.pricing import predict_list_at
from arbitrage_cli.analysis.sales import Sale, infer_sales, percentile
from arbitrage_cli.analysis.sellers import seller_rating, wilson_lower_bound
from tests.keepa_fixtures import DAY, HOUR, NOW, offer, product, sales_history

SELLER = {"sellerId": "A2BIGSELLER0001", "sellerName": "Big Books", "currentRating": 98,
          "currentRatingCount": 1250}


def p_with(csv, **kw):
    return product(offers=[offer(0, "A2BIGSELLER0001", 1500, 399)], csv=csv, **kw)


def test_same_minute_offer_and_rank_drop_is_a_sale():
    h = sales_history([NOW - 10 * DAY], rank_delay=0)
    inf = infer_sales(p_with(h), NOW)
    assert inf.used_drops == 1 and inf.used_confirmed == 1
    assert inf.sales[0].confirmed_by == "window"


@pytest.mark.parametrize("delay_h,confirmed", [(0, True), (239, True), (240, True),
                                                (241, False)])
def test_240_hour_window_inclusive(delay_h, confirmed):
    # the fixture also reports a worse rank 3 days after the drop, so past the window the
    # lookahead (next report after the drop) sees no improvement either
    h = sales_history([NOW - 40 * DAY], rank_delay=delay_h * HOUR)
    inf = infer_sales(p_with(h), NOW)
    assert inf.used_confirmed == int(confirmed)
    if confirmed:
        assert inf.sales[0].confirmed_by == "window"


def test_sparse_rank_history_uses_30_day_lookahead():
    t = NOW - 60 * DAY
    csv = {"COUNT_USED": [(t - 30 * DAY, 5), (t, 4)],
           "SALES": [(t - 30 * DAY, 900_000), (t + 20 * DAY, 200_000)],
           "USED": [(t - 30 * DAY, 3100)]}
    inf = infer_sales(p_with(csv), NOW)
    assert [s.confirmed_by for s in inf.sales] == ["lookahead"]
    csv["SALES"][1] = (t + 31 * DAY, 200_000)  # beyond 30 days: not evidence
    assert infer_sales(p_with(csv), NOW).sales == ()


def test_minus_one_placeholders_are_not_drops():
    t = NOW - 20 * DAY
    csv = {"COUNT_USED": [(t - 5 * DAY, 3), (t, -1), (t + DAY, 3), (t + 2 * DAY, -1)],
           "SALES": [(t - 5 * DAY, 500_000), (t + HOUR, 100_000), (t + 2 * DAY, -1)],
           "USED": [(t - 5 * DAY, 2000), (t, -1)]}
    inf = infer_sales(p_with(csv), NOW)
    assert inf.drops == 0 and inf.sales == ()


def test_price_is_the_copy_that_sold_not_the_next_one():
    h = sales_history([NOW - 10 * DAY], sale_prices=[2222])
    assert infer_sales(p_with(h), NOW).sales[0].price_cents == 2222


def test_unconfirmed_drops_lower_deal_trust():
    times = [NOW - d * DAY for d in (10, 40, 70, 100)]
    h = sales_history(times)
    h["COUNT_USED"].append((NOW - 5 * DAY, 0))  # a delisting: no rank move follows
    a = analyse(p_with(h), SELLER, now=NOW)
    assert a.sales.used_drops == 5 and a.sales.used_confirmed == 4
    assert a.row["deal_trust_pct"] == 80.0


def test_iqr_trims_outliers():
    times = [NOW - d * DAY for d in range(10, 130, 10)]
    prices = [2000, 2100, 1900, 2050, 1950, 2000, 2020, 9900, 1980, 2010, 2030, 1990]
    inf = infer_sales(p_with(sales_history(times, sale_prices=prices)), NOW)
    kept = [s.price_cents for s in inf.sales]
    assert inf.trimmed >= 1 and 9900 not in kept and 2000 in kept


def test_percentile_linear():
    assert percentile([1, 2, 3, 4], 0.25) == 1.75
    assert percentile([10], 0.75) == 10


def test_no_sales_no_list_at_and_no_fallback():
    csv = {"SALES": [(NOW - 30 * DAY, 300_000), (NOW - DAY, 310_000)],
           "COUNT_USED": [(NOW - 30 * DAY, 4), (NOW - DAY, 4)]}
    a = analyse(p_with(csv, avg={("avg90", "USED"): 5000, ("avg365", "USED"): 6000}),
                SELLER, now=NOW)
    assert a.row["list_at_cents"] is None and a.skip_reason == NO_INFERRED_SALES
    assert a.metrics.profit_cents is None and a.row["status"] == "skipped"


def _sales(prices_by_month):
    from arbitrage_cli.timefmt import keepa_minutes_from_epoch
    import datetime as dt

    out = []
    for month, prices in prices_by_month.items():
        base = keepa_minutes_from_epoch(dt.datetime(2025, month, 10, tzinfo=dt.timezone.utc)
                                        .timestamp())
        out += [Sale(base + i * HOUR, p, "used", "window") for i, p in enumerate(prices)]
    return out


def test_list_at_rules():
    one = predict_list_at(_sales({3: [2000]}), [], None)
    assert (one.list_at_cents, one.basis, one.peak_month) == (2000, "median", None)
    two = predict_list_at(_sales({3: [2000, 3001]}), [], None)
    assert two.list_at_cents == 2500 and two.basis == "median"
    # >= 3 sales: peak month by median; its mode when a price repeats (ties -> smaller)
    many = predict_list_at(_sales({1: [1000, 1100], 8: [3000, 3000, 3500, 3500, 2000],
                                   5: [1800]}), [], None)
    assert (many.peak_month, many.trough_month) == (8, 1)
    assert many.list_at_cents == 3000 and many.basis == "mode"
    assert many.trough_cents == 1050
    no_mode = predict_list_at(_sales({8: [3000, 3100, 3300], 2: [1000]}), [], None)
    assert no_mode.list_at_cents == 3100 and no_mode.basis == "median"


def test_amazon_ceiling_caps_recommended_price_only():
    la = predict_list_at(_sales({6: [5000, 5000, 5200]}), [5000, 6000, -1], 1500)
    assert la.capped and la.list_at_cents == 4500 and la.uncapped_cents == 5000
    assert not la.suspicious  # capped -> accepted (domain §3.3 step 3)


def test_hard_cap_and_three_x_tripwire():
    over = predict_list_at(_sales({6: [160_000]}), [], None)
    assert over.list_at_cents is None and over.rejected == "over_hard_cap"
    sus = predict_list_at(_sales({6: [9000]}), [], 2000)
    assert sus.list_at_cents == 9000 and sus.suspicious


@pytest.mark.parametrize("pct,n,score", [(98, 1250, 0.971), (95, 40, 0.835), (100, 5, 0.566),
                                         (100, 1, 0.207)])
def test_wilson_vectors(pct, n, score):
    assert wilson_lower_bound(pct, n) == pytest.approx(score, abs=0.0015)
    assert round(wilson_lower_bound(pct, n) * 10) == {0.971: 10, 0.835: 8, 0.566: 6,
                                                      0.207: 2}[score]


def test_seller_rating_sources_and_unknowns():
    assert seller_rating({"currentRating": 97, "currentRatingCount": 10}) == (97, 10)
    assert seller_rating({"currentRating": -1, "currentRatingCount": -1,
                          "csv": [[1, 90, 2, 95], [1, 4, 2, 8]]}) == (95, 8)
    assert seller_rating({"currentRating": -1, "csv": None}) == (None, None)
    assert wilson_lower_bound(None, 10) is None and wilson_lower_bound(90, 0) == 0.0


def test_full_analysis_row_on_a_good_deal():
    times = [NOW - d * DAY for d in (20, 50, 80, 110, 140, 170)]
    h = sales_history(times, sale_prices=[4000] * 6)
    p = product(offers=[offer(0, "A2BIGSELLER0001", 1200, 399),
                        offer(1, "A3SMALLSELLER02", 900, 399, last_seen=NOW - 90 * DAY)],
                live=[0], csv=h, current={"USED": 1200, "COUNT_USED": 3, "SALES": 150_000},
                avg={("avg30", "COUNT_USED"): 5})
    a = analyse(p, SELLER, now=NOW)
    r = a.row
    assert a.skip_reason is None and r["status"] == "deal"
    assert r["price_now_cents"] == 1599 and r["seller_name"] == "Big Books"
    assert r["list_at_cents"] == 4000 and r["sales_inferred"] == 6
    assert r["avg_1yr_cents"] == 4000 and r["recent_sale_cents"] == 4000
    assert r["offers_trend"] == "falling" and r["sales_rank"] == 150_000
    assert r["seller_quality"] == pytest.approx(0.971, abs=0.0015)
    assert a.metrics.profit_cents > 0
    assert all(not isinstance(v, str) or not v.startswith("$") for v in r.values())


def test_amazon_selling_the_item_caps_list_at_in_the_full_analysis():
    times = [NOW - d * DAY for d in (20, 50, 80)]
    h = sales_history(times, sale_prices=[6000] * 3)
    amz = offer(1, "ATVPDKIKX0DER", 5500, 0, condition=1, fba=True)
    p = product(offers=[offer(0, "A2BIGSELLER0001", 1500, 399), amz], csv=h,
                current={"AMAZON": 5500, "USED": 1500},
                avg={("avg180", "AMAZON"): 6000, ("avg365", "AMAZON"): 6500},
                availabilityAmazon=0)
    a = analyse(p, SELLER, now=NOW)
    assert a.row["amazon_selling"] == 1 and a.row["amazon_price_cents"] == 5500
    assert a.row["list_at_cents"] == 4950 and a.row["list_at_uncapped_cents"] == 6000
    assert a.row["list_at_capped"] == 1 and a.row["price_suspicious"] == 0
    assert a.offer.winner.seller_id == "A2BIGSELLER0001"  # Amazon's new offer is not used


def test_why_no_price_counts_in_words():
    from arbitrage_cli.analysis.sales import EMPTY, Sale, why_no_price

    assert why_no_price(dataclasses.replace(EMPTY, drops=1), 0) == \
        "1 offer drop, none confirmed by a sales-rank improvement: no sale to price from"
    assert why_no_price(dataclasses.replace(EMPTY, drops=3, confirmed=1), 0) == \
        "1 confirmed sale, all new-condition: no used sale to price from"
    old = Sale(time=1, price_cents=1000, kind="used", confirmed_by="window")
    one = dataclasses.replace(EMPTY, sales=(old,), drops=2, confirmed=2, used_confirmed=1)
    assert why_no_price(one, 0) == "1 used sale, none in the last year: no recent sale to " \
        "price from"
    assert why_no_price(one, 1) is None

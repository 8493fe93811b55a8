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
    assert inf.used_drops == 1 and inf.used_matched == 1
    (sale,) = inf.events
    assert sale.kind == "used" and sale.drop_time == sale.time == NOW - 10 * DAY


@pytest.mark.parametrize("drop_h,kind", [(-3, "used"), (0, "used"), (-1, "used"),
                                         (-4, "unknown"), (1, "unknown")])
def test_an_offer_drop_between_the_report_before_the_jump_and_the_jump_is_matched(drop_h, kind):
    """Rank reports at J - 3 h and J (a jump): a drop in [J - 3 h, J] is the sale's; one
    before the previous report or after the jump is not (the jump is still a sale, of
    unknown kind)."""
    j = NOW - 20 * DAY
    csv = {"SALES": [(j - 40 * HOUR, 900_000), (j - 3 * HOUR, 910_000), (j, 200_000),
                     (j + 3 * HOUR, 205_000)],
           "COUNT_USED": [(j - 50 * HOUR, 5), (j + drop_h * HOUR, 4)],
           "USED": [(j - 50 * HOUR, 3100)]}
    (sale,) = infer_sales(p_with(csv), NOW).events
    assert sale.kind == kind and sale.time == j
    assert (sale.price_cents == 3100) == (kind == "used")
    assert (sale.rank_before, sale.rank_after) == (910_000, 200_000)


@pytest.mark.parametrize("ratio,sale", [(0.949, True), (0.951, False), (0.99, False)])
def test_a_sale_is_a_rank_report_more_than_five_percent_below_the_one_before(ratio, sale):
    j = NOW - 20 * DAY
    csv = {"SALES": [(j - 5 * HOUR, 1_000_000), (j, int(1_000_000 * ratio))],
           "COUNT_USED": [(j - 50 * HOUR, 5), (j - HOUR, 4)], "USED": [(j - 50 * HOUR, 3100)]}
    inf = infer_sales(p_with(csv), NOW)
    assert len(inf.events) == int(sale) and inf.used_drops == 1


def test_one_jump_confirms_one_sale_of_several_drops():
    j = NOW - 20 * DAY
    csv = {"SALES": [(j - 10 * HOUR, 900_000), (j, 150_000)],
           "COUNT_USED": [(j - 20 * HOUR, 6), (j - 8 * HOUR, 5), (j - 4 * HOUR, 4),
                          (j - 2 * HOUR, 3)],
           "USED": [(j - 20 * HOUR, 2000), (j - 8 * HOUR, 2100), (j - 4 * HOUR, 2200),
                    (j - 2 * HOUR, 2300)]}
    inf = infer_sales(p_with(csv), NOW)
    (sale,) = inf.events
    assert inf.used_drops == 3 and inf.used_matched == 1
    assert sale.drop_time == j - 2 * HOUR and sale.price_cents == 2200  # the latest drop


def test_sparse_rank_history_looks_back_at_most_30_days():
    t = NOW - 60 * DAY
    csv = {"COUNT_USED": [(t - 30 * DAY, 5), (t, 4)],
           "SALES": [(t - 30 * DAY, 900_000), (t + 20 * DAY, 200_000)],
           "USED": [(t - 30 * DAY, 3100)]}
    (sale,) = infer_sales(p_with(csv), NOW).events
    assert sale.kind == "used" and sale.drop_time == t and sale.time == t + 20 * DAY
    csv["SALES"][1] = (t + 31 * DAY, 200_000)  # the drop is 31 days before the jump
    (sale,) = infer_sales(p_with(csv), NOW).events
    assert sale.kind == "unknown" and sale.price_cents is None


def test_minus_one_placeholders_are_not_drops():
    t = NOW - 20 * DAY
    csv = {"COUNT_USED": [(t - 5 * DAY, 3), (t, -1), (t + DAY, 3), (t + 2 * DAY, -1)],
           "SALES": [(t - 5 * DAY, 500_000), (t + HOUR, 100_000), (t + 2 * DAY, -1)],
           "USED": [(t - 5 * DAY, 2000), (t, -1)]}
    inf = infer_sales(p_with(csv), NOW)
    assert inf.drops == 0 and [e.kind for e in inf.events] == ["unknown"]
    assert inf.used_sales() == []


def test_price_is_the_copy_that_sold_not_the_next_one():
    h = sales_history([NOW - 10 * DAY], sale_prices=[2222])
    assert infer_sales(p_with(h), NOW).events[0].price_cents == 2222


def test_the_condition_that_sold_is_the_one_whose_lowest_offer_went_away():
    """Like New's lowest copy left at the drop while a cheaper Acceptable copy stayed: a Like
    New sale. Its price stays the lowest used price before the drop, the one a history-only
    answer (no per-condition series) also has, so the screen values the book the same."""
    h = sales_history([NOW - 10 * DAY], sale_prices=[1000], rank_delay=0)
    t = NOW - 10 * DAY
    h["USED_NEW_SHIPPING"] = [(t - 20 * DAY, 3000, 399), (t, 3500, 399)]
    h["USED_ACCEPTABLE_SHIPPING"] = [(t - 20 * DAY, 1000, 399)]
    (sale,) = infer_sales(p_with(h), NOW).events
    assert (sale.kind, sale.condition, sale.price_cents) == ("used", 2, 1000)
    without = {k: v for k, v in h.items() if not k.startswith("USED_")}
    assert infer_sales(p_with(without), NOW).events[0].price_cents == 1000
    h["USED_ACCEPTABLE_SHIPPING"].append((t, -1, -1))  # two conditions changed: unknown
    (sale,) = infer_sales(p_with(h), NOW).events
    assert (sale.condition, sale.price_cents) == (None, 1000)


def test_unconfirmed_drops_lower_deal_trust():
    times = [NOW - d * DAY for d in (10, 40, 70, 100)]
    h = sales_history(times)
    h["COUNT_USED"].append((NOW - 5 * DAY, 0))  # a delisting: no rank move follows
    a = analyse(p_with(h), SELLER, now=NOW)
    assert a.sales.used_drops == 5 and a.sales.used_matched == 4
    assert a.row["deal_trust_pct"] == 80.0


def test_iqr_flags_outliers_which_still_count_as_sales():
    times = [NOW - d * DAY for d in range(10, 130, 10)]
    prices = [2000, 2100, 1900, 2050, 1950, 2000, 2020, 9900, 1980, 2010, 2030, 1990]
    inf = infer_sales(p_with(sales_history(times, sale_prices=prices)), NOW)
    kept = [s.price_cents for s in inf.used_sales()]
    assert inf.trimmed >= 1 and 9900 not in kept and 2000 in kept
    assert len(inf.events) == 12


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
        out += [Sale(base + i * HOUR, p, "used") for i, p in enumerate(prices)]
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


def test_no_price_reasons_in_words():
    from arbitrage_cli.analysis.sales import EMPTY, Sale
    from arbitrage_cli.explain import no_price_words

    assert no_price_words(EMPTY, NOW) == "no price history in this response"
    has = dataclasses.replace(EMPTY, has_history=True, drops=1)
    assert no_price_words(has, NOW) == "the sales rank never jumped: no sale to price from"
    new = Sale(NOW - DAY, 1000, "new")
    assert no_price_words(dataclasses.replace(has, events=(new,)), NOW) == \
        "1 sale, all new-condition: no used sale to price from"
    unknown = Sale(NOW - DAY, None, "unknown")
    assert no_price_words(dataclasses.replace(has, events=(new, unknown, unknown)), NOW) == \
        "3 sales (1 new-condition, 2 with no offer drop to tell the condition): no used " \
        "sale to price from"
    old = Sale(NOW - 400 * DAY, 1000, "used")
    assert no_price_words(dataclasses.replace(has, events=(old,)), NOW) == \
        "1 used sale, none in the last year: no recent sale to price from"
    assert no_price_words(dataclasses.replace(has, events=(old, Sale(NOW, 900, "used"))),
                          NOW) is None

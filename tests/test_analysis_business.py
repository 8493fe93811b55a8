"""Business math: the worked example of domain.md §1.3 and properties (hypothesis)."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from arbitrage_cli.analysis.business import BusinessSettings, FeeInputs, compute
from arbitrage_cli.analysis.seasons import classify

EXAMPLE = BusinessSettings(prep_fee_cents=275, inbound_shipping_cents=399, tax_pct=5.0,
                           markup_pct=10.0)


def test_worked_example_with_the_closing_fee():
    m = compute(FeeInputs(3500, 24626, 625, 15.0, 180), EXAMPLE)
    assert m.all_in_cost_cents == 4349
    assert m.amazon_fees_cents == 4499
    assert m.profit_cents == 15778
    assert round(m.margin_pct, 1) == 64.1 and round(m.roi_pct, 1) == 362.8
    assert m.min_listing_price_cents == 6872
    assert (m.fba_fee_estimated, m.referral_fee_estimated, m.closing_fee_estimated) == (0, 0, 0)


def test_missing_fees_use_flagged_defaults():
    m = compute(FeeInputs(3500, 24626, None, None, None), EXAMPLE)
    assert (m.fba_fee_estimated, m.referral_fee_estimated, m.closing_fee_estimated) == (1, 1, 1)
    assert m.amazon_fees_cents == 550 + 3694 + 180


def test_tax_exempt_and_markup_out_of_room():
    exempt = compute(FeeInputs(3500, 24626, 625, 15.0, 180),
                     BusinessSettings(tax_exempt=True))
    assert exempt.all_in_cost_cents == 3500 + 275 + 399
    full = compute(FeeInputs(3500, 24626, 625, 15.0, 180), BusinessSettings(markup_pct=85.0))
    assert full.min_listing_price_cents is None  # 1 - 85% - 15% leaves nothing


money = st.one_of(st.none(), st.integers(min_value=0, max_value=2_000_000))
pct = st.one_of(st.none(), st.floats(min_value=0, max_value=60, allow_nan=False))
settings_st = st.builds(BusinessSettings,
                        prep_fee_cents=st.integers(0, 5000),
                        inbound_shipping_cents=st.integers(0, 5000),
                        tax_pct=st.floats(0, 30, allow_nan=False),
                        tax_exempt=st.booleans(),
                        markup_pct=st.floats(0, 99.99, allow_nan=False),
                        default_fba_fee_cents=st.integers(0, 5000),
                        default_referral_pct=st.floats(0, 50, allow_nan=False),
                        default_closing_fee_cents=st.integers(0, 1000),
                        screen_margin_pct=st.floats(0, 99.99, allow_nan=False))
inputs_st = st.builds(FeeInputs, money, money, money, pct, money)


@given(inputs_st, settings_st)
def test_no_exception_no_nan_and_integer_cents(x, s):
    m = compute(x, s)
    for name in ("all_in_cost_cents", "amazon_fees_cents", "profit_cents",
                 "min_listing_price_cents"):
        v = getattr(m, name)
        assert v is None or (isinstance(v, int) and not isinstance(v, bool))
    for v in (m.margin_pct, m.roi_pct):
        assert v is None or math.isfinite(v)
    if x.price_now_cents is None or x.list_at_cents is None:
        assert m.profit_cents is None and m.roi_pct is None


@given(inputs_st, settings_st)
def test_signs_agree_with_profit(x, s):
    m = compute(x, s)
    if m.profit_cents is not None:
        for v in (m.margin_pct, m.roi_pct):
            if v is not None:
                assert (v > 0) == (m.profit_cents > 0) and (v < 0) == (m.profit_cents < 0)


@given(st.integers(0, 200_000), st.integers(0, 200_000), settings_st,
       st.sampled_from(["prep_fee_cents", "inbound_shipping_cents", "default_fba_fee_cents",
                        "default_closing_fee_cents", "tax_pct", "default_referral_pct",
                        "price_now_cents", "fba_fee_cents", "closing_fee_cents"]),
       st.integers(1, 10_000))
def test_profit_decreases_when_any_cost_rises(price, list_at, s, which, delta):
    import dataclasses

    x = FeeInputs(price, list_at, 300, 15.0, 180)
    before = compute(x, s).profit_cents
    if which in ("price_now_cents", "fba_fee_cents", "closing_fee_cents"):
        x2 = dataclasses.replace(x, **{which: getattr(x, which) + delta})
        s2 = s
        if which != "price_now_cents":  # defaults do not apply when Keepa has the fee
            x2 = dataclasses.replace(x2)
    else:
        x2 = x
        bump = delta / 100 if which.endswith("pct") else delta
        s2 = dataclasses.replace(s, **{which: getattr(s, which) + bump})
        if which.startswith("default_"):
            x2 = dataclasses.replace(x, fba_fee_cents=None, referral_fee_pct=None,
                                     closing_fee_cents=None)
            before = compute(x2, s).profit_cents
    after = compute(x2, s2).profit_cents
    assert after <= before
    if which in ("prep_fee_cents", "inbound_shipping_cents", "price_now_cents",
                 "fba_fee_cents", "closing_fee_cents", "default_fba_fee_cents",
                 "default_closing_fee_cents"):
        assert after < before


def test_seasonality_is_deterministic_and_word_aware():
    assert classify("AP Chemistry Prep", "High School", "Kaplan", None)[0] == \
        "High School AP Textbooks"
    assert classify("Chapter and Map Reading", "Travel", None, None)[0] == "Year-round"
    assert classify("Calculus", None, "Pearson", None) == ("Textbook (Summer)", "Jul - Sep")
    assert classify("Gardening for Everyone", None, None, 4) == ("Gardening", "Mar - Apr")
    assert classify("Plain Novel", "Fiction", None, 11) == ("Peak Nov", "Nov")
    assert classify(None, None, None, None) == ("Year-round", "All Year")

"""Business math (domain.md §1): all-in cost, Amazon fees, profit, margin, ROI and the minimum
listing price, in integer cents. Percentages become integer basis points before any money
arithmetic, so this module and recalc's SQL (pipeline/recalc.py) round identically; a
property test holds them equal.

Missing fee data falls back to the settings' documented defaults, flagged on the row; a missing
buy price or List-at makes every metric that needs it NULL (never "left as it was", R11).
"""

from __future__ import annotations

import dataclasses
import math


@dataclasses.dataclass(frozen=True)
class BusinessSettings:
    prep_fee_cents: int = 275
    inbound_shipping_cents: int = 399
    tax_pct: float = 5.0  # of the buy price (the "estimated tax per book")
    tax_exempt: bool = False
    markup_pct: float = 10.0  # repricer floor markup for the minimum listing price
    default_fba_fee_cents: int = 550  # when Keepa has no pick&pack fee
    default_referral_pct: float = 15.0  # when Keepa has no referral fee
    default_closing_fee_cents: int = 180  # the US media closing fee
    # The history screen (analysis/screen.py) asks whether a product is profitable at this
    # much below Keepa's current lowest used price: the live winner can be cheaper than the
    # history says (copies listed since Keepa's last update, at most an hour earlier since
    # stage 1 asks update=1). In the real files the live winner never landed below that price;
    # on the simulator 10% kept >= 99% of the visible deals (docs/benchmarks.md, "Funnel").
    screen_margin_pct: float = 10.0
    # What a seller calls a deal: `deals` and the demo list profits from here by default
    # (--min-profit overrides); a filter of the lists, never of what is stored or visible.
    min_profit_cents: int = 500
    # The return a seller wants on what a book costs all-in: the table's "max buy" is the
    # highest price at which a deal still makes it (SellerAmp's "max cost").
    target_roi_pct: float = 30.0
    # `notify` sends a deal again to a target that already has it only when it got
    # materially better: its buy price down by this share, or its profit up by this much.
    notify_price_drop_pct: float = 5.0
    notify_profit_gain_cents: int = 500


@dataclasses.dataclass(frozen=True)
class FeeInputs:
    price_now_cents: int | None
    list_at_cents: int | None
    fba_fee_cents: int | None
    referral_fee_pct: float | None
    closing_fee_cents: int | None


@dataclasses.dataclass(frozen=True)
class Metrics:
    all_in_cost_cents: int | None
    amazon_fees_cents: int | None
    profit_cents: int | None
    margin_pct: float | None
    roi_pct: float | None
    min_listing_price_cents: int | None
    fba_fee_estimated: int
    referral_fee_estimated: int
    closing_fee_estimated: int


def basis_points(pct: float) -> int:
    """15.01 -> 1501; half away from zero, as SQLite's round() does for positive values."""
    return int(math.floor(pct * 100 + 0.5))


def compute(x: FeeInputs, s: BusinessSettings) -> Metrics:
    fba = x.fba_fee_cents if x.fba_fee_cents is not None else s.default_fba_fee_cents
    closing = x.closing_fee_cents if x.closing_fee_cents is not None \
        else s.default_closing_fee_cents
    ref_bp = basis_points(x.referral_fee_pct if x.referral_fee_pct is not None
                          else s.default_referral_pct)
    all_in = None
    if x.price_now_cents is not None:
        tax = 0 if s.tax_exempt else (x.price_now_cents * basis_points(s.tax_pct) + 5000) // 10000
        all_in = x.price_now_cents + tax + s.prep_fee_cents + s.inbound_shipping_cents
    fees = profit = margin = roi = None
    if x.list_at_cents is not None:
        fees = fba + (x.list_at_cents * ref_bp + 5000) // 10000 + closing
        if all_in is not None:
            profit = x.list_at_cents - all_in - fees
            if x.list_at_cents > 0:
                margin = profit * 100.0 / x.list_at_cents
            if all_in > 0:
                roi = profit * 100.0 / all_in
    min_listing = None
    den = 10000 - basis_points(s.markup_pct) - ref_bp
    if all_in is not None and den > 0:
        min_listing = ((all_in + fba + closing) * 10000 + den - 1) // den  # round up: a floor
    return Metrics(all_in, fees, profit, margin, roi, min_listing,
                   int(x.fba_fee_cents is None), int(x.referral_fee_pct is None),
                   int(x.closing_fee_cents is None))


def max_buy_cents(list_at_cents: int | None, amazon_fees_cents: int | None,
                  s: BusinessSettings) -> int | None:
    """The highest buy price (cents) at which ROI still reaches s.target_roi_pct, from the
    same all-in cost `compute` uses (tax on the price, prep, inbound); None without a List
    at, 0 when no price does."""
    if not list_at_cents or amazon_fees_cents is None:
        return None
    tax_bp = 0 if s.tax_exempt else basis_points(s.tax_pct)
    room = (list_at_cents - amazon_fees_cents) * 10000 // (10000 + basis_points(
        s.target_roi_pct)) - s.prep_fee_cents - s.inbound_shipping_cents
    buy, target = max(0, room * 10000 // (10000 + tax_bp)), basis_points(s.target_roi_pct)
    # the estimate is within cents of it; integer rounding (of the tax) decides the last ones
    while buy > 0 and _roi_bp(buy, list_at_cents, amazon_fees_cents, s, tax_bp) < target:
        buy -= 1
    while _roi_bp(buy + 1, list_at_cents, amazon_fees_cents, s, tax_bp) >= target:
        buy += 1
    return buy


def _roi_bp(buy: int, list_at: int, fees: int, s: BusinessSettings, tax_bp: int) -> float:
    all_in = buy + (buy * tax_bp + 5000) // 10000 + s.prep_fee_cents + s.inbound_shipping_cents
    return (list_at - all_in - fees) * 10000 / all_in if all_in > 0 else float("inf")


def profit_at_paid(profit_cents: int | None, predicted_buy_cents: int | None,
                   paid_cents: int | None, s: BusinessSettings) -> int | None:
    """The profit of a copy bought at `paid_cents` instead of the predicted buy price: the
    all-in cost moves by the price difference and its tax (prep and inbound do not)."""
    if profit_cents is None or predicted_buy_cents is None or paid_cents is None:
        return profit_cents
    bp = 0 if s.tax_exempt else basis_points(s.tax_pct)

    def cost(price: int) -> int:
        return price + (price * bp + 5000) // 10000

    return profit_cents - (cost(paid_cents) - cost(predicted_buy_cents))

"""The funnel's judgments before live offers are bought (pure; issue 13).

Live offers cost 6-12 tokens a product; a product's history costs 1 (stage 1) and the deal
page's current price costs nothing (stage 0). Both ask the same question: could this book be
profitable if the buy price were `screen_margin_pct` below Keepa's current lowest used price?
The bound is optimistic on purpose: a live winner is never cheaper than that price in the real
files unless new copies were listed since Keepa's last update, which the margin allows for.
The List at and the fees come from the one history analysis the full analysis uses
(analysis/deal.py `history`), so the screen never judges a book differently (R20). The buy
price that is stored and shown always comes from live offers.
"""

from __future__ import annotations

import dataclasses
import enum
from typing import Any

from arbitrage_cli.analysis.business import BusinessSettings, FeeInputs, basis_points, compute
from arbitrage_cli.analysis.deal import History, history

PASS, REJECT = "pass", "reject"
# Reasons (deals.skip_reason of a screened row).
NO_USED_SALE = "no_used_sale_1y"
OVER_HARD_CAP = "list_at_over_hard_cap"
NOT_PROFITABLE = "not_profitable"


class Stage(enum.IntEnum):
    """The funnel's stages, cheapest first: what judging a book costs. The one definition:
    deals.screen_stage stores it, reconcile decides it, the funnel and sync act on it."""
    LISTING = 0  # the deal page's current price: free
    HISTORY = 1  # the product's history: 1 token
    OFFERS = 2  # live offers (the seed step): 6-12 tokens


@dataclasses.dataclass(frozen=True)
class Screen:
    verdict: str  # pass | reject
    code: str | None  # why it was rejected
    judged_cents: int | None  # Keepa's current lowest used price (item only) it was judged at
    bound_buy_cents: int | None  # that price less the margin
    bound_profit_cents: int | None  # the profit at the bound buy price


def bound_buy(price_cents: int, settings: BusinessSettings) -> int:
    """The buy price the screen judges at (recalc's SQL rounds the same way)."""
    return price_cents * (10000 - basis_points(settings.screen_margin_pct)) // 10000


def judge(h: History, used_price: int | None, settings: BusinessSettings) -> Screen:
    """Stage 1: a product's history, judged at a used price."""
    la = h.list_at
    if h.avg_1yr_cents is None or la.list_at_cents is None and la.rejected is None:
        return Screen(REJECT, NO_USED_SALE, used_price, None, None)
    if la.rejected:
        return Screen(REJECT, OVER_HARD_CAP, used_price, None, None)
    # Not rejected for the 3x trip-wire: it compares with the *current* used price, which the
    # live answer may show higher (the cheap copy sold since Keepa's last update).
    return at_price(h.fees, used_price, settings)


def at_price(fees: FeeInputs, used_price: int | None, settings: BusinessSettings) -> Screen:
    """Profitable with the buy price at `used_price` less the margin? Unknown price: pass."""
    if used_price is None:
        return Screen(PASS, None, None, None, None)
    buy = bound_buy(used_price, settings)
    profit = compute(dataclasses.replace(fees, price_now_cents=buy), settings).profit_cents
    verdict = PASS if profit is not None and profit > 0 else REJECT
    return Screen(verdict, None if verdict == PASS else NOT_PROFITABLE, used_price, buy, profit)


def screen_product(product: Any, *, now: int, settings: BusinessSettings) -> Screen:
    """Stage 1: the verdict from a product's history alone, as if its offers were unknown."""
    p = product if isinstance(product, dict) else {}
    h = history(p, now)
    return judge(h, h.used_now_cents, settings)


def screen_stored(row: dict, used_price: int | None, settings: BusinessSettings) -> Screen:
    """Stage 0: the verdict from a stored deal row (its List at and fees) and the price the
    deal page lists now. Without a stored List at only history can tell (stage 1)."""
    if row["list_at_cents"] is None:
        return Screen(REJECT, NO_USED_SALE, used_price, None, None)
    fees = FeeInputs(None, row["list_at_cents"], row.get("fba_fee_cents"),
                     row.get("referral_fee_pct"), row.get("closing_fee_cents"))
    return at_price(fees, used_price, settings)

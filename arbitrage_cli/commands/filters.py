"""The deal filters every list command takes (`deals`, `notify`): declared once, added to a
command's signature by `with_filters`, handed to it as one DealFilters."""

from __future__ import annotations

import functools
import inspect

import typer

# (parameter, type, option): the names are DealFilters' fields
FILTERS = (
    ("min_profit", float, typer.Option(None, "--min-profit", help=(
        "Profit at least, dollars (the table: the setting min_profit, $5, unless given)."))),
    ("min_profit_low", float, typer.Option(None, "--min-profit-low", help=(
        "Profit at the low end of List at's range at least, dollars (the cautious filter)."))),
    ("min_roi", float, typer.Option(None, "--min-roi", help="ROI at least, percent.")),
    ("max_rank", int, typer.Option(None, "--max-rank", help="Sales rank at most.")),
    ("min_drops_30", int, typer.Option(None, "--min-drops-30",
                                       help="30-day rank drops at least.")),
    ("min_percent_down", float, typer.Option(None, "--min-percent-down",
                                             help="Below the 1-year average by at least, %.")),
    ("min_deal_trust", float, typer.Option(None, "--min-deal-trust",
                                           help="Deal trust at least, %.")),
    ("min_seller_quality", float, typer.Option(None, "--min-seller-quality", min=0, max=10,
                                               help="Seller quality at least, 0-10.")),
    ("min_confidence", float, typer.Option(None, "--min-confidence", min=0, max=1,
                                           help="List at confidence at least, 0-1.")),
    ("max_days_to_sell", float, typer.Option(None, "--max-days-to-sell", min=0, help=(
        "Expected days to sell one copy at most."))),
    ("min_sale_days", int, typer.Option(None, "--min-sale-days", min=0, max=180, help=(
        "Days with a sale in the last 180, at least."))),
    ("keyword", str, typer.Option(None, "--keyword",
                                  help="Words in title, author or category.")),
    ("conditions", list[int], typer.Option(None, "--condition", help=(
        "Keepa condition code to keep (repeatable)."))),
    ("hide_gated", bool, typer.Option(False, "--hide-gated", help="Hide restricted ASINs.")),
    ("hide_amazon", bool, typer.Option(False, "--hide-amazon",
                                       help="Hide items Amazon sells.")),
    ("sort", str, typer.Option("profit", "--sort", help=(
        "profit, roi, margin, rank, percent_down, last_change, list_at, price, deal_trust, "
        "seller_quality, drops_30, updated, confidence, days_to_sell, sale_days."))),
    ("ascending", bool, typer.Option(False, "--asc", help="Ascending (default: descending).")),
)
NAMES = tuple(name for name, _, _ in FILTERS)


def with_filters(command):
    """`command(filters: dict, ...)` becomes a Typer command taking every filter option; the
    values arrive in `filters` by DealFilters' field names (`ascending` as `descending`)."""
    sig = inspect.signature(command)
    own = [p for p in sig.parameters.values() if p.name != "filters"]
    added = [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=option,
                               annotation=kind) for name, kind, option in FILTERS]

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        values = {name: kwargs.pop(name) for name in NAMES}
        values["conditions"] = tuple(values["conditions"] or ())
        values["descending"] = not values.pop("ascending")
        return command(*args, filters=values, **kwargs)

    wrapper.__signature__ = sig.replace(parameters=[*own, *added])
    wrapper.__annotations__ = {p.name: p.annotation for p in [*own, *added]}
    return wrapper

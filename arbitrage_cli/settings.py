"""Business settings: typed keys, documented defaults, validation (the single source of
defaults, domain.md §1.1). People type dollars and percents; the database and the math use
integer cents and REAL percents."""

from __future__ import annotations

import dataclasses
import math
from decimal import Decimal, InvalidOperation
from typing import Any

from arbitrage_cli.analysis.business import BusinessSettings
from arbitrage_cli.errors import ConfigError
from arbitrage_cli.money import money


@dataclasses.dataclass(frozen=True)
class Spec:
    field: str  # BusinessSettings field and settings-table key
    kind: str  # money | pct | bool
    help: str
    upper: float | None = None  # pct: percent; money: cents
    max_inclusive: bool = True


MAX_MONEY_CENTS = 100_000  # $1,000: no per-book cost or fee is near it; beyond it, a typo


SPECS: dict[str, Spec] = {s.field.removesuffix("_cents"): s for s in [
    Spec("prep_fee_cents", "money", "prep (labelling, bagging) cost per book", MAX_MONEY_CENTS),
    Spec("inbound_shipping_cents", "money", "estimated cost to ship one book to Amazon",
         MAX_MONEY_CENTS),
    Spec("tax_pct", "pct", "sales tax paid on the buy price, percent", 100),
    Spec("tax_exempt", "bool", "true if you pay no sales tax on purchases"),
    Spec("markup_pct", "pct", "markup over break-even for the minimum listing price", 100,
         max_inclusive=False),
    Spec("default_fba_fee_cents", "money", "FBA pick&pack fee when Keepa has none",
         MAX_MONEY_CENTS),
    Spec("default_referral_pct", "pct", "referral fee percent when Keepa has none", 100),
    Spec("default_closing_fee_cents", "money", "closing fee when Keepa has none (US media $1.80)",
         MAX_MONEY_CENTS),
    Spec("min_profit_cents", "money", "the least profit `deals` and the demo list by default "
         "(deals --min-profit overrides it; 0 lists every visible deal)", MAX_MONEY_CENTS),
    Spec("target_roi_pct", "pct", "the return you want on a book's all-in cost: the deals "
         "table's max buy is the highest price that still makes it", 1000),
    Spec("notify_price_drop_pct", "pct", "notify sends a deal again when its buy price fell "
         "by this share since it was sent", 100),
    Spec("notify_profit_gain_cents", "money", "notify sends a deal again when its profit grew "
         "by this much since it was sent", MAX_MONEY_CENTS),
    Spec("screen_margin_pct", "pct", "buy live offers only for books profitable at this much "
         "below Keepa's lowest used price (the history screen's safety margin)", 100,
         max_inclusive=False),
]}
DEFAULTS = BusinessSettings()


def allowed(spec: Spec) -> str:
    if spec.kind == "money":
        return f"an amount in dollars from 0 to {spec.upper / 100:,.0f}, e.g. 2.75"
    if spec.kind == "bool":
        return "true or false"
    return f"a percent from 0 to {spec.upper:g}" + ("" if spec.max_inclusive else " (exclusive)")


def parse(name: str, raw: Any, source: str = "settings") -> tuple[str, Any]:
    """(field, canonical value) for a user-given key and value; ConfigError naming both."""
    key = name.removesuffix("_cents") if name.endswith("_cents") and name.removesuffix(
        "_cents") in SPECS else name
    spec = SPECS.get(key)
    if spec is None:
        raise ConfigError(f"{source}: unknown setting {name!r}; known: {', '.join(SPECS)}")
    bad = ConfigError(f"{source}: {key} = {raw!r} is not allowed; expected {allowed(spec)}")
    if spec.kind == "bool":
        if isinstance(raw, bool):
            return spec.field, int(raw)
        text = str(raw).strip().lower()
        if text in ("true", "yes", "1", "on"):
            return spec.field, 1
        if text in ("false", "no", "0", "off"):
            return spec.field, 0
        raise bad
    if isinstance(raw, bool):
        raise bad
    try:
        number = Decimal(str(raw).strip().lstrip("$").rstrip("%"))
    except InvalidOperation:
        raise bad from None
    if not number.is_finite() or number < 0:
        raise bad
    if spec.kind == "money":
        cents = number if name.endswith("_cents") else number * 100
        if cents > spec.upper:
            raise bad
        if cents != cents.to_integral_value():
            if name.endswith("_cents"):
                raise bad
            raise ConfigError(f"{source}: {key} = {raw!r}: at most two decimals (cents)")
        return spec.field, int(cents)
    value = float(number)
    if value > spec.upper or (not spec.max_inclusive and value >= spec.upper) or \
            not math.isfinite(value):
        raise bad
    return spec.field, value


def from_stored(stored: dict[str, Any]) -> BusinessSettings:
    """The settings from the table. A stored value outside today's range (written by an
    older version, or by hand) is replaced by its default with a warning: recalc and every
    run go on."""
    import logging

    values = {}
    for f in dataclasses.fields(BusinessSettings):
        if f.name not in stored:
            continue
        try:
            field, value = parse(f.name, stored[f.name], "stored settings")
        except ConfigError as exc:
            logging.getLogger(__name__).warning("%s; using the default %s (fix it with "
                                                "`arbitrage settings set`)", exc,
                                                display(f.name, getattr(DEFAULTS, f.name)))
            continue
        values[field] = bool(value) if f.name == "tax_exempt" else value
    return dataclasses.replace(DEFAULTS, **values)


def display(field: str, value: Any) -> str:
    spec = SPECS[field.removesuffix("_cents")]
    if spec.kind == "money":
        return money(value)
    if spec.kind == "bool":
        return "true" if value else "false"
    return f"{value:g}%"

"""Amounts as people read them, in the database's marketplace currency: integer cents (the
smallest unit, as Keepa gives them) to `$1,234.56`, a loss as `-$19.78`. The symbol follows
the marketplace of the database a command opened (store.db.open_db sets it)."""

from __future__ import annotations

import contextvars

# Keepa domain -> symbol. Amazon.co.jp (5) is refused by the query validation: its prices
# have no hundredths, which the cents arithmetic here assumes.
SYMBOLS = {1: "$", 2: "£", 3: "€", 4: "€", 6: "C$", 8: "€", 9: "€", 10: "₹", 11: "MX$",
           12: "R$"}
_SYMBOL: contextvars.ContextVar[str] = contextvars.ContextVar("currency", default="$")


def use_marketplace(domain: int | None) -> None:
    _SYMBOL.set(SYMBOLS.get(domain or 1, "$"))


def symbol() -> str:
    return _SYMBOL.get()


def money(cents: int | float | None, unknown: str = "-", sym: str | None = None) -> str:
    """`sym`: this symbol instead of the current marketplace's (a server with several
    databases)."""
    if cents is None:
        return unknown
    return f"{'-' if cents < 0 else ''}{sym or symbol()}{abs(cents) / 100:,.2f}"

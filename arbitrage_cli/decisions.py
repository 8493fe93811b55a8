"""Your decisions (`marks`, serve-json /api/marks) with what they earn: the store's marks rows
and, for a bought copy with the price paid, its profits then and now at that price by the
current settings (analysis/business.py's formula). Light on purpose: `marks` starts without
the pipeline."""

from __future__ import annotations

import sqlite_utils

from arbitrage_cli.analysis.business import profit_at_paid
from arbitrage_cli.store import marks
from arbitrage_cli.store import settings as settings_store

def marks_listing(db: sqlite_utils.Database) -> list[dict]:
    """Every mark (store/marks.py `listing`), a bought copy with the price paid (`mark
    --price`) with its profits then and now at that price (`profit_paid_cents`,
    `profit_now_paid_cents`), by the current settings."""
    s = settings_store.load(db)
    rows = marks.listing(db)
    for r in rows:
        paid = r["price_cents"] if r["decision"] == "bought" else None
        r["profit_paid_cents"] = None if paid is None else profit_at_paid(
            r["profit_cents"], r["price_now_cents"], paid, s)
        r["profit_now_paid_cents"] = None if paid is None else profit_at_paid(
            r["profit_now_cents"], r["buy_price_now_cents"], paid, s)
    return rows

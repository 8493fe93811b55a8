"""Seller quality: the Wilson lower bound of the positive-rating share (domain.md §3.6)."""

from __future__ import annotations

import math
from typing import Any

from arbitrage_cli.analysis.keepa_data import clean, lst, pairs

Z = 1.96


def seller_rating(seller: Any) -> tuple[int | None, int | None]:
    """(rating % 0..100, lifetime rating count) from a Keepa seller object; None unknown."""
    if not isinstance(seller, dict):
        return None, None
    pct = clean(seller.get("currentRating"))
    count = clean(seller.get("currentRatingCount"))
    history = lst(seller, "csv")
    if pct is None and history and isinstance(history[0], list):
        pts = [v for _, v in pairs(history[0]) if v >= 0]
        pct = pts[-1] if pts else None
    if count is None and len(history) > 1 and isinstance(history[1], list):
        pts = [v for _, v in pairs(history[1]) if v >= 0]
        count = pts[-1] if pts else None
    if pct is not None and pct > 100:
        pct = None  # not a percentage: unknown rather than wrong
    return pct, count


def wilson_lower_bound(rating_pct: float | None, count: int | None, z: float = Z
                       ) -> float | None:
    """0..1; None when unknown; 0.0 for a seller with no ratings yet."""
    if rating_pct is None or count is None:
        return None
    if count <= 0:
        return 0.0
    positive = int(rating_pct / 100 * count)
    p = positive / count
    z2 = z * z
    centre = p + z2 / (2 * count)
    spread = z * math.sqrt(p * (1 - p) / count + z2 / (4 * count * count))
    return max(0.0, (centre - spread) / (1 + z2 / count))

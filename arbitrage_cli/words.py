"""Counts, percents and unknowns in words, for the messages people read."""

from __future__ import annotations

from typing import Any


def count(n: int, noun: str) -> str:
    """`count(1, "sale")` is "1 sale", `count(3, "sale")` "3 sales"."""
    return f"{n} {noun}" + ("" if n == 1 else "s")


def pct(value: float | None, unknown: str = "-") -> str:
    return unknown if value is None else f"{value:.1f}%"


def known(value: Any, fmt: str = "{}", unknown: str = "unknown") -> str:
    return unknown if value is None else fmt.format(value)


def roi(value: float | None) -> str:
    """ROI as the deal table, the cards and a notification show it: whole percent."""
    return known(value, "{:.0f}%", "-")

"""Counts in words, for the messages people read."""

from __future__ import annotations


def count(n: int, noun: str) -> str:
    """`count(1, "sale")` is "1 sale", `count(3, "sale")` "3 sales"."""
    return f"{n} {noun}" + ("" if n == 1 else "s")

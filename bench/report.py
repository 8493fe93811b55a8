"""The pieces every section of docs/benchmarks.md is made of."""

from __future__ import annotations


def verdict(ok: bool) -> str:
    return "met" if ok else "**missed**"


def section(title: str, command: str, text: str) -> list[str]:
    """A report section's head: its title, the command that measured it, what it measures."""
    return [f"## {title}", "", f"`{command}`", "", text, ""]


def pct(v: float | None, digits: int = 1) -> str:
    return "-" if v is None else f"{v:.{digits}%}"

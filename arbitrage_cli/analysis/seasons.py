"""Deterministic seasonality (domain.md §3.11): keywords first, then the inferred peak month."""

from __future__ import annotations

import re

MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
TEXTBOOK_PUBLISHERS = ("cengage", "mcgraw-hill", "pearson", "wiley", "macmillan", "sage")


def _has(text: str, *words: str) -> bool:
    return any(w in text for w in words)


def classify(title: str | None, category: str | None, publisher: str | None,
             peak_month: int | None) -> tuple[str, str]:
    """(season, sells): first matching rule wins."""
    t, c, p = (title or "").lower(), (category or "").lower(), (publisher or "").lower()
    textbook_pub = any(x in p for x in TEXTBOOK_PUBLISHERS)
    if re.search(r"\bap\b", t) and ("high school" in c or textbook_pub):
        return "High School AP Textbooks", "Jul - Sep"
    if _has(t, "college", "university") or textbook_pub:
        if "community college" in t:
            return "Community College", "Sep - Oct & Jan - Feb"
        if "winter" in t:
            return "Textbook (Winter)", "Jan - Feb"
        return "Textbook (Summer)", "Jul - Sep"
    rules = [
        (("law school", "bar exam"), ("Law School", "Oct")),
        (("nursing", "nclex"), ("Nursing School", "Mar - Apr")),
        (("medical school", "mcat"), ("Medical School", "Aug - Sep")),
        (("community college",), ("Community College", "Sep - Oct & Jan - Feb")),
        (("gardening",), ("Gardening", "Mar - Apr")),
        (("grilling", "bbq", "barbecue"), ("Grilling/BBQ", "May - Jun")),
    ]
    for words, result in rules:
        if _has(t, *words):
            return result
    if "christmas" in t or ("holiday" in t and "gift" in t):
        return "Christmas", "Nov - Dec"
    if _has(t, "new year", "fitness", "diet") or ("self-help" in t and "resolution" in t):
        return "New Year/Fitness", "Jan"
    if "tax" in t and _has(t, "prep", "guide"):
        return "Tax Prep", "Jan - Apr"
    for words, result in ((("travel",), ("Travel", "May - Aug")),
                          (("halloween",), ("Halloween", "Sep - Oct")),
                          (("thanksgiving",), ("Thanksgiving", "Nov"))):
        if _has(t, *words):
            return result
    if "valentine" in t or "romance" in c:
        return "Romance/Valentine's", "Feb"
    if peak_month is not None:
        return f"Peak {MONTHS[peak_month - 1]}", MONTHS[peak_month - 1]
    return "Year-round", "All Year"

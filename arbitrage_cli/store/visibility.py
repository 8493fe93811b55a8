"""The one visibility rule (R24) and why a deal is not shown, in the words every reader uses.

TERMS is the rule, written once: the SQL every reader's query and the `visible_deals` view
use (VISIBLE_WHERE; VISIBLE_BASE, its terms on stored inputs only, restricts the partial
indexes recalc never has to touch) and the Python predicate (`visible`) come from it, and a
property test holds the predicate equal to the view on random rows. Each term carries its
words too (issue 25): the `visibility` column of `deals` (migration 016, SQL) and
`explain`/serve-json (`hidden_because`, from TERMS) say the same thing, each reason once ("screened from its history: not
profitable", not "not_profitable; not profitable"); a test holds them equal on every row.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable


@dataclasses.dataclass(frozen=True)
class Term:
    sql: str
    holds: Callable[[dict], bool]
    stored: bool  # on a stored input (recalc never rewrites it)
    why: Callable[[dict], str]  # the words when it does not hold


# deals.skip_reason -> words (the SQL of migration 016 spells the same table out)
REASON_WORDS = {
    "not_profitable": "not profitable",
    "no_used_sale_1y": "no used sale in the last year",
    "list_at_over_hard_cap": "List at over the hard cap",
    "offers_unknown": "Keepa did not collect the live offers (retried)",
    "no_live_offer": "no live offer",
    "no_live_used_offer": "no live used offer",
    "ghost_offer": "only merchant offers with unknown shipping",
    "no_priced_offer": "no live used offer has a price",
    "not_returned": "Keepa did not return it (retried)",
    "analysis_error": "could not be analysed (retried)",
    "incomplete_product": "Keepa's answer was incomplete (retried)",
    "duplicate_in_response": "Keepa returned it twice (retried)",
    "invalid_product": "not a valid product",
    "no_inferred_sales": "no used sale to price from",
}
NO_USED_SALE = "no used sale in the last year"
NO_PRICE = REASON_WORDS["no_inferred_sales"]  # no List at: the same reason, said once
NOT_PROFITABLE = "not profitable"
VISIBLE = "visible"


def words(reason: str | None) -> str:
    if reason is None:
        return "not analysed yet"
    return REASON_WORDS.get(reason, reason.replace("_", " "))


def _not_a_deal(r: dict) -> str:
    said = words(r.get("skip_reason"))
    return f"screened from its history: {said}" if r.get("status") == "screened" else said


TERMS = (
    Term("status = 'deal'", lambda r: r.get("status") == "deal", True, _not_a_deal),
    # a row analysed from a file has no `hidden` yet: nobody hid it (stored rows hold 0 or 1)
    Term("hidden = 0", lambda r: not r.get("hidden"), True, lambda r: "hidden by you"),
    Term("expired_at is null", lambda r: r.get("expired_at") is None, True,
         lambda r: "no longer listed by Keepa"),
    Term("coalesce(price_suspicious, 0) = 0", lambda r: not r.get("price_suspicious"), True,
         lambda r: "List at over 3x the used price, needs review"),
    Term("list_at_cents > 0", lambda r: (r.get("list_at_cents") or 0) > 0, True,
         lambda r: NO_USED_SALE),
    Term("avg_1yr_cents > 0", lambda r: (r.get("avg_1yr_cents") or 0) > 0, True,
         lambda r: NO_USED_SALE),
    Term("profit_cents > 0", lambda r: (r.get("profit_cents") or 0) > 0, False,
         lambda r: NOT_PROFITABLE),
)
VISIBLE_BASE = "\n  and ".join(t.sql for t in TERMS if t.stored)
VISIBLE_WHERE = "\n  and ".join(t.sql for t in TERMS)
# a term's words that repeat what the skip reason already said
SAID_BY = {NO_USED_SALE: (NO_USED_SALE, NO_PRICE), NOT_PROFITABLE: (NOT_PROFITABLE,)}


def visible(row: dict) -> bool:
    """The rule on one deals row (as stored: `hidden` 0 or 1)."""
    return all(t.holds(row) for t in TERMS)

def hidden_because(row: dict) -> list[str]:
    """The reasons `row` (a deals row; profit as it stands) is hidden, in TERMS' order, each
    once: a term whose words the skip reason already said is not repeated. Empty: visible."""
    skip = None if row.get("status") == "deal" else words(row.get("skip_reason"))
    why: list[str] = []
    for t in TERMS:
        if t.holds(row):
            continue
        said = t.why(row)
        if said in why or (t is not TERMS[0] and skip in SAID_BY.get(said, ())):
            continue
        why.append(said)
    return why


def text(row: dict) -> str:
    """What the `visibility` column holds for `row`."""
    return "; ".join(hidden_because(row)) or VISIBLE

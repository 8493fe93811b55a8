"""The one visibility rule (R24) and why a deal is not shown, in the words every reader uses.

TERMS is the rule, written once: the SQL every reader's query and the `visible_deals` view
use (VISIBLE_WHERE; VISIBLE_BASE, its terms on stored inputs only, restricts the partial
indexes recalc never has to touch) and the Python predicate (`visible`) come from it, and a
property test holds the predicate equal to the view on random rows. The words (issue 25):
the `visibility` column of `deals` (migration 016, SQL) and `explain`/serve-json
(`hidden_because`) say the same thing, each reason once ("screened from its history: not
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


TERMS = (
    Term("status = 'deal'", lambda r: r.get("status") == "deal", True),
    Term("hidden = 0", lambda r: r.get("hidden") == 0, True),
    Term("expired_at is null", lambda r: r.get("expired_at") is None, True),
    Term("coalesce(price_suspicious, 0) = 0", lambda r: not r.get("price_suspicious"), True),
    Term("list_at_cents > 0", lambda r: (r.get("list_at_cents") or 0) > 0, True),
    Term("avg_1yr_cents > 0", lambda r: (r.get("avg_1yr_cents") or 0) > 0, True),
    Term("profit_cents > 0", lambda r: (r.get("profit_cents") or 0) > 0, False),
)
VISIBLE_BASE = "\n  and ".join(t.sql for t in TERMS if t.stored)
VISIBLE_WHERE = "\n  and ".join(t.sql for t in TERMS)


def visible(row: dict) -> bool:
    """The rule on one deals row (as stored: `hidden` 0 or 1)."""
    return all(t.holds(row) for t in TERMS)

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
NO_PRICE = "no used sale to price from"  # no List at: the same reason, said once
NOT_PROFITABLE = "not profitable"
VISIBLE = "visible"


def words(reason: str | None) -> str:
    if reason is None:
        return "not analysed yet"
    return REASON_WORDS.get(reason, reason.replace("_", " "))


def hidden_because(row: dict) -> list[str]:
    """The reasons `row` (a deals row; profit as it stands) is hidden; empty: visible."""
    why = []
    reason = row.get("skip_reason")
    if row.get("status") != "deal":
        said = words(reason)
        why.append(f"screened from its history: {said}" if row.get("status") == "screened"
                   else said)
    else:
        said = None
    if row.get("hidden"):
        why.append("hidden by you")
    if row.get("expired_at") is not None:
        why.append("no longer listed by Keepa")
    if row.get("price_suspicious"):
        why.append("List at over 3x the used price, needs review")
    if (not (row.get("list_at_cents") or 0) > 0 or not (row.get("avg_1yr_cents") or 0) > 0) \
            and said not in (NO_USED_SALE, NO_PRICE):
        why.append(NO_USED_SALE)
    if not (row.get("profit_cents") or 0) > 0 and said != NOT_PROFITABLE:
        why.append(NOT_PROFITABLE)
    return why


def text(row: dict) -> str:
    """What the `visibility` column holds for `row`."""
    return "; ".join(hidden_because(row)) or VISIBLE

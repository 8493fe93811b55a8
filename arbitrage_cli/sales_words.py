"""The inferred sales in words (explain's sales section and its reasons for no List at):
analysis/sales.py gives events and codes, this says them."""

from __future__ import annotations

from typing import Any

from arbitrage_cli.analysis import sales as sales_rules
from arbitrage_cli.money import money as dollars
from arbitrage_cli.timefmt import keepa_minutes_to_iso
from arbitrage_cli.words import count, known, pct


def sales_report(s: sales_rules.SalesInference, now: int) -> dict[str, Any]:
    """Every inferred sale with the rank jump behind it, and the counts around them."""
    year = [e for e in s.events if now - e.time <= 365 * 1440]
    return {
        "events": [{"at": keepa_minutes_to_iso(e.time), "kind": e.kind,
                    "condition": e.condition, "price_cents": e.price_cents,
                    "rank_before": e.rank_before, "rank_after": e.rank_after,
                    "offer_drop_at": keepa_minutes_to_iso(e.drop_time)
                    if e.drop_time is not None else None, "outlier": e.outlier}
                   for e in s.events],
        "last_365_days": len(year),
        "kinds": {k: len(s.of_kind(k)) for k in (sales_rules.USED, sales_rules.NEW,
                                                  sales_rules.UNKNOWN)},
        "offer_drops": s.drops, "used_drops": s.used_drops, "matched": s.matched,
        "trimmed_outliers": s.trimmed,
    }


def no_price_words(s: sales_rules.SalesInference, now: int) -> str | None:
    """Why there is no used sale of the last year to price from, in words; None when there
    is one."""
    used = s.used_sales()
    code = sales_rules.no_price_reason(s, sum(1 for x in used if now - x.time <= 365 * 1440))
    if code is None:
        return None
    if code == sales_rules.NO_HISTORY:
        return "no price history in this response"
    if code == sales_rules.NO_RANK_HISTORY:
        return "no sales-rank history: no sale to price from"
    if code == sales_rules.NO_RANK_JUMP:
        return "the sales rank never jumped: no sale to price from"
    if code == sales_rules.NO_USED_SALE:
        new, unknown = len(s.of_kind(sales_rules.NEW)), len(s.of_kind(sales_rules.UNKNOWN))
        if new and not unknown and len(s.of_kind(sales_rules.USED)) == 0:
            return f"{count(new, 'sale')}, all new-condition: no used sale to price from"
        parts = [f"{new} new-condition" if new else None,
                 f"{unknown} with no offer drop to tell the condition" if unknown else None,
                 f"{len(s.of_kind(sales_rules.USED))} used without a price"
                 if s.of_kind(sales_rules.USED) else None]
        return (f"{count(len(s.events), 'sale')} ({', '.join(p for p in parts if p)}): "
                f"no used sale to price from")
    return (f"{count(len(used), 'used sale')}, none in the last year: no recent sale to price "
            f"from")


SHOWN_SALES = 12
CONDITION_WORDS = {2: "Like New", 3: "Very Good", 4: "Good", 5: "Acceptable"}


def sales_lines(s: dict) -> list[str]:
    kinds = s["kinds"]
    lines = [f"Inferred sales (sales-rank jumps over 5%): {s['last_365_days']} in the last "
             f"365 days, {len(s['events'])} in all: {kinds['used']} used, {kinds['new']} new, "
             f"{kinds['unknown']} of unknown condition (no offer drop between the rank "
             f"reports); {count(s['offer_drops'], 'offer drop')}, {s['matched']} matched to "
             f"a jump"
             + (f", {count(s['trimmed_outliers'], 'price outlier')}" if s["trimmed_outliers"]
                else "")
             + (f"; deal trust {pct(s['deal_trust_pct'])}" if s["deal_trust_pct"] is not None
                else "")]
    shown = s["events"][-SHOWN_SALES:]
    if len(s["events"]) > len(shown):
        lines.append(f"  the latest {len(shown)}:")
    for e in shown:
        what = e["kind"] if e["kind"] != "unknown" else "condition unknown"
        if e["condition"] in CONDITION_WORDS:
            what += f" {CONDITION_WORDS[e['condition']]}"
        price = "no price" if e["price_cents"] is None else dollars(e["price_cents"])
        if e["outlier"]:
            price += "*"
        lines.append(f"  {e['at'][:10]}  {price:>9}  {what:<18} rank "
                     f"{known(e['rank_before'], '{:,}')} -> {known(e['rank_after'], '{:,}')}")
    if any(e["outlier"] for e in shown):
        lines.append("  * an outlier price: the sale counts, its price does not")
    return lines

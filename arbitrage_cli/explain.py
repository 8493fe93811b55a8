"""`arbitrage explain`: every number of one deal and where it came from, as a dict (for
--json) and as text. Built from a DealAnalysis; no I/O here."""

from __future__ import annotations

import dataclasses
from typing import Any

from arbitrage_cli.analysis import screen
from arbitrage_cli.analysis.business import BusinessSettings, compute
from arbitrage_cli.analysis.deal import DealAnalysis
from arbitrage_cli.analysis.offers import GHOST_OFFER, NO_LIVE_OFFER, NO_LIVE_USED_OFFER, \
    NO_PRICED_OFFER, OFFERS_UNKNOWN
from arbitrage_cli.keepa.constants import CONDITIONS, DOMAINS
from arbitrage_cli.money import money as dollars  # $1,234.56; a loss as -$19.78
from arbitrage_cli.sales_words import CONDITION_WORDS, no_price_words, sales_lines, sales_report
from arbitrage_cli.store.visibility import NO_PRICE, NO_USED_SALE, hidden_because
from arbitrage_cli.timefmt import keepa_minutes_to_iso, local_time
from arbitrage_cli.words import count, known, pct

# Short, so an offer fits one 80-column line; the heading above the offers says what they mean.
VERDICTS = {"winner": "WINNER", "pricier": "costs more", "historical": "historical",
            "stale": "not seen lately", "not_used": "not used", "no_price": "no price",
            "unknown_shipping": "shipping unknown", "ghost_mfn_shipping": "ghost offer"}
WIDTH = 80  # the text reads on an 80-column terminal: longer lines wrap under themselves


def visibility(row: dict, metrics: dict, no_price: str | None = None) -> list[str]:
    """Why a row is hidden (empty: visible), in the words of the `visibility` column
    (store/visibility.py), with profit as it stands now; `no_price` (no_price_words) says
    why there is no List at when there is none."""
    why = hidden_because({**row, "profit_cents": metrics.get("profit_cents")})
    return [f"no List at: {no_price}" if w in (NO_USED_SALE, NO_PRICE) and no_price else w
            for w in why]


GATING_FIELDS = ("status", "approval_url", "message", "condition_type", "checked_at",
                 "retry_at")


def freshness(stored: dict | None, listed: dict | None) -> dict[str, Any]:
    """When Keepa last listed the deal and what it said, when we checked its price, and a
    pending retry (from the deals row and its listing evidence)."""
    stored, listed = stored or {}, listed or {}
    checked = stored.get("checked_keepa")
    return {"listed_at": listed.get("listed_at"), "first_listed_at": listed.get("first_listed_at"),
            "listed_price_cents": listed.get("current_cents"),
            "checked_at": keepa_minutes_to_iso(checked) if checked is not None else None,
            "retry_reason": stored.get("retry_reason"), "retry_count": stored.get("retry_count"),
            "retry_since_at": stored.get("retry_since_at"),
            "next_check_at": stored.get("next_check_at"),
            "screened_from": {screen.Stage.LISTING: "the deal page",
                              screen.Stage.HISTORY: "its history"}.get(
                stored.get("screen_stage")) if stored.get("status") == "screened" else None}


def screen_words(code: str | None, judged: int | None, bound_buy: int | None,
                 bound_profit: int | None) -> str:
    """The words for a screen verdict (analysis/screen.py gives the code and the numbers)."""
    if code == screen.NO_USED_SALE:
        return "no used sale in the last year"
    if code == screen.OVER_HARD_CAP:
        return "List at over the $1,500 hard cap"
    if judged is None:
        return "no current used price to judge at: live offers decide"
    where = f"{dollars(bound_buy)} (Keepa's lowest used {dollars(judged)} less the margin)"
    if code == screen.NOT_PROFITABLE:
        return f"not profitable at {where}: profit {dollars(bound_profit)}"
    return f"profitable at {where}: profit {dollars(bound_profit)}"



def screen_report(a: DealAnalysis, stored: dict | None,
                  settings: BusinessSettings | None) -> dict[str, Any]:
    """The history screen's verdict from the product's history alone (as if its offers were
    unknown), and what the stored row says when it was screened."""
    settings = settings or BusinessSettings()
    v = screen.judge(a.history, a.history.used_now_cents, settings) if a.history else None
    out = {"verdict": v.verdict if v else None, "reason": screen_words(v.code, v.judged_cents, v.bound_buy_cents,
                                     v.bound_profit_cents) if v else None,
           "code": v.code if v else None, "judged_cents": v.judged_cents if v else None,
           "bound_buy_cents": v.bound_buy_cents if v else None,
           "bound_profit_cents": v.bound_profit_cents if v else None,
           "margin_pct": settings.screen_margin_pct, "stored": None}
    if stored and stored.get("status") == "screened":
        judged = stored.get("screen_price_cents")
        buy = screen.bound_buy(judged, settings) if judged is not None else None
        out["stored"] = {
            "stage": {screen.Stage.LISTING: "deal page", screen.Stage.HISTORY: "history"}.get(
                stored.get("screen_stage")),
            "judged_cents": judged, "bound_profit_cents": stored.get("screen_bound_cents"),
            "reason": screen_words(stored.get("skip_reason"), judged, buy,
                                      stored.get("screen_bound_cents"))}
    return out


def report(a: DealAnalysis, stored: dict | None = None, gating: dict | None = None,
           listed: dict | None = None, settings: BusinessSettings | None = None,
           settings_source: str | None = None, mark: dict | None = None,
           domain: int | None = None) -> dict[str, Any]:
    """`gating`: the user_restrictions row of the ASIN, when there is one; `listed`: its
    listing evidence; `settings`: the ones the numbers were computed with (and where they
    came from); `mark`: the user's decision on it."""
    row = {**a.row, **(stored or {})}
    metrics = {k: v for k, v in vars(a.metrics).items()}
    if stored:
        metrics.update({k: stored.get(k) for k in metrics if k in stored})
    metrics["profit_low_cents"] = stored.get("profit_low_cents") if stored \
        and "profit_low_cents" in stored else _profit_at(a, row.get("list_at_low_cents"),
                                                         settings)
    offers = [{"index": c.index, "seller_id": c.seller_id, "condition": c.condition,
               "condition_label": CONDITIONS.get(c.condition, "?"), "fba": c.is_fba,
               "price_cents": c.price_cents, "shipping_cents": c.shipping_cents,
               "landed_cents": c.landed_cents, "verdict": c.verdict}
              for c in a.offer.candidates if c.live or c.verdict == "stale"]
    la = a.list_at
    est = a.history.estimate if a.history else None
    no_price = no_price_words(a.sales, a.now)
    return {
        "asin": a.asin, "title": row.get("title"), "analysed_at": keepa_minutes_to_iso(a.now),
        "status": row.get("status"), "skip_reason": row.get("skip_reason"),
        "offers": {"live_considered": offers, "no_winner_reason": a.offer.reason,
                   "historical_ignored": sum(1 for c in a.offer.candidates
                                             if c.verdict == "historical")},
        "seller": {"seller_id": row.get("seller_id"), "name": row.get("seller_name"),
                   "rating_pct": a.seller_rating[0], "rating_count": a.seller_rating[1],
                   "quality": a.seller_quality},
        "sales": sales_report(a.sales, a.now) | {"deal_trust_pct": row.get("deal_trust_pct")},
        "list_at": {"list_at_cents": row.get("list_at_cents"),
                    "list_at_low_cents": row.get("list_at_low_cents"),
                    "list_at_high_cents": row.get("list_at_high_cents"),
                    "market_cents": la.list_at_cents,
                    "condition": row.get("condition"),
                    "better_condition_cents": a.condition_cap,
                    "uncapped_cents": la.uncapped_cents,
                    "recent_cents": est.recent if est else None,
                    "season_cents": est.season if est else None,
                    "confidence": row.get("list_at_confidence"),
                    "days_to_sell": row.get("days_to_sell"),
                    "sale_days_180": row.get("sale_days_180"), "no_price": no_price,
                    "basis": la.basis, "peak_month": la.peak_month,
                    "trough_month": la.trough_month, "trough_cents": la.trough_cents,
                    "amazon_ceiling_cents": la.ceiling_cents, "capped": la.capped,
                    "suspicious": la.suspicious, "rejected": la.rejected,
                    "season": row.get("season"), "sells": row.get("sells")},
        "prices": {k: row.get(k) for k in ("price_now_cents", "price_cents", "shipping_cents",
                                           "avg_1yr_cents", "percent_down_pct",
                                           "recent_sale_cents", "sales_rank", "drops_30",
                                           "offers_trend", "price_trend", "amazon_selling")},
        "fees": {k: row.get(k) for k in ("fba_fee_cents", "referral_fee_pct",
                                         "closing_fee_cents")},
        "metrics": metrics,
        "visible": not visibility(row, metrics, no_price),
        "hidden_because": visibility(row, metrics, no_price),
        "gating": {k: (gating or {}).get(k) for k in GATING_FIELDS}
        | {"status": (gating or {}).get("status") or "unknown"},
        "freshness": freshness(stored, listed),
        "screen": screen_report(a, stored, settings),
        "settings": {"source": settings_source or "defaults",
                     **dataclasses.asdict(settings or BusinessSettings())},
        "links": links(a.asin, row.get("image_name"), domain or 1),
        "mark": mark,
    }


def _profit_at(a: DealAnalysis, list_at: int | None, settings: BusinessSettings | None
               ) -> int | None:
    """The profit if the copy sold at `list_at` (the range's low end), as recalc computes it."""
    if a.history is None or list_at is None:
        return None
    inputs = dataclasses.replace(a.history.fees, list_at_cents=list_at,
                                 price_now_cents=a.row.get("price_now_cents"))
    return compute(inputs, settings or BusinessSettings()).profit_cents


def links(asin: str | None, image_name: str | None, domain: int = 1
          ) -> dict[str, str | None]:
    """Where to look at the deal on marketplace `domain` (the same URLs as
    store.schema.link_columns)."""
    if not asin:
        return {"amazon_url": None, "keepa_url": None, "image_url": None}
    return {"amazon_url": f"https://www.amazon.{DOMAINS.get(domain, 'com')}/dp/{asin}"
                          f"?psc=1&aod=1",
            "keepa_url": f"https://keepa.com/#!product/{domain}-{asin}",
            "image_url": f"https://m.media-amazon.com/images/I/{image_name}"
            if image_name else None}


def to_text(r: dict, sparks: dict[str, str] | None = None) -> str:
    """For people: every amount in dollars, nothing printed as None. `sparks`: one-line
    charts by label (the terminal's sparklines)."""
    m, la, s = r["metrics"], r["list_at"], r["sales"]
    lines = [f"{r['asin']}  {r['title'] or ''}".rstrip(),
             f"analysed at {local_time(r['analysed_at'])}"]
    lines += [f"  {label:<18} {line}" for label, line in (sparks or {}).items()]
    lines += ["", "Live offers: price + shipping = landed. The WINNER is the lowest landed "
                  "used offer; a historical offer (not in liveOffersOrder), one not seen "
                  "lately, a new one, or a merchant offer with unknown shipping (ghost) "
                  "never wins:"]
    offers = r["offers"]["live_considered"]
    screened = r["status"] == "screened"
    if screened:  # the funnel stopped before live offers: nothing failed, nothing was bought
        lines[-1] = ("Live offers: not bought. The screen judged this book from its history "
                     "alone (see Screen below); a sync buys them once the listed price or "
                     "your settings could make it pay.")
    unbought = "not bought (screened)" if screened else "unknown"
    winner = next((o for o in offers if o["verdict"] == "winner"), None)
    for o in offers:
        verdict = VERDICTS.get(o["verdict"], o["verdict"])
        if winner and o is not winner and o["verdict"] == "pricier" \
                and o["landed_cents"] == winner["landed_cents"]:
            verdict = "tie, lost"
        condition = o["condition_label"].replace("Used - ", "")
        lines.append(f"  #{o['index']:<3} {o['seller_id'] or '?':<14.14} {condition:<10.10}"
                     f" {'FBA' if o['fba'] else 'MFN'} {dollars(o['price_cents']):>8} +"
                     f"{_shipping(o['shipping_cents']):>6} ="
                     f"{dollars(o['landed_cents']):>8} {verdict}")
    if not offers and not screened:
        lines.append("  none")
    ties = [o for o in offers if winner and o["landed_cents"] == winner["landed_cents"]]
    if len(ties) > 1:
        lines.append(f"  {len(ties)} offers tie at {dollars(winner['landed_cents'])}: "
                     f"#{winner['index']} wins on condition, FBA, then seller")
    if r["offers"]["no_winner_reason"] and not screened:
        code = r["offers"]["no_winner_reason"]
        lines.append(f"  no buy price: {NO_WINNER.get(code, code)} ({code})")
    if r["offers"]["historical_ignored"]:
        lines.append(f"  ({count(r['offers']['historical_ignored'], 'historical offer')} "
                     f"ignored)")
    lines += ["", "Seller: none (no live offers bought)" if screened
              else _seller_line(r["seller"]), "",
              *sales_lines(s)]
    p, f = r["prices"], r["fees"]
    lines += ["", f"List at: {dollars(la['list_at_cents'], 'none')}"
              + (f", likely {dollars(la['list_at_low_cents'])}\u2013"
                 f"{dollars(la['list_at_high_cents'])}" if la["list_at_low_cents"] is not None
                 else "") + f" ({_basis(la)})"
              + (f", capped from {dollars(la['uncapped_cents'])} at 90% of Amazon"
                 if la["capped"] else "")
              + (f"; at most {dollars(la['better_condition_cents'])} for a "
                 f"{CONDITION_WORDS.get(la['condition'], 'used')} copy: a better one is offered "
                 f"for that now, and a buyer takes it first (the used market says "
                 f"{dollars(la['market_cents'])})" if la["better_condition_cents"] else "")
              + (" SUSPICIOUS: over 3x the current used price" if la["suspicious"] else "")
              + (f" rejected: {la['rejected']}" if la["rejected"] else ""),
              *_velocity_lines(la),
              *([f"Season: {la['season']}" + (f" (sells {la['sells']})" if la["sells"] else "")]
                if la["season"] else []), "",
              f"Buy (landed): {dollars(p['price_now_cents'], unbought)}   1-year average "
              f"sale: {dollars(p['avg_1yr_cents'], 'unknown')}   rank "
              f"{known(p['sales_rank'], '{:,}')}",
              f"All-in cost: {dollars(m['all_in_cost_cents'], 'unknown')}   Amazon fees: "
              f"{dollars(m['amazon_fees_cents'], 'unknown')} (FBA "
              f"{dollars(f['fba_fee_cents'], 'default')}"
              f"{' est.' if m['fba_fee_estimated'] else ''}, referral "
              f"{pct(f['referral_fee_pct'], 'default')}, closing "
              f"{dollars(f['closing_fee_cents'], 'default')})",
              f"Profit: {dollars(m['profit_cents'], 'unknown')}"
              + (" (not bought: see Screen for the profit at Keepa's price)"
                 if screened and m["profit_cents"] is None else "")
              + (f" ({dollars(m['profit_low_cents'])} at the low end)"
                 if m.get("profit_low_cents") is not None else "") + "   margin "
              f"{pct(m['margin_pct'], 'unknown')}   ROI {pct(m['roi_pct'], 'unknown')}   min "
              f"listing {dollars(m['min_listing_price_cents'], 'unknown')}",
              _settings_line(r["settings"]),
              "", *_screen_lines(r["screen"]), _gating_line(r["gating"]),
              *_freshness_lines(r["freshness"]), *_mark_lines(r.get("mark")),
              *_link_lines(r["links"]),
              _visible_line(r)]
    return "\n".join(_wrapped(lines))


def _wrapped(lines: list[str], width: int = WIDTH) -> list[str]:
    """Each line within `width`, a long one continued under itself (URLs never broken)."""
    import textwrap

    out = []
    for line in lines:
        if len(line) <= width:
            out.append(line)
            continue
        indent = " " * (len(line) - len(line.lstrip()) + 2)
        out += textwrap.wrap(line, width, subsequent_indent=indent, break_long_words=False,
                             break_on_hyphens=False) or [line]
    return out


NO_WINNER = {  # analysis/offers.py's reasons, for people
    OFFERS_UNKNOWN: "Keepa did not collect the live offers (offersSuccessful false)",
    NO_LIVE_OFFER: "no offer is live (all are historical)",
    NO_LIVE_USED_OFFER: "no live used offer",
    GHOST_OFFER: "the live used offers are merchant offers with unknown shipping",
    NO_PRICED_OFFER: "no live used offer has a price",
}


def _visible_line(r: dict) -> str:
    if not r["visible"]:
        return "Hidden: " + "; ".join(r["hidden_because"])
    mark = (r.get("mark") or {}).get("decision")
    if mark in ("bought", "ignored"):
        return f"Visible, but marked {mark}: out of the default lists (--include-marked)"
    return "Visible"


def _shipping(cents: int | None) -> str:
    return "?" if cents is None or cents < 0 else dollars(cents)


def _seller_line(sel: dict) -> str:
    who = sel["name"] or sel["seller_id"]
    if not who:
        return "Seller: none (no winning offer)"
    if sel["rating_pct"] is None:
        return f"Seller: {who}: no rating known -> quality unknown"
    q = "unknown" if sel["quality"] is None else \
        f"{sel['quality']:.3f} ({round(sel['quality'] * 10)}/10)"
    return (f"Seller: {who}: {sel['rating_pct']:g}% of {known(sel['rating_count'], '{:,}')} "
            f"ratings -> quality {q}")


def _settings_line(st: dict) -> str:
    tax = "exempt" if st["tax_exempt"] else f"{st['tax_pct']:g}%"
    return (f"Settings ({st['source']}): prep {dollars(st['prep_fee_cents'])}, inbound "
            f"{dollars(st['inbound_shipping_cents'])}, tax {tax}, markup {st['markup_pct']:g}%")


def _mark_lines(mark: dict | None) -> list[str]:
    if not mark:
        return []
    line = f"Marked {mark['decision']} at {local_time(mark['decided_at'])}"
    if mark.get("price_cents") is not None:
        line += f", paid {dollars(mark['price_cents'])}"
    if mark.get("note"):
        line += f": {mark['note']}"
    return [line]


def _link_lines(links_: dict) -> list[str]:
    return [f"{label}: {links_[key]}" for key, label in
            (("amazon_url", "Amazon"), ("keepa_url", "Keepa")) if links_.get(key)]


def _basis(la: dict) -> str:
    if la["no_price"]:
        return la["no_price"]
    parts = [f"recent sales {dollars(la['recent_cents'])}" if la["recent_cents"] else None,
             f"this season in earlier years {dollars(la['season_cents'])}"
             if la["season_cents"] else None]
    parts = [p for p in parts if p]
    return (" and ".join(parts) + (", their geometric mean" if len(parts) == 2 else "")
            if parts else la["basis"] or "no basis")


def _velocity_lines(la: dict) -> list[str]:
    if la["list_at_cents"] is None:
        return []
    conf = la["confidence"]
    label = ("unknown" if conf is None else "strong" if conf >= 0.4 else "some" if conf >= 0.2
             else "thin")
    line = f"Confidence: {label} ({conf:.2f} of 1)" if conf is not None else \
        "Confidence: unknown"
    sells = (f"; sells one copy in about {la['days_to_sell']:.0f} days" if la["days_to_sell"]
             is not None else "")
    return [line + sells + f"; {count(la['sale_days_180'] or 0, 'day')} with a sale in the "
            f"last 180"]


def _screen_lines(sc: dict) -> list[str]:
    lines = []
    if sc["verdict"]:
        lines.append(f"Screen (history alone, 1 token; margin {sc['margin_pct']:g}%): "
                     f"{'PASS, worth live offers' if sc['verdict'] == 'pass' else 'REJECT'}"
                     f": {sc['reason']}")
    if sc["stored"] and sc["stored"]["reason"] != sc["reason"]:  # said once when the same
        lines.append(f"Screened from the {sc['stored']['stage'] or 'history'} without buying "
                     f"live offers: {sc['stored']['reason']}")
    return lines


def _freshness_lines(f: dict) -> list[str]:
    lines = []
    if f["listed_at"]:
        lines.append(f"Keepa's deal listing showed it last at {local_time(f['listed_at'])}"
                     + (f", priced {dollars(f['listed_price_cents'])} (the deal page's current "
                        f"price, without shipping)" if f["listed_price_cents"] is not None
                        else ""))
    if f["checked_at"] and f["screened_from"]:
        lines.append(f"Judged from {f['screened_from']} at {local_time(f['checked_at'])}, "
                     f"without buying live offers")
    elif f["checked_at"]:
        lines.append(f"Price checked with live offers at {local_time(f['checked_at'])}")
    if f["retry_reason"]:
        lines.append(f"Last fetch failed ({f['retry_reason']}, {f['retry_count']} in a row since "
                     f"{local_time(f['retry_since_at'])}); retried after "
                     f"{local_time(f['next_check_at'])}. The numbers above are from the last "
                     f"good fetch.")
    return lines


def _gating_line(g: dict) -> str:
    line = f"Gating: {g['status']}"
    if g["status"] == "unknown":
        return line + " (not checked: arbitrage restrictions check, or import/set)"
    if g.get("condition_type"):
        line += f" for {g['condition_type']}"
    if g.get("checked_at"):
        line += f", checked {local_time(g['checked_at'])}"
    if g.get("message"):
        line += f": {g['message']}"
    if g.get("approval_url"):
        line += f"\n  request approval: {g['approval_url']}"
    if g["status"] == "error" and g.get("retry_at"):
        line += f"\n  will be checked again after {local_time(g['retry_at'])}"
    return line

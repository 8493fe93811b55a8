"""The funnel's recall where it can fail: sync on a moving listing, every stage (issue 23).

    python -m bench.funnel_sync --products 1000 --lags 0 60 360 --hours 24

bench.funnel compares two backfills at one frozen moment. Here two worlds built from the same
seed run the README's cron schedule (sync, backfill, janitor every 15 simulated minutes) for
`--hours`: one with the default funnel, one with `--no-screen` (live offers for every listed
product). The listing moves (prices change, deals enter and leave), and Keepa's stored data
lags the live offers by the simulator's `history_lag_minutes`, so stage 0 judges known deals
from a deal-page price that may be that old, and stage 1 from a history that may be too (it
asks `update=1`; Keepa refreshes what is older than an hour). The refill is generous so that
neither world is held back by tokens: what differs is only what the funnel declined to buy.

Every hour, once the tick's commands ended, the visible deals of both databases are compared:
recall = visible in both / visible with `--no-screen`. A deal the funnel misses is reported
with the row the funnel kept for it (status, reason, stage).
"""

from __future__ import annotations

import argparse
import json
import time

from arbitrage_cli.keepa.client import KeepaClient
from arbitrage_cli.keepa.budget import TokenBudget
from arbitrage_cli.simulator import start_simulator
from bench.machine import describe
from bench.report import pct, section, verdict
from bench.cron import cron, new_world
from bench.tokens import BENCH_KEY, EPOCH

RATE = 2000  # tokens a minute: enough for live offers on every change in either world


def run_world(products: int, lag: int, screening: bool, hours: float, seed: int) -> dict:
    clock, catalog, sim, db, _ = new_world(RATE, products, seed, history_lag_minutes=lag)
    hourly: dict[int, set[str]] = {}
    rows: dict[int, dict[str, dict]] = {}

    def at_tick(tick: float, when: str) -> None:
        if when != "after" or (tick - EPOCH) % 3600:
            return
        hour = round((tick - EPOCH) / 3600)
        hourly[hour] = {r["asin"] for r in db.query("select asin from visible_deals")}
        rows[hour] = {r["asin"]: r for r in db.query(
            "select d.asin, d.status, d.skip_reason, d.screen_stage, d.screen_price_cents, "
            "d.screen_bound_cents, d.list_at_cents, l.used_cents as listed_used_cents, "
            "d.checked_keepa from deals d left join listing l on l.asin = d.asin")}

    started = time.perf_counter()
    with start_simulator(sim) as server:
        client = KeepaClient(BENCH_KEY, base_url=server.url, budget=TokenBudget(db, clock),
                             clock=clock)
        day = cron(db, client, clock, hours + 1 / 60, at_tick, screen=screening)
    tokens = {e: sum(r.tokens_consumed for r in sim.calls(e)) for e in ("deal", "product",
                                                                        "seller")}
    return {"hourly": hourly, "rows": rows, "tokens": tokens, "runs": day["runs"],
            "wall_seconds": round(time.perf_counter() - started, 1)}


def compare(products: int, lag: int, hours: float, seed: int = 11) -> dict:
    full = run_world(products, lag, False, hours, seed)
    funnel = run_world(products, lag, True, hours, seed)
    per_hour, missed = [], {}
    for hour in sorted(full["hourly"]):
        want, got = full["hourly"][hour], funnel["hourly"].get(hour, set())
        per_hour.append({"hour": hour, "visible_no_screen": len(want),
                         "visible_funnel": len(got), "found": len(want & got),
                         "recall": round(len(want & got) / len(want), 4) if want else None})
        for asin in want - got:
            r = funnel["rows"][hour].get(asin)
            missed.setdefault(asin, {"hours": [], "funnel_row": r})["hours"].append(hour)
    judged = [h for h in per_hour if h["recall"] is not None]
    marks = sorted(full["hourly"])
    seen = set().union(*full["hourly"].values()) if marks else set()
    # the listing moved: deals that became visible, or stopped being, after the first hour
    churn = len(seen - full["hourly"][marks[0]]) + len(
        full["hourly"][marks[0]] - full["hourly"][marks[-1]]) if marks else 0
    total_want = sum(h["visible_no_screen"] for h in judged)
    total_found = sum(h["found"] for h in judged)
    spent = {name: sum(w["tokens"].values()) for name, w in (("no_screen", full),
                                                               ("funnel", funnel))}
    return {
        "lag_minutes": lag, "products": products, "hours": hours, "refill_per_min": RATE,
        "min_hourly_recall": min((h["recall"] for h in judged), default=None),
        "recall": round(total_found / total_want, 4) if total_want else None,
        "visible_deal_hours": {"no_screen": total_want,
                               "funnel": sum(h["visible_funnel"] for h in judged),
                               "found": total_found},
        "distinct_visible_no_screen": len(seen), "visible_churn": churn,
        "tokens": spent, "tokens_by_endpoint": {"no_screen": full["tokens"],
                                                "funnel": funnel["tokens"]},
        "token_ratio": round(spent["no_screen"] / spent["funnel"], 2) if spent["funnel"]
        else None,
        "hourly": per_hour, "missed": missed,
        "wall_seconds": {"no_screen": full["wall_seconds"], "funnel": funnel["wall_seconds"]},
    }


def render(r: dict, command: str) -> list[str]:
    runs = r["runs"]
    first = runs[0]
    lines = section(
        f"The funnel in sync: recall on a moving listing over {first['hours']:g} hours", command,
        f"Two worlds from one seed ({first['products']:,}-product catalog, refill "
        f"{first['refill_per_min']:,} tokens/min so that tokens hold neither back) run the "
        "README's cron schedule: the default funnel (stage 0 judges known deals from the "
        "deal page's price for free, stage 1 new and old-history ones from their history, 1 "
        "token) and `--no-screen` (live offers for every listed change). Keepa's stored data "
        "and deal pages lag the live offers by the history lag. Every hour, after the tick's "
        "commands, **recall** = deals visible in both / deals visible with `--no-screen`, "
        "summed over the hours (deal-hours) and at the worst hour.") + [
        "| history lag | visible deal-hours `--no-screen` (distinct deals, churn) | funnel | "
        "found by both | **recall** | worst hour | tokens `--no-screen` / funnel (ratio) | "
        "missed (hours) |", "|---|---|---|---|---|---|---|---|"]
    for run in runs:
        v, t = run["visible_deal_hours"], run["tokens"]
        missed = ", ".join(f"{a} ({len(m['hours'])} h, funnel kept it "
                           f"{(m['funnel_row'] or {}).get('status') or 'unseen'}"
                           f"{' ' + m['funnel_row']['skip_reason'] if (m['funnel_row'] or {}).get('skip_reason') else ''})"
                           for a, m in run["missed"].items()) or "-"
        lines.append(f"| {run['lag_minutes']} min | {v['no_screen']:,} "
                     f"({run['distinct_visible_no_screen']}, {run['visible_churn']}) | "
                     f"{v['funnel']:,} | "
                     f"{v['found']:,} | **{pct(run['recall'], 2)}** | "
                     f"{pct(run['min_hourly_recall'])} | {t['no_screen']:,} / {t['funnel']:,} "
                     f"({run['token_ratio']}x) | {missed} |")
    ok = all((run["recall"] or 0) >= 0.99 for run in runs)
    lines += ["", f"Target: recall >= 99% at every lag - {verdict(ok)}. Churn: deals that "
              "became visible after the first hour, plus those visible then and not at the "
              "end. The measure can fail: the same run (300 products, 6 hours, 360 min lag) "
              "with a funnel that judges 15% above the listed price instead of 10% below "
              "missed 2 of 74 deal-hours (recall 97.3%, worst hour 81.8%).", ""]
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--products", type=int, default=1000)
    ap.add_argument("--lags", type=int, nargs="+", default=[0, 60, 360])
    ap.add_argument("--hours", type=float, default=24)
    args = ap.parse_args()
    runs = [compare(args.products, lag, args.hours) for lag in args.lags]
    print(json.dumps({"machine": describe(), "runs": runs}, indent=2))


if __name__ == "__main__":
    main()

"""The whole performance suite, one command; writes docs/benchmarks.md.

    python -m bench                 # everything (about 25 minutes on 2 cores)
    python -m bench --out -         # print the Markdown instead of writing the file
    python -m bench --only freshness schedule   # re-measure some parts, keep the others'
                                                # results from docs/benchmarks.json

Each part runs in its own process (`python -m bench.<part> ...`, the exact command is printed
in the report) so no part warms or slows another. serve-json uses wrk when it is installed.
"""

from __future__ import annotations

import argparse
import datetime
import json
import shlex
import subprocess
import sys
import time
from pathlib import Path

from bench.machine import describe
from bench.report import section, verdict
from bench.backtest import render as render_backtest
from bench.freshness import render as render_freshness, render_week
from bench.funnel_sync import render as render_funnel_sync
from bench.notify_latency import render as render_notify
from bench.sales import render as render_sales
from bench.sim_start import render as render_sim_start

ROOT = Path(__file__).resolve().parent.parent
PARTS = {
    "tokens": ["bench.tokens", "--products", "2000"],
    "schedule": ["bench.schedule", "--rates", "5", "20", "60", "--hours", "24"],
    "freshness": ["bench.schedule", "--freshness", "--rates", "5", "20", "60", "--hours", "24"],
    "freshness_week": ["bench.schedule", "--freshness", "--rates", "5", "20", "--hours", "192"],
    "funnel": ["bench.funnel", "--products", "2000", "--lags", "0", "60", "360"],
    "funnel_sync": ["bench.funnel_sync", "--products", "1000", "--lags", "0", "60", "360",
                    "--hours", "24"],
    "notify": ["bench.notify_latency", "--rate", "20", "--hours", "48", "--products", "2000"],
    "sales": ["bench.sales", "--products", "2000"],
    "backtest": ["bench.backtest", "--products", "2000", "--horizons", "30", "90", "180",
                 "--step-days", "30"],
    "analysis": ["bench.analysis", "--products", "300", "--repeat", "5"],
    "recalc": ["bench.recalc", "--rows", "100000", "1000000", "--repeat", "3"],
    "serve_1x1": ["bench.serve", "--rows", "100000", "--seconds", "10", "--threads", "1"],
    "serve_4x1": ["bench.serve", "--rows", "100000", "--seconds", "10", "--threads", "4"],
    "serve_4x2": ["bench.serve", "--rows", "100000", "--seconds", "10", "--threads", "4",
                  "--workers", "2"],
    "serve_scale": ["bench.serve", "--rows", "100000", "1000000", "--seconds", "5",
                    "--threads", "4", "--workers", "2"],
    "cli": ["bench.cli", "--rows", "100000", "1000000"],
    "sim_start": ["bench.sim_start", "--products", "500", "1000", "5000"],
}


def run(args: list[str]) -> tuple[dict, str, float]:
    cmd = [sys.executable, "-m", *args]
    print(f"running: python -m {shlex.join(args)}", file=sys.stderr, flush=True)
    started = time.perf_counter()
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return json.loads(out), f"python -m {shlex.join(args)}", time.perf_counter() - started


def render(results: dict, commands: dict, machine: dict, when: dict[str, str]) -> str:
    dates = sorted(set(when.values()))
    lines = [
        "# Benchmarks", "",
        f"Produced by `python -m bench` ({', '.join(f'{k}: {v}' for k, v in when.items())})."
        if len(dates) > 1 else f"Produced by `python -m bench` on {dates[0]}.",
        "Regenerate with the same command; each "
        "section names the exact command of its part. Numbers are medians of repeated runs "
        "where the part repeats (analysis x5, recalc x3); the token and scheduling runs are "
        "deterministic (fixed seeds, simulated clock), so one run each. Ratios are measured "
        "side by side in one process run.", "",
        "| machine | |", "|---|---|",
        *[f"| {k} | {v} |" for k, v in machine.items()], ""]
    t = results["tokens"]
    lines += [
        "## Tokens per saved deal (the seed step)", "", f"`{commands['tokens']}`", "",
        f"Backfill `--no-screen` of a {t['products']:,}-product simulator catalog "
        f"({t['listed']:,} listed by the query, {t['deals_saved']:,} saved as deals): the "
        "seed step alone, live offers for every listed product. The seed minimum is one "
        "`/product` with offers per listed product plus one `/seller` per saved deal, from "
        "the same run's product tokens. The funnel in front of it (below) decides which "
        "products get live offers at all.", "",
        "| | ours | seed minimum |", "|---|---|---|",
        f"| tokens per saved deal | **{t['tokens_per_saved_deal']}** (pages included) | "
        f"{t['seed_minimum_tokens_per_deal']} |",
        f"| requests per saved deal | {t['requests_per_saved_deal']} | "
        f"{t['seed_minimum_requests_per_deal']} |",
        f"| seller-cache hit rate | {t['seller_cache_hit_rate']:.1%} | - |", "",
        f"Tokens by endpoint: {t['tokens']}. Ratio to the seed minimum: "
        f"{t['ratio_to_seed_minimum']} ({1 - t['ratio_to_seed_minimum']:.1%} below).", "",
        f"Targets: at or below the seed minimum - {verdict(t['ratio_to_seed_minimum'] <= 1)}; "
        f"20% below it - {verdict(t['ratio_to_seed_minimum'] <= 0.8)}. The seller cache can "
        "only save the seller share (about one token of ~9.6 per deal); product tokens, "
        "which are the same for any design that reads offers, dominate.", ""]
    s = results["schedule"]["results"]
    lines += [
        "## Token scheduling over 24 simulated hours", "", f"`{commands['schedule']}`", "",
        "cron starts `sync` then `backfill` every 15 simulated minutes; the simulator "
        "enforces Keepa's bucket (it starts empty, refills each minute, may go negative, "
        "refuses with 429 below zero). This measures the token scheduler under constant "
        "demand, so it runs the seed step (`--no-screen`) on a catalog the day cannot "
        "finish: with the funnel, one query's listing is exhausted within hours.", "",
        "| refill/min | refilled | spent on successful calls | share | 429s | deepest balance "
        "(allowance) | deal saves/h | seed design at this rate, /h | distinct deals at end |",
        "|---|---|---|---|---|---|---|---|---|",
        *[f"| {r['rate_per_min']} | {r['tokens_refilled']:,} | "
          f"{r['tokens_spent_on_successful_calls']:,} | **{r['useful_share']:.1%}** | "
          f"{r['responses_429']} | {r['deepest_balance']} (-{r['allowance']}) | "
          f"{r['deal_saves_per_hour']} | {r['seed_cost_max_deals_per_hour']} | "
          f"{r['deals_in_db']:,} |" for r in s], "",
        "Targets: >= 95% of refilled tokens spent on useful calls - "
        f"{verdict(all(r['useful_share'] >= 0.95 for r in s))}; zero 429s - "
        f"{verdict(all(r['responses_429'] == 0 for r in s))}; balance never below the "
        f"allowance - {verdict(all(r['deepest_balance'] >= -r['allowance'] for r in s))}. "
        "A share above 100% is the controlled deficit: the day ends with a negative balance. "
        "Deal saves include sync's refreshes of changed deals (each a full `/product` "
        "analysis); the seed design's rate is the refill divided by the seed-minimum tokens "
        "per deal, the most a design paying the seed minimum could save (ours pays less).",
        "",
        "Runs per rate (and cron ticks skipped because the previous launch still held the "
        "lock): " + "; ".join(f"{r['rate_per_min']}/min {r['runs']}, "
                              f"{r['cron_ticks_skipped_busy']} skipped" for r in s), ""]
    lines += render_freshness(results["freshness"]["results"], commands["freshness"])
    if "freshness_week" in results:
        lines += render_week(results["freshness_week"]["results"], commands["freshness_week"])
    lines += render_sales(results["sales"], commands["sales"])
    lines += render_funnel(results["funnel"], commands["funnel"])
    if "funnel_sync" in results:
        lines += render_funnel_sync(results["funnel_sync"], commands["funnel_sync"])
    if "notify" in results:
        lines += render_notify(results["notify"], commands["notify"])
    lines += render_backtest(results["backtest"], commands["backtest"])
    a = results["analysis"]
    lines += [
        "## CPU", "", "### Analysis", "", f"`{commands['analysis']}`", "",
        f"{a['products']} Keepa-shaped products (mean {a['mean_product_kib']} KiB of JSON, "
        "3 years of history, offers): parse, offer selection, sales inference, List at, "
        "business math.", "",
        "| | products/s | ms/product |", "|---|---|---|",
        f"| analysis (parse included) | **{a['products_per_s']}** | {a['ms_per_product']} |",
        f"| baseline: `json.loads` only | {a['baseline_json_loads_per_s']} | "
        f"{round(1000 / a['baseline_json_loads_per_s'], 2)} |", "",
        f"Analysis takes {a['ratio_to_baseline_time']}x the time of parsing alone.", ""]
    if "sim_start" in results:
        lines += render_sim_start(results["sim_start"], commands["sim_start"])
    lines += ["### recalc", "", f"`{commands['recalc']}`", "",
              "| deals | recalc s | rows/s | one SQL UPDATE s | its rows/s | ratio | >= 200k rows/s "
              "| within 2x |", "|---|---|---|---|---|---|---|---|"]
    for r in results["recalc"]["results"]:
        lines.append(f"| {r['rows']:,} | {r['recalc_s']} | **{r['recalc_rows_per_s']:,}** | "
                     f"{r['baseline_s']} | {r['baseline_rows_per_s']:,} | "
                     f"{r['ratio_recalc_over_baseline']}x | "
                     f"{verdict(r['recalc_rows_per_s'] >= 200_000)} | "
                     f"{verdict(r['ratio_recalc_over_baseline'] <= 2)} |")
    lines += ["", "recalc also rebuilds the partial sort indexes serve-json reads (dropping "
              "them before a full recalc and creating them after is faster than updating them "
              "row by row); the UPDATE baseline does neither.", ""]
    lines += ["### serve-json vs Datasette", ""]
    rows = []
    for key in ("serve_1x1", "serve_4x1", "serve_4x2"):
        r = results[key]
        lines.append(f"`{commands[key]}`  ")
        for name, v in r["results"].items():
            a_, b_ = v["serve_json"], v["datasette"]
            rows.append(f"| {name} | {r['threads']} | {r['workers']} | {a_['rps']} | "
                        f"{a_['p50_ms']} / {a_['p99_ms']} | {b_['rps']} | "
                        f"{b_['p50_ms']} / {b_['p99_ms']} | **{v['throughput_ratio']}x** | "
                        f"{a_['errors'] + b_['errors']} |")
    load = results["serve_1x1"]["load_generator"]
    lines += ["", f"100k deals, load generator `{load}` (same for both servers), "
              "Datasette 0.65 with its defaults:", "",
              "| query | clients | serve-json workers | serve-json req/s | p50 / p99 ms | "
              "Datasette req/s | p50 / p99 ms | throughput ratio | errors |",
              "|---|---|---|---|---|---|---|---|---|", *rows, ""]
    serve = [(name, results[k]["threads"], v) for k in ("serve_1x1", "serve_4x1", "serve_4x2")
             for name, v in results[k]["results"].items()]
    worst = max(v["serve_json"]["p99_ms"] for _, _, v in serve)
    over = [f"{name} with {clients} client(s) ({v['serve_json']['p99_ms']} ms)"
            for name, clients, v in serve if v["serve_json"]["p99_ms"] >= 20]
    one = max(v["serve_json"]["p99_ms"] for _, clients, v in serve if clients == 1)
    lines += [f"Targets: >= 3x Datasette's throughput - "
              f"{verdict(all(v['throughput_ratio'] >= 3 for _, _, v in serve))} (lowest "
              f"{min(v['throughput_ratio'] for _, _, v in serve)}x); p99 < 20 ms - "
              f"{verdict(worst < 20)} (highest {worst} ms"
              + (f"; at or over 20 ms: {', '.join(over)}" if over else "") + "). With one "
              f"client the highest p99 is {one} ms; more clients than cores queue (the load "
              "generator shares the cores).", ""]
    if "serve_scale" in results:
        from bench.serve_scale import render as render_scale

        lines += render_scale(results["serve_scale"], commands["serve_scale"])
    if "cli" in results:
        from bench.cli import render as render_cli

        lines += render_cli(results["cli"], commands["cli"])
    return "\n".join(lines)


def _verdicts(real: dict) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(real["verdicts"].items()))


def render_funnel(f: dict, command: str) -> list[str]:
    lines = section(
        "The funnel: visible deals per 1,000 tokens", command,
        "Two backfills of the same 2,000-product catalog at the same simulated moment: "
        "`--no-screen` (the seed: live offers for every listed product) and the default "
        "funnel (each product's history first, 1 token, 20 a call; live offers only for "
        "books profitable 10% below Keepa's lowest used price). Divergence: the simulator's "
        "`history_lag_minutes`, how often Keepa crawls a product, so how much older its "
        "history and stats are than the live offers (stage 1 asks `update=1`, so Keepa "
        "refreshes what is older than an hour, as documented). recall = visible deals the "
        "funnel found / visible deals the full fetch found.") + [
        "| history lag | listed | `--no-screen` tokens | visible | per 1,000 tokens | funnel "
        "tokens (history + offers + sellers + pages) | visible | per 1,000 tokens | "
        "**ratio** | **recall** | missed |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in f["runs"]:
        a, b = r["no_screen"], r["funnel"]
        e = b["tokens_by_endpoint"]
        lines.append(
            f"| {r['lag_minutes']} min | {a['listed']:,} | {a['tokens']:,} | "
            f"{a['visible_deals']} | {r['visible_per_1000_tokens']['full']} | {b['tokens']:,} "
            f"({b['history_tokens']:,} + {b['offers_tokens']:,} + {e['seller']} + "
            f"{e['deal']}) | {b['visible_deals']} | {r['visible_per_1000_tokens']['funnel']} | "
            f"**{r['ratio']}x** | **{r['recall']:.1%}** | {', '.join(r['missed']) or '-'} |")
    ok = all(r["ratio"] >= 3 and r["recall"] >= 0.99 for r in f["runs"])
    lines += ["", f"Targets: >= 3x the visible deals per 1,000 tokens of `--no-screen` and "
              f"recall >= 99% - {verdict(ok)}.", ""]
    real, cut = f.get("real_files"), f.get("real_files_cut_60")
    if real:
        lines += [
            f"On the real files ({real['files']} in ../shared/real-keepa with its snapshots, "
            f"{real['with_live_offers']} with live offers), the stage-1 verdict on each "
            f"product's history alone (offers removed, as a history-only answer has none): "
            f"{_verdicts(real)}. {real['visible_passed']} of {real['visible']} visible deals passed, "
            f"{real['profitable_live_passed']} of {real['profitable_live']} products "
            f"profitable at their live winner passed, and the bound was below the live profit "
            f"on {len(real['bound_below_live_profit'])} products - recall 100% on the real "
            f"files {verdict(real['visible_passed'] == real['visible'] and not real['bound_below_live_profit'] and not real['rejected_profitable_live'])}.", ""]
    if cut:
        lines += [
            f"Judged from the history as Keepa served it {cut['cut_minutes']} minutes before "
            f"the live offers were taken (analysis/asof.py cuts every series there; the gap a "
            f"sync's stage 0 or 1 works with): {_verdicts(cut)}; {cut['profitable_live_passed']} of {cut['profitable_live']} products "
            f"profitable at their live winner passed ({len(cut['rejected_profitable_live'])} "
            f"rejected) - {verdict(not cut['rejected_profitable_live'])}. The bound was below "
            f"the live profit on {len(cut['bound_below_live_profit'])} product(s) "
            f"({', '.join(cut['bound_below_live_profit']) or '-'}): a price that moved after "
            "the cut, which a judgment an hour old cannot know; it costs recall only where the "
            "live profit is positive (the rejected count). The real files hold few profitable "
            "books, so the simulator runs carry the recall target.", ""]
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "docs" / "benchmarks.md"))
    ap.add_argument("--only", nargs="+", choices=sorted(PARTS) + ["(none)"],
                    help="re-measure only these parts; the others come from the JSON next to "
                         "--out")
    ap.add_argument("--render-only", action="store_true",
                    help="measure nothing: rewrite the Markdown from the JSON next to --out")
    args = ap.parse_args()
    old = {}
    stored = Path(args.out).with_suffix(".json") if args.out != "-" else \
        ROOT / "docs" / "benchmarks.json"
    if args.render_only:
        args.only = ["(none)"]
    if args.only and stored.exists():
        old = json.loads(stored.read_text())
    results, commands, seconds, when = {}, {}, {}, {}
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    for name, part in PARTS.items():
        if args.only and name not in args.only and name in old:
            results[name] = old[name]
            commands[name] = f"python -m {shlex.join(part)}"
            when[name] = old[name].get("measured_at", "earlier")
            continue
        results[name], commands[name], seconds[name] = run(part)
        results[name]["measured_at"] = when[name] = now
    if args.out != "-":  # measured: kept even if the rendering below fails
        Path(args.out).with_suffix(".json").write_text(json.dumps(results, indent=2) + "\n")
    text = render(results, commands, describe(), when)
    if seconds:
        text += ("\nWall time per part re-measured now (s): "
                 + ", ".join(f"{k} {v:.0f}" for k, v in seconds.items()) + "\n")
    if args.out == "-":
        print(text)
    else:
        Path(args.out).write_text(text)
        print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()

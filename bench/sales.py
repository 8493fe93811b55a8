"""Inferred sales against Keepa's own rank-drop counts and the simulator's truth (issue 21).

    python -m bench.sales --products 2000

- Real files (../shared/real-keepa, one row a book: the newest response of each ASIN; the
  snapshots are summarised apart): our sales in the last 30/90/180/365 days beside Keepa's
  `stats.salesRankDrops30/90/180/365`, and the rule we inherited (an offer-count drop
  confirmed by any rank improvement within 240 hours, or by the next report within 30 days)
  beside them; `sale_days_180` beside an eScore-style count made from the rank alone.
- Simulator: the sale events we infer against the simulator's true sales (a report that shows
  one or more sales is one event): precision, recall, the count ratio, and how often the
  condition and price of a matched used sale are right.
- Noise: the same three statistics on the real books and the simulated ones.
- Cost: the inference per product, today's rule against the inherited one, same process.
"""

from __future__ import annotations

import argparse
import bisect
import json
import statistics
import time
from pathlib import Path

from arbitrage_cli.analysis.deal import history
from arbitrage_cli.analysis.keepa_data import series, valid
from arbitrage_cli.analysis.sales import JUMP_RATIO, infer_sales
from arbitrage_cli.product_files import saved_products
from arbitrage_cli.keepa.constants import CSV
from arbitrage_cli.simulator import Catalog, views
from arbitrage_cli.simulator.market import sale_reports
from arbitrage_cli.timefmt import keepa_minutes_from_epoch
from bench.machine import describe
from bench.tokens import EPOCH

REAL = Path(__file__).resolve().parent.parent.parent / "shared" / "real-keepa"
DAY = 1440
WINDOWS = (30, 90, 180, 365)
BAND = (3, 200)  # Keepa drops a year: the books its count is a fair yardstick for


def inherited_count(product: dict, now: int, days: int) -> int:
    """The rule before issue 21 (domain.md §3.1 as it was): every offer-count drop confirmed
    by any rank improvement within 240 h, or by the next rank report within 30 days."""
    rank = [(t, v) for t, v in valid(series(product, CSV["SALES"])) if t >= now - 1095 * DAY]
    times = [t for t, _ in rank]
    improved = [False] + [rank[i][1] < rank[i - 1][1] for i in range(1, len(rank))]
    n = 0
    for name in ("COUNT_USED", "COUNT_NEW"):
        pts = valid(series(product, CSV[name]))
        for i in range(1, len(pts)):
            t = pts[i][0]
            if pts[i][1] >= pts[i - 1][1] or now - t >= days * DAY or t > now:
                continue
            lo, hi = bisect.bisect_left(times, t), bisect.bisect_right(times, t + 240 * 60)
            ok = any(improved[lo:hi])
            if not ok:
                b, a = bisect.bisect_right(times, t) - 1, bisect.bisect_right(times, t)
                ok = b >= 0 and a < len(rank) and times[a] <= t + 30 * DAY \
                    and rank[a][1] < rank[b][1]
            n += ok
    return n


def escore_days(product: dict, end: int, days: int = 180) -> int:
    """ScoutIQ-style: a day counts when the rank was under 100,000 or fell more than 10%
    below the previous day's close (the rank series alone)."""
    pts = valid(series(product, CSV["SALES"]))
    count, close, j = 0, None, 0
    for d in range(end // DAY - days, end // DAY + 1):
        lo, hi = d * DAY, (d + 1) * DAY
        while j < len(pts) and pts[j][0] < lo:
            close = pts[j][1]
            j += 1
        k, low, last = j, None, close
        while k < len(pts) and pts[k][0] < hi:
            low = pts[k][1] if low is None else min(low, pts[k][1])
            last = pts[k][1]
            k += 1
        if low is not None and (low < 100_000 or (close and low < 0.9 * close)):
            count += 1
        close = last
    return count


def noise(product: dict, end: int) -> dict | None:
    """The three noise statistics of one book's last year; None outside BAND."""
    keepa = (product.get("stats") or {}).get("salesRankDrops365")
    if not isinstance(keepa, int) or not BAND[0] <= keepa <= BAND[1]:
        return None
    rank = [x for x in valid(series(product, CSV["SALES"])) if x[0] <= end]
    drops = sorted(t for name in ("COUNT_USED", "COUNT_NEW")
                   for t, prev in _falls(valid(series(product, CSV[name]))))
    year = end - 365 * DAY
    falls = [i for i in range(1, len(rank)) if rank[i][0] > year and rank[i][1] < rank[i - 1][1]]
    jumps = [i for i in falls if rank[i][1] < (1 - JUMP_RATIO) * rank[i - 1][1]]
    bare = sum(1 for i in jumps if bisect.bisect_right(drops, rank[i][0])
               <= bisect.bisect_left(drops, rank[i - 1][0]))
    return {"offer_drops_per_keepa_drop": sum(1 for t in drops if year < t <= end) / keepa,
            "rank_decreases_under_5pct": (len(falls) - len(jumps)) / max(1, len(falls)),
            "jumps_without_offer_drop": bare / max(1, len(jumps))}


def _falls(pts):
    return [(pts[i][0], pts[i - 1][1]) for i in range(1, len(pts)) if pts[i][1] < pts[i - 1][1]]


def real_books() -> tuple[list[dict], list[dict]]:
    """(one row per book, one row per snapshot)."""
    items = list(saved_products(REAL)) if REAL.is_dir() else []
    newest: dict[str, tuple] = {}
    rows = []
    for product, end, name in items:
        row = book_row(product, end, name)
        if row is None:
            continue
        rows.append(row)
        key = product.get("asin")
        if key not in newest or end > newest[key][1]:
            newest[key] = (row, end)
    books = sorted((r for r, _ in newest.values()), key=lambda r: r["file"])
    return books, [r for r in rows if r not in books]


def book_row(product: dict, end: int, name: str) -> dict | None:
    st = product.get("stats") or {}
    if not product.get("csv") or not isinstance(st.get("salesRankDrops365"), int) \
            or st["salesRankDrops365"] < 0:
        return None
    s = infer_sales(product, end)
    ours = {str(n): sum(1 for e in s.events if end - e.time < n * DAY) for n in WINDOWS}
    keepa = {str(n): st.get(f"salesRankDrops{n}") for n in WINDOWS}
    kinds = {k: sum(1 for e in s.events if e.kind == k and end - e.time < 365 * DAY)
             for k in ("used", "new", "unknown")}
    return {"file": name.split(":")[0].replace(".json.gz", ""), "asin": product.get("asin"),
            "ours": ours, "keepa": keepa,
            "inherited_365": inherited_count(product, end, 365),
            "kinds_365": kinds, "sale_days_180": history(product, end).sale_days_180,
            "escore_180": escore_days(product, end), "noise": noise(product, end)}


def ratios(rows: list[dict], n: int, least: int) -> list[float]:
    """ours / Keepa over the books of the band where Keepa counts at least `least`."""
    key = str(n)
    return [r["ours"][key] / r["keepa"][key] for r in rows
            if BAND[0] <= r["keepa"]["365"] <= BAND[1]
            and isinstance(r["keepa"][key], int) and least <= r["keepa"][key]]


def agreement(rows: list[dict]) -> dict:
    out = {}
    for n, least in ((365, BAND[0]), (90, 3)):
        r = ratios(rows, n, least)
        out[str(n)] = {"books": len(r), "median": round(statistics.median(r), 3) if r else None,
                       "worst": round(max(r, key=lambda x: abs(x - 1)), 3) if r else None,
                       "within_0.8_1.25": sum(1 for x in r if 0.8 <= x <= 1.25),
                       "within_1.5": sum(1 for x in r if 1 / 1.5 <= x <= 1.5)}
    return out


def matched_noise(stats: list[tuple[int, dict | None]], real_range: tuple[int, int]) -> dict:
    """The noise of the simulated books whose Keepa drops a year fall in the real books'
    range (like with like: faster books have fewer small rank decreases), and of the band."""
    return {"range": list(real_range),
            "matched": summarise([x for k, x in stats
                                  if x and real_range[0] <= k <= real_range[1]]),
            "band": summarise([x for _, x in stats if x])}


def simulated(products: int, real_range: tuple[int, int], seed: int = 11) -> dict:
    cat = Catalog(seed=seed, products=products, now=EPOCH)
    now = keepa_minutes_from_epoch(EPOCH)
    tp = fp = fn = sold = inferred = 0
    cond = [0, 0]
    price = [0, 0]
    stats, seconds = [], 0.0
    for asin in cat.asins:
        p = cat.product(asin)
        j = views.product_json(p, now, stats_days=365, history=True, days=None,
                               offers={"offers": [], "offersSuccessful": True,
                                       "liveOffersOrder": [], "stats": {}},
                               offers_fetched_at=now)
        started = time.perf_counter()
        s = infer_sales(j, now)
        seconds += time.perf_counter() - started
        truth = sale_reports([x for x in p.sales if x.report is not None
                              and now - 1095 * DAY <= x.report <= now])
        events = {e.time: e for e in s.events}
        tp += len(set(truth) & set(events))
        fp += len(set(events) - set(truth))
        fn += len(set(truth) - set(events))
        sold += sum(len(v) for v in truth.values())
        inferred += len(events)
        for t in set(truth) & set(events):
            e = events[t]
            if e.kind == "used" and e.condition is not None:
                cond[1] += 1
                cond[0] += any(x.condition == e.condition for x in truth[t])
            if e.kind == "used" and e.price_cents is not None:
                price[1] += 1
                price[0] += any(x.price == e.price_cents for x in truth[t])
        stats.append((j["stats"]["salesRankDrops365"], noise(j, now)))
    return {"products": products, "events_true": tp + fn, "events_inferred": tp + fp,
            "precision": round(tp / max(1, tp + fp), 4), "recall": round(tp / max(1, tp + fn), 4),
            "sales_true": sold, "count_ratio": round(inferred / max(1, sold), 3),
            "condition_right": cond, "price_right": price,
            "noise": matched_noise(stats, real_range),
            "infer_us_per_product": round(seconds / products * 1e6, 1)}


def summarise(rows: list[dict]) -> dict:
    return {k: {"books": len(rows), "median": round(statistics.median(r[k] for r in rows), 3)}
            for k in (rows[0] if rows else {})}


def cost(products: int, seed: int = 3) -> dict:
    """Today's inference against the inherited rule on the same simulated products."""
    cat = Catalog(seed=seed, products=products, now=EPOCH)
    now = keepa_minutes_from_epoch(EPOCH)
    js = [views.product_json(cat.product(a), now, stats_days=365, history=True, days=None,
                             offers=None, offers_fetched_at=None) for a in cat.asins]
    best = {}
    for name, fn in (("today", lambda p: infer_sales(p, now)),
                     ("inherited", lambda p: inherited_count(p, now, 1095))):
        runs = []
        for _ in range(3):
            started = time.perf_counter()
            for p in js:
                fn(p)
            runs.append(time.perf_counter() - started)
        best[name] = round(min(runs) / len(js) * 1e6, 1)
    return {"products": products, "us_per_product": best,
            "ratio": round(best["today"] / best["inherited"], 2)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--products", type=int, default=2000)
    args = ap.parse_args()
    books, snapshots = real_books()
    real_noise = summarise([b["noise"] for b in books if b["noise"]])
    band = [b["keepa"]["365"] for b in books if b["noise"]]
    real_range = (min(band), max(band)) if band else BAND
    print(json.dumps({"machine": describe(), "books": books,
                      "agreement": agreement(books),
                      "snapshots": {"files": len(snapshots), "agreement": agreement(snapshots)},
                      "real_noise": real_noise, "simulator": simulated(args.products, real_range),
                      "cost": cost(min(300, args.products))}, indent=2))


if __name__ == "__main__":
    main()


def render(r: dict, command: str) -> list[str]:
    """The docs/benchmarks.md section, from this part's JSON."""
    def cell(b: dict, n: str) -> str:
        k = b["keepa"][n]
        return f"{b['ours'][n]} / {k if isinstance(k, int) else '-'}"

    a365, a90 = r["agreement"]["365"], r["agreement"]["90"]
    sim, real_noise = r["simulator"], r["real_noise"]
    lines = [
        "## Sales: inferred from the rank history", "", f"`{command}`", "",
        f"A sale is a sales-rank report more than {JUMP_RATIO:.0%} below the one before "
        "(analysis/sales.py), matched to at most one offer-count drop between those two "
        "reports. Keepa's own `salesRankDrops*` is the yardstick on the real files (one row a "
        "book, its newest response); the inherited rule is the one this replaced (an "
        "offer-count drop confirmed by any rank improvement within 240 h). eScore-style: days "
        "of the last 180 with the rank under 100,000 or more than 10% below the previous "
        "day's close, from the rank alone; `sale_days_180` counts the days with an inferred "
        "sale of any kind.", "",
        "| book | 30 d ours / Keepa | 90 d | 180 d | 365 d | inherited rule, 365 d | "
        "365 d: used / new / unknown | sale days 180: ours / eScore |",
        "|---|---|---|---|---|---|---|---|"]
    for b in r["books"]:
        k = b["kinds_365"]
        lines.append(f"| {b['file']} | {cell(b, '30')} | {cell(b, '90')} | {cell(b, '180')} | "
                     f"**{cell(b, '365')}** | {b['inherited_365']} | {k['used']} / {k['new']} / "
                     f"{k['unknown']} | {b['sale_days_180']} / {b['escore_180']} |")
    lines += [
        "", f"Books with {BAND[0]}-{BAND[1]} Keepa drops a year: {a365['books']}; 365-day "
        f"ratio ours/Keepa median {a365['median']}, worst {a365['worst']}, within 0.8-1.25x "
        f"{a365['within_0.8_1.25']} of {a365['books']}, within 1.5x {a365['within_1.5']}. At "
        f"90 days where Keepa counts 3 or more: {a90['books']} books, median {a90['median']}, "
        f"worst {a90['worst']}, within 0.8-1.25x {a90['within_0.8_1.25']}, within 1.5x "
        f"{a90['within_1.5']}. The {r['snapshots']['files']} earlier snapshots of the same "
        f"books: 365 days within 0.8-1.25x on {r['snapshots']['agreement']['365']['within_0.8_1.25']}"
        f" of {r['snapshots']['agreement']['365']['books']}. Fast sellers (outside the band) "
        "have several sales between two rank reports, where one report counts one sale: "
        "there Keepa's count and ours are both low, and the simulator's truth judges.", "",
        f"Simulator ({sim['products']:,} products, 3 years): {sim['events_true']:,} true sale "
        f"events (a rank report showing one or more of {sim['sales_true']:,} sales); we infer "
        f"{sim['events_inferred']:,}: precision **{sim['precision']:.1%}**, recall "
        f"**{sim['recall']:.1%}**; count ratio (our sales / true sales) {sim['count_ratio']}. "
        f"Of the matched used sales, the condition is right on {sim['condition_right'][0]:,} "
        f"of {sim['condition_right'][1]:,} where we name one, and the price is the sold "
        f"copy's item price on {sim['price_right'][0]:,} of {sim['price_right'][1]:,} (the "
        "price before the drop is the lowest used item price, while the copy that sold is "
        "the lowest landed one).", "",
        "Noise, real books against simulated ones (each book's last year; medians over the "
        "books of the band):", "",
        "| statistic | real | simulator | ratio |", "|---|---|---|---|"]
    for key, label in (("offer_drops_per_keepa_drop", "offer-count drops per Keepa rank drop"),
                       ("rank_decreases_under_5pct", "rank decreases of 5% or less / all"),
                       ("jumps_without_offer_drop", "rank jumps with no offer drop")):
        rv, sv = real_noise[key]["median"], sim["noise"]["matched"][key]["median"]
        lines.append(f"| {label} | {rv} ({real_noise[key]['books']} books) | {sv} "
                     f"({sim['noise']['matched'][key]['books']} books) | "
                     f"{round(sv / rv, 2) if rv else '-'} |")
    c = r["cost"]
    lines += ["", f"The simulated books are those with as many Keepa drops a year as the real "
              f"ones ({sim['noise']['range'][0]}-{sim['noise']['range'][1]}); over the whole "
              f"band: " + ", ".join(f"{k} {v['median']}" for k, v in sim["noise"]["band"].items())
              + ".", "",
              f"Cost: the inference takes {c['us_per_product']['today']} us a product against "
              f"the inherited rule's {c['us_per_product']['inherited']} us ({c['ratio']}x, same "
              f"process, {c['products']} simulated products); the whole analysis is in "
              "\"Analysis\" below.", ""]
    return lines

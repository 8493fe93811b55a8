"""serve-json and status on a large deals.db (issue 24): what a first request costs, single
deals, charts, keyword search, and latency while a sync writes. Called by bench.serve for each
--rows size; every number is measured beside its anchor in the same run.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import statistics
import subprocess
import sys
import threading
import time

# 20 filter combinations a seller uses (the CLI's names, as the API takes them)
FILTERS = [
    "min_profit=5", "min_profit=10", "min_profit=20&sort=roi", "min_roi=50", "min_roi=100",
    "max_rank=200000", "max_rank=500000&min_profit=8", "conditions=2,3", "conditions=4,5",
    "min_percent_down=20", "min_seller_quality=8", "min_deal_trust=80", "hide_amazon=1",
    "hide_gated=1", "min_profit_low=3", "min_confidence=0.5", "max_days_to_sell=60",
    "min_sale_days=3", "include_marked=1&min_profit=15", "min_profit=12&sort=rank",
]
WRITER = """
import random, sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
db.execute("pragma busy_timeout = 30000")
asins = [r[0] for r in db.execute("select asin from deals order by random() limit 5000")]
rng = random.Random(1)
stop = time.time() + float(sys.argv[2])
while time.time() < stop:  # a sync's chunk: 20 deals re-checked in one transaction
    db.execute("begin immediate")
    for a in rng.sample(asins, 20):
        db.execute("update deals set price_now_cents = price_now_cents + 1, "
                   "updated_at = strftime('%Y-%m-%dT%H:%M:%fZ') where asin = ?", [a])
    db.execute("commit")
    time.sleep(0.25)
"""


def get(port: int, path: str, timeout: float = 120) -> tuple[float, int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    t = time.perf_counter()
    conn.request("GET", path)
    resp = conn.getresponse()
    body = resp.read()
    conn.close()
    return (time.perf_counter() - t) * 1000, resp.status, body


def pct(values: list[float], q: float) -> float:
    v = sorted(values)
    return round(v[min(len(v) - 1, int(len(v) * q))], 1) if v else None


def load_paths(port: int, paths: list[str], seconds: float, threads: int) -> dict:
    """Keep-alive clients cycling through `paths`: requests/s, p50/p99 ms, errors."""
    lat, errors, lock = [], [0], threading.Lock()
    stop = time.time() + seconds

    def worker(k: int):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine, i = [], k
        while time.time() < stop:
            t = time.perf_counter()
            try:
                conn.request("GET", paths[i % len(paths)])
                resp = conn.getresponse()
                resp.read()
                ok = resp.status == 200
            except (OSError, http.client.HTTPException):
                ok = False
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            mine.append((time.perf_counter() - t) * 1000)
            i += threads
            if not ok:
                with lock:
                    errors[0] += 1
        with lock:
            lat.extend(mine)

    ts = [threading.Thread(target=worker, args=(k,)) for k in range(threads)]
    [t.start() for t in ts]
    [t.join() for t in ts]
    return {"requests": len(lat), "rps": round(len(lat) / seconds, 1), "errors": errors[0],
            "p50_ms": round(statistics.median(lat), 2) if lat else None,
            "p99_ms": pct(lat, 0.99)}


def first_requests(port: int, db_path: str) -> dict:
    """Each filter's first request, then the first after a write; the old request path's
    cost (the exact count on the request) measured beside it; totals checked exact."""
    from arbitrage_cli.store import open_db
    from arbitrage_cli.store.queries import count
    from arbitrage_cli.serve import parse, single

    def once() -> list[float]:
        return [get(port, f"/api/deals?limit=50&{q}")[0] for q in FILTERS]

    first = once()
    writer = open_db(db_path)
    asin = writer.execute("select asin from visible_deals limit 1 offset 7").fetchone()[0]
    writer.execute("insert or replace into marks (asin, decision, decided_at) values "
                   "(?, 'watch', strftime('%Y-%m-%dT%H:%M:%fZ'))", [asin])
    after_write = once()
    reader = open_db(db_path, readonly=True)
    counts_ms, exact, pending = [], 0, 0
    for q in FILTERS:
        params = dict(p.split("=", 1) for p in q.split("&"))
        filters = parse(single(params))[0]
        t = time.perf_counter()
        truth = count(reader, filters) if any(k != "sort" for k in params) else None
        counts_ms.append((time.perf_counter() - t) * 1000)
        deadline = time.time() + 600
        while True:  # the total follows: poll until given, then it must be exact
            body = json.loads(get(port, f"/api/deals?limit=1&{q}")[2])
            if body["total"] is not None or time.time() > deadline:
                break
            pending += 1
            time.sleep(0.2)
        exact += body["total"] == truth
    both = first + after_write
    slowest = sorted(zip(first + after_write, FILTERS + [f"{q} (after a write)"
                                                        for q in FILTERS]), reverse=True)[:3]
    return {"filters": len(FILTERS), "first_p50_ms": pct(both, 0.5),
            "slowest": [[round(ms, 1), q] for ms, q in slowest],
            "first_p99_ms": pct(both, 0.99), "first_max_ms": round(max(both), 1),
            "after_write_max_ms": round(max(after_write), 1),
            "count_on_request_p50_ms": pct(counts_ms, 0.5),
            "count_on_request_max_ms": round(max(counts_ms), 1),
            "totals_exact": exact, "polls_before_total": pending}


def status_times(db_path: str) -> dict:
    """`arbitrage status --json` as a process (wall, CPU), and the old way of counting
    (every count a scan) in this process for the before."""
    from arbitrage_cli.store import counts, open_db
    from arbitrage_cli.store.status import gather

    walls, cpus = [], []
    for _ in range(3):
        t = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "arbitrage_cli", "--db", db_path,
                                 "status", "--json"], stdout=subprocess.DEVNULL)
        _, _, usage = os.wait4(proc.pid, 0)
        walls.append(time.perf_counter() - t)
        cpus.append(usage.ru_utime + usage.ru_stime)
    db = open_db(db_path, readonly=True)
    real = counts.read
    counts.read = lambda _db: None  # the scans status made before migration 014
    try:
        t = time.perf_counter()
        gather(db)
        before = time.perf_counter() - t
    finally:
        counts.read = real
    return {"wall_s": round(statistics.median(walls), 3),
            "cpu_s": round(statistics.median(cpus), 3), "before_gather_s": round(before, 3)}


def chart_times(db_path: str, asins: list[str]) -> dict:
    from arbitrage_cli import chart
    from arbitrage_cli.store import open_db
    from arbitrage_cli.pipeline.stored import stored_product

    db = open_db(db_path, readonly=True)
    found = [stored_product(db, a) for a in asins[:12]]
    found = [f for f in found if f]
    chart.render(found[0][0], found[0][1], days=365, fmt="svg")  # imports matplotlib
    ms = []
    for product, a, *_ in found:
        t = time.perf_counter()
        chart.render(product, a, days=365, fmt="svg")
        ms.append((time.perf_counter() - t) * 1000)
    return {"charts": len(ms), "render_p50_ms": pct(ms, 0.5), "render_max_ms": round(max(ms), 1)}


def while_charts(port: int, asins: list[str], seconds: float, threads: int) -> dict:
    """p99 of the default list while one client keeps asking for charts nobody drew yet."""
    alone = load_paths(port, ["/api/deals?limit=50"], seconds, threads)
    paths = [f"/api/deals/{a}/chart.svg?days={d}" for d in range(30, 3650, 7) for a in asins]
    box = {}
    t = threading.Thread(target=lambda: box.update(c=load_paths(port, paths, seconds, 1)))
    t.start()
    with_charts = load_paths(port, ["/api/deals?limit=50"], seconds, threads)
    t.join()
    return {"list_alone": alone, "list_while_charts": with_charts, "charts": box["c"]}


def one_deal(ours: int, datasette: int, asins: list[str], seconds: float, threads: int) -> dict:
    a = load_paths(ours, [f"/api/deals/{x}" for x in asins], seconds, threads)
    b = load_paths(datasette, [f"/deals/deals/{x}.json?_shape=objects" for x in asins],
                   seconds, threads)
    return {"serve_json": a, "datasette": b,
            "throughput_ratio": round(a["rps"] / b["rps"], 2) if b["rps"] else None}


def keyword(port: int, seconds: float, threads: int) -> dict:
    words = ["chemistry", "calculus", "history", "biology", "law"]
    first = [get(port, f"/api/deals?limit=50&keyword={w}")[0] for w in words]
    repeated = load_paths(port, [f"/api/deals?limit=50&keyword={w}" for w in words],
                          seconds, threads)
    return {"first_max_ms": round(max(first), 1), "repeated": repeated}


def under_writes(port: int, db_path: str, asins: list[str], seconds: float,
                 threads: int) -> dict:
    queries = {"default list": ["/api/deals?limit=50"],
               "filtered, by ROI": ["/api/deals?min_profit=10&max_rank=500000&sort=roi"
                                    "&limit=50"],
               "keyword search": ["/api/deals?keyword=chemistry&limit=50"],
               "one deal": [f"/api/deals/{a}" for a in asins]}
    out = {}
    for name, paths in queries.items():
        writer = subprocess.Popen([sys.executable, "-c", WRITER, db_path, str(seconds + 1)])
        try:
            out[name] = load_paths(port, paths, seconds, threads)
        finally:
            writer.wait(60)
    return out


def measure(ours: int, datasette: int, db_path: str, originals: list[str], rows: int,
            seconds: float, threads: int) -> dict:
    from arbitrage_cli.store import open_db

    db = open_db(db_path, readonly=True)
    rng = random.Random(rows)
    sample = [r[0] for r in db.execute("select asin from deals where asin >= ? order by asin "
                                       "limit 2000", [f"X{rng.randint(0, rows // 2):09d}"])]
    rng.shuffle(sample)
    db.conn.close()
    out = {"first_requests": first_requests(ours, db_path), "status": status_times(db_path),
           "one_deal": one_deal(ours, datasette, sample, seconds, threads),
           "keyword": keyword(ours, seconds, threads),
           "chart": chart_times(db_path, originals),
           "while_charts": while_charts(ours, originals, seconds, threads)}
    if rows <= 200_000:
        out["under_writes"] = under_writes(ours, db_path, sample, seconds, threads)
    return out


def render(result: dict, command: str) -> list[str]:
    """docs/benchmarks.md: serve-json and status on large databases, before and after."""
    from bench.report import verdict

    sizes = result["sizes"]
    names = list(sizes)
    label = {n: f"{int(n) // 1000}k" if int(n) < 1_000_000 else f"{int(n) // 1_000_000}M"
             for n in names}
    big = sizes[names[-1]]
    lines = ["### serve-json and status at scale", "", f"`{command}`", "",
             f"deals.db of {', '.join(label[n] for n in names)} rows built from real row "
             "widths (bench/bigdb.py: copies of a demo backfill's complete rows, about two in "
             f"three visible), serve-json with {result['workers']} workers, Datasette beside it, "
             f"{result['threads']} clients (`{result['load_generator']}`, in the benchmark's "
             "process, sharing the 2 cores). Before: what the request path did until this "
             "change, measured on the same database in the same run.", "",
             "| what | " + " | ".join(f"{label[n]}" for n in names) + " | target |",
             "|---|" + "---|" * len(names) + "---|"]

    def row(what: str, cell, target: str) -> None:
        lines.append(f"| {what} | " + " | ".join(cell(sizes[n]) for n in names) +
                     f" | {target} |")

    fr = lambda s: s["first_requests"]  # noqa: E731
    row("before: the exact count on the request (p50 / max ms over 20 filters)",
        lambda s: f"{fr(s)['count_on_request_p50_ms']} / {fr(s)['count_on_request_max_ms']}", "")
    row("**first request for a new filter and the first after a write** (p50 / p99 ms)",
        lambda s: f"{fr(s)['first_p50_ms']} / **{fr(s)['first_p99_ms']}**", "< 50 ms at 1M")
    row("totals exact once given (of 20)", lambda s: f"{fr(s)['totals_exact']}", "20")
    row("slowest first requests (ms)", lambda s: "; ".join(
        f"{q} {ms}" for ms, q in fr(s).get("slowest", [])), "")
    row("before: status's counts, each a scan (s, in process)",
        lambda s: f"{s['status']['before_gather_s']}", "")
    row("**`status --json`** (wall / CPU s, a process)",
        lambda s: f"**{s['status']['wall_s']}** / {s['status']['cpu_s']}", "< 0.3 s wall")
    od = lambda s: s["one_deal"]  # noqa: E731
    row("**one deal** req/s, p99 ms (Datasette's row page req/s)",
        lambda s: f"{od(s)['serve_json']['rps']:,}, **{od(s)['serve_json']['p99_ms']}** "
                  f"({od(s)['datasette']['rps']:,}; **{od(s)['throughput_ratio']}x**)",
        ">= 1x, p99 < 20 ms")
    row("chart drawn (p50 / max ms)",
        lambda s: f"{s['chart']['render_p50_ms']} / {s['chart']['render_max_ms']}", "<= 100 ms")
    wc = lambda s: s["while_charts"]  # noqa: E731
    row("**list p99 while charts are drawn** (alone) ms",
        lambda s: f"**{wc(s)['list_while_charts']['p99_ms']}** ({wc(s)['list_alone']['p99_ms']})",
        "< 20 ms")
    kw = lambda s: s["keyword"]  # noqa: E731
    row("**keyword search** p99 ms (first of each word, max ms)",
        lambda s: f"**{kw(s)['repeated']['p99_ms']}** ({kw(s)['first_max_ms']})", "< 50 ms at 1M")
    for name, _ in (big.get("under_writes") or sizes[names[0]].get("under_writes") or {}).items():
        row(f"{name}: p99 ms while a sync writes",
            lambda s, name=name: f"{s['under_writes'][name]['p99_ms']}"
            if "under_writes" in s else "-", "< 20 ms at 100k")
    for name in big["steady"]:
        row(f"steady state, {name}: req/s vs Datasette",
            lambda s, name=name: f"{s['steady'][name]['serve_json']['rps']:,} "
                                 f"({s['steady'][name]['throughput_ratio']}x)", "")
    lines.append("")
    checks = {
        "first request p99 < 50 ms at the largest size": fr(big)["first_p99_ms"] < 50,
        "status < 0.3 s": big["status"]["wall_s"] < 0.3,
        "one deal >= Datasette, p99 < 20 ms": od(big)["throughput_ratio"] >= 1
        and od(big)["serve_json"]["p99_ms"] < 20,
        "chart <= 100 ms": big["chart"]["render_p50_ms"] <= 100,
        "list p99 < 20 ms while charts": wc(big)["list_while_charts"]["p99_ms"] < 20,
        "keyword p99 < 50 ms": kw(big)["repeated"]["p99_ms"] < 50,
    }
    writes = next((s["under_writes"] for s in sizes.values() if "under_writes" in s), None)
    if writes:
        checks["p99 < 20 ms while a sync writes"] = all(v["p99_ms"] < 20
                                                        for v in writes.values())
    lines.append("Targets: " + "; ".join(f"{k} - {verdict(v)}" for k, v in checks.items())
                 + ".")
    lines += ["", "How: the unfiltered total and status's counts are kept by triggers "
              "(migration 014, tests/test_counts.py holds them equal to a fresh count after "
              "random writes of every kind); any other total is counted once per change in a "
              "background thread and the page does not wait for it (`total: null, "
              "total_counting: true`, exact once given); the same question since the last "
              "change is answered from memory; a threshold few deals pass reads its own index "
              "(migration 015); charts are drawn in a separate process and kept; an "
              "explanation is computed only for `?explain=1` and kept.", "",
              ]
    gaps = []
    if not checks["first request p99 < 50 ms at the largest size"]:
        gaps.append(
            "**first requests at 1M** - the total is off the request path now (the before "
            "row is what it cost); what is left is reading a page from a cold 570 MB file: "
            "`conditions=4,5` and `min_confidence=0.5` decide their plan by counting up to "
            "2,000 index entries, each a row read from disk the first time (2-6 ms warm, "
            "80-140 ms cold)")
    if not checks["chart <= 100 ms"]:
        gaps.append(
            "**chart drawing** - the constrained layout (half of each chart), aligned labels "
            "and the log axis's minor ticks are gone; what remains is matplotlib laying out "
            "ticks and text (`Axis._update_ticks`, `Text._get_layout`); drawing the SVG "
            "directly would go further. It blocks nobody: see the list's p99 while charts "
            "are drawn")
    if writes and not checks["p99 < 20 ms while a sync writes"]:
        gaps.append(
            "**while a sync writes** - each of the writer's commits (4 a second) makes the "
            "remembered answers stale, so the page is read again: the ROI-sorted filter walks "
            "its sort index testing profit and rank on each row (~5 ms), and four clients "
            "queue behind the two cores the load generator shares")
    if gaps:
        lines += ["Where targets are missed, from profiles of these runs: " + "; ".join(gaps)
                  + ".", ""]
    return lines

"""How fast the simulator is ready, and how much memory it takes, by catalog size.

    python -m bench.sim_start [--products 500 1000 5000]

For each size: `arbitrage simulate-keepa --port 0 --products N` is started as a user starts
it; measured are the seconds to its ready line, the peak memory of the simulator process and
of it and its build workers together (VmRSS of the process tree, sampled every 20 ms), and
the seconds the first /deal listing takes after the ready line. Baseline, in this process:
the same catalog built the way it was before the listings (every product generated whole
and kept, with its series), timed on the first BASELINE products and scaled.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import requests

from bench.machine import describe

BASELINE = 300
KEY = "0" * 64


def _rss_kib(pid: int) -> int:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    m = re.search(r"^VmRSS:\s+(\d+) kB", status, re.M)
    return int(m.group(1)) if m else 0


def _children(pid: int) -> list[int]:
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                if int((d / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    out.append(int(d.name))
            except (OSError, IndexError, ValueError):
                continue
    return out


def start(products: int) -> dict:
    cmd = [sys.executable, "-m", "arbitrage_cli", "simulate-keepa", "--port", "0",
           "--products", str(products), "--seed", "7"]
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    peak = {"own": 0, "tree": 0}
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            own = _rss_kib(proc.pid)
            tree = own + sum(_rss_kib(c) for c in _children(proc.pid))
            peak["own"], peak["tree"] = max(peak["own"], own), max(peak["tree"], tree)
            time.sleep(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    url, buffer = None, ""
    try:
        while url is None:
            ch = proc.stderr.read(1)
            if not ch:
                raise RuntimeError(f"simulator exited: {buffer[-300:]}")
            buffer += ch
            m = re.search(r"Keepa simulator on (http://\S+) ", buffer)
            if m:
                url = m.group(1)
        ready = time.perf_counter() - started
        t0 = time.perf_counter()
        body = requests.get(f"{url}/deal", params={"key": KEY, "selection": json.dumps(
            {"domainId": 1, "priceTypes": [2], "dateRange": 1, "page": 0})}, timeout=120)
        body.raise_for_status()
        first_deal = time.perf_counter() - t0
        listed = len(body.json()["deals"]["dr"])
    finally:
        done.set()
        sampler.join()
        proc.terminate()
        proc.wait(timeout=30)
    return {"products": products, "ready_s": round(ready, 1),
            "first_deal_s": round(first_deal, 2), "first_page_deals": listed,
            "peak_rss_mib": round(peak["own"] / 1024), "peak_tree_rss_mib":
                round(peak["tree"] / 1024)}


def baseline_ms_per_product(products: int) -> float:
    """The build as it was: every product generated whole, with its series, and kept."""
    from arbitrage_cli.simulator import Catalog, views

    cat = Catalog(seed=7, products=products)
    t0 = time.perf_counter()
    for i in range(BASELINE):
        views.build_series(cat.generate(i))
    return (time.perf_counter() - t0) * 1000 / BASELINE


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--products", type=int, nargs="+", default=[500, 1000, 5000])
    args = ap.parse_args(argv)
    rows = []
    for n in args.products:
        row = start(n)
        base = baseline_ms_per_product(n)
        row["baseline_ready_s"] = round(base * n / 1000, 1)
        row["speedup"] = round(row["baseline_ready_s"] / row["ready_s"], 2)
        rows.append(row)
        print(json.dumps(row), file=sys.stderr, flush=True)
    json.dump({"rows": rows, "cpus": os.cpu_count(), "machine": describe()}, sys.stdout)


def render(r: dict, command: str) -> list[str]:
    lines = ["### Simulator start", "", f"`{command}`", "",
             "`arbitrage simulate-keepa --products N` from its start to its ready line (the "
             "catalog built, on every CPU: each product's listing, what /deal reads), the "
             "first /deal after it, and the peak memory of the simulator and of it with its "
             "build workers. Before: every product generated whole with its series and kept, "
             f"in one process (the same generation code, timed on {BASELINE} products in the "
             "benchmark's process and scaled). Target: 5,000 products ready in under 20 s "
             "and 500 MB.", "",
             "| products | ready (s) | first /deal (s) | peak memory, simulator (MiB) | "
             "with its build workers (MiB) | before: whole products (s, estimated) | "
             "speed-up |", "|---|---|---|---|---|---|---|"]
    for row in r["rows"]:
        lines.append(f"| {row['products']:,} | {row['ready_s']} | {row['first_deal_s']} | "
                     f"{row['peak_rss_mib']} | {row['peak_tree_rss_mib']} | "
                     f"{row['baseline_ready_s']} | {row['speedup']}x |")
    big = [row for row in r["rows"] if row["products"] >= 5000]
    if big:
        row = big[-1]
        met = row["ready_s"] < 20 and row["peak_tree_rss_mib"] < 500
        lines += ["", f"{row['products']:,} products: ready in {row['ready_s']} s with "
                  f"{row['peak_tree_rss_mib']} MiB at most "
                  f"({r['cpus']} CPUs) - {'met' if met else '**missed**'}."]
    return lines + [""]


if __name__ == "__main__":
    main()

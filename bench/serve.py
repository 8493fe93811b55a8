"""serve-json vs Datasette's JSON API on the same 100k-deal database, same load generator.

    python -m bench.serve --rows 100000 --seconds 10 --threads 4 [--workers 2]

Three typical queries: the default list (visible deals by profit), filtered + sorted by ROI,
and a keyword search. Each server runs in its own process on loopback. The load generator is
wrk (`apt install wrk`) when it is on PATH, else a pool of keep-alive Python HTTP clients in
this process (`--load python`), which takes CPU from the servers on a small machine. Both
servers always get the same generator. Reports requests/s and p50/p99 latency.
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench.bigdb import build
from bench.machine import describe

WORDS = ["Calculus", "Chemistry", "Economics", "Biology", "Law", "Nursing", "History",
         "Physics", "Marketing", "Statistics"]

QUERIES = {
    "default list": (
        "/api/deals?limit=50",
        "/deals/visible_deals.json?_shape=objects&_size=50&_sort_desc=profit_cents"
        "&_nosuggest=1&_nofacet=1"),
    "filtered, by ROI": (
        "/api/deals?min_profit=10&max_rank=500000&sort=roi&limit=50",
        "/deals/visible_deals.json?_shape=objects&_size=50&profit_cents__gte=1000"
        "&sales_rank__lte=500000&_sort_desc=roi_pct&_nosuggest=1&_nofacet=1"),
    "keyword search": (
        "/api/deals?keyword=chemistry&limit=50",
        "/deals/deals.json?_shape=objects&_size=50&_search=chemistry&status=deal"
        "&profit_cents__gt=0&_sort_desc=profit_cents&_nosuggest=1&_nofacet=1"),
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(cmd: list[str], port: int) -> subprocess.Popen:
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"server did not start: {cmd}")


def load(port: int, path: str, seconds: float, threads: int) -> dict:
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    stop = time.time() + seconds

    def worker():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        mine = []
        while time.time() < stop:
            t = time.perf_counter()
            try:
                conn.request("GET", path)
                resp = conn.getresponse()
                body = resp.read()
                ok = resp.status == 200 and json.loads(body) is not None
            except (OSError, http.client.HTTPException, ValueError):
                ok = False
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            mine.append(time.perf_counter() - t)
            if not ok:
                with lock:
                    errors[0] += 1
        with lock:
            latencies.extend(mine)

    ts = [threading.Thread(target=worker) for _ in range(threads)]
    [t.start() for t in ts]
    [t.join() for t in ts]
    lat = sorted(latencies)
    return {"requests": len(lat), "rps": round(len(lat) / seconds, 1), "errors": errors[0],
            "p50_ms": round(1000 * statistics.median(lat), 2),
            "p99_ms": round(1000 * lat[int(len(lat) * 0.99) - 1], 2)}


def load_wrk(port: int, path: str, seconds: float, threads: int) -> dict:
    """wrk in its own process: keep-alive connections, one per thread, latency percentiles."""
    out = subprocess.run(["wrk", "-t", str(threads), "-c", str(threads), "-d", f"{round(seconds)}s",
                          "--latency", f"http://127.0.0.1:{port}{path}"],
                         capture_output=True, text=True, check=True).stdout

    def ms(label: str) -> float:
        value, unit = re.search(rf"^\s*{label}\s+([\d.]+)(us|ms|s)\s*$", out, re.M).groups()
        return round(float(value) * {"us": 0.001, "ms": 1, "s": 1000}[unit], 2)

    requests = int(re.search(r"(\d+) requests in", out).group(1))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errs = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)",
                     out)
    errors = (int(bad.group(1)) if bad else 0) + (sum(map(int, errs.groups())) if errs else 0)
    return {"requests": requests, "rps": round(requests / seconds, 1), "errors": errors,
            "p50_ms": ms("50%"), "p99_ms": ms("99%")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, nargs="+", default=[100_000])
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--threads", type=int, default=4)
    ap.add_argument("--workers", type=int, default=1, help="serve-json worker processes")
    ap.add_argument("--load", choices=["wrk", "python"],
                    default="wrk" if shutil.which("wrk") else "python")
    ap.add_argument("--scale", action="store_true",
                    help="also first requests, one deal, charts, keyword search and writes "
                         "(the default when more than one --rows size is given)")
    ap.add_argument("--workdir", help="keep the built databases here (reused when present)")
    args = ap.parse_args()
    run = load_wrk if args.load == "wrk" else load
    work = Path(args.workdir or tempfile.mkdtemp(prefix="arbitrage-bench-"))
    if not args.workdir:  # a million rows are half a gigabyte: not left behind
        import atexit

        atexit.register(shutil.rmtree, work, True)
    work.mkdir(parents=True, exist_ok=True)
    sizes = {}
    for rows in args.rows:
        (work / str(rows)).mkdir(exist_ok=True)
        path = str(work / str(rows) / "deals.db")  # Datasette names the database "deals"
        info = build(path, rows, work) if not Path(path).exists() else None
        if info is None:
            from arbitrage_cli.store import open_db

            db = open_db(path, readonly=True)
            info = {"originals": [r[0] for r in db.execute(
                "select asin from deals where asin not like 'X%' order by asin")]}
            db.conn.close()
        ours, theirs = free_port(), free_port()
        servers = [
            start([sys.executable, "-m", "arbitrage_cli", "--db", path, "serve-json",
                   "--port", str(ours), "--workers", str(args.workers)], ours),
            start([sys.executable, "-m", "datasette", "serve", path, "--port", str(theirs),
                   "-h", "127.0.0.1", "--setting", "sql_time_limit_ms", "60000"], theirs),
        ]
        size: dict = {"steady": {}}
        try:
            if args.scale or len(args.rows) > 1:  # before anything warmed a total
                from bench.serve_scale import measure

                size.update(measure(ours, theirs, path, info["originals"], rows,
                                    args.seconds, args.threads))
            for name, (ours_path, ds_path) in QUERIES.items():
                for port, p in ((ours, ours_path), (theirs, ds_path)):  # warm both
                    load(port, p, 1, 1)
                a = run(ours, ours_path, args.seconds, args.threads)
                b = run(theirs, ds_path, args.seconds, args.threads)
                size["steady"][name] = {
                    "serve_json": a, "datasette": b,
                    "throughput_ratio": round(a["rps"] / b["rps"], 2) if b["rps"] else None}
        finally:
            for s in servers:
                s.terminate()
                s.wait(10)
        sizes[str(rows)] = size
    first = sizes[str(args.rows[0])]
    print(json.dumps({"machine": describe(), "rows": args.rows[0], "seconds": args.seconds,
                      "threads": args.threads, "workers": args.workers,
                      "load_generator": args.load, "results": first["steady"],
                      "sizes": sizes}, indent=2))


if __name__ == "__main__":
    main()

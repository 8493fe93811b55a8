"""Concurrency: ten cron-style launches at once, and readers under load while a sync writes.
Also the sentinel key end to end through real processes."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import requests
from starlette.testclient import TestClient

from arbitrage_cli.clock import FakeClock
from arbitrage_cli.serve import create_app
from arbitrage_cli.simulator import Catalog, KeepaSimulator, start_simulator
from arbitrage_cli.simulator.faults import FaultPlan
from arbitrage_cli.store import open_db
from tests.conftest import CASSETTE_DIR, SENTINEL_KEY, SIM_EPOCH, arbitrage_proc
from tests.reliability import record
from tests.test_backfill import QUERY

ROOT = Path(__file__).resolve().parent.parent


def slow_sim(products: int, delay_s: float, **kw) -> KeepaSimulator:
    clock = FakeClock(SIM_EPOCH)
    sim = KeepaSimulator(Catalog(seed=11, products=products, now=SIM_EPOCH), clock=clock,
                         refill_rate=1000, **kw)
    original = sim.handle

    def slow(method, path, params, body=None):
        time.sleep(delay_s)
        return original(method, path, params, body)

    sim.handle = slow
    return sim


def test_ten_cron_launches_at_once_exactly_one_works(tmp_path):
    db_path = str(tmp_path / "deals.db")
    open_db(db_path).conn.close()
    qfile = tmp_path / "q.json"
    qfile.write_text(json.dumps(QUERY))
    sim = slow_sim(20, 0.3)
    with start_simulator(sim) as server:
        started = time.time()
        procs = [arbitrage_proc(db_path, server.url, cmd, "--query", str(qfile))
                 for cmd in ["sync", "backfill"] * 5]
        ended = {}

        def watch(i, p):
            err = p.stderr.read()  # returns when the process exits
            ended[i] = (p.wait(timeout=300), err, time.time() - started)

        watchers = [threading.Thread(target=watch, args=(i, p)) for i, p in enumerate(procs)]
        [t.start() for t in watchers]
        [t.join(300) for t in watchers]
        results = [ended[i] for i in range(len(procs))]
    codes = sorted(c for c, _, _ in results)
    assert codes == [0] + [3] * 9, [(c, e[-300:]) for c, e, _ in results]
    losers = [t for c, _, t in results if c == 3]
    winner_t = max(t for c, _, t in results if c == 0)
    assert all("held by" in e for c, e, _ in results if c == 3)
    assert max(losers) < winner_t  # the others exit at once, not after the work
    db = open_db(db_path)
    assert db.execute("pragma integrity_check").fetchone()[0] == "ok"
    record("concurrency", "10 simultaneous cron launches (5 sync + 5 backfill) on one DB", 10,
           f"exit codes {codes}: one works, nine exit 3 naming the holder within "
           f"{max(losers):.1f} s (the worker ran {winner_t:.1f} s); integrity ok")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_readers_under_load_while_sync_and_backfill_write(tmp_path):
    """serve-json (in process, several threads) and Datasette (its own process) read while a
    backfill and then a sync write: no error, no 'database is locked'."""
    db_path = str(tmp_path / "deals.db")
    qfile = tmp_path / "q.json"
    qfile.write_text(json.dumps(QUERY))
    open_db(db_path).conn.close()
    port = _free_port()
    ds = subprocess.Popen([sys.executable, "-m", "datasette", "serve", db_path, "--port",
                           str(port), "-h", "127.0.0.1"], stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True)
    app = TestClient(create_app(db_path))
    stop = threading.Event()
    counts = {"serve-json": 0, "datasette": 0}
    errors: list[str] = []

    def serve_reader():
        while not stop.is_set():
            for url in ("/api/deals?limit=20", "/api/deals?keyword=history&sort=roi",
                        "/api/status"):
                r = app.get(url)
                if r.status_code != 200:
                    errors.append(f"serve-json {url} {r.status_code} {r.text[:200]}")
                counts["serve-json"] += 1

    def datasette_reader():
        base = f"http://127.0.0.1:{port}"
        while not stop.is_set():
            try:
                r = requests.get(f"{base}/deals/deals.json?_shape=objects&_size=20",
                                 timeout=10)
            except requests.ConnectionError:
                time.sleep(0.1)  # still starting
                continue
            if r.status_code != 200 or "locked" in r.text:
                errors.append(f"datasette {r.status_code} {r.text[:200]}")
            counts["datasette"] += 1

    readers = [threading.Thread(target=serve_reader) for _ in range(3)]
    readers.append(threading.Thread(target=datasette_reader))
    sim = slow_sim(60, 0.02)
    try:
        for t in readers:
            t.start()
        with start_simulator(sim) as server:
            for command in ("backfill", "sync"):
                p = arbitrage_proc(db_path, server.url, command, "--query", str(qfile))
                out, err = p.communicate(timeout=300)
                assert p.returncode == 0, err
                assert "locked" not in err
    finally:
        stop.set()
        for t in readers:
            t.join(30)
        ds.terminate()
        ds.wait(10)
    assert errors == []
    assert counts["serve-json"] > 50 and counts["datasette"] > 5, counts
    saved = open_db(db_path)["deals"].count
    assert saved > 0
    record("concurrency", "readers under load while backfill then sync write", sum(
        counts.values()), f"{counts['serve-json']} serve-json and {counts['datasette']} "
        f"Datasette requests during the writes ({saved} rows written): 0 errors, 0 "
        "'database is locked'")


def test_sentinel_key_never_leaves_the_process(tmp_path):
    """A verbose backfill and sync with faults, through real processes, with a log file:
    the key is in none of stdout, stderr, the log, the database, or the cassettes."""
    db_path = str(tmp_path / "deals.db")
    log = tmp_path / "arbitrage.log"
    qfile = tmp_path / "q.json"
    qfile.write_text(json.dumps(QUERY))
    sim = slow_sim(10, 0, faults=FaultPlan.parse(
        "500=0.08,truncate=0.04,nonjson=0.04,missing=0.04,wrongtype=0.04", seed=3))
    texts = []
    with start_simulator(sim) as server:
        for args in (["-v", "--log-file", str(log), "backfill", "--query", str(qfile)],
                     ["-v", "--log-file", str(log), "sync", "--query", str(qfile)],
                     ["-v", "status", "--json"], ["explain", "0000000000"]):
            p = arbitrage_proc(db_path, server.url, *args)
            out, err = p.communicate(timeout=300)
            texts += [out, err]
    texts.append(log.read_text())
    db = open_db(db_path)
    texts += [str(row) for row in db.conn.iterdump()]
    texts += [f.read_text(errors="replace") for f in CASSETTE_DIR.rglob("*") if f.is_file()]
    blob = "\n".join(texts)
    assert "backfill done" in blob and "sync done" in blob  # the outputs were captured
    for fragment in (SENTINEL_KEY, SENTINEL_KEY[:20], SENTINEL_KEY[-20:]):
        assert fragment not in blob
    record("secrets", "sentinel key through verbose backfill, sync, status, explain with 24% "
           "faults; log file, stdout/stderr, database dump, cassettes", len(texts),
           f"key absent from all {len(blob):,} characters")

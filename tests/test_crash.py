"""Crash safety: SIGKILL backfill and sync at random points, finish, compare with a run that
was never interrupted. The default run kills a few times; `pytest -m slow` kills 20 times each.

Kill points are drawn from a seeded RNG: after the k-th Keepa response (the process then
parses, analyses and writes, so a kill lands anywhere up to and inside the chunk's
transaction), or while the k-th response is being sent (kill during HTTP).
"""

from __future__ import annotations

import random
import shutil
import signal
import sqlite3
import subprocess
import threading
import time

import pytest

from arbitrage_cli.clock import FakeClock
from arbitrage_cli.keepa.budget import TokenBudget
from arbitrage_cli.keepa.client import KeepaClient
from arbitrage_cli.pipeline.backfill import BackfillOptions, backfill
from arbitrage_cli.simulator import Catalog, KeepaSimulator, start_simulator
from arbitrage_cli.store import open_db
from tests.conftest import SENTINEL_KEY, SIM_EPOCH, arbitrage_proc
from tests.reliability import record
from tests.test_backfill import QUERY, query_file, rows

# (products, repriced before the sync) by number of kills: every kill needs requests left,
# and the funnel judges many repriced books for free, so most of the catalog changes
SIZES = {3: (40, 40), 20: (200, 200)}


def make_world(changed: bool, kills: int):
    """A simulator in a fixed state: the catalog as backfill sees it, or after some products
    were repriced (what sync must pick up). Same seed, same answers."""
    products, repriced = SIZES[kills]
    clock = FakeClock(SIM_EPOCH)
    cat = Catalog(seed=11, products=products, now=SIM_EPOCH, future_days=0)
    sim = KeepaSimulator(cat, clock=clock, refill_rate=1000)
    if changed:
        clock.advance(3600)
        for asin in cat.asins[:repriced]:
            cat.reprice(asin, sim.now_keepa(), 0.5)
    return sim, clock


def copy_db(src: str, dst: str) -> None:
    with sqlite3.connect(src) as a, sqlite3.connect(dst) as b:
        a.backup(b)


def backfilled(directory, kills: int) -> str:
    """A database after a complete backfill: the starting point of every sync run."""
    path = str(directory / "backfilled.db")
    sim, clock = make_world(False, kills)
    db = open_db(path)
    with start_simulator(sim) as server:
        client = KeepaClient(SENTINEL_KEY, base_url=server.url, budget=TokenBudget(db, clock),
                             clock=clock)
        assert backfill(db, client, QUERY, BackfillOptions(), clock=clock)["outcome"] == "done"
    db.conn.close()
    return path


def launch(command: str, db_path: str, url: str) -> subprocess.Popen:
    return arbitrage_proc(db_path, url, command, "--query", query_file(db_path))


def run_with_kills(command: str, db_path: str, kills: int, rng: random.Random) -> list[str]:
    """Start `command`, SIGKILL it at `kills` random points (restarting after each), then let
    it finish. Returns where each kill landed."""
    sim, _ = make_world(command == "sync", kills)
    served, gate, hold_at = [], threading.Event(), [None]
    original = sim.handle

    def handle(method, path, params, body=None):
        if path.strip("/") != "token":
            served.append(path)
            if hold_at[0] is not None and len(served) == hold_at[0]:
                gate.wait(30)  # the response is held until the client is dead
        return original(method, path, params, body)

    sim.handle = handle
    landed = []
    with start_simulator(sim) as server:
        for _ in range(kills):
            base = len(served)
            gate.clear()
            during_http = rng.random() < 0.3
            k = base + rng.randint(1, 2)
            hold_at[0] = k if during_http else None
            proc = launch(command, db_path, server.url)
            deadline = time.time() + 60
            while len(served) < k and proc.poll() is None:
                assert time.time() < deadline
                time.sleep(0.001)
            if proc.poll() is not None:  # finished before the kill point: nothing to kill
                landed.append("after completion")
            else:
                if during_http:
                    time.sleep(0.1)
                    landed.append(f"during HTTP response {k - base}")
                else:
                    delay = rng.uniform(0, 0.06)
                    time.sleep(delay)
                    landed.append(f"{delay * 1000:.0f} ms after response {k - base}")
                proc.send_signal(signal.SIGKILL)
                proc.wait()
            gate.set()
            hold_at[0] = None
            # the dead owner's lease runs out (cron's next launch takes the lock over)
            db = open_db(db_path)
            db.execute("update locks set expires_at = '2000-01-01T00:00:00.000Z'")
            db.conn.close()
        final = launch(command, db_path, server.url)
        out, err = final.communicate(timeout=300)
    assert final.returncode == 0, err
    assert SENTINEL_KEY not in out + err
    assert not any("completion" in x for x in landed), landed  # every kill hit a live run
    return landed


def reference(command: str, backfilled: str, tmp_path, kills: int) -> dict:
    path = str(tmp_path / f"reference-{command}.db")
    if command == "sync":
        copy_db(backfilled, path)
    sim, _ = make_world(command == "sync", kills)
    with start_simulator(sim) as server:
        proc = launch(command, path, server.url)
        _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    return rows(open_db(path))


def check(db_path: str, expected: dict) -> None:
    db = open_db(db_path)
    assert db.execute("pragma integrity_check").fetchone()[0] == "ok"
    got = rows(db)
    assert set(got) == set(expected), "lost or extra rows"
    assert got == expected  # row by row on every analysis input and derived metric
    assert db.execute("select count(*) from deals").fetchone()[0] == len(expected)  # no dupes


@pytest.mark.parametrize("command", ["backfill", "sync"])
@pytest.mark.parametrize("kills", [pytest.param(3, id="3-kills"),
                                   pytest.param(20, id="20-kills", marks=pytest.mark.slow)])
def test_random_sigkills_then_finish_equals_uninterrupted(command, kills, tmp_path):
    start = backfilled(tmp_path, kills) if command == "sync" else None
    expected = reference(command, start, tmp_path, kills)
    path = str(tmp_path / "killed.db")
    if command == "sync":
        copy_db(start, path)
    rng = random.Random(f"{command}-{kills}")
    landed = run_with_kills(command, path, kills, rng)
    check(path, expected)
    # every killed run is recorded as such by the run that took its lock over (before, 14 of
    # 20 SIGKILLed runs stayed 'running' forever)
    outcomes = [r["outcome"] for r in open_db(path).query("select outcome from runs")]
    assert "running" not in outcomes and outcomes.count("killed") >= kills - sum(
        "completion" in x for x in landed)
    if command == "sync":  # the changed products really were refreshed
        before = rows(open_db(start))
        assert sum(before.get(a) != expected[a] for a in expected) >= SIZES[kills][1] // 2
    http = sum("HTTP" in x for x in landed)
    done = sum("completion" in x for x in landed)
    record("crash", f"{command}: SIGKILL at random points, restart, finish", kills,
           f"DB equals the uninterrupted run row by row ({len(expected)} rows), no duplicate, "
           f"no loss, integrity ok. Kills: {http} during an HTTP response, "
           f"{kills - http - done} 0-60 ms after a response (parsing, analysis or the chunk "
           f"transaction), {done} after the run had finished; every killed run recorded "
           f"'killed' by the next ({outcomes.count('killed')}), none left 'running'")
    shutil.rmtree(tmp_path, ignore_errors=True)

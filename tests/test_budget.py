"""Token budget: the controlled deficit at several refill rates, refill projection, no
livelock, and two processes that share one database never spending the last tokens twice."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from arbitrage_cli.clock import FakeClock
from arbitrage_cli.keepa.budget import TICK_MARGIN_MS, Snapshot, TokenBudget, decide, ms_until, project
from arbitrage_cli.keepa.errors import BudgetPaused
from arbitrage_cli.simulator import Catalog, KeepaSimulator, start_simulator
from arbitrage_cli.store import open_db
from tests.conftest import SENTINEL_KEY, SIM_EPOCH
from tests.reliability import record


def snap(left, rate=20, refill_in=30_000, at=0):
    return Snapshot(tokens_left=left, refill_rate=rate, refill_in_ms=refill_in, observed_at_ms=at)


def test_projection_adds_rate_per_tick_and_caps():
    s = snap(-40, rate=20, refill_in=30_000)
    first = 30_000 + TICK_MARGIN_MS  # a tick counts only after a safety margin
    assert project(s, first - 1) == -40
    assert project(s, first) == -20
    assert project(s, first + 60_000) == 0
    assert project(s, first + 5 * 60_000) == 80
    assert project(s, 10**9) == 1200  # capacity 60 x rate
    assert project(snap(1500, rate=20), 10**9) == 1500  # never lowered by the cap


def test_ms_until_reaches_target_on_a_tick():
    s = snap(-40, rate=20, refill_in=30_000)
    assert ms_until(s, 0, -40) == 0
    assert ms_until(s, 0, 1) == 30_000 + TICK_MARGIN_MS + 2 * 60_000  # -40 -> -20 -> 0 -> 20
    assert ms_until(s, 0, 5000) is None  # above capacity: never


@pytest.mark.parametrize("left,worst,allowance,ok", [
    (1, 1, 0, True), (0, 1, 100, False), (-5, 1, 100, False), (10, 24, 20, True),
    (10, 31, 20, False), (50, 0, 0, True),
])
def test_decide_controlled_deficit(left, worst, allowance, ok):
    d = decide(snap(left), 0, worst, worst, allowance, 0)
    assert d.ok is ok
    if not ok:
        assert d.wait_ms is not None and d.wait_ms > 0


def test_reservations_count_against_the_balance():
    assert decide(snap(30), 25, 10, 10, 0, 0).ok is False
    assert decide(snap(30), 20, 10, 10, 0, 0).ok is True


def test_a_call_bigger_than_the_bucket_waits_for_a_full_bucket(fresh_db):
    clock = FakeClock(0)
    budget = TokenBudget(fresh_db, clock, allowance=10, max_wait_s=10_000)
    budget.observe({"tokensLeft": 0, "refillRate": 5, "refillIn": 1000,
                    "timestamp": 0, "tokensConsumed": 0}, None)
    rid = budget.reserve(1200, 1200)  # 5/min: capacity 300, the call alone needs 1200
    assert rid is not None
    assert 59 * 60 <= clock.now() <= 61 * 60  # waited one hour for the full bucket


@pytest.mark.parametrize("rate", [5, 20, 60])
def test_hours_of_calls_at_rate(rate, fresh_db):
    """Two simulated hours of back-to-back /product calls with offers: no 429, the balance
    never below -allowance, most refilled tokens spent, and every pause ends."""
    clock = FakeClock(SIM_EPOCH)
    cat = Catalog(seed=3, products=60, now=SIM_EPOCH)
    sim = KeepaSimulator(cat, refill_rate=rate, tokens=rate * 10, clock=clock)
    allowance = 30
    from arbitrage_cli.keepa.client import KeepaClient

    with start_simulator(sim) as server:
        budget = TokenBudget(fresh_db, clock, allowance=allowance, max_wait_s=90)
        client = KeepaClient(SENTINEL_KEY, base_url=server.url, budget=budget, clock=clock)
        end = clock.now() + 2 * 3600
        calls = pauses = i = 0
        while clock.now() < end:
            chunk = [cat.asins[(2 * i) % 60], cat.asins[(2 * i + 1) % 60]]
            i += 1
            try:
                client.product(chunk, offers=20)
                calls += 1
            except BudgetPaused as exc:
                pauses += 1
                assert exc.resume_at > clock.now()
                clock.advance(exc.resume_at - clock.now())  # cron starts us again later
            assert i < 20_000, "livelock"
    refused = [r for r in sim.log if r.status == 429]
    record("tokens", f"2 simulated hours of back-to-back /product calls at {rate} tokens/min",
           calls, f"0 responses 429; deepest balance {sim.bucket.lowest} (allowance "
           f"-{allowance}); {pauses} clean pauses")
    assert refused == []
    assert sim.bucket.lowest >= -allowance
    spent = sim.tokens_spent()
    available = rate * 10 + sim.bucket.refilled - sim.bucket.wasted
    assert spent >= 0.9 * available - 24, (spent, available)
    assert calls > 0


def test_two_processes_never_double_spend_the_last_tokens(tmp_path):
    sim = KeepaSimulator(Catalog(seed=1, products=5), refill_rate=1, tokens=40)
    db_path = str(tmp_path / "shared.db")
    open_db(db_path)
    script = textwrap.dedent(f"""
        import sys
        from arbitrage_cli.keepa.budget import TokenBudget
        from arbitrage_cli.keepa.client import KeepaClient
        from arbitrage_cli.keepa.errors import BudgetPaused
        from arbitrage_cli.store import open_db
        budget = TokenBudget(open_db({db_path!r}), allowance=0, max_wait_s=0)
        client = KeepaClient({SENTINEL_KEY!r}, base_url=sys.argv[1], budget=budget)
        n = 0
        try:
            while True:
                client.deal({{"page": 0, "priceTypes": [2], "dateRange": 3}})
                n += 1
        except BudgetPaused:
            print(n)
    """)
    with start_simulator(sim) as server:
        procs = [subprocess.Popen([sys.executable, "-c", script, server.url],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for _ in range(2)]
        outs = [p.communicate(timeout=120) for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, err
    done = sum(int(out) for out, _ in outs)
    assert [r for r in sim.log if r.status == 429] == []
    assert sim.bucket.lowest >= 0  # allowance 0: never below zero
    assert done == 8  # 40 tokens / 5 per deal page, split between the two
    assert SENTINEL_KEY not in "".join(err for _, err in outs)


def test_can_spend_reads_the_shared_snapshot(fresh_db):
    clock = FakeClock(0)
    budget = TokenBudget(fresh_db, clock, allowance=10)
    assert budget.can_spend(5)  # unknown balance: the client learns it with /token first
    budget.observe({"tokensLeft": 3, "refillRate": 5, "refillIn": 1000, "timestamp": 1,
                    "tokensConsumed": 0}, None)
    assert budget.can_spend(12) and not budget.can_spend(14)
    clock.advance(2)  # one refill tick later: 3 + 5
    assert budget.can_spend(18) and not budget.can_spend(19)


def test_responses_out_of_order_never_resurrect_spent_tokens(fresh_db):
    budget = TokenBudget(fresh_db, FakeClock(0))
    env = {"refillRate": 1, "refillIn": 30_000, "tokensConsumed": 5}
    budget.observe({**env, "tokensLeft": 30, "timestamp": 1000}, None)
    budget.observe({**env, "tokensLeft": 35, "timestamp": 1000}, None)  # same ms, arrives late
    assert budget.snapshot().tokens_left == 30
    budget.observe({**env, "tokensLeft": 40, "timestamp": 999}, None)  # older: ignored
    assert budget.snapshot().tokens_left == 30
    budget.observe({**env, "tokensLeft": 31, "timestamp": 1001}, None)  # newer: wins
    assert budget.snapshot().tokens_left == 31

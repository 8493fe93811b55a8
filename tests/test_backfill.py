"""backfill on the simulator: token accounting, resume after SIGKILL, locks, pauses, faults."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from arbitrage_cli.analysis.deal import ANALYSIS_COLUMNS
from arbitrage_cli.clock import FakeClock
from arbitrage_cli.keepa.budget import TokenBudget
from arbitrage_cli.keepa.client import KeepaClient
from arbitrage_cli.pipeline.backfill import BackfillOptions, backfill
from arbitrage_cli.pipeline.recalc import RECALC_COLUMNS
from arbitrage_cli.simulator import Catalog, KeepaSimulator, start_simulator
from arbitrage_cli.simulator.faults import FaultPlan
from arbitrage_cli.store import open_db, state
from tests.conftest import SENTINEL_KEY, SIM_EPOCH, arbitrage_proc
from tests.reliability import record

# Every book with a used price that changed in the last 12 h: most of the catalog.
QUERY = {"domainId": 1, "priceTypes": [2], "dateRange": 3, "includeCategories": [283155],
         "sortType": 1}
COMPARED = sorted((ANALYSIS_COLUMNS | RECALC_COLUMNS) - {"settings_version"})


def make_sim(products=40, **kw):
    clock = FakeClock(SIM_EPOCH)  # frozen unless a test advances it: every run sees the same
    return KeepaSimulator(Catalog(seed=11, products=products, now=SIM_EPOCH), clock=clock,
                          refill_rate=kw.pop("refill_rate", 1000), **kw), clock


def run(db, url, clock, **opts):
    client = KeepaClient(SENTINEL_KEY, base_url=url, budget=TokenBudget(db, clock), clock=clock,
                         max_retry_s=opts.pop("max_retry_s", 180))
    return backfill(db, client, QUERY, BackfillOptions(**opts), clock=clock), client


def same_listing(db, baseline):
    """Time moved during this run (pauses, retries), so products changed legitimately; what
    must hold is that the same listed ASINs were each processed exactly once."""
    got = {r["asin"]: r["status"] for r in db.query("select asin, status from deals")}
    assert set(got) == set(baseline["rows"])
    assert all(s in ("deal", "skipped", "screened") for s in got.values())
    assert db.execute("pragma integrity_check").fetchone()[0] == "ok"


def rows(db):
    return {r["asin"]: tuple(r[c] for c in COMPARED) for r in db.query(
        f"select asin, {', '.join(COMPARED)} from deals order by asin")}


@pytest.fixture(scope="module")
def baseline(tmp_path_factory):
    """An uninterrupted run: the reference every other run must equal."""
    sim, clock = make_sim()
    db = open_db(str(tmp_path_factory.mktemp("base") / "deals.db"))
    with start_simulator(sim) as server:
        summary, _ = run(db, server.url, clock)
    return {"rows": rows(db), "summary": summary, "sim": sim, "db": db}


def asked(sim, offers: bool) -> list[str]:
    """The ASINs of the /product calls made with (or without) live offers."""
    return [a for r in sim.calls("product") if ("offers" in r.params) == offers
            for a in r.params["asin"].split(",")]


def test_uninterrupted_run_saves_every_listed_product(baseline):
    summary, db, sim = baseline["summary"], baseline["db"], baseline["sim"]
    assert summary["outcome"] == "done"
    histories, offers = asked(sim, False), asked(sim, True)
    # every listed product's history once (1 token), live offers once for the survivors only
    assert len(histories) == len(set(histories)) == db["deals"].count
    assert len(offers) == len(set(offers)) and set(offers) < set(histories)
    screened = {r["asin"] for r in db.query("select asin from deals where status = 'screened'")}
    assert screened and not screened & set(offers) and screened | set(offers) == set(histories)
    assert summary["deals_saved"] + summary["deals_skipped"] == db["deals"].count
    assert db.execute("select count(*) from deals where status = 'skipped' and "
                      "skip_reason is null").fetchone()[0] == 0
    assert db["keepa_products"].count == db["deals"].count
    assert state.get(db, "backfill_completed_at")
    assert db.execute("pragma integrity_check").fetchone()[0] == "ok"


def test_no_screen_is_the_seed_step_for_every_listed_product(tmp_path):
    sim, clock = make_sim()
    db = open_db(str(tmp_path / "d.db"))
    with start_simulator(sim) as server:
        summary, _ = run(db, server.url, clock, screen=False)
    assert summary["outcome"] == "done" and asked(sim, False) == []
    offers = asked(sim, True)
    assert len(offers) == len(set(offers)) == db["deals"].count  # one /product share each
    assert all(r.params["offers"] == "20" and len(r.params["asin"].split(",")) <= 2
               for r in sim.calls("product"))
    assert db.execute("select count(*) from deals where status = 'screened'").fetchone()[0] == 0


def test_token_accounting_one_product_share_and_one_seller_id_per_deal(tmp_path):
    """The seed step for every listed product (--no-screen), where winners repeat."""
    sim, clock = make_sim()
    db = open_db(str(tmp_path / "d.db"))
    with start_simulator(sim) as server:
        summary, _ = run(db, server.url, clock, screen=False)
    winners = {r["seller_id"] for r in db.query("select seller_id from deals where "
                                                "seller_id is not null")}
    asked = [s for r in sim.calls("seller") for s in r.params["seller"].split(",")]
    assert len(asked) == len(set(asked))  # a cached seller is never fetched again
    assert set(asked) == winners  # never a seller that did not win
    assert len(sim.calls("seller")) <= len(sim.calls("product"))  # at most one per chunk
    saved = summary["deals_saved"]
    product_tokens = sum(r.tokens_consumed for r in sim.calls("product"))
    seller_tokens = sum(r.tokens_consumed for r in sim.calls("seller"))
    page_tokens = sum(r.tokens_consumed for r in sim.calls("deal"))
    counters = summary["counters"]
    assert summary["tokens_consumed"] == product_tokens + seller_tokens + page_tokens
    assert counters["tokens_per_saved_deal"] == round(summary["tokens_consumed"] / saved, 2)
    # the seed minimum: one /product with offers per product + one /seller per deal
    seed_minimum = (product_tokens + saved) / saved
    assert (product_tokens + seller_tokens) / saved <= seed_minimum
    assert counters["sellers_cached"] > 0  # sellers repeat: the cache saved calls


def test_rerun_after_completion_does_nothing(baseline, tmp_path):
    sim, clock = make_sim()
    db = open_db(str(tmp_path / "d.db"))
    with start_simulator(sim) as server:
        run(db, server.url, clock)
        n = len(sim.log)
        summary, _ = run(db, server.url, clock)
    assert summary["outcome"] == "done" and "already complete" in summary["message"]
    assert len(sim.log) == n
    assert rows(db) == baseline["rows"]


def query_file(db_path: str) -> str:
    """QUERY as a keepa_query.json beside the database."""
    qfile = os.path.join(os.path.dirname(db_path), "q.json")
    with open(qfile, "w") as fh:
        json.dump(QUERY, fh)
    return qfile


def _cli(db_path, url, *extra):
    return arbitrage_proc(db_path, url, "backfill", "--query", query_file(db_path), *extra)


def gated_sim(hold_at: int | None):
    """A simulator that counts the calls it serves and holds call `hold_at` until the
    returned gate is set (None: holds nothing)."""
    sim, _ = make_sim()
    gate, served, original = threading.Event(), [], sim.handle

    def handle(method, path, params, body=None):
        if path.strip("/") != "token":
            served.append(path)
            if len(served) == hold_at:
                gate.wait(30)  # hold this response while the client is killed or signalled
        return original(method, path, params, body)

    sim.handle = handle
    return sim, gate, served


@pytest.mark.parametrize("kill_after,block", [
    (2, False),  # right after the first /product answered: during a chunk's writes
    (5, False),  # between chunks
    (1, True),   # during the page fetch's HTTP response
    (7, True),   # during a /product HTTP response
])
def test_sigkill_anywhere_then_resume_equals_uninterrupted(baseline, tmp_path, kill_after,
                                                           block):
    sim, gate, served = gated_sim(kill_after if block else None)
    db_path = str(tmp_path / "deals.db")
    with start_simulator(sim) as server:
        proc = _cli(db_path, server.url)
        deadline = time.time() + 60
        while len(served) < kill_after and proc.poll() is None:
            assert time.time() < deadline
            time.sleep(0.002)
        if block:
            time.sleep(0.2)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        gate.set()
        tokens_killed_run = sim.tokens_spent()
        # a rerun takes over the dead owner's lock once its lease has lapsed
        db = open_db(db_path)
        db.execute("update locks set expires_at = '2000-01-01T00:00:00.000Z'")
        again = _cli(db_path, server.url)
        out, err = again.communicate(timeout=120)
    assert again.returncode == 0, err
    assert SENTINEL_KEY not in out + err
    db = open_db(db_path)
    assert rows(db) == baseline["rows"]
    assert db.execute("pragma integrity_check").fetchone()[0] == "ok"
    wasted = sim.tokens_spent() - baseline["sim"].tokens_spent()
    assert wasted <= 2 * 12 + 5, (wasted, tokens_killed_run)  # one chunk (+ a page) per kill


def test_second_backfill_exits_3_naming_the_holder(tmp_path):
    db_path = str(tmp_path / "deals.db")
    open_db(db_path)
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import time
        from arbitrage_cli.store import locks, open_db
        lock = locks.acquire(open_db({db_path!r}), "backfill")
        print("held", flush=True)
        time.sleep(30)
    """)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        sim, _ = make_sim(products=5)
        with start_simulator(sim) as server:
            started = time.time()
            out, err = _cli(db_path, server.url).communicate(timeout=60)
        assert time.time() - started < 15
        assert f"pid {holder.pid}" in err and "held by" in err
        assert sim.log == []  # not a single Keepa call
    finally:
        holder.kill()
        holder.wait()


def test_token_exhaustion_pauses_cleanly_then_resumes(baseline, tmp_path):
    sim, clock = make_sim(refill_rate=5, tokens=20)  # less than the listing costs
    db = open_db(str(tmp_path / "d.db"))
    with start_simulator(sim) as server:
        summary, _ = run(db, server.url, clock)
        assert summary["outcome"] == "paused"
        assert "tokens needed, refill at" in summary["message"]
        assert [r for r in sim.log if r.status == 429] == []
        position = state.get(db, "backfill_position")
        page = state.get(db, "backfill_page_asins").split(",")
        saved = {r["asin"] for r in db.query("select asin from deals")}
        assert set(page[:position]) <= saved  # everything before the position is saved
        assert len(saved - set(page[:position])) <= 20  # beyond it, at most one batch
        resumes = 0
        while summary["outcome"] == "paused":
            clock.advance(3600)  # cron comes back an hour later
            summary, _ = run(db, server.url, clock)
            resumes += 1
            assert resumes < 50
    assert summary["outcome"] == "done"
    same_listing(db, baseline)


@pytest.mark.parametrize("spec", ["429=0.15,500=0.1", "503=0.1,reset=0.1,truncate=0.1",
                                  "storm429=6"])
def test_fault_storms_finish_or_stop_cleanly(baseline, tmp_path, spec):
    sim, clock = make_sim(faults=FaultPlan.parse(spec, seed=3))
    db = open_db(str(tmp_path / "d.db"))
    with start_simulator(sim) as server:
        for _ in range(30):
            try:
                summary, _ = run(db, server.url, clock, max_retry_s=600)
            except Exception:  # noqa: BLE001 - an exhausted retry budget fails the run
                summary = {"outcome": "failed"}
            position = state.get(db, "backfill_position", 0)
            page = (state.get(db, "backfill_page_asins") or "").split(",")
            saved = {r["asin"] for r in db.query("select asin from deals")}
            assert state.get(db, "backfill_completed_at") or (
                set(page[:position]) <= saved and len(saved - set(page[:position])) <= 20)
            if summary["outcome"] == "done":
                break
            clock.advance(120)
    assert summary["outcome"] == "done"
    same_listing(db, baseline)


def test_progress_reports_pages_deals_tokens_and_eta(tmp_path):
    sim, clock = make_sim(products=40, refill_rate=5, tokens=50)  # a batch, then waits
    db = open_db(str(tmp_path / "d.db"))
    events = []
    with start_simulator(sim) as server:
        client = KeepaClient(SENTINEL_KEY, base_url=server.url, budget=TokenBudget(db, clock),
                             clock=clock)
        backfill(db, client, QUERY, BackfillOptions(), clock=clock,
                 progress=lambda e, d: events.append((e, d)))
    chunks = [d for e, d in events if e == "chunk"]
    assert events[0][0] == "page" and chunks
    assert chunks[-1]["tokens"] > 0 and "saved" in chunks[-1]
    assert any(d["eta_s"] and d["eta_s"] > 0 for d in chunks)  # 5 tokens/min: tokens limit it


def test_max_minutes_stops_cleanly_and_the_next_run_resumes(baseline, tmp_path):
    """From cron a backfill that never runs out of tokens must still hand the lock to the
    next sync: --max-minutes ends it between chunks, and nothing is lost. Against a Keepa this
    slow a run ends after screening; the next one goes straight to the survivors' live offers
    (before, every run judged the same history again and the backfill never finished)."""
    sim, clock = make_sim()
    original = sim.handle

    def slow(method, path, params, body=None):
        clock.advance(40)  # every answer takes 40 simulated seconds
        return original(method, path, params, body)

    sim.handle = slow
    db = open_db(str(tmp_path / "d.db"))
    outcomes = []
    with start_simulator(sim) as server:
        for _ in range(30):
            summary, _ = run(db, server.url, clock, max_minutes=1)
            outcomes.append(summary["outcome"])
            if summary["outcome"] == "done":
                break
    assert outcomes.count("stopped") >= 3 and outcomes[-1] == "done", outcomes
    same_listing(db, baseline)  # time moved, so values may too: each ASIN exactly once


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_or_sigterm_stops_at_a_safe_point_and_resumes(baseline, tmp_path, sig):
    """The signal lands while a /product response is in flight: that chunk still lands, the
    run is recorded `stopped` (not failed), the lock is released, the rerun finishes."""
    sim, gate, served = gated_sim(4)
    db_path = str(tmp_path / "deals.db")
    with start_simulator(sim) as server:
        proc = _cli(db_path, server.url, "--json")
        deadline = time.time() + 60
        while len(served) < 4 and proc.poll() is None:
            assert time.time() < deadline
            time.sleep(0.002)
        time.sleep(0.2)
        proc.send_signal(sig)
        gate.set()
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        summary = json.loads(out)
        assert summary["outcome"] == "stopped"
        assert summary["message"] == "stopped; progress kept; run again to resume"
        assert isinstance(summary["counters"], dict) and isinstance(summary["skip_reasons"],
                                                                    dict)
        db = open_db(db_path)
        assert db["locks"].count == 0
        assert db.execute("select outcome from runs").fetchall() == [("stopped",)]
        assert 0 < db["deals"].count < len(baseline["rows"])
        again = _cli(db_path, server.url)
        _, err = again.communicate(timeout=120)
    assert again.returncode == 0, err
    assert rows(open_db(db_path)) == baseline["rows"]


def test_products_bought_before_the_budget_runs_out_are_kept_and_rated_later(baseline,
                                                                             tmp_path):
    """The /seller call of a chunk can find the balance spent by its /product call: the
    products are saved at once, their sellers fetched by a later chunk's call, and no product
    is ever bought twice with live offers. Before, the chunk was thrown away and bought
    again on resume."""
    sim, clock = make_sim(refill_rate=10, tokens=10)
    db = open_db(str(tmp_path / "d.db"))
    with start_simulator(sim) as server:
        summary, _ = run(db, server.url, clock, screen=False)
        assert summary["outcome"] == "paused" and summary["deals_saved"] > 0
        owed = {r[0] for r in db.execute(
            "select seller_id from deals where status = 'deal' and seller_name is null")}
        assert owed and not sim.calls("seller")
        while summary["outcome"] == "paused":
            clock.advance(3600)
            summary, _ = run(db, server.url, clock, screen=False)
    bought = asked(sim, offers=True)
    assert len(bought) == len(set(bought))
    fetched = {s for r in sim.calls("seller") for s in r.params["seller"].split(",")}
    assert owed <= fetched
    unrated = db.execute("select count(*) from deals d join sellers s using (seller_id) "
                         "where s.found and d.seller_name is null").fetchone()[0]
    assert unrated == 0


def test_a_product_twice_in_one_answer_is_kept_neither_way(baseline, tmp_path):
    """A /product answer holding one ASIN twice, the second copy with every offer at 1 cent:
    before, the later copy won silently (in a fault run 31 ASINs were saved at a 1-cent buy
    price, 25 of them visible at ROI 1,922%). Neither copy is trusted: the ASIN waits for its
    retry (duplicate_in_response), and the run counts it."""
    sim, clock = make_sim(faults=FaultPlan({"duplicate": 1.0}, seed=2))
    db = open_db(str(tmp_path / "d.db"))
    with start_simulator(sim) as server:
        summary, _ = run(db, server.url, clock, screen=False)
    assert summary["counters"]["duplicates"] > 0
    waiting = {r["asin"] for r in db.query("select asin from deals where retry_reason = "
                                           "'duplicate_in_response'")}
    assert waiting and db.execute("select count(*) from deals where price_cents <= 1"
                                  ).fetchone()[0] == 0
    assert db.execute("select count(*) from visible_deals where roi_pct > 500").fetchone()[0] == 0
    record("faults", "every /product answer holds one ASIN twice, the copy's offers at 1 cent",
           summary["counters"]["duplicates"],
           f"neither copy kept: {len(waiting)} ASIN(s) wait for their retry "
           "(duplicate_in_response), none saved at 1 cent, counted in the run")


def _until(predicate, seconds=30):
    deadline = time.time() + seconds
    while not predicate():
        assert time.time() < deadline
        time.sleep(0.01)


def test_a_stop_request_sends_no_retry_and_says_so_at_once(tmp_path):
    """Against a Keepa answering 503, Ctrl-C made the client fire its remaining retries back
    to back (5 requests in 1 ms) with nothing printed. Now the first signal prints at once,
    no request goes out after it, and the run is recorded `stopped`."""
    sim, _ = make_sim(faults=FaultPlan({"503": 1.0}))
    db_path = str(tmp_path / "deals.db")
    with start_simulator(sim) as server:
        proc = _cli(db_path, server.url)
        _until(lambda: any(r.status == 503 for r in sim.log))
        sent = len(sim.log)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    assert "stopping after the current request (Ctrl-C again to quit now)" in err
    assert proc.returncode == 0 and len(sim.log) <= sent + 1  # at most the one in flight
    outcomes = [r[0] for r in open_db(db_path).execute("select outcome from runs")]
    assert outcomes == ["stopped"]
    record("signals", "Ctrl-C while Keepa answers 503 (retries pending)", 1,
           f"notice printed at once; {len(sim.log) - sent} request(s) after it; run 'stopped', "
           "exit 0")


def test_a_second_stop_request_interrupts_and_records_it(tmp_path):
    sim, gate, served = gated_sim(2)
    db_path = str(tmp_path / "deals.db")
    with start_simulator(sim) as server:
        proc = _cli(db_path, server.url)
        _until(lambda: len(served) >= 2)
        proc.send_signal(signal.SIGINT)
        time.sleep(0.3)
        proc.send_signal(signal.SIGINT)
        gate.set()
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130 and "interrupted by a second Ctrl-C" in err
    outcomes = [r[0] for r in open_db(db_path).execute("select outcome from runs")]
    assert outcomes == ["interrupted"]  # before: 'failed', as if something broke
    record("signals", "a second Ctrl-C during a slow request", 1,
           "exit 130, 'interrupted by a second Ctrl-C', run recorded 'interrupted'")

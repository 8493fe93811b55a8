"""sync (watermark delta) and janitor on the simulator."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from arbitrage_cli.clock import FakeClock
from arbitrage_cli.keepa.budget import TokenBudget
from arbitrage_cli.keepa.client import KeepaClient
from arbitrage_cli.pipeline import janitor as jan
from arbitrage_cli.pipeline.backfill import BackfillOptions, backfill
from arbitrage_cli.pipeline.sync import SyncOptions, sync
from arbitrage_cli.simulator import Catalog, KeepaSimulator, endpoints, start_simulator
from arbitrage_cli.store import open_db, state
from arbitrage_cli.timefmt import iso_utc
from tests.conftest import SENTINEL_KEY, SIM_EPOCH
from tests.test_backfill import QUERY


@pytest.fixture
def world(tmp_path):
    """A backfilled database next to a simulator whose products only change when a test
    changes them (no simulated future), and a clock the test moves."""
    clock = FakeClock(SIM_EPOCH)
    cat = Catalog(seed=11, products=40, now=SIM_EPOCH, future_days=0)
    sim = KeepaSimulator(cat, clock=clock, refill_rate=1000)
    server = start_simulator(sim)
    db = open_db(str(tmp_path / "deals.db"))
    client = KeepaClient(SENTINEL_KEY, base_url=server.url, budget=TokenBudget(db, clock),
                         clock=clock)
    backfill(db, client, QUERY, BackfillOptions(screen=False), clock=clock)
    sim.log.clear()
    yield {"db": db, "sim": sim, "cat": cat, "clock": clock, "client": client,
           "server": server}
    server.stop()


def do_sync(w, **opts):
    """The seed step for every change (the funnel has tests of its own, test_funnel.py)."""
    return sync(w["db"], w["client"], QUERY, SyncOptions(**{"screen": False, **opts}),
                clock=w["clock"])


def change(w, n):
    """Reprice n products of the feed now (their used price drops by 30%)."""
    now = w["sim"].now_keepa()
    asins = [r["asin"] for r in w["db"].query(
        "select asin from deals where status = 'deal' order by asin limit ?", [n])]
    for a in asins:
        w["cat"].reprice(a, now, 0.7)
    return asins


def product_asins(sim):
    return sorted(a for r in sim.calls("product") for a in r.params["asin"].split(","))


def test_nothing_changed_spends_only_deal_pages(world):
    first = do_sync(world)
    assert first["outcome"] == "done"
    world["clock"].advance(15 * 60)
    second = do_sync(world)
    assert second["outcome"] == "done"
    assert world["sim"].calls("product") == [] and world["sim"].calls("seller") == []
    pages = world["sim"].calls("deal")
    assert pages and second["tokens_consumed"] + first["tokens_consumed"] == 5 * len(pages)
    assert state.get(world["db"], "last_sync_success_at")


@pytest.mark.parametrize("n", [1, 3, 7])
def test_exactly_the_changed_products_are_refetched(world, n):
    do_sync(world)
    world["clock"].advance(10 * 60)
    changed = change(world, n)
    before = {a: world["db"]["deals"].get(a)["price_now_cents"] for a in changed}
    world["sim"].log.clear()
    world["clock"].advance(5 * 60)
    summary = do_sync(world)
    assert summary["outcome"] == "done"
    assert product_asins(world["sim"]) == sorted(changed)
    for a in changed:
        assert world["db"]["deals"].get(a)["price_now_cents"] < before[a]
    assert state.get(world["db"], "watermark_keepa") == world["sim"].now_keepa() - 5


def test_unsorted_pages_fall_back_to_a_full_listing(world, monkeypatch, caplog):
    do_sync(world)
    world["clock"].advance(10 * 60)
    changed = change(world, 3)
    original = endpoints._deal_list

    def shuffled(*a, **k):
        out = original(*a, **k)
        return out[len(out) // 2:] + out[:len(out) // 2]  # oldest first in the middle

    monkeypatch.setattr(endpoints, "_deal_list", shuffled)
    world["sim"].log.clear()
    world["clock"].advance(5 * 60)
    summary = do_sync(world, reconcile_share=0.0001)  # an incremental walk, not a full one
    assert "not ordered by deal age" in caplog.text
    assert product_asins(world["sim"]) == sorted(changed)
    counters = summary["counters"]
    assert counters["walk"] == "incremental" and counters["out_of_order"] == 1
    assert counters["full_listing"] == 1


def test_pause_mid_run_never_passes_an_unprocessed_product(world):
    do_sync(world)
    world["clock"].advance(10 * 60)
    changed = change(world, 16)
    world["clock"].advance(3 * 60)
    bucket = world["sim"].bucket
    bucket.rate, bucket.capacity = 5, 300  # a 5 tokens/min plan
    bucket.set_balance(45)  # the page and a few chunks
    world["client"].token()
    summary = do_sync(world, min_tokens=0)
    assert summary["outcome"] == "paused"
    fetched = set(product_asins(world["sim"]))
    pending = set(changed) - fetched
    assert pending
    from arbitrage_cli.analysis.business import BusinessSettings
    from arbitrage_cli.pipeline import reconcile

    queued = reconcile.due(world["db"], now=world["clock"].now(),
                           now_keepa=world["sim"].now_keepa(), settings=BusinessSettings(),
                           include_new=True, refresh_after_min=None, retry_window_s=3 * 86400)
    assert pending <= {d.asin for d in queued}  # every unprocessed change waits in the queue
    for _ in range(20):  # cron keeps coming back until the backlog is done
        world["clock"].advance(3600)
        if do_sync(world)["outcome"] == "done":
            break
    assert set(product_asins(world["sim"])) >= set(changed)
    assert [r for r in world["sim"].log if r.status == 429] == []


def test_low_balance_skips_the_run(world):
    world["sim"].bucket.set_balance(10)
    summary = do_sync(world)
    assert summary["outcome"] == "skipped: low tokens" and "balance 10" in summary["message"]
    assert world["sim"].calls("deal") == []


def test_a_failed_refresh_keeps_the_row_and_missing_fields_are_kept(world):
    do_sync(world)
    world["clock"].advance(10 * 60)
    a, b = change(world, 2)
    row_a = world["db"]["deals"].get(a)
    row_b = world["db"]["deals"].get(b)
    original = world["sim"].handle

    def damaged(method, path, params, body=None):
        resp = original(method, path, params, body)
        for p in (resp.payload or {}).get("products") or []:
            if p["asin"] == a:
                p["offersSuccessful"] = False  # the offer fetch failed this time
            if p["asin"] == b:
                del p["title"]  # a refresh that lacks a field
        return resp

    world["sim"].handle = damaged
    world["clock"].advance(5 * 60)
    do_sync(world)
    after_a = world["db"]["deals"].get(a)
    queue = {"next_check_at", "retry_reason", "retry_count", "retry_since_at"}
    assert {k: v for k, v in after_a.items() if k not in queue} == \
        {k: v for k, v in row_a.items() if k not in queue}
    assert after_a["retry_reason"] == "offers_unknown"
    after_b = world["db"]["deals"].get(b)
    assert after_b["title"] == row_b["title"] and after_b["price_now_cents"] != \
        row_b["price_now_cents"]


def test_five_cron_launches_at_once_one_works(tmp_path):
    clock = FakeClock(SIM_EPOCH)
    sim = KeepaSimulator(Catalog(seed=11, products=20, now=SIM_EPOCH), clock=clock,
                         refill_rate=1000)
    original = sim.handle

    def slow(method, path, params, body=None):
        time.sleep(0.5)
        return original(method, path, params, body)

    sim.handle = slow
    db_path = str(tmp_path / "deals.db")
    open_db(db_path)
    qfile = tmp_path / "q.json"
    qfile.write_text(__import__("json").dumps(QUERY))
    env = {**os.environ, "KEEPA_API_KEY": SENTINEL_KEY}
    with start_simulator(sim) as server:
        procs = [subprocess.Popen([sys.executable, "-m", "arbitrage_cli", "--db", db_path,
                                   "--keepa-url", server.url, "sync", "--query", str(qfile)],
                                  env=env, stderr=subprocess.PIPE, text=True)
                 for _ in range(5)]
        results = [(p.wait(timeout=120), p.stderr.read()) for p in procs]
    codes = sorted(c for c, _ in results)
    assert codes == [0, 3, 3, 3, 3], results
    assert all("held by" in err for c, err in results if c == 3)
    db = open_db(db_path)
    assert db.execute("pragma integrity_check").fetchone()[0] == "ok"
    assert [r["outcome"] for r in db.query("select outcome from runs")] == ["done"]


def _deals(db, n, confirmed_at):
    db["deals"].insert_all({"asin": f"{i:010d}", "status": "deal", "confirmed_at": confirmed_at,
                            "profit_cents": 100} for i in range(n))


def test_janitor_does_nothing_while_sync_is_stalled(fresh_db):
    clock = FakeClock(SIM_EPOCH)
    _deals(fresh_db, 50, iso_utc(SIM_EPOCH - 5 * 86400))
    state.set_(fresh_db, "last_sync_success_at", iso_utc(SIM_EPOCH - 4 * 86400), clock)
    summary = jan.janitor(fresh_db, clock=clock)
    assert summary["outcome"] == "skipped: sync unhealthy"
    assert fresh_db.execute("select count(*) from deals where expired_at is not null"
                            ).fetchone()[0] == 0


def test_janitor_caps_hides_and_confirmation_revives(fresh_db):
    clock = FakeClock(SIM_EPOCH)
    _deals(fresh_db, 100, iso_utc(SIM_EPOCH - 4 * 86400))
    state.set_(fresh_db, "last_sync_success_at", iso_utc(SIM_EPOCH - 600), clock)
    state.set_(fresh_db, "full_walk_started_at", iso_utc(SIM_EPOCH - 900), clock)
    dry = jan.janitor(fresh_db, jan.JanitorOptions(dry_run=True), clock=clock)
    assert len(dry["would_expire"]) == 10
    assert dry["message"].startswith("would expire 10 of 100 not listed by Keepa for")
    assert fresh_db.execute("select count(*) from deals where expired_at is not null"
                            ).fetchone()[0] == 0
    done = jan.janitor(fresh_db, clock=clock)
    assert done["outcome"] == "done" and len(done["expired_asins"]) == 10
    assert fresh_db["deals"].count == 100  # hidden, not deleted
    from arbitrage_cli.pipeline.chunk import skipped_row
    from arbitrage_cli.store.deals import upsert_rows

    row = skipped_row(done["expired_asins"][0], "ghost_offer")
    upsert_rows(fresh_db, [{**row, "status": "deal", "skip_reason": None,
                            "checked_keepa": 8_000_000}], clock.now())
    assert fresh_db["deals"].get(done["expired_asins"][0])["expired_at"] is None


def test_status_warns_about_stalled_sync_dead_lock_and_still_watermark(db_path):
    from arbitrage_cli.store.status import gather

    db = open_db(db_path)
    clock = FakeClock(SIM_EPOCH)
    state.set_(db, "last_sync_success_at", iso_utc(SIM_EPOCH - 3 * 3600), clock)
    old = FakeClock(SIM_EPOCH - 2 * 86400)
    state.set_(db, "watermark_iso", "2026-11-18T00:00:00.000Z", old)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    from arbitrage_cli.store import locks

    held = locks.acquire(db, "backfill", pid=dead.pid, clock=clock)
    os.close(held.os_lock)  # as the kernel does when the owner dies
    warnings = gather(db, clock)["health"]["warnings"]
    assert any("sync has not succeeded for 3.0 h" in w for w in warnings)
    assert any("watermark has not moved" in w for w in warnings)
    assert any("dead process" in w for w in warnings)
    state.set_(db, "last_sync_success_at", iso_utc(SIM_EPOCH - 60), clock)
    state.set_(db, "watermark_iso", "2026-11-20T00:00:00.000Z", clock)
    locks.force_release(db, "backfill")
    assert gather(db, clock)["health"]["warnings"] == []


def test_log_file_gets_one_summary_line_per_run_and_no_key(world, tmp_path):
    import logging

    from arbitrage_cli.logs import setup_logging

    log = tmp_path / "arb.log"
    setup_logging(0, str(log))
    try:
        do_sync(world)
        jan.janitor(world["db"], clock=world["clock"])
    finally:
        setup_logging(0)
        logging.getLogger().handlers[:] = [h for h in logging.getLogger().handlers
                                           if not getattr(h, "_arbitrage", False)]
    text = log.read_text()
    assert text.count("sync done:") == 1 and text.count("janitor ") == 1
    assert SENTINEL_KEY not in text


def test_a_damaged_entry_on_a_full_page_does_not_end_the_listing():
    from arbitrage_cli.pipeline.listing import listed_deals, page_is_full

    dr = [{"asin": f"{i:010d}", "creationDate": 8_000_000 - i} for i in range(150)]
    dr[70] = {"asin": "not-an-asin", "creationDate": "x"}
    deals, count = listed_deals({"deals": {"dr": dr}})
    assert page_is_full(count) and len(deals) == 149
    assert not page_is_full(listed_deals({"deals": {"dr": dr[:20]}})[1])
    assert listed_deals({"deals": None}) == ([], 0)

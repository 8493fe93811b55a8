"""sync's invariant: every deal Keepa lists ends up in deals.db with a price checked after its
last change; nothing is hidden while Keepa still lists it; a failure is retried, never
forgotten. Each test is one of the ways an earlier sync lost a deal (issue 12), run under both
meanings of a deal's `creationDate` (keepa-api.md §4)."""

from __future__ import annotations

import contextlib

import pytest

from arbitrage_cli.analysis.screen import Stage

from arbitrage_cli.clock import FakeClock
from arbitrage_cli.keepa.budget import TokenBudget
from arbitrage_cli.keepa.client import KeepaClient
from arbitrage_cli.pipeline import janitor as jan
from arbitrage_cli.pipeline.backfill import BackfillOptions, backfill
from arbitrage_cli.pipeline.sync import SyncOptions, sync
from arbitrage_cli.simulator import Catalog, KeepaSimulator, endpoints, start_simulator
from arbitrage_cli.store import open_db
from tests.conftest import SENTINEL_KEY, SIM_EPOCH, copy_db
from tests.reliability import record
from tests.test_backfill import QUERY

MEANINGS = ["changed", "found"]


@contextlib.contextmanager
def simulated(tmp_path, meaning, products=40, backfilled=True, screen=False, **sim_kw):
    """A database next to a simulator whose products change only when a test changes them,
    backfilled unless asked otherwise, and a clock the test moves. `screen`: the token
    funnel in backfill and sync; off, every listed product gets live offers (the seed
    step), which is what these tests of the reconciliation count."""
    clock = FakeClock(SIM_EPOCH)
    cat = Catalog(seed=11, products=products, now=SIM_EPOCH, future_days=0)
    sim = KeepaSimulator(cat, clock=clock, refill_rate=sim_kw.pop("refill_rate", 1000),
                         creation_date=meaning, **sim_kw)
    key = (meaning, products, screen, tuple(sorted(sim_kw.items())))
    path = str(tmp_path / "deals.db")
    if backfilled and key in _BACKFILLED:  # the same backfill as before: its database
        _copy(_BACKFILLED[key], path)
    with start_simulator(sim) as server:
        db = open_db(path)
        client = KeepaClient(SENTINEL_KEY, base_url=server.url, budget=TokenBudget(db, clock),
                             clock=clock)
        w = {"db": db, "sim": sim, "cat": cat, "clock": clock, "client": client,
             "screen": screen, "meaning": meaning}
        if backfilled and key not in _BACKFILLED:
            backfill(db, client, QUERY, BackfillOptions(screen=screen), clock=clock)
            sim.log.clear()
            _BACKFILLED[key] = str(tmp_path / "backfilled.db")
            _copy(path, _BACKFILLED[key])
        yield w


# A backfill at the fixed start moment gives the same database every time (the catalog, the
# clock and the simulator are deterministic): tests after the first start from a copy of it.
_BACKFILLED: dict[tuple, str] = {}


_copy = copy_db


# The invariant holds under both meanings of creationDate and with the token funnel on (the
# default) and off (--no-screen). The default run covers each meaning and each mode once
# (pairwise); `-m slow` adds the other two pairs.
CASES = [pytest.param(("changed", True), id="changed-funnel"),
         pytest.param(("found", False), id="found-seed"),
         pytest.param(("changed", False), id="changed-seed", marks=pytest.mark.slow),
         pytest.param(("found", True), id="found-funnel", marks=pytest.mark.slow)]


@pytest.fixture(params=CASES)
def case(request):
    return request.param


@pytest.fixture
def meaning(case):
    return case[0]


@pytest.fixture
def screen(case):
    return case[1]


@pytest.fixture
def world(tmp_path, meaning, screen):
    with simulated(tmp_path, meaning, screen=screen) as w:
        yield w


def do_sync(w, **opts):
    return sync(w["db"], w["client"], QUERY, SyncOptions(**{"screen": w["screen"], **opts}),
                clock=w["clock"])


def iso_now(w) -> str:
    from arbitrage_cli.timefmt import iso_utc

    return iso_utc(w["clock"].now())


def _how(w) -> str:
    return ("funnel" if w["screen"] else "--no-screen") + ", creationDate " + w["meaning"]


def later(w, minutes):
    w["clock"].advance(minutes * 60)


def change(w, n, factor=0.7):
    """Reprice n analysed products now (every live used offer x factor): deals first, then
    (with the funnel on, few are deals) the books it screened out."""
    now = w["sim"].now_keepa()
    asins = [r["asin"] for r in w["db"].query(
        "select asin from deals where status in ('deal', 'screened') "
        "order by status != 'deal', asin limit ?", [n])]
    assert len(asins) == n
    for a in asins:
        w["cat"].reprice(a, now, factor)
    return asins


def fetched(sim):
    return {a for r in sim.calls("product") for a in r.params["asin"].split(",")}


def listed_now(w) -> list[dict]:
    """What Keepa lists for the query right now (the simulator's truth, no tokens)."""
    sel = {**QUERY, "domainId": 1}
    return endpoints._deal_list(w["cat"], sel, 2, 3, w["sim"].now_keepa())


def price(w, asin):
    return w["db"]["deals"].get(asin)["price_now_cents"]


@contextlib.contextmanager
def offers_fail(w, asins):
    """Keepa's live offer fetch fails (offersSuccessful false) for these ASINs meanwhile."""
    sim, original = w["sim"], w["sim"].handle

    def failing(method, path, params, body=None):
        resp = original(method, path, params, body)
        for p in (resp.payload or {}).get("products") or []:
            if p.get("asin") in asins:
                p["offersSuccessful"] = False
                p.pop("liveOffersOrder", None)
        return resp

    sim.handle = failing
    try:
        yield
    finally:
        sim.handle = original


# -- 1. a failed refresh is retried -----------------------------------------------------------
def test_a_failed_refresh_is_retried_until_it_succeeds(world):
    do_sync(world)
    later(world, 10)
    [a] = change(world, 1, factor=0.5)
    before = price(world, a)
    with offers_fail(world, {a}):
        later(world, 5)
        do_sync(world)
    assert price(world, a) == before  # the failure kept what we had
    for _ in range(5):
        later(world, 60)
        do_sync(world)
    assert price(world, a) < before
    assert world["db"]["deals"].get(a)["retry_reason"] is None


def test_retries_back_off_boundedly_and_are_never_dropped(world):
    do_sync(world)
    later(world, 10)
    [a] = change(world, 1, factor=0.5)
    times = []
    with offers_fail(world, {a}):
        for _ in range(40):  # 40 cron ticks of 15 minutes
            later(world, 15)
            world["sim"].log.clear()
            do_sync(world)
            if a in fetched(world["sim"]):
                times.append(world["clock"].now())
            row = world["db"]["deals"].get(a)
            assert row["retry_reason"] == "offers_unknown" and row["next_check_at"]
    gaps = [round((b - t) / 60) for t, b in zip(times, times[1:])]
    assert len(times) >= 4 and gaps == sorted(gaps)  # backing off
    assert max(gaps) <= 180  # but bounded: still tried every few hours
    later(world, 200)
    do_sync(world)
    assert world["db"]["deals"].get(a)["retry_reason"] is None


def test_a_failed_refresh_keeps_the_payload_that_explains_the_row(world):
    from arbitrage_cli.pipeline.stored import reanalyse

    do_sync(world)
    later(world, 10)
    [a] = change(world, 1, factor=0.5)
    shown = reanalyse(world["db"], a)[0]
    assert shown.offer.winner is not None
    with offers_fail(world, {a}):
        later(world, 5)
        do_sync(world)
    again, row = reanalyse(world["db"], a)
    assert again.offer.winner == shown.offer.winner and again.offer.reason is None
    assert row["price_now_cents"] == again.row["price_now_cents"]
    from arbitrage_cli import explain
    from arbitrage_cli.pipeline.stored import explain_inputs

    report = explain.report(**explain_inputs(world["db"], a))
    assert report["freshness"]["retry_reason"] == "offers_unknown"
    assert any(o["verdict"] == "winner" for o in report["offers"]["live_considered"])
    text = " ".join(explain.to_text(report).split())  # wrapped at 80 columns
    assert "Last fetch failed (offers_unknown, 1 in a row" in text
    assert "from the last good fetch" in text and "Keepa's deal listing showed it" in text


# -- 2. deals that enter the listing without a newer creationDate -------------------------------
def test_a_deal_entering_the_listing_with_an_old_creation_date_is_fetched(tmp_path, meaning,
                                                                          screen, monkeypatch):
    original = endpoints._deal_list
    hidden: set[str] = set()

    def without_hidden(*a, **k):
        return [d for d in original(*a, **k) if d["asin"] not in hidden]

    monkeypatch.setattr(endpoints, "_deal_list", without_hidden)
    with simulated(tmp_path, meaning, backfilled=False, screen=screen) as w:
        now = w["sim"].now_keepa()
        old = [d["asin"] for d in original(w["cat"], {**QUERY, "domainId": 1}, 2, 3, now)
               if now - d["currentSince"][2] > 3 * 1440]
        hidden.update(old[:3])  # not listed while backfill and the first syncs run
        backfill(w["db"], w["client"], QUERY, BackfillOptions(screen=screen), clock=w["clock"])
        do_sync(w)
        assert not hidden & fetched(w["sim"])
        hidden.clear()  # they enter the listing, their creationDate days old
        for _ in range(4):
            later(w, 15)
            do_sync(w)
        for a in old[:3]:
            assert w["db"]["deals"].get(a)["status"] in ("deal", "skipped", "screened")


# -- 3. the janitor hides only what Keepa stopped listing ---------------------------------------
def test_the_janitor_never_hides_a_deal_keepa_still_lists(world):
    for hour in range(80):
        later(world, 60)
        do_sync(world)
        if hour % 4 == 3:
            jan.janitor(world["db"], clock=world["clock"])
    listed = {d["asin"] for d in listed_now(world)}
    hidden = {r["asin"] for r in world["db"].query(
        "select asin from deals where expired_at is not null")}
    assert listed and not listed & hidden


def test_the_janitor_hides_what_left_the_listing_and_a_walk_revives_it(world, monkeypatch):
    original = endpoints._deal_list
    gone = {r["asin"] for r in world["db"].query(
        "select asin from deals where status = 'deal' order by asin limit 2")}
    monkeypatch.setattr(endpoints, "_deal_list",
                        lambda *a, **k: [d for d in original(*a, **k) if d["asin"] not in gone])
    for hour in range(76):
        later(world, 60)
        do_sync(world)
    expired = set()
    for _ in range(len(gone)):  # the cap is a share of the deals: with the funnel on, few
        expired |= set(jan.janitor(world["db"], clock=world["clock"])["expired_asins"])
    assert expired == gone
    monkeypatch.setattr(endpoints, "_deal_list", original)
    for hour in range(24):  # every product is re-crawled, so listed, at least once a day
        later(world, 60)
        do_sync(world)
    assert world["db"].execute("select count(*) from deals where expired_at is not null"
                               ).fetchone()[0] == 0


def _hidden(w) -> int:
    return w["db"].execute("select count(*) from deals where expired_at is not null"
                           ).fetchone()[0]


def test_an_empty_listing_is_suspect_and_hides_nothing(world, monkeypatch):
    """Keepa answers /deal with no deals (an outage, a broken query). Before: the empty page
    ended a 'complete' full walk, sync recorded success, and 72 h later the janitor hid every
    deal, 10% an hour. Now the walk is suspect: not proof of absence, said in the run's JSON
    and in status, and the janitor hides nothing for three days."""
    from arbitrage_cli.store.status import gather

    do_sync(world)
    before = world["db"].execute("select count(*) from deals where status = 'deal'"
                                 ).fetchone()[0]
    monkeypatch.setattr(endpoints, "_deal_list", lambda *a, **k: [])
    for hour in range(70):
        later(world, 60)
        summary = do_sync(world)
        assert summary["counters"]["suspect_walk"] == 1 and "shrank" in summary["message"]
        if hour % 4 == 3:
            jan.janitor(world["db"], clock=world["clock"])
    assert before and _hidden(world) == 0
    warnings = gather(world["db"], world["clock"])["health"]["warnings"]
    assert any("shrank from" in x and "not taken as proof" in x for x in warnings)
    record("faults", f"Keepa's listing answers empty for 70 hours ({_how(world)})", 70,
           f"every sync's walk suspect; janitor hid 0 of {before} deals; status warns")


def test_a_shrink_that_lasts_three_days_is_believed_within_the_cap(world, monkeypatch):
    """After three days of consistent walks the smaller listing is taken as it is: status asks
    the user to check the query, and the janitor hides what left, at most its share a run."""
    from arbitrage_cli.store.status import gather

    do_sync(world)
    original = endpoints._deal_list
    keep = sorted(d["asin"] for d in listed_now(world))[:3]
    monkeypatch.setattr(endpoints, "_deal_list",
                        lambda *a, **k: [d for d in original(*a, **k) if d["asin"] in keep])
    deals = world["db"].execute("select count(*) from deals where status = 'deal' and "
                                "expired_at is null").fetchone()[0]
    for hour in range(80):
        later(world, 60)
        do_sync(world)
    summary = jan.janitor(world["db"], clock=world["clock"])
    assert 0 < len(summary["expired_asins"]) <= -(-deals // 10)
    assert not set(summary["expired_asins"]) & set(keep)
    warnings = gather(world["db"], world["clock"])["health"]["warnings"]
    assert any("for 3 days: check keepa_query.json" in x for x in warnings)
    record("faults", f"Keepa's listing shrinks to 3 deals for 80 hours ({_how(world)})", 80,
           f"suspect for 3 days, then believed: janitor hid {len(summary['expired_asins'])} "
           f"of {deals} (cap {-(-deals // 10)}), none still listed; status asks to check the "
           "query")


def test_the_janitor_cap_lets_a_small_database_be_cleaned(fresh_db):
    from arbitrage_cli.store import state
    from arbitrage_cli.timefmt import iso_utc

    clock = FakeClock(SIM_EPOCH)
    fresh_db["deals"].insert_all({"asin": f"{i:010d}", "status": "deal", "profit_cents": 100,
                                  "confirmed_at": iso_utc(SIM_EPOCH - 5 * 86400)}
                                 for i in range(5))
    state.set_(fresh_db, "last_sync_success_at", iso_utc(SIM_EPOCH - 600), clock)
    state.set_(fresh_db, "full_walk_started_at", iso_utc(SIM_EPOCH - 1200), clock)
    summary = jan.janitor(fresh_db, clock=clock)
    assert summary["outcome"] == "done" and len(summary["expired_asins"]) >= 1


# -- 4. a walk cut short never advances the watermark past what it did not list -------------------
def test_a_walk_cut_short_never_passes_what_it_did_not_list(tmp_path, meaning, screen):
    with simulated(tmp_path, meaning, products=200, screen=screen) as w:
        do_sync(w)
        later(w, 10)
        changed = change(w, 155)  # more than one page of 150
        later(w, 5)
        w["sim"].log.clear()
        do_sync(w, max_pages=1)
        later(w, 15)
        do_sync(w)
        if not w["screen"]:  # with the funnel, stage 0 judges some from the listing's price
            assert set(changed) <= fetched(w["sim"])
        for a in changed:  # live offers, or (funnel) the history or listing that judged it
            assert w["db"]["deals"].get(a)["checked_keepa"] >= \
                w["cat"].product(a).change_times[-1]


# -- 5. changes reach sync whatever creationDate means -------------------------------------------
@pytest.mark.parametrize("n", [1, 3])
def test_exactly_the_changed_products_are_refetched(world, n):
    do_sync(world)
    later(world, 10)
    changed = change(world, n)
    before = {a: price(world, a) for a in changed}
    world["sim"].log.clear()
    later(world, 5)
    assert do_sync(world)["outcome"] == "done"
    assert fetched(world["sim"]) == set(changed)
    for a in changed:
        assert price(world, a) < before[a]


# -- the due queue's order ------------------------------------------------------------------------
def _row(asin, **kw):
    base = {"asin": asin, "listed_at": "2026-11-20T00:00:00.000Z", "creation_keepa": 100,
            "current_cents": 1500, "current_since_keepa": 100, "changed_keepa": None,
            "listed_update_keepa": 100, "known": 1, "status": "deal", "hidden": 0,
            "retry_reason": None, "next_check_at": None, "checked_keepa": 200,
            "last_update_keepa": 100, "profit_cents": 500, "list_at_cents": 4000,
            "shipping_cents": 0, "fba_fee_cents": 300, "referral_fee_pct": 15.0,
            "closing_fee_cents": 180, "price_now_cents": 2000, "price_suspicious": 0,
            "avg_1yr_cents": 3500, "expired_at": None, "listed_keepa": 99_990,
            "used_cents": kw.get("current_cents", 1500), "skip_reason": None,
            "screen_price_cents": None, "screen_bound_cents": None, "history_keepa": 99_000}
    return {**base, **kw}


def test_the_due_queue_serves_retries_then_value():
    from arbitrage_cli.analysis.business import BusinessSettings
    from arbitrage_cli.pipeline.reconcile import plan

    rows = [
        _row("A000000001", checked_keepa=50),  # changed, profitable at the listed price
        _row("A000000002", checked_keepa=50, current_cents=9000),  # changed, not profitable
        _row("A000000003", known=0, status=None, checked_keepa=None),  # new
        _row("A000000004", retry_reason="offers_unknown", next_check_at="2026-11-19T00:00:00.000Z"),
        _row("A000000005", retry_reason="offers_unknown", next_check_at="2026-11-21T00:00:00.000Z"),
        _row("A000000006"),  # unchanged
        _row("A000000007", listed_update_keepa=150, checked_keepa=150),  # re-crawled, visible
        _row("A000000008", checked_keepa=50, list_at_cents=9000),  # changed, more profitable
        _row("A000000009", checked_keepa=50, listed_at="2026-11-18T00:00:00.000Z"),  # not listed
    ]
    now = 1_795_132_800.0  # 2026-11-20T00:00Z
    kinds = [(d.asin, d.kind) for d in plan(
        rows, now=now, now_keepa=100_000, listed_since="2026-11-19T12:00:00.000Z",
        retry_since="2026-11-17T00:00:00.000Z", settings=BusinessSettings(), include_new=True,
        refresh_after_min=24 * 60)]
    # stage 0 judges the changed ones for free: at $90.00 (less the margin) A000000002 cannot
    # pay, so only its price is recorded; the rest queue by value
    assert kinds == [("A000000002", "screen"), ("A000000004", "retry"),
                     ("A000000008", "changed"), ("A000000001", "changed"),
                     ("A000000003", "new"), ("A000000007", "refresh")]
    no_new = plan(rows, now=now, now_keepa=100_000, listed_since="2026-11-19T12:00:00.000Z",
                  retry_since="2026-11-17T00:00:00.000Z", settings=BusinessSettings(),
                  include_new=False, refresh_after_min=None)
    assert "A000000003" not in {d.asin for d in no_new}  # the running backfill's work
    assert "A000000007" not in {d.asin for d in no_new}


def test_ignored_and_bought_deals_cost_no_token_until_unmarked(world):
    """An ignored deal kept being refreshed with live offers (about 39 tokens in three days
    for one). Marked bought or ignored: never fetched again; the walks keep its listing
    evidence for free; `unmark` makes it due again."""
    from arbitrage_cli.store import marks

    do_sync(world)
    a, b = (r["asin"] for r in world["db"].query(
        "select asin from deals where status = 'deal' order by asin limit 2"))
    marks.mark(world["db"], a, "ignored", clock=world["clock"])
    marks.mark(world["db"], b, "bought", clock=world["clock"])
    for _ in range(3):
        later(world, 10)
        change(world, 10)  # a and b among them
        later(world, 5)
        world["sim"].log.clear()
        do_sync(world)
        assert not {a, b} & fetched(world["sim"])
    assert world["db"]["listing"].get(a)["listed_at"] == iso_now(world)
    marks.unmark(world["db"], a)
    later(world, 15)
    world["sim"].log.clear()
    do_sync(world)
    assert a in fetched(world["sim"]) and b not in fetched(world["sim"])


def test_a_visible_deal_that_changed_is_never_behind_an_unknown_new_asin():
    """A visible deal whose stored history is more than 7 days old went to tier 3 (behind
    every new ASIN), so on a small plan its old price stayed on screen while new ASINs kept
    arriving. It goes through its history first, but ahead of the new ones."""
    from arbitrage_cli.analysis.business import BusinessSettings
    from arbitrage_cli.pipeline.reconcile import plan

    stale = 100_000 - 8 * 1440
    rows = [_row("A000000001", checked_keepa=50, history_keepa=stale),  # visible, changed
            _row("A000000002", known=0, status=None, checked_keepa=None, creation_keepa=99_999),
            _row("A000000003", checked_keepa=50, history_keepa=stale, profit_cents=-100)]
    queue = plan(rows, now=1_795_132_800.0, now_keepa=100_000,
                 listed_since="2026-11-19T12:00:00.000Z", retry_since="2026-11-17T00:00:00.000Z",
                 settings=BusinessSettings(), include_new=True, refresh_after_min=None)
    order = [d.asin for d in queue]
    assert order.index("A000000001") < order.index("A000000002")
    assert order.index("A000000002") < order.index("A000000003")  # not visible: after new ones
    assert queue[order.index("A000000001")].stage == 1  # its history first (1 token)


def test_a_short_budget_goes_to_the_most_valuable_changes_first(world):
    """On a 5 tokens/min plan a sync cannot fetch every change at once: what it does fetch
    are the changes that could pay the most at the price the listing shows."""
    from arbitrage_cli.analysis.business import BusinessSettings
    from arbitrage_cli.pipeline import reconcile

    do_sync(world)
    later(world, 10)
    changed = set(change(world, 16, factor=0.6))
    later(world, 3)
    db, clock = world["db"], world["clock"]
    w = reconcile.walk(db, world["client"], QUERY, full=True, watermark=None, max_pages=67,
                       overlap_min=60, clock=clock)  # the listing as sync will see it
    assert w.to_end
    queue = [d for d in reconcile.due(db, now=clock.now(), now_keepa=world["sim"].now_keepa(),
                                      settings=BusinessSettings(), include_new=True,
                                      refresh_after_min=None, retry_window_s=3 * 86400,
                                      screening=world["screen"])
             if d.asin in changed]
    assert {d.asin for d in queue} == changed
    bucket = world["sim"].bucket
    bucket.rate, bucket.capacity = 5, 300
    bucket.set_balance(45)  # the listing page and a few chunks
    world["client"].token()
    world["sim"].log.clear()
    assert do_sync(world, min_tokens=0)["outcome"] == "paused"
    got = fetched(world["sim"])
    paid = [d for d in queue if d.stage != Stage.LISTING]  # stage 0 rejects cost nothing
    assert got and got < {d.asin for d in paid}
    head = [d.asin for d in paid[:len(got)]]
    assert set(head) == got  # the best the listed prices allow, first
    assert [d.rank for d in paid] == sorted((d.rank for d in paid), reverse=True)
    assert sorted(changed)[:len(got)] != sorted(head)  # not simply ASIN order
    left = reconcile.due(db, now=clock.now(), now_keepa=world["sim"].now_keepa(),
                         settings=BusinessSettings(), include_new=True, refresh_after_min=None,
                         retry_window_s=3 * 86400, screening=world["screen"])
    assert {d.asin for d in left} >= {d.asin for d in paid} - got  # the rest waits


# -- Keepa's 10,000-deal cap and --max-pages ----------------------------------------------------
class PagedListing:
    """A /deal client over a fixed listing of Keepa-shaped deal objects, newest first."""

    budget = None

    def __init__(self, n, newest=8_000_000):
        self.deals = [{"asin": f"{i:010d}", "creationDate": newest - i, "lastUpdate": newest,
                       "current": [-1, -1, 1000 + i], "currentSince": [-1, -1, newest - i]}
                      for i in range(n)]
        self.pages = []

    def deal(self, selection):
        page = selection["page"]
        self.pages.append(page)
        start = page * 150
        return {"deals": {"dr": self.deals[start:min(start + 150, 10_000)]},
                "timestamp": 1_795_132_800_000}


def test_a_walk_stops_at_keepas_cap_and_a_cut_walk_keeps_the_watermark(fresh_db, caplog):
    from arbitrage_cli.pipeline import reconcile
    from arbitrage_cli.store import state

    clock = FakeClock(SIM_EPOCH)
    listing = PagedListing(12_000)
    w = reconcile.walk(fresh_db, listing, QUERY, full=True, watermark=None, max_pages=67,
                       overlap_min=60, clock=clock)
    assert w.capped and w.pages == 67 and w.listed == 10_000
    assert "at most 10000 deals" in caplog.text
    assert reconcile.finish_walk(fresh_db, w, None, clock)
    assert state.get(fresh_db, "watermark_keepa") == 8_000_000
    assert fresh_db["listing"].count == 10_000
    # the listing did not end: no proof that a deal past the cap left it (before, the capped
    # walk counted as a full one, and the janitor hid what it could not see after 72 h)
    assert not w.to_end and state.get(fresh_db, "full_walk_completed_at") is None
    from arbitrage_cli.store.status import gather

    warnings = gather(fresh_db, clock)["health"]["warnings"]
    assert any("more than the 10,000 deals Keepa serves" in x for x in warnings)
    cut = reconcile.walk(fresh_db, PagedListing(600, newest=8_000_500), QUERY, full=False,
                         watermark=8_000_000, max_pages=2, overlap_min=60, clock=clock)
    assert not cut.complete and cut.newest == 8_000_500
    assert not reconcile.finish_walk(fresh_db, cut, 8_000_000, clock)
    assert state.get(fresh_db, "watermark_keepa") == 8_000_000  # pages 3-4 were not listed


def test_an_incremental_walk_stops_past_the_watermark(fresh_db):
    from arbitrage_cli.pipeline import reconcile

    listing = PagedListing(1_000)
    w = reconcile.walk(fresh_db, listing, QUERY, full=False, watermark=8_000_000 - 200,
                       max_pages=67, overlap_min=60, clock=FakeClock(SIM_EPOCH))
    assert w.reached and listing.pages == [0, 1]  # 260 deals down to watermark - overlap


# -- --max-minutes stops before a chunk that would overrun ----------------------------------------
@pytest.mark.parametrize("command", ["backfill", "sync"])
def test_max_minutes_stops_before_a_chunk_that_would_overrun(tmp_path, command):
    with simulated(tmp_path, "changed", backfilled=command == "sync") as w:
        if command == "sync":
            do_sync(w)
            later(w, 10)
            change(w, 12)
            later(w, 5)
        original = w["sim"].handle

        def slow(method, path, params, body=None):
            if path.strip("/") == "product":
                w["clock"].advance(40)  # Keepa takes 40 s to collect the offers
            return original(method, path, params, body)

        w["sim"].handle = slow
        start = w["clock"].now()
        if command == "sync":
            summary = do_sync(w, max_minutes=1.5)
        else:
            summary = backfill(w["db"], w["client"], QUERY,
                               BackfillOptions(max_minutes=1.5, screen=False), clock=w["clock"])
        assert summary["outcome"] == "stopped" and "--max-minutes 1.5" in summary["message"]
        assert w["clock"].now() - start <= 90


# -- upgrading a database from before listing evidence ----------------------------------------------
def test_an_upgraded_database_is_not_refetched_and_its_failures_are_queued(tmp_path):
    from arbitrage_cli.store import schema

    path = str(tmp_path / "old.db")
    db = open_db(path, migrate=False)
    schema.migrations.apply(db, stop_before="008_listing_evidence")
    tmp_path.joinpath("x").mkdir()
    clock = FakeClock(SIM_EPOCH)
    cat = Catalog(seed=11, products=40, now=SIM_EPOCH, future_days=0)
    sim = KeepaSimulator(cat, clock=clock, refill_rate=1000)
    with start_simulator(sim) as server:
        old = open_db(str(tmp_path / "x" / "ref.db"))  # rows as the old pipeline left them
        client = KeepaClient(SENTINEL_KEY, base_url=server.url, budget=TokenBudget(old, clock),
                             clock=clock)
        backfill(old, client, QUERY, BackfillOptions(), clock=clock)
        cols = [c for c in db["deals"].columns_dict if c in old["deals"].columns_dict]
        rows = [{c: r[c] for c in cols} for r in old.query("select * from deals")]
        rows[0].update(status="skipped", skip_reason="offers_unknown")
        db["deals"].insert_all(rows)
        db = open_db(path)  # migration 008 runs
        assert schema.schema_version(db) == schema.known_migrations()[-1]
        first = db["deals"].get(rows[0]["asin"])
        assert first["retry_reason"] == "offers_unknown" and first["checked_keepa"] is None
        assert db.execute("select count(*) from deals where checked_keepa is null"
                          ).fetchone()[0] == 1
        assert db["listing"].count == len(rows)
        sim.log.clear()
        client = KeepaClient(SENTINEL_KEY, base_url=server.url, budget=TokenBudget(db, clock),
                             clock=clock)
        sync(db, client, QUERY, SyncOptions(), clock=clock)
        assert fetched(sim) == {rows[0]["asin"]}  # only the queued failure; nothing unchanged


# -- status shows what waits -----------------------------------------------------------------------
def test_status_shows_pending_retries_and_the_listing(world, capsys):
    from arbitrage_cli.commands.status import render
    from arbitrage_cli.store.status import gather
    from rich.console import Console

    do_sync(world)
    later(world, 10)
    [a] = change(world, 1)
    with offers_fail(world, {a}):
        later(world, 5)
        do_sync(world)
    info = gather(world["db"], world["clock"])
    ls = info["health"]["listing"]
    assert ls["retries_pending"] == 1 and ls["retry_reasons"] == {"offers_unknown": 1}
    assert ls["listed"] == len(listed_now(world)) and ls["never_fetched"] == 0
    console = Console(width=80, record=True)
    render(info, console)
    text = console.export_text()
    assert "1 failed fetches pending (offers_unknown 1)" in text and "listing:" in text
    import re  # the terminal shows local times, never a raw UTC ISO string

    assert "watermark:" in text and not re.search(r"\d\d:\d\d:\d\d(\.\d+)?Z", text), text
    later(world, 120)  # long past its retry time, with no sync in between
    assert any("overdue for their retry" in w for w in gather(
        world["db"], world["clock"])["health"]["warnings"])


def test_crontab_runs_what_the_benchmark_simulates():
    import re
    from pathlib import Path

    from bench import schedule

    text = (Path(__file__).resolve().parent.parent / "crontab.example").read_text()
    line = next(x for x in text.splitlines() if x.startswith("*/15"))
    assert re.search(r"sync --max-minutes (\d+)", line).group(1) == str(schedule.SYNC_MAX_MINUTES)
    assert re.search(r"backfill --max-minutes (\d+)", line).group(1) == \
        str(schedule.BACKFILL_MAX_MINUTES)
    assert schedule.SYNC_MAX_MINUTES + schedule.BACKFILL_MAX_MINUTES < 15
    # no other line starts a writer that would collide with it (and exit 3 every time)
    writers = [x for x in text.splitlines() if not x.startswith("#")
               and re.search(r"\$ARB .*(sync|backfill)", x)]
    assert writers == [line]


# -- the 24-hour benchmark in miniature ------------------------------------------------------------
@pytest.mark.parametrize("meaning", MEANINGS)
def test_backfill_and_sync_leave_no_listed_deal_behind_on_a_moving_listing(meaning):
    from bench.freshness import run_freshness

    r = run_freshness(20, 6, meaning, products=150)
    a = r["after_backfill"]
    assert r["backfill_completed_hour"] is not None and a["hours"] >= 2
    assert a["min_coverage_after_tick"] >= 0.99 and a["max_missed"] == 0
    assert a["max_hidden_while_listed"] == 0 and a["max_failures_overdue"] == 0
    assert r["responses_429"] == 0


def test_backfill_does_not_buy_again_what_sync_just_checked(tmp_path):
    """A user who reads the cron line first runs sync, then backfill, on a fresh database:
    backfill re-fetched the histories and offers sync had fetched seconds earlier (26 tokens
    for 11 histories and 2 offer sets in the report). What any run checked within
    --refresh-hours is skipped, and counted; --refresh buys it again."""
    with simulated(tmp_path, "changed", backfilled=False, screen=True) as w:
        do_sync(w)
        synced = {r[0] for r in w["db"].execute("select asin from deals where checked_keepa "
                                                "is not null")}
        assert synced
        w["sim"].log.clear()
        later(w, 1)
        summary = backfill(w["db"], w["client"], QUERY, BackfillOptions(screen=True),
                           clock=w["clock"])
        asked = {a for r in w["sim"].calls("product") for a in r.params["asin"].split(",")}
        assert not asked & synced
        assert summary["counters"]["skipped_fresh"] == len(synced)
        w["sim"].log.clear()
        backfill(w["db"], w["client"], QUERY, BackfillOptions(screen=True, restart=True,
                                                               refresh=True), clock=w["clock"])
        asked = {a for r in w["sim"].calls("product") for a in r.params["asin"].split(",")}
        assert synced <= asked

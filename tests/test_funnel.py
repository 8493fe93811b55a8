"""The token funnel (issue 13): history first (1 token), the deal page's price (free), live
offers only for books that could pay; screened books stored with the reason and re-judged at 0
tokens when settings or prices make them promising."""

from __future__ import annotations

import gzip
import json

import pytest

from arbitrage_cli.analysis import screen
from arbitrage_cli.analysis.business import BusinessSettings
from arbitrage_cli.cli import main
from arbitrage_cli.keepa.constants import CSV
from arbitrage_cli.pipeline.backfill import BackfillOptions, backfill
from arbitrage_cli.simulator import Catalog, KeepaSimulator, start_simulator
from arbitrage_cli.store import open_db
from arbitrage_cli.pipeline.stored import explain_inputs
from arbitrage_cli.store.deals import load_payload
from tests.conftest import SENTINEL_KEY, SIM_EPOCH
from tests.test_backfill import QUERY, query_file
from tests.test_freshness import change, do_sync, fetched, later, simulated
from tests.test_real_keepa import REAL

CODES = {screen.NO_USED_SALE, screen.OVER_HARD_CAP, screen.NOT_PROFITABLE}


def history_calls(sim):
    return [r for r in sim.calls("product") if "offers" not in r.params]


def offer_asins(sim):
    return {a for r in sim.calls("product") if "offers" in r.params
            for a in r.params["asin"].split(",")}


# -- the simulator answers a history-only request the way Keepa does ---------------------------
def test_a_history_only_answer_has_keepas_shape(sim_factory, catalog):
    import requests

    _, server = sim_factory()
    asin = catalog.asins[0]
    body = requests.get(f"{server.url}/product", params={
        "key": SENTINEL_KEY, "asin": asin, "stats": 365, "history": 1}).json()
    p = body["products"][0]
    real = json.load(gzip.open(REAL / "av-0593655036-raw-nooffers.json.gz"))["products"][0] \
        if REAL.is_dir() else None
    assert p["offersSuccessful"] is False and p.get("offers") is None
    assert p.get("liveOffersOrder") is None
    if real is not None:  # what Keepa really sent without offers
        assert real["offersSuccessful"] is False and real.get("offers") is None
        assert real.get("liveOffersOrder") is None
    for i in (19, 20, 21, 22):  # used-with-shipping series come only with offers
        assert p["csv"][i] is None and p["stats"]["current"][i] == -1
    assert p["csv"][CSV["USED"]] and p["stats"]["current"][CSV["USED"]] > 0
    assert body["tokensConsumed"] == 1
    with_offers = requests.get(f"{server.url}/product", params={
        "key": SENTINEL_KEY, "asin": asin, "stats": 365, "offers": 20}).json()["products"][0]
    assert with_offers["csv"][21] is not None or with_offers["csv"][20] is not None or \
        with_offers["csv"][19] is not None or with_offers["csv"][22] is not None


def test_keepas_history_lags_the_live_offers_unless_refreshed(clock):
    cat = Catalog(seed=11, products=30, now=SIM_EPOCH, future_days=10)
    sim = KeepaSimulator(cat, clock=clock, history_lag_minutes=720)
    clock.advance(5 * 86400)  # the market moved on
    now = sim.now_keepa()
    lags = [now - sim.history_view(a, now) for a in cat.asins]
    assert max(lags) > 60 and all(0 <= x < 720 for x in lags)
    asin = cat.asins[lags.index(max(lags))]
    stale = sim.handle("GET", "/product", {"key": "k", "asin": asin, "stats": "365",
                                           "update": "-1"}).payload["products"][0]
    assert stale["lastUpdate"] <= now - 60
    fresh = sim.handle("GET", "/product", {"key": "k", "asin": asin, "stats": "365"}
                       ).payload["products"][0]  # update=1 (the default): refreshed
    assert fresh["lastUpdate"] > stale["lastUpdate"] and now - sim.history_view(asin, now) == 0


# -- stage 1 in backfill -----------------------------------------------------------------------
def test_backfill_screens_from_history_and_keeps_the_evidence(tmp_path):
    with simulated(tmp_path, "changed", screen=True) as w:
        db, sim = w["db"], w["sim"]
    # the histories were asked 20 a call, without offers; offers 2 a call, survivors only
    assert all(len(r.params["asin"].split(",")) <= 20 and r.params["update"] == "1"
               for r in history_calls(sim))
    assert all(len(r.params["asin"].split(",")) <= 2 for r in sim.calls("product")
               if "offers" in r.params)
    screened = list(db.query("select * from deals where status = 'screened'"))
    assert screened and {r["skip_reason"] for r in screened} <= CODES
    for r in screened:
        payload, _ = load_payload(db, r["asin"])  # the history it was judged from
        assert payload["offersSuccessful"] is False and r["screen_stage"] == 1
        assert r["checked_keepa"] is not None and r["price_now_cents"] is None
        if r["skip_reason"] == screen.NOT_PROFITABLE:
            assert r["screen_price_cents"] == payload["stats"]["current"][CSV["USED"]]
            assert r["screen_bound_cents"] <= 0
    assert not offer_asins(sim) & {r["asin"] for r in screened}
    from rich.console import Console

    from arbitrage_cli.commands.status import render
    from arbitrage_cli.store.status import gather

    info = gather(db, w["clock"])
    assert info["counts"]["screened"] == len(screened)
    console = Console(width=80, record=True)
    render(info, console)
    assert f"screened: {len(screened)} judged from history or the deal page" in \
        " ".join(console.export_text().split())


def test_the_funnel_finds_the_deals_live_offers_for_everything_find(tmp_path):
    found = {}
    for screening in (True, False):
        (tmp_path / str(screening)).mkdir()
        with simulated(tmp_path / str(screening), "changed", screen=screening) as w:
            tmp = w["db"]
            found[screening] = ({r["asin"] for r in tmp.query("select asin from visible_deals")},
                                tmp.execute("select sum(tokens_consumed) from runs").fetchone()[0])
    (with_screen, cost), (everything, full_cost) = found[True], found[False]
    assert everything and with_screen == everything  # no divergence here: same deals
    assert cost * 2 < full_cost


def test_explain_says_why_a_book_was_screened(tmp_path, capsys):
    with simulated(tmp_path, "changed", screen=True) as w:
        db = w["db"]
        asin = db.execute("select asin from deals where status = 'screened' and skip_reason = "
                          "'not_profitable' limit 1").fetchone()[0]
    from arbitrage_cli import explain

    report = explain.report(**explain_inputs(db, asin))
    sc = report["screen"]
    assert sc["verdict"] == "reject" and sc["code"] == screen.NOT_PROFITABLE
    assert sc["bound_profit_cents"] <= 0 and sc["margin_pct"] == 10.0
    assert sc["stored"]["stage"] == "history" and "not profitable at $" in sc["reason"]
    text = explain.to_text(report)
    assert "Screen (history alone, 1 token; margin 10%): REJECT: not profitable at $" in text
    assert text.count("not profitable at $") == 1  # the stored verdict is the same: said once
    words = " ".join(text.split())  # wrapped at 80 columns
    # nothing failed: the funnel chose not to buy live offers, and says so once
    assert "Live offers: not bought. The screen judged this book from its history alone" \
        in words and "Seller: none (no live offers bought)" in words
    assert "offers_unknown" not in words and "no buy price" not in words
    assert "Profit: unknown (not bought: see Screen" in words
    # the same words as the visibility column (store/visibility.py), each reason once
    assert words.endswith("Hidden: screened from its history: not profitable")
    assert db.execute("select visibility from deals where asin = ?", [asin]).fetchone()[0] \
        == "screened from its history: not profitable"


# -- stage 0 in sync, and re-judging at 0 tokens --------------------------------------------------
def test_sync_judges_a_known_deal_from_the_deal_page_for_free(tmp_path):
    with simulated(tmp_path, "changed", screen=True) as w:
        do_sync(w)
        db = w["db"]
        asin = db.execute("select asin from visible_deals order by profit_cents limit 1"
                          ).fetchone()[0]
        later(w, 10)
        w["cat"].reprice(asin, w["sim"].now_keepa(), 4.0)  # the cheap copies are gone
        w["sim"].log.clear()
        later(w, 5)
        do_sync(w)
        assert asin not in fetched(w["sim"])  # not a token spent on it
        row = db["deals"].get(asin)
        listed = db["listing"].get(asin)
        assert row["status"] == "screened" and row["screen_stage"] == 0
        assert row["skip_reason"] == screen.NOT_PROFITABLE
        assert row["screen_price_cents"] == listed["used_cents"]
        assert db.execute("select count(*) from visible_deals where asin = ?", [asin]
                          ).fetchone()[0] == 0
        later(w, 10)
        w["cat"].reprice(asin, w["sim"].now_keepa(), 0.15)  # now cheaper than ever
        w["sim"].log.clear()
        later(w, 5)
        do_sync(w)
        assert asin in offer_asins(w["sim"])  # stage 0 passed it on to live offers
        assert db["deals"].get(asin)["status"] == "deal"


def test_a_settings_change_makes_screened_books_due_at_no_token(tmp_path):
    from arbitrage_cli.pipeline.recalc import recalc
    from arbitrage_cli.store import settings as settings_store

    with simulated(tmp_path, "changed", screen=True) as w:
        do_sync(w)
        db = w["db"]
        before = {r["asin"] for r in db.query(
            "select asin from deals where status = 'screened' and skip_reason = "
            "'not_profitable'")}
        settings_store.save(db, {"prep_fee_cents": 0, "inbound_shipping_cents": 0,
                                 "tax_pct": 0.0, "screen_margin_pct": 60.0})
        recalc(db)
        promising = {r["asin"] for r in db.query(
            "select asin from deals where status = 'screened' and skip_reason = "
            "'not_profitable' and screen_bound_cents > 0")}
        assert promising and promising <= before
        w["sim"].log.clear()
        later(w, 15)
        do_sync(w)
        assert promising <= offer_asins(w["sim"])  # live offers, straight away
        assert not promising & {a for r in history_calls(w["sim"])
                                for a in r.params["asin"].split(",")}


def test_no_screen_on_the_command_line(tmp_path, capsys):
    db_path = str(tmp_path / "deals.db")
    cat = Catalog(seed=11, products=20, now=SIM_EPOCH)
    sim = KeepaSimulator(cat, refill_rate=1000)
    with start_simulator(sim) as server:
        with pytest.raises(SystemExit) as exc:
            main(["--db", db_path, "--keepa-url", server.url, "backfill", "--no-screen",
                  "--query", query_file(db_path)])
    assert exc.value.code == 0
    assert history_calls(sim) == [] and offer_asins(sim)
    assert open_db(db_path).execute("select count(*) from deals where status = 'screened'"
                                    ).fetchone()[0] == 0


# -- the screen on real Keepa products -------------------------------------------------------------
@pytest.mark.skipif(not REAL.is_dir(), reason="../shared/real-keepa is not here")
def test_on_real_products_the_bound_is_never_below_the_live_profit():
    from bench.funnel import real_files

    r = real_files(BusinessSettings())
    assert r["with_live_offers"] >= 80
    assert r["bound_below_live_profit"] == []  # the property recall rests on
    assert r["visible_passed"] == r["visible"]
    assert r["profitable_live_passed"] == r["profitable_live"]


@pytest.mark.skipif(not REAL.is_dir(), reason="../shared/real-keepa is not here")
def test_on_real_products_a_history_an_hour_old_rejects_no_profitable_book():
    """As a sync judges: from the history as Keepa served it 60 minutes before the offers."""
    from bench.funnel import real_files

    r = real_files(BusinessSettings(), cut_min=60)
    assert r["with_live_offers"] >= 80 and r["profitable_live"] >= 1
    assert r["rejected_profitable_live"] == []
    assert r["visible_passed"] == r["visible"]


def test_sync_with_the_funnel_shows_what_live_offers_for_everything_show():
    """Sync-level recall (bench.funnel_sync in miniature): the cron schedule on a moving
    listing whose deal pages and histories lag the live offers by 6 hours, with and without
    the funnel; every hour the funnel's visible deals include the seed's."""
    from bench.funnel_sync import compare

    r = compare(products=150, lag=360, hours=3)
    assert r["visible_deal_hours"]["no_screen"] >= 10
    assert r["min_hourly_recall"] == 1.0, r["missed"]
    assert r["tokens"]["funnel"] * 2 < r["tokens"]["no_screen"]


@pytest.mark.skipif(not REAL.is_dir(), reason="../shared/real-keepa is not here")
def test_explain_json_on_a_real_product_file_has_the_screen(tmp_path, capsys):
    f = tmp_path / "p.json"
    f.write_bytes(gzip.open(REAL / "kd-0470820942.json.gz").read())
    with pytest.raises(SystemExit) as exc:
        main(["explain", "0470820942", "--product-file", str(f), "--json"])
    assert exc.value.code == 0
    sc = json.loads(capsys.readouterr().out)["screen"]
    assert sc["verdict"] in ("pass", "reject") and sc["reason"]
    assert isinstance(sc["bound_profit_cents"], int)

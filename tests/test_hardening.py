"""Issue 16: bad input gets a clear error (exit 2) and changes nothing; robustness fixes.
Each test here failed on the code before the fix."""

from __future__ import annotations

import json
import socket
import subprocess
import sys

import pytest

from arbitrage_cli.cli import main
from arbitrage_cli.simulator.faults import FaultPlan
from arbitrage_cli.store import open_db
from tests.conftest import SENTINEL_KEY
from tests.reliability import record


def run(args, capsys):
    with pytest.raises(SystemExit) as exc:
        main(args)
    out, err = capsys.readouterr()
    return exc.value.code, out, err


# -- settings -------------------------------------------------------------------------
@pytest.mark.parametrize("value", ["90000000000000000", "1e17", "1000.01", "1e400", "nan"])
def test_money_settings_are_bounded(db_path, capsys, value):
    code, _, err = run(["--db", db_path, "settings", "set", "prep_fee", value], capsys)
    assert code == 2 and "prep_fee" in err and "from 0 to 1,000" in err
    assert open_db(db_path)["settings"].count == 0


def test_recalc_never_fails_on_a_stored_setting_out_of_range(db_path, capsys):
    db = open_db(db_path)
    db.execute("insert into settings (key, value, updated_at) values "
               "('prep_fee_cents', 90000000000000000, 'x'), ('tax_pct', 'lots', 'x')")
    code, _, err = run(["--db", db_path, "recalc"], capsys)
    assert code == 0 and "prep_fee" in err and "using the default $2.75" in err
    code, out, _ = run(["--db", db_path, "settings", "show", "--json"], capsys)
    assert code == 0


# -- deal filters ---------------------------------------------------------------------
@pytest.mark.parametrize("args,name", [
    (["--max-rank", "99999999999999999999"], "max_rank"),
    (["--min-profit", "nan"], "min_profit"),
    (["--min-roi", "inf"], "min_roi"),
    (["--min-drops-30", "-99999999999999999999"], "min_drops_30"),
])
def test_deals_refuses_numbers_sqlite_cannot_compare(db_path, capsys, args, name):
    open_db(db_path)
    code, out, err = run(["--db", db_path, "deals", *args], capsys)
    assert code == 2 and name in err and out == ""  # validated before the first byte


# -- restrictions import --------------------------------------------------------------
def test_import_non_utf8_names_the_file_and_line(db_path, tmp_path, capsys):
    f = tmp_path / "gated.csv"
    f.write_bytes(b"asin,status\n0134685997,restricted\n013468599\xe9,allowed\n")
    code, _, err = run(["--db", db_path, "restrictions", "import", str(f)], capsys)
    assert code == 2 and f"{f}:3: not UTF-8" in err
    assert open_db(db_path)["user_restrictions"].count == 0


def test_import_line_numbers_count_blank_lines(db_path, tmp_path, capsys):
    f = tmp_path / "gated.csv"
    f.write_text("asin,status\n\n0134685997,restricted\n\n\nBAD,allowed\n")
    code, _, err = run(["--db", db_path, "restrictions", "import", str(f)], capsys)
    assert code == 2 and f"{f}:6:" in err, err


def test_import_refuses_extra_fields(db_path, tmp_path, capsys):
    f = tmp_path / "gated.csv"
    f.write_text("asin,status\n0134685997,restricted,https://x,oops\n")
    code, _, err = run(["--db", db_path, "restrictions", "import", str(f)], capsys)
    assert code == 2 and f"{f}:2: more fields than the header" in err
    assert open_db(db_path)["user_restrictions"].count == 0


# -- keepa_query.json -----------------------------------------------------------------
@pytest.mark.parametrize("query,field", [
    ({"domainId": 1, "dateRange": 3}, "priceTypes"),
    ({"domainId": 1, "priceTypes": [2], "sortType": -1}, "sortType"),
    ({"domainId": 1, "priceTypes": [2], "includeCategories": [2**40]}, "includeCategories"),
    ({"domainId": 1, "priceTypes": [2], "salesRankRange": [0, 2**31]}, "salesRankRange"),
    ({"domainId": 1, "priceTypes": [2], "minRating": 2**35}, "minRating"),
])
def test_query_validation(db_path, tmp_path, capsys, query, field):
    f = tmp_path / "q.json"
    f.write_text(json.dumps(query))
    code, _, err = run(["--db", db_path, "backfill", "--query", str(f)], capsys)
    assert code == 2 and f"'{field}'" in err and str(f) in err, err


# -- URL and key ----------------------------------------------------------------------
def test_url_without_scheme_is_a_configuration_error(db_path, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("KEEPA_API_URL", "127.0.0.1:8765")
    f = tmp_path / "q.json"
    f.write_text(json.dumps({"domainId": 1, "priceTypes": [2]}))
    code, _, err = run(["--db", db_path, "backfill", "--query", str(f)], capsys)
    assert code == 2 and "KEEPA_API_URL" in err and "127.0.0.1:8765" in err
    assert "unexpected" not in err


def test_connection_failure_names_the_url_never_the_key(client_factory):
    from arbitrage_cli.errors import ConfigError

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    client = client_factory(f"http://127.0.0.1:{port}", budget=False, max_attempts=3)
    with pytest.raises(ConfigError) as exc:  # a URL to fix (exit 2), not retried
        client.token()
    assert f"nothing answers at http://127.0.0.1:{port}" in str(exc.value)
    assert SENTINEL_KEY not in str(exc.value)


@pytest.mark.parametrize("key", ["x", "abc" * 21, "a" * 63 + "!", "a" * 65])
def test_malformed_key_is_refused_up_front(db_path, tmp_path, capsys, monkeypatch, key):
    monkeypatch.setenv("KEEPA_API_KEY", key)
    f = tmp_path / "q.json"
    f.write_text(json.dumps({"domainId": 1, "priceTypes": [2]}))
    code, out, err = run(["--db", db_path, "backfill", "--query", str(f)], capsys)
    assert code == 2 and "64 letters and digits" in err and f"has {len(key)} characters" in err
    assert key not in out + err.replace("KEEPA_API_KEY", "")


def test_redaction_leaves_ordinary_words_alone():
    from arbitrage_cli.logs import redact

    assert redact("the key expired", ["x"]) == "the key expired"
    assert redact(f"GET /product?key={SENTINEL_KEY}&asin=1", [SENTINEL_KEY]) == \
        "GET /product?key=<redacted>&asin=1"
    assert redact(f"said {SENTINEL_KEY}", [SENTINEL_KEY]) == "said <redacted>"


# -- serve-json on a busy port --------------------------------------------------------
def test_serve_json_on_a_busy_port_exits_2_before_announcing(db_path):
    open_db(db_path)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = subprocess.run([sys.executable, "-m", "arbitrage_cli", "--db", db_path,
                               "serve-json", "--port", str(port)], capture_output=True,
                              text=True, timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert "port in use" in proc.stderr and "serving" not in proc.stderr


# -- -v and -q ------------------------------------------------------------------------
def test_verbose_shows_the_traceback_it_promises(db_path, capsys, monkeypatch):
    import arbitrage_cli.commands.status as status_cmd

    def boom(*a, **k):
        raise RuntimeError("disk on fire")

    open_db(db_path)
    monkeypatch.setattr(status_cmd, "gather", boom)
    code, _, err = run(["--db", db_path, "status"], capsys)
    assert code == 1 and "run with -v for details" in err and "Traceback" not in err
    code, _, err = run(["-v", "--db", db_path, "status"], capsys)
    assert code == 1 and "Traceback (most recent call last)" in err and "disk on fire" in err


def test_quiet_prints_only_errors(db_path, capsys):
    code, out, err = run(["-q", "--db", db_path, "settings", "set", "prep_fee", "1.50"],
                         capsys)
    assert code == 0 and err == ""
    code, _, err = run(["-q", "--db", db_path, "settings", "set", "prep_fee", "x"], capsys)
    assert code == 2 and "prep_fee" in err


# -- a timed-out call may have been charged -------------------------------------------
def test_timed_out_call_keeps_its_reservation_until_the_next_envelope(
        sim_factory, client_factory, catalog, fresh_db):
    from arbitrage_cli.keepa.errors import TransientError
    from arbitrage_cli.store import tokens as sql

    plan = FaultPlan({}, timeout_s=1.5)
    sim, server = sim_factory(faults=plan)
    client = client_factory(server.url, timeout=(1.0, 0.5), max_attempts=1)
    client.token()
    plan.rates = {"timeout": 1.0}
    with pytest.raises(TransientError):
        client.product(catalog.asins[:1])
    now = client.budget._now_ms()
    assert sql.reserved_tokens(fresh_db, now) > 0  # Keepa may have charged it
    plan.rates = {}
    client.token()  # the next envelope reports the balance, charge included
    assert sql.reserved_tokens(fresh_db, client.budget._now_ms()) == 0


# -- the janitor and a sync that confirms a deal meanwhile ----------------------------
def test_janitor_never_hides_a_deal_sync_confirmed_after_the_janitor_read_it(fresh_db):
    from arbitrage_cli.clock import FakeClock
    from arbitrage_cli.pipeline import janitor as jan
    from arbitrage_cli.store import state
    from arbitrage_cli.timefmt import iso_utc
    from tests.conftest import SIM_EPOCH

    from tests.test_sync import _deals

    clock = FakeClock(SIM_EPOCH)
    _deals(fresh_db, 3, iso_utc(SIM_EPOCH - 5 * 86400))  # stale, and sync is healthy:
    for key, ago in (("last_sync_success_at", 600), ("full_walk_started_at", 1200)):
        state.set_(fresh_db, key, iso_utc(SIM_EPOCH - ago), clock)
    read = fresh_db.query

    def query_then_sync_confirms(sql, params=None):
        rows = list(read(sql, params))
        if sql == jan.CANDIDATES_SQL:  # a sync walk lists every one of them right now
            fresh_db.execute("insert into listing (asin, listed_at, first_listed_at) "
                             "select asin, ?, ? from deals", [iso_utc(SIM_EPOCH)] * 2)
        return iter(rows)

    fresh_db.query = query_then_sync_confirms
    summary = jan.janitor(fresh_db, clock=clock)
    assert summary["counters"]["stale"] == 3  # it read them as stale ...
    assert summary["expired_asins"] == []  # ... and hid none: the write re-checked
    assert fresh_db.execute("select count(*) from deals where expired_at is not null"
                            ).fetchone()[0] == 0


# -- cron: errors land in the rotating log; secrets' files readable by others warn --------
def test_errors_go_to_the_rotating_log_and_cron_writes_no_other_file(tmp_path, capsys):
    from pathlib import Path

    log = tmp_path / "arbitrage.log"
    code, _, err = run(["-q", "--log-file", str(log), "--db", str(tmp_path / "none.db"),
                        "status"], capsys)
    assert code == 2 and "does not exist" in err
    assert "does not exist" in log.read_text()
    crontab = (Path(__file__).resolve().parent.parent / "crontab.example").read_text()
    active = [x for x in crontab.splitlines() if x.strip() and not x.startswith("#")]
    assert not any(">>" in x for x in active), "a cron line appends to a file that never rotates"


def test_a_key_file_readable_by_others_warns(tmp_path, monkeypatch, caplog):
    from arbitrage_cli.config import load_keepa_key

    f = tmp_path / "keepa.key"
    f.write_text(SENTINEL_KEY)
    f.chmod(0o644)
    monkeypatch.delenv("KEEPA_API_KEY")
    monkeypatch.setenv("KEEPA_API_KEY_FILE", str(f))
    with caplog.at_level("WARNING"):
        assert load_keepa_key() == SENTINEL_KEY
        assert load_keepa_key(check=False) == SENTINEL_KEY  # read again, for redaction
    assert "can be read by other users" in caplog.text and "chmod 600" in caplog.text
    assert caplog.text.count("can be read by other users") == 1  # said once, not per read
    assert SENTINEL_KEY not in caplog.text
    caplog.clear()
    f.chmod(0o600)
    with caplog.at_level("WARNING"):
        load_keepa_key()
    assert "read by other users" not in caplog.text


# -- --max-minutes is a limit, token waits included -----------------------------------
@pytest.mark.parametrize("refill,tokens", [(20, 0), (20, 30), (10, 10)])
def test_max_minutes_is_never_overrun_by_a_wait_for_tokens(tmp_path, refill, tokens):
    """Before: an empty balance at 20 tokens/min ran 120.5 s under --max-minutes 1.2."""
    from arbitrage_cli.simulator import start_simulator
    from tests.test_backfill import make_sim, run as run_backfill

    sim, clock = make_sim(products=60, refill_rate=refill, tokens=tokens)
    db = open_db(str(tmp_path / "d.db"))
    start = clock.now()
    with start_simulator(sim) as server:
        summary, _ = run_backfill(db, server.url, clock, max_minutes=1.2, screen=False)
    elapsed = clock.now() - start
    assert summary["outcome"] in ("stopped", "paused") and summary["deals_saved"] > 0
    assert elapsed <= 1.2 * 60, elapsed  # the clock only moves while the run waits


# -- one marketplace per database -----------------------------------------------------
def test_every_call_asks_the_querys_marketplace_and_a_database_holds_one(tmp_path, capsys):
    from arbitrage_cli.simulator import start_simulator
    from tests.test_backfill import QUERY, make_sim

    sim, _ = make_sim(products=12)
    db_path = str(tmp_path / "de.db")
    f = tmp_path / "q.json"
    f.write_text(json.dumps({**QUERY, "domainId": 3}))
    with start_simulator(sim) as server:
        code, _, err = run(["--db", db_path, "--keepa-url", server.url, "backfill",
                            "--query", str(f), "--max-deals", "2"], capsys)
        assert code == 0, err
        assert "amazon.de" in err and "fee defaults" in err  # the user is told what to set
        calls = [r for r in sim.log if r.endpoint in ("product", "seller")]
        assert calls and all(r.params.get("domain") == "3" for r in calls)
        assert all(json.loads(r.params["selection"])["domainId"] == 3
                   for r in sim.log if r.endpoint == "deal")
        rows = json.loads(run(["--db", db_path, "deals", "--include-marked"], capsys)[1])
        us = tmp_path / "us.json"
        us.write_text(json.dumps({**QUERY, "domainId": 1}))
        code, _, err = run(["--db", db_path, "--keepa-url", server.url, "backfill",
                            "--query", str(us)], capsys)
    assert code == 2 and "one marketplace per database" in err and "amazon.de" in err
    db = open_db(db_path)
    assert db.execute("select value from system_state where key = 'domain_id'"
                      ).fetchone()[0] == 3
    for r in rows:
        assert r["amazon_url"].startswith("https://www.amazon.de/dp/")
        assert r["keepa_url"] == f"https://keepa.com/#!product/3-{r['asin']}"
    pretty = list(db.query("select amazon_url from deals_pretty"))
    assert all(p["amazon_url"].startswith("https://www.amazon.de/") for p in pretty)
    # amounts read in the marketplace's currency
    code, out, _ = run(["--db", db_path, "deals", "--format", "table", "--include-marked"],
                       capsys)
    assert code == 0 and ("€" in out or not rows) and "$" not in out
    asin = db.execute("select asin from deals order by price_now_cents is null limit 1"
                      ).fetchone()[0]
    code, out, _ = run(["--db", db_path, "explain", asin], capsys)
    assert code == 0 and "prep €2.75" in " ".join(out.split()) and "$" not in out
    if pretty:  # and Datasette's dollar view, through the plugin
        import requests

        from tests.test_datasette import serve

        proc, url = serve(sys.executable, db_path)
        try:
            page = requests.get(f"{url}/de/deals_pretty").text
        finally:
            proc.terminate()
            proc.wait(10)
        assert '<td class="col-profit type-float">€' in page


def test_amazon_co_jp_is_refused_its_prices_have_no_cents(db_path, tmp_path, capsys):
    f = tmp_path / "q.json"
    f.write_text(json.dumps({"domainId": 5, "priceTypes": [2]}))
    code, _, err = run(["--db", db_path, "backfill", "--query", str(f)], capsys)
    assert code == 2 and "'domainId'" in err and "co.jp" in err


def test_a_client_reused_without_a_limit_keeps_no_old_deadline(client_factory):
    from arbitrage_cli.clock import FakeClock
    from arbitrage_cli.pipeline.runner import Deadline

    client = client_factory("http://127.0.0.1:9")
    Deadline(FakeClock(1000), 1.2).bind(client)
    assert client.stop_at == client.budget.stop_at == 1000 + 72
    Deadline(FakeClock(5000), None).bind(client)  # the next run has no --max-minutes
    assert client.stop_at is None and client.budget.stop_at is None


# -- a machine clock that steps back ------------------------------------------------------------
def test_a_clock_that_stepped_back_never_makes_a_fresh_sync_look_old(tmp_path):
    """The machine's clock is two days behind while sync succeeds, then NTP fixes it: status
    said "sync has not succeeded for 48 h" right after a successful sync. The success is
    timed by Keepa's clock too; the skew is reported as such, and an age is never negative."""
    from arbitrage_cli.clock import FakeClock
    from arbitrage_cli.keepa.budget import TokenBudget
    from arbitrage_cli.keepa.client import KeepaClient
    from arbitrage_cli.pipeline.sync import SyncOptions, sync
    from arbitrage_cli.simulator import Catalog, KeepaSimulator, start_simulator
    from arbitrage_cli.store.status import gather
    from tests.conftest import SIM_EPOCH
    from tests.test_backfill import QUERY

    keepa_clock, ours = FakeClock(SIM_EPOCH), FakeClock(SIM_EPOCH - 2 * 86400)
    sim = KeepaSimulator(Catalog(seed=11, products=20, now=SIM_EPOCH), clock=keepa_clock,
                         refill_rate=1000)
    db = open_db(str(tmp_path / "deals.db"))
    with start_simulator(sim) as server:
        client = KeepaClient(SENTINEL_KEY, base_url=server.url, budget=TokenBudget(db, ours),
                             clock=ours)
        assert sync(db, client, QUERY, SyncOptions(), clock=ours)["outcome"] == "done"
    fixed = FakeClock(SIM_EPOCH + 60)  # NTP set it right a minute later
    health = gather(db, fixed)["health"]
    assert not any("has not succeeded" in w for w in health["warnings"]), health["warnings"]
    assert any("2.0 days behind Keepa's at the last sync" in w for w in health["warnings"])
    assert health["sync"]["age_s"] == 60
    stepped_back = FakeClock(SIM_EPOCH - 3 * 86400)  # and now it steps back again
    health = gather(db, stepped_back)["health"]
    assert health["sync"]["age_s"] == 0
    assert any("behind the last successful sync" in w and "stepped back" in w
               for w in health["warnings"])
    record("clock", "the machine's clock 2 days behind during a sync, then set right, then "
           "stepped back 3 days", 3, "no 'has not succeeded' warning after the sync; age "
           "never negative (0 s); the skew and the step back reported as such")

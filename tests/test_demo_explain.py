"""`arbitrage demo` (the embedded default) and `arbitrage explain`."""

from __future__ import annotations

import json

import pytest
import requests

from arbitrage_cli.cli import main
from arbitrage_cli.store import open_db
from tests.conftest import SENTINEL_KEY


def run(args, capsys):
    with pytest.raises(SystemExit) as exc:
        main(args)
    out, err = capsys.readouterr()
    return exc.value.code, out, err


def test_demo_needs_no_key_and_fills_the_database(db_path, capsys, monkeypatch):
    monkeypatch.delenv("KEEPA_API_KEY")
    code, out, err = run(["--db", db_path, "demo", "--products", "120"], capsys)
    assert code == 0, err
    assert "demo done" in err and "Best" in out and db_path in err
    db = open_db(db_path)
    assert db["deals"].count > 0
    assert db.execute("select count(*) from keepa_tokens").fetchone()[0] == 0  # no sim tokens
    deals = db.execute("select count(*) from visible_deals where profit_cents >= 500 and asin "
                       "not in (select asin from marks)").fetchone()[0]
    assert min(deals, 10) == sum(line.startswith("│") for line in out.splitlines())
    assert f"of the {deals} deals with a profit of $5.00 or more" in out
    assert "-$" not in out  # never a loss among the best deals


def test_explain_from_the_database_after_demo(db_path, capsys, monkeypatch):
    monkeypatch.delenv("KEEPA_API_KEY")
    assert run(["--db", db_path, "demo", "--products", "200"], capsys)[0] == 0
    db = open_db(db_path)
    # the demo runs on today's market: a deal analysed from live offers, else a screened one
    asin, status = db.execute("select asin, status from deals order by status = 'deal' desc, "
                              "profit_cents desc").fetchone()
    code, out, _ = run(["--db", db_path, "explain", asin, "--json"], capsys)
    assert code == 0
    r = json.loads(out)
    stored = db["deals"].get(asin)
    assert r["metrics"]["profit_cents"] == stored["profit_cents"]
    assert r["prices"]["price_now_cents"] == stored["price_now_cents"]
    assert r["list_at"]["list_at_cents"] == stored["list_at_cents"]
    code, text, _ = run(["--db", db_path, "explain", asin], capsys)
    assert "List at" in text and "Profit" in text
    if status == "deal":
        assert any(o["verdict"] == "winner" for o in r["offers"]["live_considered"])
        assert "WINNER" in text
    else:
        assert r["screen"]["stored"] and "Screen (history alone" in text


def test_explain_with_a_product_file_needs_no_key_no_network_no_database(
        sim_factory, catalog, tmp_path, capsys, monkeypatch):
    _, server = sim_factory()
    body = requests.get(f"{server.url}/product", params={
        "key": SENTINEL_KEY, "asin": catalog.asins[0], "offers": 20, "stats": 365}).json()
    server.stop()
    f = tmp_path / "product.json"
    f.write_text(json.dumps(body))
    monkeypatch.delenv("KEEPA_API_KEY")
    missing_db = str(tmp_path / "no" / "such.db")
    code, out, err = run(["--db", missing_db, "explain", catalog.asins[0], "--product-file",
                          str(f), "--json"], capsys)
    assert code == 0, err
    r = json.loads(out)
    assert r["asin"] == catalog.asins[0] and r["analysed_at"].startswith("2026-11-20")
    assert r["seller"]["quality"] is None  # no seller data offline: unknown, not zero
    # a bare product object works too
    f.write_text(json.dumps(body["products"][0]))
    assert run(["explain", catalog.asins[0], "--product-file", str(f)], capsys)[0] == 0


@pytest.mark.parametrize("content,fragment", [("{bad", "not valid JSON"),
                                              ('{"products": []}', "no product with asin"),
                                              ("[1]", "expected a Keepa /product")])
def test_explain_bad_product_file_exits_2(tmp_path, capsys, content, fragment):
    f = tmp_path / "p.json"
    f.write_text(content)
    code, _, err = run(["explain", "0123456789", "--product-file", str(f)], capsys)
    assert code == 2 and fragment in err and str(f) in err


def test_explain_unknown_asin_exits_2(db_path, capsys):
    open_db(db_path)
    code, _, err = run(["--db", db_path, "explain", "0000000000"], capsys)
    assert code == 2 and "not in" in err


def test_backfill_bad_query_exits_2_before_any_work(db_path, tmp_path, capsys):
    for content, fragment in [('{"priceTypes": [2], "dateRange": "3"}', "dateRange"),
                              ('{"priceTypes": [2, 3]}', "priceTypes"),
                              ('{"dateRange": 3}', "priceTypes"),
                              ('{"bogus": 1}', "unknown field"),
                              ('{"priceTypes": [2], "currentRange": [500, 100]}',
                               "currentRange"),
                              ('{"priceTypes": [2], "page": 2}', "page"),
                              ("nope", "not valid JSON")]:
        q = tmp_path / "q.json"
        q.write_text(content)
        code, _, err = run(["--db", db_path, "--keepa-url", "http://127.0.0.1:9", "backfill",
                            "--query", str(q)], capsys)
        assert code == 2 and fragment in err and str(q) in err, (content, err)
    assert not __import__("os").path.exists(db_path)  # nothing written


def test_backfill_without_a_key_exits_2(db_path, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("KEEPA_API_KEY")
    q = tmp_path / "q.json"
    q.write_text('{"priceTypes": [2]}')
    code, _, err = run(["--db", db_path, "backfill", "--query", str(q)], capsys)
    assert code == 2 and "KEEPA_API_KEY" in err


def test_default_query_file_matches_the_embedded_default():
    from pathlib import Path

    from arbitrage_cli.dealquery import default_query, load

    root = Path(__file__).resolve().parent.parent / "keepa_query.json"
    assert load(root)[0] == default_query()


def test_demo_refuses_a_database_with_real_runs(db_path, capsys):
    from arbitrage_cli.store.runs import Run

    Run(open_db(db_path), "backfill").finish("paused")
    code, _, err = run(["--db", db_path, "demo", "--products", "20"], capsys)
    assert code == 2 and "real Keepa data" in err and "--db demo.db" in err
    assert open_db(db_path)["deals"].count == 0


def test_demo_twice_on_its_own_database_is_fine(db_path, capsys, monkeypatch):
    monkeypatch.delenv("KEEPA_API_KEY")
    assert run(["--db", db_path, "demo", "--products", "60"], capsys)[0] == 0
    assert run(["--db", db_path, "demo", "--products", "60"], capsys)[0] == 0
    outcomes = [r["command"] for r in open_db(db_path).query("select command from runs")]
    assert outcomes == ["demo", "demo"]


def test_demo_never_writes_the_real_database(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("KEEPA_API_KEY")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ARBITRAGE_DB", str(tmp_path / "real.db"))  # as set in a crontab
    code, _, err = run(["demo", "--products", "30"], capsys)
    assert code == 0, err
    assert (tmp_path / "demo.db").exists()
    assert not (tmp_path / "deals.db").exists() and not (tmp_path / "real.db").exists()
    assert "demo.db" in err and "Simulated" in err


@pytest.mark.parametrize("command", [["backfill"], ["sync"]])
def test_a_real_run_refuses_a_database_holding_demo_data(db_path, capsys, monkeypatch,
                                                         command):
    monkeypatch.delenv("KEEPA_API_KEY")
    assert run(["--db", db_path, "demo", "--products", "20"], capsys)[0] == 0
    before = open_db(db_path).execute("select count(*) from deals").fetchone()[0]
    monkeypatch.setenv("KEEPA_API_KEY", SENTINEL_KEY)
    # no Keepa call is made: the URL points nowhere
    code, _, err = run(["--db", db_path, "--keepa-url", "http://127.0.0.1:9", *command],
                       capsys)
    assert code == 2 and "simulated demo data" in err and db_path in err
    db = open_db(db_path)
    assert db.execute("select count(*) from deals").fetchone()[0] == before
    assert [r["command"] for r in db.query("select command from runs")] == ["demo"]

"""A bookseller's day (issue 15): chart a deal, read it, decide on it, see it leave the list;
tables fit 80 columns; read commands never create a database; serve-json takes the CLI's
names and repeated parameters."""

from __future__ import annotations

import copy
import csv
import io
import json
import re
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from arbitrage_cli.cli import main
from arbitrage_cli.serve import create_app
from arbitrage_cli.store import open_db
from arbitrage_cli.store.deals import load_payload
from tests.test_datasette import demo_db

REAL = Path(__file__).resolve().parent.parent.parent / "shared" / "real-keepa"
PNG = b"\x89PNG\r\n\x1a\n"


def run(args, capsys):
    with pytest.raises(SystemExit) as exc:
        main(args)
    out, err = capsys.readouterr()
    return exc.value.code, out, err


@pytest.fixture(scope="module")
def day_db(tmp_path_factory):
    return demo_db(tmp_path_factory)


@pytest.fixture
def db_copy(day_db, tmp_path):
    """A private copy for the tests that write (marks)."""
    from tests.conftest import copy_db

    return copy_db(day_db, str(tmp_path / "deals.db"))


def best(path: str, n: int = 1) -> list[str]:
    return [r[0] for r in open_db(path).execute(
        "select asin from visible_deals order by profit_cents desc, asin limit ?", [n])]


# -- chart ------------------------------------------------------------------------------
def test_chart_as_png_svg_and_stdout(day_db, tmp_path, capsys):
    asin = best(day_db)[0]
    png, svg = tmp_path / "book.png", tmp_path / "book.svg"
    code, _, err = run(["--db", day_db, "chart", asin, "--out", str(png)], capsys)
    assert code == 0 and str(png) in err
    assert png.read_bytes()[:8] == PNG and png.stat().st_size > 20_000
    assert run(["--db", day_db, "chart", asin, "--out", str(svg), "--days", "90"],
               capsys)[0] == 0
    text = svg.read_text()
    # text stays text: the legend names the List at and the buy price in dollars, axes in $
    for words in ("List at $", "buy now $", "inferred used sale", "sales rank", "used offers",
                  "price ($)"):
        assert words in text, words
    code, out, _ = run(["--db", day_db, "chart", asin, "--out", "-"], capsys)
    assert code == 0 and out.lstrip().startswith("<?xml") and "<svg" in out


def test_chart_refuses_bad_input_with_exit_2(day_db, tmp_path, capsys):
    asin = best(day_db)[0]
    code, _, err = run(["--db", day_db, "chart", asin, "--out", str(tmp_path / "x.gif")],
                       capsys)
    assert code == 2 and ".svg or .png" in err
    code, _, err = run(["--db", day_db, "chart", "0000000000"], capsys)
    assert code == 2 and "not in" in err
    code, _, err = run(["--db", day_db, "chart", asin, "--out",
                        str(tmp_path / "missing" / "x.png")], capsys)
    assert code == 2 and "cannot write" in err


@pytest.mark.skipif(not REAL.is_dir(), reason="../shared/real-keepa not beside the checkout")
def test_chart_of_a_real_keepa_product_marks_its_sales(tmp_path, capsys):
    """On real data: the sales the analysis infers are the ones drawn (every one a marker,
    counted in the legend) and the latest is labelled with its price; at most three labels
    (the latest, highest and lowest), so none pile up."""
    from arbitrage_cli.analysis.deal import analyse
    from arbitrage_cli.config import read_json_file

    f = REAL / "kd-1580626130.json.gz"
    product = read_json_file(f)
    out = tmp_path / "real.svg"
    code, _, err = run(["--db", str(tmp_path / "none.db"), "chart", "1580626130",
                        "--product-file", str(f), "--out", str(out)], capsys)
    assert code == 0, err
    a = analyse(product, None)
    year = [s for s in a.history.used if a.now - s.time <= 365 * 1440]
    text = out.read_text()
    assert year and f"inferred used sale ({len(year)})" in text
    assert f"${year[-1].price_cents / 100:,.2f}" in text
    labels = {f"${s.price_cents / 100:,.2f}" for s in year}
    assert sum(text.count(label) for label in labels) <= 3
    assert not (tmp_path / "none.db").exists()


def test_serve_json_chart_and_marks(day_db):
    asin = best(day_db)[0]
    client = TestClient(create_app(day_db))
    r = client.get(f"/api/deals/{asin}/chart.svg")
    assert r.status_code == 200 and r.headers["content-type"].startswith("image/svg+xml")
    assert "<svg" in r.text and "List at $" in r.text
    assert client.get("/api/deals/0000000000/chart.svg").status_code == 404
    assert client.get(f"/api/deals/{asin}/chart.svg?days=1").status_code == 400
    assert client.get("/api/marks").json() == {"ok": True, "marks": []}



def test_one_deal_explains_on_request_and_keeps_it_until_a_write(db_copy, monkeypatch):
    from arbitrage_cli import explain

    asin = best(db_copy)[0]
    with TestClient(create_app(db_copy)) as client:  # one event loop, as under uvicorn
        plain = client.get(f"/api/deals/{asin}").json()
        assert "explanation" not in plain and plain["explanation_url"] == \
            f"/api/deals/{asin}?explain=1"
        calls = []
        real = explain.report
        monkeypatch.setattr(explain, "report", lambda **kw: calls.append(1) or real(**kw))
        one = client.get(f"/api/deals/{asin}?explain=1").json()
        assert one["explanation"] and one["explanation"] == client.get(
            f"/api/deals/{asin}?explain=1").json()["explanation"]
        assert len(calls) == 1  # the second came from the cache
        open_db(db_copy).execute("update deals set title = 'Renamed' where asin = ?", [asin])
        client.get(f"/api/deals/{asin}?explain=1")
        assert len(calls) == 2  # after a write it is explained again
        assert client.get(f"/api/deals/{asin}?explain=maybe").status_code == 400


def test_a_chart_being_drawn_never_holds_up_other_requests(day_db):
    """Charts are drawn in their own process: the first one there (a new process importing
    matplotlib) takes over a second, and the list is served meanwhile."""
    import threading
    import time

    asin = best(day_db)[0]
    with TestClient(create_app(day_db)) as client:
        got = {}
        t = threading.Thread(target=lambda: got.update(
            svg=client.get(f"/api/deals/{asin}/chart.svg?days=180")))
        t.start()
        time.sleep(0.1)
        waits = []
        while t.is_alive() and len(waits) < 50:
            start = time.perf_counter()
            assert client.get("/api/deals?limit=5").status_code == 200
            waits.append(time.perf_counter() - start)
        t.join()
        assert len(waits) >= 3, "the chart was drawn before the list was asked for"
        assert got["svg"].status_code == 200 and "<svg" in got["svg"].text
        assert max(waits) < 0.5, f"the list waited {max(waits):.2f} s behind a chart"
        again = time.perf_counter()
        assert client.get(f"/api/deals/{asin}/chart.svg?days=180").text == got["svg"].text
        assert time.perf_counter() - again < 0.5  # drawn once, then kept until a write


# -- explain text ---------------------------------------------------------------------
def _texts(path: str, capsys, n: int = 40):
    asins = [r[0] for r in open_db(path).execute(
        "select asin from deals order by profit_cents is null, profit_cents, asin limit ?", [n])]
    for asin in asins:
        code, out, err = run(["--db", path, "explain", asin], capsys)
        assert code == 0, err
        yield asin, out


def test_explain_text_reads_as_money_and_never_says_none(day_db, capsys):
    losses = 0
    for asin, text in _texts(day_db, capsys):
        assert "None" not in text, (asin, text)
        assert all(len(line) <= 80 for line in text.splitlines()), asin  # 80 columns
        assert "$-" not in text, asin  # a loss is -$19.78
        assert not re.search(r"\+\s+-?\d", text), asin  # no raw cents after a dollar price
        # a long temporary path wraps onto the next line: compare the words
        words = " ".join(text.split())
        assert f"Settings (from {day_db}): prep $" in words
        assert f"https://www.amazon.com/dp/{asin}" in text
        losses += bool(re.search(r"Profit: -\$\d", text))
    assert losses  # the ordering starts at the biggest losses: the negative form was seen


def test_explain_shows_sparklines_of_price_and_rank(day_db, capsys):
    asin = best(day_db)[0]
    code, out, _ = run(["--db", day_db, "explain", asin], capsys)
    spark = [line for line in out.splitlines() if "used price, 1 yr" in line]
    assert code == 0 and spark and re.search("[▁▂▃▄▅▆▇█]{10}", spark[0])
    assert any("rank (up: better)" in line for line in out.splitlines())
    assert "\x1b[" not in out  # no reverse video from negative values


def test_explain_says_a_tie_is_a_tie(day_db, tmp_path, capsys):
    """A second live offer at the winner's landed price, from another seller: explain says
    the two tie and why the winner won."""
    asin = best(day_db)[0]
    product, _ = load_payload(open_db(day_db), asin)
    explained = json.loads(run(["--db", day_db, "explain", asin, "--json"], capsys)[1])
    winner = next(o for o in explained["offers"]["live_considered"] if o["verdict"] == "winner")
    p = copy.deepcopy(product)
    twin = {**copy.deepcopy(p["offers"][winner["index"]]), "sellerId": "ATWINSELLER0001"}
    p["offers"].append(twin)
    p["liveOffersOrder"].append(len(p["offers"]) - 1)  # indexes into offers (keepa-api §2)
    f = tmp_path / "tie.json"
    f.write_text(json.dumps(p))
    code, out, err = run(["--db", day_db, "explain", asin, "--product-file", str(f)], capsys)
    assert code == 0, err
    assert "2 offers tie at $" in out and "tie, lost" in out
    assert f"Settings (from {day_db})" in out


def test_explain_product_file_says_which_settings_and_creates_nothing(tmp_path, capsys):
    f = REAL / "kd-1496849574.json.gz"
    if not f.exists():
        pytest.skip("../shared/real-keepa not beside the checkout")
    missing = tmp_path / "nope.db"
    code, out, err = run(["--db", str(missing), "explain", "1496849574", "--product-file",
                          str(f)], capsys)
    assert code == 0, err
    words = " ".join(out.split())  # wrapped at 80 columns
    assert f"Settings (defaults; {missing} does not exist)" in words and not missing.exists()
    assert "None" not in out
    path = str(tmp_path / "mine.db")
    assert run(["--db", path, "settings", "set", "prep_fee", "1.00"], capsys)[0] == 0
    code, out, _ = run(["--db", path, "explain", "1496849574", "--product-file", str(f),
                        "--json"], capsys)
    r = json.loads(out)
    assert r["settings"]["source"] == f"from {path}" and r["settings"]["prep_fee_cents"] == 100


# -- tables ---------------------------------------------------------------------------
@pytest.mark.parametrize("width", [60, 80, 120, 200])
def test_deals_table_fits_the_terminal_without_wrapped_rows(day_db, capsys, monkeypatch,
                                                            width):
    monkeypatch.setenv("COLUMNS", str(width))
    code, out, _ = run(["--db", day_db, "deals", "--format", "table", "--limit", "15"], capsys)
    lines = out.splitlines()
    assert code == 0 and all(len(line) <= width for line in lines), width
    shown = [a for a, p in open_db(day_db).execute(
        "select asin, profit_cents from visible_deals order by profit_cents desc, asin "
        "limit 15") if p >= 500]  # the table lists what the setting min_profit ($5) calls a deal
    assert shown and "min_profit" in " ".join(out.split())
    for asin in shown:
        assert sum(asin in line for line in lines) == 1  # one line per deal: nothing wraps
    assert not any(a in out for a, in open_db(day_db).execute(
        "select asin from visible_deals where profit_cents < 500"))
    header = next(line for line in lines if "ASIN" in line)
    assert "profit" in header and "buy" in header
    assert ("seller" in header) == (width >= 200)  # fewer columns on narrow terminals


def test_status_is_labelled_lines_at_80_columns(day_db, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    code, out, _ = run(["--db", day_db, "status"], capsys)
    assert code == 0 and "=" not in out.split("last runs")[0]  # no key=value dump
    assert "backfill:" in out and all(len(line) <= 80 for line in out.splitlines())


# -- decisions ------------------------------------------------------------------------
def deals_json(path, capsys, *extra) -> list[dict]:
    code, out, err = run(["--db", path, "deals", *extra], capsys)
    assert code == 0, err
    return json.loads(out)


def test_mark_bought_and_ignored_leave_the_lists_and_come_back(db_copy, capsys):
    a, b, c = best(db_copy, 3)
    before = {r["asin"]: r for r in deals_json(db_copy, capsys)}
    assert {a, b, c} <= set(before)
    assert run(["--db", db_copy, "mark", a, "bought", "--price", "12.34", "--note", "box 4"],
               capsys)[0] == 0
    assert run(["--db", db_copy, "mark", b, "ignored"], capsys)[0] == 0
    assert run(["--db", db_copy, "mark", c, "watch"], capsys)[0] == 0
    shown = {r["asin"]: r for r in deals_json(db_copy, capsys)}
    assert a not in shown and b not in shown and shown[c]["mark"] == "watch"
    again = {r["asin"]: r for r in deals_json(db_copy, capsys, "--include-marked")}
    assert again[a]["mark"] == "bought" and again[b]["mark"] == "ignored"
    # serve-json and Datasette's dollar view agree
    client = TestClient(create_app(db_copy))
    api = [d["asin"] for d in client.get("/api/deals?limit=500").json()["deals"]]
    assert a not in api and c in api
    assert a in [d["asin"] for d in client.get("/api/deals?limit=500&include_marked=1")
                 .json()["deals"]]
    pretty = {r[0] for r in open_db(db_copy).execute("select asin from deals_pretty")}
    assert a not in pretty and b not in pretty and c in pretty
    marks = {m["asin"]: m for m in client.get("/api/marks").json()["marks"]}
    # bought keeps what was predicted when it was bought
    assert marks[a]["price_cents"] == 1234 and marks[a]["note"] == "box 4"
    assert marks[a]["profit_cents"] == before[a]["profit_cents"]
    assert marks[a]["list_at_cents"] == before[a]["list_at_cents"]
    assert marks[b]["profit_cents"] is None
    # ... and keeps it after the settings change every deal's profit
    assert run(["--db", db_copy, "settings", "set", "prep_fee", "9.00"], capsys)[0] == 0
    code, out, _ = run(["--db", db_copy, "marks", "--format", "json"], capsys)
    listed = {m["asin"]: m for m in json.loads(out)}
    assert listed[a]["profit_cents"] == before[a]["profit_cents"]
    assert listed[a]["profit_now_cents"] < before[a]["profit_cents"]
    # then and now side by side, named as a reader would ("price_now_now" read as a typo)
    assert listed[a]["buy_price_now_cents"] == before[a]["price_now_cents"]
    assert not any("_now_now" in k for k in listed[a])
    # the profit of the copy bought at $12.34, not at the predicted buy price: the price
    # difference and its sales tax (5%, the default) move it; an ignored one has no price paid
    step = before[a]["price_now_cents"] - 1234
    tax = lambda c: (c * 500 + 5000) // 10000  # noqa: E731
    assert listed[a]["profit_paid_cents"] == before[a]["profit_cents"] + step + \
        tax(before[a]["price_now_cents"]) - tax(1234)
    assert listed[b]["profit_paid_cents"] is None
    assert run(["--db", db_copy, "unmark", a], capsys)[0] == 0
    assert a in {r["asin"] for r in deals_json(db_copy, capsys)}
    code, _, err = run(["--db", db_copy, "unmark", a], capsys)
    assert code == 2 and "no mark" in err


def test_mark_refuses_bad_input(db_copy, capsys):
    a = best(db_copy)[0]
    for args, words in ((["0000000000", "bought"], "not in this database"),
                        ([a, "sold"], "bought, ignored, watch"),
                        ([a, "bought", "--price", "nan"], "--price"),
                        ([a, "bought", "--price", "-3"], "--price")):
        code, _, err = run(["--db", db_copy, "mark", *args], capsys)
        assert code == 2 and words in err, (args, err)
    assert open_db(db_copy)["marks"].count == 0


def test_marks_table_at_80_columns(db_copy, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    a = best(db_copy)[0]
    run(["--db", db_copy, "mark", a, "bought", "--price", "5", "--note", "x" * 200], capsys)
    code, out, _ = run(["--db", db_copy, "marks"], capsys)
    assert code == 0 and all(len(line) <= 80 for line in out.splitlines())
    assert sum(a in line for line in out.splitlines()) == 1


# -- links and exports ----------------------------------------------------------------
def test_every_deal_carries_links_visibility_and_a_stable_csv_header(day_db, capsys):
    rows = deals_json(day_db, capsys)
    assert rows and all(r["amazon_url"] == f"https://www.amazon.com/dp/{r['asin']}?psc=1&aod=1"
                        and r["keepa_url"] == f"https://keepa.com/#!product/1-{r['asin']}"
                        and r["visibility"] == "visible" for r in rows)
    assert all(r["image_url"].startswith("https://m.media-amazon.com/images/I/")
               for r in rows if r["image_name"])
    assert any(r["image_url"] for r in rows)
    _, some, _ = run(["--db", day_db, "deals", "--format", "csv"], capsys)
    _, none, _ = run(["--db", day_db, "deals", "--format", "csv", "--min-profit", "99999"],
                     capsys)
    header = next(csv.reader(io.StringIO(some)))
    assert header == next(csv.reader(io.StringIO(none)))
    assert {"gating", "approval_url", "amazon_url", "mark"} <= set(header)
    assert len(none.splitlines()) == 1


def test_csv_is_for_spreadsheets_dollars_percents_and_readable_columns(day_db, capsys):
    """csv: dollars with two decimals and percents with one (json keeps cents); the default
    columns are the ones a seller reads, --all-columns everything, no 15-decimal floats."""
    rows = {r["asin"]: r for r in deals_json(day_db, capsys)}
    _, out, _ = run(["--db", day_db, "deals", "--format", "csv"], capsys)
    sheet = list(csv.DictReader(io.StringIO(out)))
    assert len(sheet) == len(rows) and not any(h.endswith("_cents") for h in sheet[0])
    assert {"title", "buy", "max_buy", "list_at", "profit", "roi_pct", "days_to_sell",
            "confidence", "sale_days_180", "used_offers", "amazon_sells"} <= set(sheet[0])
    assert len(sheet[0]) < 30
    for line in sheet:
        r = rows[line["asin"]]
        for sheet_key, key in (("buy", "price_now_cents"), ("list_at", "list_at_cents"),
                               ("profit", "profit_cents")):
            assert re.fullmatch(r"-?\d+\.\d\d", line[sheet_key])
            assert round(float(line[sheet_key]) * 100) == r[key]
        assert re.fullmatch(r"-?\d+\.\d", line["roi_pct"])
        assert abs(float(line["roi_pct"]) - r["roi_pct"]) <= 0.05
        assert float(line["max_buy"]) >= float(line["buy"]) or r["roi_pct"] < 30
    _, every, _ = run(["--db", day_db, "deals", "--format", "csv", "--all-columns"], capsys)
    sheet = list(csv.DictReader(io.StringIO(every)))
    keys = {k[:-len("_cents")] if k.endswith("_cents") else k for k in next(iter(rows.values()))}
    assert set(sheet[0]) == keys
    floats = [v for line in sheet for v in line.values() if re.fullmatch(r"-?\d+\.\d+", v)]
    assert floats and all(len(v.split(".")[1]) <= 4 for v in floats)


def test_deals_on_a_40_column_terminal_are_two_line_cards(day_db, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "40")
    code, out, _ = run(["--db", day_db, "deals", "--format", "table", "--limit", "8", "--sort",
                        "days_to_sell"], capsys)
    lines = out.splitlines()
    assert code == 0 and all(len(line) <= 40 for line in lines)
    shown = [r["asin"] for r in json.loads(run(
        ["--db", day_db, "deals", "--format", "json", "--min-profit", "5", "--limit", "8",
         "--sort", "days_to_sell"], capsys)[1])]
    assert shown
    for asin in shown:
        i = next(i for i, line in enumerate(lines) if line.startswith(asin))
        assert "sells in" in lines[i]  # the sorted-by value stays on screen
        assert re.match(r"  \$[\d,.]+ -> \$[\d,.]+, -?\$[\d,.]+ \(\d+%\)", lines[i + 1])
    assert "buy -> List at, profit (ROI)" in out


def test_restrictions_list(db_copy, capsys):
    a = best(db_copy)[0]
    assert run(["--db", db_copy, "restrictions", "set", a, "restricted", "--approval-url",
                "https://sellercentral.amazon.com/approve"], capsys)[0] == 0
    code, out, _ = run(["--db", db_copy, "restrictions", "list", "--format", "json"], capsys)
    listed = json.loads(out)
    assert code == 0 and listed[0]["asin"] == a and listed[0]["status"] == "restricted"
    assert listed[0]["title"]
    code, out, _ = run(["--db", db_copy, "restrictions", "list", "--status", "allowed"], capsys)
    assert code == 0 and "none" in out
    code, _, err = run(["--db", db_copy, "restrictions", "list", "--status", "maybe"], capsys)
    assert code == 2 and "--status" in err


# -- serve-json parameters ------------------------------------------------------------
def test_serve_json_repeated_and_cli_names(day_db):
    client = TestClient(create_app(day_db))

    def asins(q):
        r = client.get(f"/api/deals?limit=500&{q}")
        assert r.status_code == 200, r.text
        return [d["asin"] for d in r.json()["deals"]]

    both = asins("conditions=3,4")
    assert both and asins("conditions=3&conditions=4") == both
    assert asins("condition=3&condition=4") == both
    assert asins("condition=3") == asins("conditions=3")
    r = client.get("/api/deals?limit=5&limit=6")
    assert r.status_code == 400 and "limit given more than once" in r.json()["error"]
    r = client.get("/api/deals?limit=1")
    assert r.headers["x-next-cursor"] == r.json()["next"]


# -- safe by default ------------------------------------------------------------------
@pytest.mark.parametrize("command", [["deals"], ["status"], ["explain", "0131103628"],
                                     ["chart", "0131103628"], ["marks"], ["serve-json"],
                                     ["recalc"], ["restrictions", "list"], ["locks", "list"]])
def test_read_commands_refuse_a_missing_database(tmp_path, capsys, command):
    path = tmp_path / "typo.db"
    code, out, err = run(["--db", str(path), *command], capsys)
    assert code == 2 and f"{path} does not exist" in err and out == ""
    assert not path.exists()


def test_empty_db_and_global_option_after_the_command(tmp_path, capsys):
    code, _, err = run(["--db", "", "deals"], capsys)
    assert code == 2 and "--db" in err and "empty" in err
    path = str(tmp_path / "x.db")
    code, _, err = run(["deals", "--db", path, "--format", "csv"], capsys)
    assert code == 2
    assert f"goes before the command: arbitrage --db {path} deals --format csv" in err
    code, _, err = run(["status", "-q"], capsys)
    assert code == 2 and "arbitrage -q status" in err


def test_re_marking_a_bought_deal_keeps_what_was_predicted_when_it_was_bought(fresh_db):
    """A new note or a `watch` on a bought deal used to erase its snapshot."""
    from arbitrage_cli.store import marks

    fresh_db["deals"].insert({"asin": "0000000001", "status": "deal", "list_at_cents": 4000,
                              "price_now_cents": 1500, "profit_cents": 900})
    marks.mark(fresh_db, "0000000001", "bought", note="box 4", price_cents=1400)
    fresh_db.execute("update deals set list_at_cents = 3000, profit_cents = -50")
    marks.mark(fresh_db, "0000000001", "bought", note="shipped to Amazon")
    marks.mark(fresh_db, "0000000001", "watch")
    m = marks.get(fresh_db, "0000000001")
    assert (m["list_at_cents"], m["price_now_cents"], m["profit_cents"]) == (4000, 1500, 900)


@pytest.mark.skipif(not REAL.is_dir(), reason="../shared/real-keepa not beside the checkout")
def test_the_price_axis_of_every_real_book_fits_the_sales_not_a_spike(tmp_path, capsys):
    """No chart's price axis is set by a price more than 3x the highest sale, List at or buy
    price; what is clipped is counted on the chart; --full-range shows it all."""
    import gzip

    from arbitrage_cli.analysis.deal import analyse
    from arbitrage_cli.chart import DAY_MIN, HEADROOM, SPIKE_LIMIT, price_axis

    clipped = 0
    for f in sorted(REAL.glob("*.json.gz")):
        body = json.loads(gzip.open(f).read())
        for product in body.get("products") or [body]:
            if not isinstance(product, dict) or not product.get("csv"):
                continue
            a = analyse(product, None)
            since = a.now - 365 * DAY_MIN
            top, above = price_axis(product, a, since, a.now)
            row = a.row
            keys = [s.price_cents for s in (a.history.used if a.history else [])
                    if since <= s.time <= a.now]
            keys += [row[k] for k in ("list_at_cents", "list_at_high_cents", "price_now_cents",
                                      "trough_price_cents") if row.get(k)]
            if top is None:
                assert not keys
                continue
            assert top * 100 <= SPIKE_LIMIT * max(keys) * HEADROOM + 1, (f.name, top, keys)
            assert all(v / 100 > top for _, v in above)
            clipped += bool(above)
            assert price_axis(product, a, since, a.now, full_range=True) == (None, [])
    assert clipped  # the real files hold spikes (kd-0135048761's $2,345 listing)
    out = tmp_path / "spike.svg"
    code, _, err = run(["--db", str(tmp_path / "none.db"), "chart", "0135048761",
                        "--product-file", str(REAL / "kd-0135048761.json.gz"), "--out",
                        str(out)], capsys)
    assert code == 0, err
    text = out.read_text()
    assert "not shown" in text and "--full-range" in text and "1M" in text
    assert text.count("$84.01") + text.count("$123.79") <= 2  # a few sales labelled, once
    code, _, err = run(["--db", str(tmp_path / "none.db"), "chart", "0135048761",
                        "--product-file", str(REAL / "kd-0135048761.json.gz"), "--out",
                        str(out), "--full-range"], capsys)
    assert code == 0 and "not shown" not in out.read_text()


@pytest.mark.parametrize("args,heading", [(["--sort", "days_to_sell"], "sells in"),
                                          (["--sort", "confidence"], "conf."),
                                          (["--include-marked"], "mark"), ([], "max@30%")])
def test_the_table_at_80_columns_shows_what_decides_a_buy(day_db, capsys, monkeypatch, args,
                                                          heading):
    """Max buy for the target ROI, ROI; the sorted-by column and, with marked deals, the
    mark stay on screen at 80 columns."""
    monkeypatch.setenv("COLUMNS", "80")
    code, out, _ = run(["--db", day_db, "deals", "--format", "table", "--limit", "8", *args],
                       capsys)
    header = next(line for line in out.splitlines() if "ASIN" in line)
    assert code == 0 and heading in header and "profit" in header
    assert all(len(line) <= 80 for line in out.splitlines())


def test_max_buy_is_the_highest_price_that_reaches_the_target_roi():
    import random

    from arbitrage_cli.analysis.business import (BusinessSettings, FeeInputs, compute,
                                                 max_buy_cents)

    rng = random.Random(25)
    for _ in range(600):
        s = BusinessSettings(target_roi_pct=rng.choice([0.0, 15.0, 30.0, 100.0]),
                             tax_pct=rng.choice([0.0, 5.0, 8.25]),
                             tax_exempt=rng.random() < 0.2)
        list_at = rng.randint(300, 30_000)
        fees = compute(FeeInputs(100, list_at, None, None, None), s).amazon_fees_cents
        buy = max_buy_cents(list_at, fees, s)
        if not buy:
            continue
        roi = compute(FeeInputs(buy, list_at, None, None, None), s).roi_pct
        above = compute(FeeInputs(buy + 1, list_at, None, None, None), s).roi_pct
        assert roi >= s.target_roi_pct > above, (s, list_at, buy, roi, above)


def test_a_re_mark_keeps_the_note_and_only_a_bought_copy_has_a_price_paid(db_copy, capsys):
    a = best(db_copy)[0]
    assert run(["--db", db_copy, "mark", a, "watch", "--note", "check the cover"],
               capsys)[0] == 0
    code, _, err = run(["--db", db_copy, "mark", a, "watch", "--price", "5"], capsys)
    assert code == 2 and "only for bought" in err
    assert run(["--db", db_copy, "mark", a, "bought", "--price", "9.50"], capsys)[0] == 0
    assert run(["--db", db_copy, "mark", a, "bought"], capsys)[0] == 0
    code, out, _ = run(["--db", db_copy, "marks", "--format", "json"], capsys)
    [m] = [m for m in json.loads(out) if m["asin"] == a]
    assert m["note"] == "check the cover" and m["price_cents"] == 950
    assert run(["--db", db_copy, "mark", a, "watch"], capsys)[0] == 0
    code, out, _ = run(["--db", db_copy, "marks", "--format", "json"], capsys)
    [m] = [m for m in json.loads(out) if m["asin"] == a]
    assert m["price_cents"] is None and m["note"] == "check the cover"


def test_status_names_the_marketplace_not_its_internal_keys(db_copy, capsys, monkeypatch):
    from arbitrage_cli.store import state

    state.set_(open_db(db_copy), "amazon_tld", "co.uk")
    state.set_(open_db(db_copy), "domain_id", 2)
    monkeypatch.setenv("COLUMNS", "80")
    code, out, _ = run(["--db", db_copy, "status"], capsys)
    assert code == 0 and "amazon.co.uk" in out
    assert "amazon tld" not in out and "domain id" not in out


def test_marks_at_80_columns_keep_the_title_and_the_note(db_copy, capsys, monkeypatch):
    a = best(db_copy)[0]
    assert run(["--db", db_copy, "mark", a, "bought", "--price", "9", "--note", "shelf B"],
               capsys)[0] == 0
    monkeypatch.setenv("COLUMNS", "80")
    code, out, _ = run(["--db", db_copy, "marks"], capsys)
    header = next(line for line in out.splitlines() if "ASIN" in line)
    assert code == 0 and "title" in header and "note" in header and "shelf B" in out
    assert all(len(line) <= 80 for line in out.splitlines())

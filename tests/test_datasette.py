"""deals.db browses well in Datasette with metadata.yml (table, facet, canned query, search).

Datasette 0.65 (the test dependency) runs by default; 1.0 (`-c datasette.yml`) is installed into
its own virtualenv by the slow test at the end.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from arbitrage_cli.cli import main
from arbitrage_cli.store import open_db
from arbitrage_cli.store.queries import DealFilters, iter_deals

ROOT = Path(__file__).resolve().parent.parent


_BUILT: dict[str, str] = {}


def demo_db(tmp_path_factory) -> str:
    """A backfill of 300 simulated books at a fixed moment (deterministic, unlike the demo's
    wall clock), live offers for all, so there are deals of every kind to browse. Built once
    per test process; every caller gets its own copy."""
    from tests.conftest import copy_db

    if "path" in _BUILT:
        return copy_db(_BUILT["path"], str(tmp_path_factory.mktemp("ds") / "deals.db"))
    _BUILT["path"] = _shared_build(tmp_path_factory)
    return demo_db(tmp_path_factory)


def _shared_build(tmp_path_factory) -> str:
    """Built once per test session: parallel workers share one file (the first builds it
    under a lock, the others wait and read it), ~10 s of CPU saved a worker."""
    import fcntl
    import os

    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker is None:
        return _build_demo_db(tmp_path_factory)
    shared = tmp_path_factory.getbasetemp().parent / "demo-db"
    shared.mkdir(exist_ok=True)
    done = shared / "deals.db.done"
    with open(shared / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            built = _build_demo_db(tmp_path_factory)
            from tests.conftest import copy_db

            copy_db(built, str(shared / "deals.db"))
            done.write_text(built)
    return str(shared / "deals.db")


def _build_demo_db(tmp_path_factory) -> str:
    from arbitrage_cli.clock import FakeClock
    from arbitrage_cli.keepa.budget import TokenBudget
    from arbitrage_cli.keepa.client import KeepaClient
    from arbitrage_cli.pipeline.backfill import BackfillOptions, backfill
    from arbitrage_cli.simulator import Catalog, KeepaSimulator, start_simulator
    from tests.conftest import SENTINEL_KEY, SIM_EPOCH
    from tests.test_backfill import QUERY

    db_path = str(tmp_path_factory.mktemp("ds") / "deals.db")
    clock = FakeClock(SIM_EPOCH)
    sim = KeepaSimulator(Catalog(seed=11, products=300, now=SIM_EPOCH), clock=clock,
                         refill_rate=100_000)
    db = open_db(db_path)
    with start_simulator(sim) as server:
        client = KeepaClient(SENTINEL_KEY, base_url=server.url, budget=TokenBudget(db, clock),
                             clock=clock)
        backfill(db, client, QUERY, BackfillOptions(screen=False), clock=clock)
    assert db.execute("select count(*) from visible_deals where profit_cents >= 500"
                      ).fetchone()[0] >= 3
    return db_path


def serve(python: str, db_path: str, *extra: str):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([python, "-m", "datasette", "serve", db_path, "-m",
                             str(ROOT / "metadata.yml"), *extra, "--port", str(port), "-h",
                             "127.0.0.1"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 30
    while True:
        try:
            requests.get(url + "/-/versions.json", timeout=2)
            break
        except requests.ConnectionError:
            assert proc.poll() is None, proc.stderr.read()
            assert time.time() < deadline
            time.sleep(0.2)
    return proc, url


@pytest.fixture(scope="module")
def datasette(tmp_path_factory):
    db_path = demo_db(tmp_path_factory)
    proc, url = serve(sys.executable, db_path)
    yield url, open_db(db_path)
    proc.terminate()
    proc.wait(10)


def test_checked_in_files_are_the_generated_ones():
    from arbitrage_cli import datasette_files

    for name in datasette_files.USAGE:
        assert (ROOT / name).read_text() == datasette_files.render(name), \
            f"{name} is stale: run `arbitrage datasette-files`"


def test_table_default_sort_and_facet(datasette):
    url, db = datasette
    body = requests.get(f"{url}/deals/deals.json", params={"_shape": "objects",
                                                         "_facet": "condition"}).json()
    assert body["filtered_table_rows_count"] == db["deals"].count
    profits = [r["profit_cents"] for r in body["rows"] if r["profit_cents"] is not None]
    assert profits == sorted(profits, reverse=True)  # metadata default sort
    assert body["facet_results"]["condition"]["results"]


def test_canned_query_and_view(datasette):
    url, db = datasette
    best = requests.get(f"{url}/deals/best_deals.json",
                        params={"min_profit": 0, "_shape": "objects"}).json()
    assert len(best["rows"]) == db.execute("select count(*) from visible_deals").fetchone()[0]
    # the canned query is the query layer's: same rows, same order as `deals --min-profit`
    best = requests.get(f"{url}/deals/best_deals.json",
                        params={"min_profit": "5", "_shape": "objects"}).json()
    ours = [r["asin"] for r in iter_deals(db, DealFilters(min_profit=5))]
    assert ours and [r["asin"] for r in best["rows"]] == ours[:100]
    pretty = requests.get(f"{url}/deals/deals_pretty.json", params={"_shape": "objects"}).json()
    # numbers stay numbers (the plugin formats them on the HTML page), in dollars
    by_asin = {r["asin"]: r for r in iter_deals(db, DealFilters())}
    assert pretty["rows"] and all(
        isinstance(r["buy"], float) and round(r["buy"] * 100) == by_asin[r["asin"]]
        ["price_now_cents"] for r in pretty["rows"])


def test_search_and_hidden_tables(datasette):
    url, db = datasette
    word = db.execute("select title from deals where title is not null limit 1"
                      ).fetchone()[0].split()[0]
    found = requests.get(f"{url}/deals/deals.json", params={"_search": word,
                                                          "_shape": "objects"}).json()
    assert found["rows"] and all(word.lower() in (r["title"] or "").lower() or
                                 word.lower() in (r["author"] or "").lower() or
                                 word.lower() in (r["category"] or "").lower()
                                 for r in found["rows"])
    tables = requests.get(f"{url}/deals.json").json()["tables"]
    hidden = {t["name"] for t in tables if t["hidden"]}
    assert {"locks", "keepa_tokens", "system_state"} <= hidden


def _best(db) -> str:
    return db.execute("select asin from visible_deals order by profit_cents desc limit 1"
                      ).fetchone()[0]


def test_plugin_shows_money_covers_links_and_a_chart(datasette):
    url, db = datasette
    page = requests.get(f"{url}/deals/deals_pretty", params={"_sort": "profit"}).text
    profits = re.findall(r'<td class="col-profit type-float">([^<]*)<', page)
    assert profits and all(p.startswith("$") or p.startswith("-$") for p in profits)
    assert '<img src="https://m.media-amazon.com/images/I/' in page
    assert '>Amazon</a>' in page and '>Keepa</a>' in page and '>chart</a>' in page
    asin = _best(db)
    chart = requests.get(f"{url}/-/arbitrage/chart/{asin}")
    assert chart.status_code == 200 and "<svg" in chart.text and asin in chart.text
    svg = requests.get(f"{url}/-/arbitrage/chart/{asin}.svg")
    assert svg.headers["content-type"].startswith("image/svg+xml") and "<svg" in svg.text
    assert requests.get(f"{url}/-/arbitrage/chart/0000000000").status_code == 404
    assert requests.get(f"{url}/-/arbitrage/chart/{asin}", params={"days": "x"}
                        ).status_code == 404
    # full-text search on the dollar view, and canned queries without raw :param text
    word = db.execute(f"select title from deals where asin = '{asin}'").fetchone()[0].split()[0]
    found = requests.get(f"{url}/deals/deals_pretty.json",
                         params={"_search": word, "_shape": "objects"}).json()["rows"]
    assert asin in [r["asin"] for r in found]
    queries = requests.get(f"{url}/deals.json").json()["queries"]
    assert queries and not any(":" in (q.get("description") or "") for q in queries)


def test_raw_table_says_why_a_row_is_not_visible(datasette):
    _, db = datasette
    rows = list(db.query("select asin, visibility, condition, condition_label from deals"))
    visible = {r[0] for r in db.execute("select asin from visible_deals")}
    assert {r["asin"] for r in rows if r["visibility"] == "visible"} == visible
    hidden = [r for r in rows if r["asin"] not in visible]
    assert hidden and all(r["visibility"] and r["visibility"] != "visible" for r in hidden)
    assert all(r["condition_label"] for r in rows if r["condition"] in (2, 3, 4, 5))


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _browser(tmp_path, *args: str) -> str:
    """Headless Chromium as a person's browser (the flags keep it off the closed network)."""
    out = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
         "--no-first-run", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", f"--user-data-dir={tmp_path / 'profile'}", *args],
        capture_output=True, text=True, timeout=90)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout


@pytest.mark.skipif(CHROMIUM is None and not os.environ.get("ARBITRAGE_REQUIRE_BROWSER"),
                    reason="no chromium (apt-get install chromium; .ci/run installs it)")
def test_in_headless_chromium(datasette, tmp_path):
    """What a person sees: the deals page sorted by profit reads as ascending money, with
    covers and links; a deal's chart page holds the SVG chart; a screenshot is a picture."""
    assert CHROMIUM, "ARBITRAGE_REQUIRE_BROWSER is set but chromium is not installed"
    url, db = datasette
    dom = _browser(tmp_path, "--dump-dom", f"{url}/deals/deals_pretty?_sort=profit")
    shown = re.findall(r'<td class="col-profit type-float">\$([0-9,.]+)<', dom)
    values = [float(v.replace(",", "")) for v in shown]
    assert len(values) >= 3 and values == sorted(values)  # numbers, not text: $4 < $11
    assert "<img" in dom and "m.media-amazon.com/images/I/" in dom
    assert "amazon.com/dp/" in dom and "keepa.com/#!product/1-" in dom
    # what a seller reads: no internal columns, ranks with separators, the chart link last
    headings = re.findall(r'<th[^>]*class="col-([a-z_0-9]+)', dom)
    assert headings and "search_rowid" not in headings and "profit_cents" not in headings
    assert headings[-1] == "chart", " ".join(headings)
    ranks = re.findall(r'<td class="col-sales_rank[^"]*">([^<]*)<', dom)
    assert ranks and all(re.fullmatch(r"\d{1,3}(,\d{3})*", r) for r in ranks), ranks
    assert any("," in r for r in ranks)
    asin = _best(db)
    chart = _browser(tmp_path, "--dump-dom", f"{url}/-/arbitrage/chart/{asin}")
    svg = chart[chart.index("<svg"):]
    assert "List at $" in svg and "sales rank" in svg and asin in chart
    shot = tmp_path / "chart.png"
    _browser(tmp_path, f"--screenshot={shot}", "--window-size=1100,800",
             f"{url}/-/arbitrage/chart/{asin}")
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000


@pytest.mark.slow
def test_datasette_1_reads_metadata_and_config(tmp_path_factory):
    """Datasette 1.0 takes table options and canned queries from datasette.yml only."""
    venv = tmp_path_factory.mktemp("ds1") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "datasette==1.0a41"],
                   check=True)
    db_path = demo_db(tmp_path_factory)
    proc, url = serve(str(venv / "bin" / "python"), db_path, "-c", str(ROOT / "datasette.yml"))
    try:
        body = requests.get(f"{url}/deals/deals.json", params={"_extra": "facet_results"}
                            ).json()
        profits = [r["profit_cents"] for r in body["rows"] if r["profit_cents"] is not None]
        assert profits == sorted(profits, reverse=True)
        assert set(body["facet_results"]["results"]) >= {"visibility", "condition_label",
                                                         "category", "season"}
        queries = [q["name"] for q in requests.get(f"{url}/deals.json").json()["queries"]]
        assert sorted(queries) == ["best_deals", "deals_by_category", "my_decisions",
                                   "recently_changed"]  # Datasette 1.0 lists them by name
        best = requests.get(f"{url}/deals/best_deals.json", params={"min_profit": "12.5"}
                            ).json()
        ours = [r["asin"] for r in iter_deals(open_db(db_path), DealFilters(min_profit=12.5))]
        assert [r["asin"] for r in best["rows"]] == ours[:100]
        page = requests.get(f"{url}/deals/deals").text
        assert "All processed ASINs" in page and "Landed price" in page  # from metadata.yml
    finally:
        proc.terminate()
        proc.wait(10)


def test_datasette_files_command_names_the_database_after_the_file(tmp_path, capsys):
    import yaml

    with pytest.raises(SystemExit) as exc:
        main(["--db", str(tmp_path / "books.db"), "datasette-files", "--out", str(tmp_path)])
    assert exc.value.code == 0
    meta = yaml.safe_load((tmp_path / "metadata.yml").read_text())
    config = yaml.safe_load((tmp_path / "datasette.yml").read_text())
    assert list(meta["databases"]) == list(config["databases"]) == ["books"]
    assert f"datasette {tmp_path}/books.db -m {tmp_path}/metadata.yml" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:  # a new directory is made
        main(["--db", str(tmp_path / "books.db"), "datasette-files", "--out",
              str(tmp_path / "new" / "dir")])
    assert exc.value.code == 0 and (tmp_path / "new" / "dir" / "metadata.yml").exists()
    (tmp_path / "afile").write_text("")
    with pytest.raises(SystemExit) as exc:
        main(["--db", str(tmp_path / "books.db"), "datasette-files", "--out",
              str(tmp_path / "afile")])
    assert exc.value.code == 2 and "afile: not a directory" in capsys.readouterr().err


def test_the_demos_datasette_hint_writes_beside_not_over_the_checked_in_files(tmp_path,
                                                                              monkeypatch,
                                                                              capsys):
    """Run where a checkout's metadata.yml lives, the demo's hint writes to its own
    directory (made for it) and leaves the tracked files alone."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "metadata.yml").write_text("tracked\n")
    open_db(str(tmp_path / "demo.db")).conn.close()
    with pytest.raises(SystemExit) as exc:
        main(["--db", "demo.db", "datasette-files", "--out", "demo-datasette"])
    assert exc.value.code == 0
    assert (tmp_path / "metadata.yml").read_text() == "tracked\n"
    assert "databases:\n  demo:" in (tmp_path / "demo-datasette" / "metadata.yml").read_text()
    assert (tmp_path / "demo-datasette" / "datasette.yml").exists()


def test_the_pretty_view_shows_ranks_with_separators_the_raw_table_as_numbers():
    from arbitrage_cli.datasette_plugin import render_cell

    assert render_cell(1234567, "sales_rank", "deals_pretty", "deals", None) == "1,234,567"
    assert render_cell(1234567, "sales_rank", "deals", "deals", None) is None  # raw: a number

"""deals.db browses well in Datasette with metadata.yml (table, facet, canned query, search).

Datasette 0.65 (the test dependency) runs by default; 1.0 (`-c datasette.yml`) is installed into
its own virtualenv by the slow test at the end.
"""

from __future__ import annotations

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


def demo_db(tmp_path_factory) -> str:
    """A backfill of 300 simulated books at a fixed moment (deterministic, unlike the demo's
    wall clock), live offers for all, so there are deals of every kind to browse."""
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
    assert all(r["buy"].startswith("$") for r in pretty["rows"])


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
        assert set(body["facet_results"]["results"]) >= {"condition", "category", "season"}
        queries = [q["name"] for q in requests.get(f"{url}/deals.json").json()["queries"]]
        assert queries == ["best_deals", "deals_by_category", "recently_changed"]
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
    with pytest.raises(SystemExit) as exc:
        main(["--db", str(tmp_path / "books.db"), "datasette-files", "--out",
              str(tmp_path / "missing")])
    assert exc.value.code == 2 and "missing: not a directory" in capsys.readouterr().err

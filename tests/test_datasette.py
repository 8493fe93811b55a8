"""deals.db browses well in Datasette with metadata.yml (table, facet, canned query, search)."""

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

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def datasette(tmp_path_factory):
    db_path = str(tmp_path_factory.mktemp("ds") / "deals.db")
    with pytest.raises(SystemExit):
        main(["--db", db_path, "demo", "--products", "120"])
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "datasette", "serve", db_path, "-m",
                             str(ROOT / "metadata.yml"), "--port", str(port), "-h",
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
    yield url, open_db(db_path)
    proc.terminate()
    proc.wait(10)


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

from __future__ import annotations

import random

import pytest

from arbitrage_cli.clock import FakeClock
from arbitrage_cli.keepa.budget import TokenBudget
from arbitrage_cli.keepa.client import KeepaClient
from arbitrage_cli.simulator import Catalog, KeepaSimulator, start_simulator
from arbitrage_cli.store import open_db

# A sentinel key: if it shows up in any output, a test fails (see test_secrets.py).
SENTINEL_KEY = "SENTINEL0KEY" + "b7" * 26
# Simulated "now" for reproducible catalogs: 2026-11-20T00:00:00Z.
SIM_EPOCH = 1_795_132_800.0


def arbitrage_proc(db_path: str, url: str, *args: str):
    """`arbitrage --db DB --keepa-url URL ARGS...` in a real process with the sentinel key,
    stdout and stderr captured as text."""
    import os
    import subprocess
    import sys

    return subprocess.Popen([sys.executable, "-m", "arbitrage_cli", "--db", db_path,
                             "--keepa-url", url, *args],
                            env={**os.environ, "KEEPA_API_KEY": SENTINEL_KEY},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.fixture(autouse=True)
def _env(monkeypatch):
    monkeypatch.setenv("KEEPA_API_KEY", SENTINEL_KEY)
    monkeypatch.delenv("KEEPA_API_KEY_FILE", raising=False)
    monkeypatch.delenv("ARBITRAGE_DB", raising=False)
    monkeypatch.delenv("KEEPA_API_URL", raising=False)
    from arbitrage_cli import money

    money.use_marketplace(1)  # a test that opened another marketplace's database set it


@pytest.fixture
def fresh_db():
    return open_db(":memory:")


@pytest.fixture
def db_path(tmp_path):
    return str(tmp_path / "deals.db")


@pytest.fixture
def clock():
    return FakeClock(SIM_EPOCH)


@pytest.fixture(scope="session")
def catalog():
    return Catalog(seed=11, products=30, now=SIM_EPOCH)


def make_sim(catalog, clock, **kw) -> KeepaSimulator:
    return KeepaSimulator(catalog, clock=clock, **kw)


@pytest.fixture
def sim_factory(catalog, clock):
    servers = []

    def factory(**kw):
        sim = make_sim(kw.pop("catalog", catalog), kw.pop("clock", clock), **kw)
        server = start_simulator(sim)
        servers.append(server)
        return sim, server

    yield factory
    for s in servers:
        s.stop()


@pytest.fixture
def client_factory(clock, fresh_db):
    def factory(url, db=None, budget=True, **kw):
        bud = TokenBudget(db or fresh_db, clock, **{k: kw.pop(k) for k in
                                                    ("allowance", "max_wait_s") if k in kw}) \
            if budget else None
        return KeepaClient(SENTINEL_KEY, base_url=url, budget=bud, clock=clock,
                           timeout=kw.pop("timeout", (2.0, 2.0)), **kw)

    return factory


# -- vcrpy cassettes (pytest-recording) ---------------------------------------------------
CASSETTE_DIR = __import__("pathlib").Path(__file__).resolve().parent.parent / "cassettes"


def _keepa_query(r1, r2):
    """Same query parameters, the key ignored and `selection` compared as JSON (key order
    inside it does not matter)."""
    import json
    import urllib.parse

    def norm(uri):
        q = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(uri).query,
                                        keep_blank_values=True))
        q.pop("key", None)
        if "selection" in q:
            q["selection"] = json.loads(q["selection"])
        return q

    assert norm(r1.uri) == norm(r2.uri)


def pytest_recording_configure(config, vcr):
    vcr.register_matcher("keepa_query", _keepa_query)


@pytest.fixture(scope="module")
def vcr_config():
    return {
        "filter_query_parameters": [("key", "REDACTED")],
        "match_on": ["method", "path", "keepa_query"],
        "decode_compressed_response": True,
    }


@pytest.fixture(scope="module")
def vcr_cassette_dir():
    return str(CASSETTE_DIR)


# -- a database of 300 varied deals, for the query layer and serve-json ----------------
TITLES = ["Calculus Early Transcendentals", "Organic Chemistry", "The Law School Guide",
          "Gardening for Everyone", "Principles of Economics", "Nursing Fundamentals"]


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    """300 deals covering every visibility case, gated ASINs and NULL sort values."""
    d = open_db(str(tmp_path_factory.mktemp("q") / "deals.db"))
    rng = random.Random(4)
    rows = []
    for i in range(300):
        visible = i % 10 != 0
        rows.append({
            "asin": f"{i:010d}", "status": "deal" if visible or i % 20 else "skipped",
            "title": f"{TITLES[i % len(TITLES)]} {i}", "author": rng.choice(["Chen", "Okafor"]),
            "category": rng.choice(["Science & Math", "Law"]), "condition": rng.choice([2, 3, 4, 5]),
            "price_now_cents": rng.randint(500, 5000), "list_at_cents": rng.randint(2000, 9000),
            "avg_1yr_cents": rng.randint(1000, 9000) if i % 15 else None,
            "profit_cents": rng.choice([rng.randint(1, 5000), rng.randint(1, 5000), -100,
                                        rng.randint(1, 5000)]),
            "roi_pct": rng.choice([None, rng.uniform(1, 300)]), "margin_pct": rng.uniform(1, 80),
            "sales_rank": rng.choice([None, rng.randint(1000, 900_000)]),
            "drops_30": rng.randint(0, 12), "percent_down_pct": rng.uniform(0, 60),
            "deal_trust_pct": rng.choice([50.0, 80.0, 100.0]),
            "seller_quality": rng.uniform(0, 1), "amazon_selling": rng.choice([0, 0, 1]),
            "price_suspicious": int(i % 37 == 0), "hidden": int(i % 41 == 0),
            "expired_at": "2026-11-01T00:00:00.000Z" if i % 43 == 0 else None,
            "last_price_change_keepa": rng.choice([None, rng.randint(8_000_000, 8_100_000)]),
            "updated_at": f"2026-11-{1 + i % 20:02d}T00:00:00.000Z",
        })
    d["deals"].insert_all(rows)
    d["user_restrictions"].insert_all([{"asin": f"{i:010d}", "status": "restricted"}
                                       for i in range(0, 300, 7)])
    return d




def pytest_sessionfinish(session, exitstatus):
    from tests.reliability import flush

    flush()



def copy_db(src_path: str, dst_path: str) -> str:
    """A consistent copy of a SQLite database (its WAL included), for tests that write."""
    import sqlite3

    src, dst = sqlite3.connect(src_path), sqlite3.connect(dst_path)
    src.backup(dst)
    src.close()
    dst.close()
    return dst_path

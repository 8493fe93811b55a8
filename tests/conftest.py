from __future__ import annotations

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


@pytest.fixture(autouse=True)
def _env(monkeypatch):
    monkeypatch.setenv("KEEPA_API_KEY", SENTINEL_KEY)
    monkeypatch.delenv("KEEPA_API_KEY_FILE", raising=False)
    monkeypatch.delenv("ARBITRAGE_DB", raising=False)
    monkeypatch.delenv("KEEPA_API_URL", raising=False)


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

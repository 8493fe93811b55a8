"""serve-json: endpoints, errors as JSON, never a 500, token, read-only under a writer."""

from __future__ import annotations

import json
import threading

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from arbitrage_cli.serve import ALLOWED, create_app
from arbitrage_cli.store.queries import DealFilters
from arbitrage_cli.store import open_db
from tests.reliability import record


@pytest.fixture(scope="module")
def path(db):
    return str(db.execute("pragma database_list").fetchone()[2])


@pytest.fixture(scope="module")
def client(path):
    return TestClient(create_app(path))


def test_deals_page_and_totals(client, db):
    r = client.get("/api/deals", params={"limit": 20, "sort": "roi"})
    body = r.json()
    assert r.status_code == 200 and body["ok"] is True and len(body["deals"]) == 20
    assert body["total"] == db.execute("select count(*) from visible_deals").fetchone()[0]
    assert body["total_raw"] == db["deals"].count
    seen, cursor = [d["asin"] for d in body["deals"]], body["next"]
    while cursor:
        nxt = client.get("/api/deals", params={"limit": 20, "sort": "roi", "cursor": cursor})
        seen += [d["asin"] for d in nxt.json()["deals"]]
        cursor = nxt.json()["next"]
    assert len(seen) == len(set(seen)) == body["total"]


def test_filters_shapes_and_ndjson(client):
    arr = client.get("/api/deals", params={"min_profit": 20, "_shape": "array"}).json()
    assert isinstance(arr, list) and all(d["profit_cents"] >= 2000 for d in arr)
    nd = client.get("/api/deals", params={"limit": 3}, headers={"Accept": "application/x-ndjson"})
    lines = [json.loads(x) for x in nd.text.splitlines()]
    assert nd.headers["content-type"].startswith("application/x-ndjson") and len(lines) == 3
    assert len(client.get("/api/deals?format=ndjson&limit=2").text.splitlines()) == 2
    gated = client.get("/api/deals", params={"hide_gated": 1, "keyword": "law",
                                              "conditions": "2,3", "limit": 500}).json()
    assert all(d["condition"] in (2, 3) for d in gated["deals"])


@pytest.mark.parametrize("query,fragment", [
    ("bogus=1", "unknown parameter"), ("min_profit=abc", "must be a number"),
    ("limit=501", "limit must be within"), ("limit=0", "limit must be within"),
    ("sort=asin;drop", "sort must be one of"), ("cursor=!!!", "malformed cursor"),
    ("order=up", "order must be"), ("max_rank=1.5", "must be an integer"),
    ("conditions=2,x", "must be an integer"), ("min_roi=nan", "finite"),
    ("hide_gated=maybe", "1/0"), ("_shape=table", "_shape"), ("format=xml", "format"),
])
def test_bad_requests_are_json_400(client, query, fragment):
    r = client.get(f"/api/deals?{query}")
    assert r.status_code == 400
    assert r.json()["ok"] is False and r.json()["status"] == 400 and fragment in r.json()["error"]


def test_one_deal_and_404(client, db):
    asin = db.execute("select asin from visible_deals limit 1").fetchone()[0]
    r = client.get(f"/api/deals/{asin}")
    assert r.status_code == 200 and r.json()["deal"]["asin"] == asin
    missing = client.get("/api/deals/ZZZZZZZZZZ")
    assert missing.status_code == 404 and missing.json() == {
        "ok": False, "error": "no deal ZZZZZZZZZZ", "status": 404}
    assert client.get("/nope").status_code == 404
    assert client.post("/api/deals").status_code == 405


def test_status_and_healthz(client):
    assert client.get("/healthz").json() == {"ok": True}
    status = client.get("/api/status").json()
    assert status["counts"]["deals_raw"] == 300 and "health" in status


def test_status_tells_a_client_nothing_about_the_server_machine(path, tmp_path):
    """No file path, host name, process id or internal bookkeeping in /api/status."""
    import socket

    copy = _copy(path, tmp_path)
    writer = open_db(copy)
    for key, value in (("amazon_tld", "co.uk"), ("domain_id", 2), ("backfill_page_asins", "A,B"),
                       ("watermark_iso", "2026-12-01T00:00:00.000Z")):
        writer.execute("insert or replace into system_state (key, value, updated_at) values "
                       "(?, ?, '2026-12-01T00:00:00.000Z')", [key, value])
    writer.execute("insert into locks (name, owner, pid, host, acquired_at, heartbeat_at, "
                   "expires_at) values ('sync', 'sync', 4242, ?, '2026-12-01T00:00:00.000Z', "
                   "'2026-12-01T00:00:00.000Z', '2999-01-01T00:00:00.000Z')",
                   [socket.gethostname()])
    text = TestClient(create_app(copy)).get("/api/status").text
    body = json.loads(text)
    assert str(tmp_path) not in text
    assert f'"{socket.gethostname()}"' not in text and "4242" not in text
    assert body["database"] == "copy.db"
    assert set(body["system_state"]) == {"watermark_iso"}
    assert body["locks"] and body["locks"][0]["name"] == "sync"


# Values as a hostile client sends them: text, huge integers, nan, inf, negative zero.
VALUES = st.one_of(st.text(max_size=20),
                   st.integers(min_value=-10**30, max_value=10**30).map(str),
                   st.floats(allow_nan=True, allow_infinity=True).map(repr),
                   st.sampled_from(["nan", "NaN", "inf", "-inf", "Infinity", "-0", "-0.0",
                                    "1e400", "99999999999999999999", "9223372036854775808"]))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(st.dictionaries(st.one_of(st.sampled_from(sorted(ALLOWED)), st.text(max_size=8)),
                       VALUES, max_size=6))
def test_fuzzed_query_strings_never_500(client, params):
    r = client.get("/api/deals", params=params)
    assert r.status_code in (200, 400), (params, r.text)
    assert isinstance(r.json(), (dict, list))
    FUZZED[r.status_code] = FUZZED.get(r.status_code, 0) + 1


FUZZED: dict[int, int] = {}


def test_record_fuzz_counts():
    if FUZZED:
        record("hostile input", "serve-json: fuzzed /api/deals query strings (hypothesis)",
               sum(FUZZED.values()), "no 500; answers by status: "
               + ", ".join(f"{k}: {v}" for k, v in sorted(FUZZED.items())))


@pytest.mark.parametrize("name", ["max_rank", "min_drops_30", "min_sale_days", "min_profit",
                                  "min_roi"])
@pytest.mark.parametrize("value", ["99999999999999999999", "nan", "inf", "-1e400"])
def test_out_of_range_numbers_are_400_naming_the_parameter(client, name, value):
    r = client.get("/api/deals", params={name: value})
    assert r.status_code == 400 and name in r.json()["error"], r.text


def test_token_protects_everything_but_healthz(path):
    c = TestClient(create_app(path, token="s3cret-token"))
    assert c.get("/healthz").status_code == 200
    assert c.get("/api/deals").status_code == 401
    assert c.get("/api/deals", headers={"Authorization": "Bearer wrong"}).status_code == 401
    ok = c.get("/api/deals", headers={"Authorization": "Bearer s3cret-token"})
    assert ok.status_code == 200 and ok.json()["ok"]


def test_reads_while_a_writer_holds_a_transaction(tmp_path):
    p = str(tmp_path / "w.db")
    writer = open_db(p)
    writer["deals"].insert({"asin": "0000000001", "status": "deal"})
    c = TestClient(create_app(p))
    writer.conn.execute("begin immediate")
    writer.conn.execute("update deals set title = 'x'")
    try:
        done = []
        t = threading.Thread(target=lambda: done.append(c.get("/api/deals").status_code))
        t.start()
        t.join(10)
        assert done == [200]
    finally:
        writer.conn.execute("rollback")


def test_serve_warns_without_token_on_other_hosts(path, capsys, monkeypatch):
    import uvicorn

    from arbitrage_cli.cli import main

    monkeypatch.setattr(uvicorn, "run", lambda *a, **k: None)
    monkeypatch.setenv("ARBITRAGE_SERVE_DB", "")  # the command sets these for its workers
    monkeypatch.delenv("ARBITRAGE_SERVE_TOKEN", raising=False)
    with pytest.raises(SystemExit):
        main(["--db", path, "serve-json", "--host", "0.0.0.0"])
    assert "without a token" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--db", path, "serve-json"])
    assert "without a token" not in capsys.readouterr().err


def test_totals_follow_writes(tmp_path):
    p = str(tmp_path / "c.db")
    writer = open_db(p)
    row = {"status": "deal", "list_at_cents": 5000, "avg_1yr_cents": 4000, "profit_cents": 900}
    writer["deals"].insert({"asin": "0000000001", **row})
    c = TestClient(create_app(p))
    assert c.get("/api/deals").json()["total"] == 1
    writer["deals"].insert({"asin": "0000000002", **row})
    assert c.get("/api/deals").json()["total"] == 2  # a commit elsewhere refreshes the cache


def test_default_sorts_use_the_visible_indexes(db):
    from arbitrage_cli.store.queries import select_sql

    for f in (DealFilters(), DealFilters(sort="roi"), DealFilters(sort="rank")):
        sql, params = select_sql(f, 51, None)
        plan = " ".join(r[3] for r in db.execute("explain query plan " + sql, params))
        assert "idx_visible_" in plan and "TEMP B-TREE" not in plan, plan


def test_serve_json_workers_share_the_token(path, tmp_path):
    """Two real worker processes: the token from --token-file reaches both, never argv."""
    import os
    import socket
    import subprocess
    import sys
    import time
    import urllib.error
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    (tmp_path / "token").write_text("s3cret-token\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARBITRAGE_SERVE")}
    proc = subprocess.Popen([sys.executable, "-m", "arbitrage_cli", "--db", path, "serve-json",
                             "--port", str(port), "--workers", "2", "--token-file",
                             str(tmp_path / "token")], env=env, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"

    def get(url, token=None):
        req = urllib.request.Request(base + url, headers={"Authorization": f"Bearer {token}"}
                                     if token else {})
        try:
            with urllib.request.urlopen(req, timeout=5) as resp:
                return resp.status
        except urllib.error.HTTPError as exc:
            return exc.code

    try:
        deadline = time.time() + 30
        while True:
            try:
                assert get("/healthz") == 200
                break
            except (OSError, AssertionError):
                assert time.time() < deadline, "serve-json did not start"
                time.sleep(0.2)
        codes = {(get("/api/deals"), get("/api/deals", "s3cret-token")) for _ in range(20)}
        assert codes == {(401, 200)}
        with open(f"/proc/{proc.pid}/cmdline", "rb") as fh:
            assert b"s3cret" not in fh.read()
    finally:
        proc.terminate()
        proc.wait(10)
    assert b"s3cret" not in proc.stderr.read()


def _copy(path: str, to) -> str:
    from tests.conftest import copy_db

    return copy_db(path, str(to / "copy.db"))


def test_on_a_large_database_a_new_filter_answers_at_once_and_its_exact_total_follows(
        path, tmp_path, monkeypatch):
    import time

    from arbitrage_cli import serve
    from arbitrage_cli.store.queries import count, unfiltered

    copy = _copy(path, tmp_path)
    monkeypatch.setattr(serve, "INLINE_COUNT_BELOW_ROWS", 0)  # as if a million rows
    gate = threading.Event()

    def slow(conn, f):  # a count that takes as long as the test says
        if not unfiltered(f):
            gate.wait(10)
        return count(conn, f)

    monkeypatch.setattr(serve, "count", slow)
    client = TestClient(create_app(copy))
    writer = open_db(copy)

    def exact(where="profit_cents >= 500"):
        return writer.execute(f"select count(*) from visible_deals where {where} and asin not "
                              "in (select asin from marks where decision != 'watch')"
                              ).fetchone()[0]

    plain = client.get("/api/deals").json()  # the kept count: exact at once, never waits
    assert plain["total"] == exact("1") and "total_counting" not in plain
    first = client.get("/api/deals", params={"min_profit": 5})
    assert first.json()["total"] is None and first.json()["total_counting"] is True
    assert first.json()["deals"] and "X-Total-Count" not in first.headers
    gate.set()

    def settled():
        deadline = time.time() + 10
        while time.time() < deadline:
            r = client.get("/api/deals", params={"min_profit": 5})
            if r.json()["total"] is not None:
                return r
            time.sleep(0.02)
        raise AssertionError("the total never followed")

    r = settled()
    assert r.json()["total"] == exact() and r.headers["X-Total-Count"] == str(exact())
    before = exact()
    asin = r.json()["deals"][0]["asin"]
    writer.execute("insert into marks (asin, decision, decided_at) values (?, 'ignored', "
                   "'2026-12-06T00:00:00.000Z')", [asin])
    assert exact() == before - 1
    # the cached answer is never served after the write: the total missing for a moment,
    # then the new one, and the page without the deal
    after = client.get("/api/deals", params={"min_profit": 5}).json()
    assert after["total"] in (None, before - 1)
    assert asin not in {d["asin"] for d in after["deals"]}
    assert settled().json()["total"] == before - 1


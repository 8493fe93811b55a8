"""Gating: the SP-API check (cassettes), import/set by hand, and hiding gated deals
everywhere. Secrets never leave the process."""

from __future__ import annotations

import json
import re

import pytest
from starlette.testclient import TestClient

from arbitrage_cli.cli import main
from arbitrage_cli.clock import FakeClock, SystemClock
from arbitrage_cli.serve import create_app
from arbitrage_cli.spapi import (Credentials, SpApiClient, load_credentials,
                                 parse_restrictions)
from arbitrage_cli.store import open_db
from arbitrage_cli.store import restrictions as store
from arbitrage_cli.store.queries import DealFilters, iter_deals
from tests.conftest import CASSETTE_DIR

SECRET = "SENTINEL-SPAPI-CLIENT-SECRET-7f3a9c"
REFRESH = "Atzr|SENTINEL-REFRESH-TOKEN-0b1c2d"
GATED, FREE = "0134685997", "0262033844"


def _redact_body(request):
    request.body = re.sub(rb"(refresh_token|client_secret|client_id)=[^&]*", rb"\1=REDACTED",
                          request.body or b"") or None
    return request


def _redact_token(response):
    body = response["body"]["string"]
    if isinstance(body, bytes) and b"access_token" in body:
        response["body"]["string"] = re.sub(rb'"(access|refresh)_token":\s*"[^"]*"',
                                            rb'"\1_token": "REDACTED"', body)
    return response


# Re-recording against Amazon (--record-mode=once with real credentials) keeps no secret:
# the token exchange body, the access-token header and token answers are redacted before
# anything is written (test_recording_redacts_every_secret proves it on a real recording).
VCR_OPTIONS = {"match_on": ["method", "scheme", "host", "path", "query"],
               "filter_headers": ["x-amz-access-token", "authorization"],
               "before_record_request": _redact_body,
               "before_record_response": _redact_token}


@pytest.fixture(scope="module")
def vcr_config():
    return VCR_OPTIONS


@pytest.fixture(scope="module")
def vcr_cassette_dir():
    return str(CASSETTE_DIR / "spapi")


@pytest.fixture
def creds(monkeypatch):
    for k, v in {"SPAPI_CLIENT_ID": "amzn1.application-oa2-client.test",
                 "SPAPI_CLIENT_SECRET": SECRET, "SPAPI_REFRESH_TOKEN": REFRESH,
                 "SPAPI_SELLER_ID": "A2TESTSELLER0"}.items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("SPAPI_CREDENTIALS_FILE", raising=False)
    sleeps = []
    monkeypatch.setattr(SystemClock, "sleep", lambda self, s: sleeps.append(s))
    return sleeps


@pytest.fixture
def db_path(tmp_path):
    path = str(tmp_path / "deals.db")
    db = open_db(path)
    base = {"status": "deal", "list_at_cents": 5000, "avg_1yr_cents": 4000}
    db["deals"].insert_all([
        {"asin": GATED, "condition": 3, "profit_cents": 2000, "title": "Clean Code", **base},
        {"asin": FREE, "condition": 4, "profit_cents": 900, "title": "Algorithms", **base}])
    return path


def run(args, capsys):
    with pytest.raises(SystemExit) as exc:
        main(args)
    out, err = capsys.readouterr()
    return exc.value.code, out, err


def statuses(path):
    return {r["asin"]: r for r in open_db(path).query("select * from user_restrictions")}


@pytest.mark.vcr("check.yaml")
def test_check_fills_the_table_with_allowed_and_restricted(db_path, creds, capsys):
    code, out, err = run(["--db", db_path, "restrictions", "check", "--json"], capsys)
    assert code == 0, err
    assert json.loads(out) == {"checked": 2, "allowed": 1, "restricted": 1, "error": 0,
                               "requests": 2, "due": 2}
    s = statuses(db_path)
    assert s[GATED]["status"] == "restricted" and s[GATED]["is_restricted"] == 1
    assert s[GATED]["approval_url"].startswith(
        "https://sellercentral.amazon.com/hz/approvalrequest/restrictions/approve?asin="
        + GATED)
    assert s[GATED]["condition_type"] == "used_very_good"  # Keepa condition 3
    assert s[FREE]["status"] == "allowed" and s[FREE]["condition_type"] == "used_good"
    assert SECRET not in out + err and REFRESH not in out + err
    # fresh answers are not asked again
    assert store.due(open_db(db_path), SystemClock().now(), 7 * 86400) == []


@pytest.mark.vcr("quota_429.yaml")
def test_429_is_retried_after_a_pause(db_path, creds, capsys):
    code, out, err = run(["--db", db_path, "restrictions", "check", "--asin", FREE, "--json"],
                         capsys)
    assert code == 0, err
    assert json.loads(out)["allowed"] == 1 and json.loads(out)["requests"] == 3
    assert statuses(db_path)[FREE]["status"] == "allowed"
    assert len([s for s in creds if s >= 1]) == 2  # two back-offs, not a hammering loop


@pytest.mark.vcr("denied_403.yaml")
def test_403_is_stored_as_an_error_with_a_retry_time_never_allowed(db_path, creds, capsys):
    code, out, err = run(["--db", db_path, "restrictions", "check"], capsys)
    assert code == 0
    assert "Unauthorized" in err and "stopped after 1" in err
    s = statuses(db_path)
    assert list(s) == [GATED]  # it stopped: the same denial would repeat for every ASIN
    assert s[GATED]["status"] == "error" and s[GATED]["is_restricted"] is None
    assert "Access to requested resource is denied" in s[GATED]["message"]
    assert s[GATED]["retry_at"] > s[GATED]["checked_at"]
    db = open_db(db_path)
    assert [r["gating"] for r in iter_deals(db, DealFilters()) if r["asin"] == GATED] == \
        ["error"]
    assert GATED not in [a for a, _ in store.due(db, SystemClock().now(), 7 * 86400)]


@pytest.mark.vcr("bad_grant.yaml")
def test_rejected_credentials_exit_2_and_write_nothing(db_path, creds, capsys):
    code, out, err = run(["--db", db_path, "restrictions", "check"], capsys)
    assert code == 2 and "invalid_grant" in err
    assert SECRET not in err and REFRESH not in err
    assert statuses(db_path) == {}


def test_no_credentials_points_to_import_and_set(db_path, capsys, monkeypatch):
    for k in ("SPAPI_CLIENT_ID", "SPAPI_CLIENT_SECRET", "SPAPI_REFRESH_TOKEN",
              "SPAPI_SELLER_ID", "SPAPI_CREDENTIALS_FILE"):
        monkeypatch.delenv(k, raising=False)
    code, _, err = run(["--db", db_path, "restrictions", "check"], capsys)
    assert code == 2 and "restrictions import" in err


def test_half_configured_credentials_name_what_is_missing(tmp_path):
    with pytest.raises(Exception, match="SPAPI_REFRESH_TOKEN"):
        load_credentials({"SPAPI_CLIENT_ID": "x", "SPAPI_CLIENT_SECRET": "y",
                          "SPAPI_SELLER_ID": "z"})
    f = tmp_path / "sp.json"
    f.write_text(json.dumps({"client_id": "x", "client_secret": "y", "refresh_token": "r",
                             "seller_id": "s", "sellr": 1}))
    with pytest.raises(Exception, match="sellr"):
        load_credentials({"SPAPI_CREDENTIALS_FILE": str(f)})
    c = Credentials("id", SECRET, REFRESH, "seller")
    assert SECRET not in repr(c) and REFRESH not in repr(c)


def test_requests_are_paced_at_the_documented_rate():
    clock = FakeClock(0)
    client = SpApiClient(Credentials("id", "s", "r", "seller"), clock=clock)
    for _ in range(11):
        client._pace()
    assert clock.now() == pytest.approx(10 * 0.2)  # 5 per second


def test_restriction_answers():
    assert parse_restrictions({"restrictions": []}, "used_good").status == "allowed"
    other = {"restrictions": [{"conditionType": "new_new", "reasons": []}]}
    assert parse_restrictions(other, "used_good").status == "allowed"
    assert parse_restrictions(other, None).status == "restricted"  # every condition asked
    no_link = {"restrictions": [{"conditionType": "used_good", "reasons": [
        {"reasonCode": "NOT_ELIGIBLE", "message": "Not eligible"}]}]}
    r = parse_restrictions(no_link, "used_good")
    assert (r.status, r.approval_url, r.message) == ("restricted", None, "Not eligible")


def test_due_selects_new_stale_changed_condition_and_retryable_errors(db_path):
    db = open_db(db_path)
    now = 1_800_000_000
    assert {a for a, _ in store.due(db, now, 86400)} == {GATED, FREE}
    store.save(db, GATED, "restricted", now=now, condition_type="used_very_good")
    store.save(db, FREE, "error", now=now, message="x", retry_at=now + 900)
    assert store.due(db, now + 60, 86400) == []
    assert [a for a, _ in store.due(db, now + 1000, 86400)] == [FREE]  # retry time came
    assert {a for a, _ in store.due(db, now + 2 * 86400, 86400)} == {GATED, FREE}  # stale
    db.execute("update deals set condition = 2 where asin = ?", [GATED])  # offer changed
    assert GATED in [a for a, _ in store.due(db, now + 60, 86400)]


def test_import_and_set_then_hidden_everywhere(db_path, tmp_path, capsys):
    csv_file = tmp_path / "gated.csv"
    csv_file.write_text("asin,status,approval_url\n"
                        f"{GATED},restricted,https://sellercentral.amazon.com/approve\n"
                        f"{FREE},allowed,\n")
    code, _, err = run(["--db", db_path, "restrictions", "import", str(csv_file)], capsys)
    assert code == 0 and "imported 2" in err
    code, out, _ = run(["--db", db_path, "deals", "--hide-gated"], capsys)
    assert [r["asin"] for r in json.loads(out)] == [FREE]
    code, out, _ = run(["--db", db_path, "deals"], capsys)
    rows = {r["asin"]: r for r in json.loads(out)}
    assert rows[GATED]["gating"] == "restricted"
    assert rows[GATED]["approval_url"] == "https://sellercentral.amazon.com/approve"
    app = TestClient(create_app(db_path))
    assert [d["asin"] for d in app.get("/api/deals?hide_gated=1").json()["deals"]] == [FREE]
    one = app.get(f"/api/deals/{GATED}").json()
    assert one["deal"]["gating"] == "restricted"
    pretty = {r["asin"]: r["gating"] for r in open_db(db_path).query(
        "select asin, gating from deals_pretty")}
    assert pretty == {GATED: "restricted", FREE: "allowed"}
    code, _, _ = run(["--db", db_path, "restrictions", "set", GATED, "allowed"], capsys)
    assert code == 0 and statuses(db_path)[GATED]["status"] == "allowed"
    code, out, _ = run(["--db", db_path, "deals", "--hide-gated"], capsys)
    assert {r["asin"] for r in json.loads(out)} == {GATED, FREE}


@pytest.mark.parametrize("text,names", [
    ("asin,state\n", "asin,status"),
    ("asin,status\n0134685997,gated\n", ":2: status"),
    ("asin,status\n0134685997,restricted\nnot-an-asin,allowed\n", ":3: asin"),
    ("asin,status,approval_url\n0134685997,restricted,http://x\n", "approval_url"),
])
def test_bad_csv_exits_2_naming_line_and_field_and_writes_nothing(db_path, tmp_path, capsys,
                                                                 text, names):
    f = tmp_path / "bad.csv"
    f.write_text(text)
    code, _, err = run(["--db", db_path, "restrictions", "import", str(f)], capsys)
    assert code == 2 and str(f) in err and names in err, err
    assert statuses(db_path) == {}


def test_set_rejects_bad_input(db_path, capsys):
    assert run(["--db", db_path, "restrictions", "set", "bad", "allowed"], capsys)[0] == 2
    assert run(["--db", db_path, "restrictions", "set", GATED, "gated"], capsys)[0] == 2
    assert statuses(db_path) == {}


def test_explain_prints_the_gating_status(db_path, capsys):
    db = open_db(db_path)
    store.save(db, GATED, "restricted", now=1_800_000_000, condition_type="used_very_good",
               approval_url="https://sellercentral.amazon.com/approve", message="approval")
    from arbitrage_cli import explain
    from arbitrage_cli.analysis.deal import analyse

    text = explain.to_text(explain.report(analyse({}), None, store.get(db, GATED)))
    assert "Gating: restricted for used_very_good" in text
    assert "request approval: https://sellercentral.amazon.com/approve" in text
    assert "Gating: unknown" in explain.to_text(explain.report(analyse({}), None, None))


def test_cassettes_hold_no_secret():
    for f in (CASSETTE_DIR / "spapi").glob("*.yaml"):
        text = f.read_text()
        assert SECRET not in text and REFRESH not in text
        assert "client_secret=REDACTED" in text or "auth/o2/token" not in text


def test_recording_redacts_every_secret(tmp_path, monkeypatch):
    """Record for real through vcrpy, with this module's options, against a local stand-in
    for Amazon that answers with secret-looking tokens: the cassette written must hold none
    of the secrets sent or received."""
    import http.server
    import threading

    import vcr

    from arbitrage_cli import spapi

    access = "Atza|SENTINEL-ACCESS-TOKEN-9e8d7c6b"
    new_refresh = "Atzr|SENTINEL-ROTATED-REFRESH-5a4b"

    class Amazon(http.server.BaseHTTPRequestHandler):
        def _send(self, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self):  # the Login with Amazon token exchange
            self.rfile.read(int(self.headers["Content-Length"]))
            self._send({"access_token": access, "refresh_token": new_refresh,
                        "token_type": "bearer", "expires_in": 3600})

        def do_GET(self):
            assert self.headers["x-amz-access-token"] == access
            self._send({"restrictions": []})

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Amazon)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    monkeypatch.setattr(spapi, "TOKEN_URL", url + "/auth/o2/token")
    creds = spapi.load_credentials(env={
        "SPAPI_CLIENT_ID": "amzn1.application-oa2-client.SENTINELID", "SPAPI_CLIENT_SECRET":
        SECRET, "SPAPI_REFRESH_TOKEN": REFRESH, "SPAPI_SELLER_ID": "A2TESTSELLER0",
        "SPAPI_ENDPOINT": url})
    cassette = tmp_path / "recorded.yaml"
    try:
        with vcr.VCR(record_mode="all", **VCR_OPTIONS).use_cassette(str(cassette)):
            result = spapi.SpApiClient(creds).restrictions(FREE, "used_good")
    finally:
        server.shutdown()
    assert result.status == "allowed"
    text = cassette.read_text()
    assert "auth/o2/token" in text and "restrictions" in text  # both calls were recorded
    for secret in (SECRET, REFRESH, access, new_refresh, "SENTINELID"):
        assert secret not in text, secret
    assert "client_secret=REDACTED" in text and '"access_token": "REDACTED"' in text

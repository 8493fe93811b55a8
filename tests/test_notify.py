"""`arbitrage notify` (issue 26) with the real Apprise library against a local receiver:
what a message carries, each deal once, better deals again, failures kept, secrets kept."""

from __future__ import annotations

import http.server
import json
import threading

import pytest

from arbitrage_cli.pipeline import notify as pipeline
from arbitrage_cli.store import notifications, open_db
from tests.test_day import day_db, db_copy, run  # noqa: F401 - the demo database fixtures

TOKEN = "s3cr3t-T0KEN-abcdef123456"


class Receiver(http.server.ThreadingHTTPServer):
    """A webhook on 127.0.0.1: keeps every JSON body; answers `status`."""

    def __init__(self):
        self.bodies, self.status = [], 200

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(handler):  # noqa: N802, N805
                length = int(handler.headers.get("Content-Length") or 0)
                self.bodies.append(json.loads(handler.rfile.read(length) or b"{}"))
                handler.send_response(self.status)
                handler.end_headers()

            def log_message(handler, *args):  # noqa: N805
                pass

        super().__init__(("127.0.0.1", 0), Handler)

    @property
    def url(self) -> str:  # Apprise's plain JSON webhook, a token in its path
        return f"json://127.0.0.1:{self.server_address[1]}/hook/{TOKEN}"


@pytest.fixture
def receiver():
    r = Receiver()
    thread = threading.Thread(target=r.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield r
    r.shutdown()
    r.server_close()


@pytest.fixture
def db_path(db_copy):
    return db_copy


def visible(db_path, min_profit=0):
    return [r[0] for r in open_db(db_path).execute(
        "select asin from visible_deals where profit_cents >= ? order by profit_cents desc, "
        "asin", [min_profit])]


def test_a_digest_carries_what_decides_a_buy_and_each_deal_goes_once(db_path, receiver,
                                                                     capsys):
    asins = visible(db_path, 1000)
    assert len(asins) >= 3
    code, _, err = run(["--db", db_path, "notify", "--to", receiver.url, "--min-profit", "10",
                        "--limit", "2"], capsys)
    assert code == 0, err
    assert len(receiver.bodies) == 1
    body = receiver.bodies[0]
    msg, db = body["message"], open_db(db_path)
    assert body["title"] == "arbitrage: 2 new deals"
    for asin in asins[:2]:
        d = db["deals"].get(asin)
        assert asin in msg and d["title"] in msg
        assert f"Buy ${d['price_now_cents'] / 100:,.2f} landed" in msg
        assert f"List at ${d['list_at_cents'] / 100:,.2f}" in msg
        assert f"profit ${d['profit_cents'] / 100:,.2f} (ROI {d['roi_pct']:.0f}%)" in msg
        assert f"amazon.com/dp/{asin}" in msg and f"keepa.com/#!product/1-{asin}" in msg
    assert "likely $" in msg and "sells in about" in msg and "gating unknown" in msg
    assert f"and {len(asins) - 2} more matched beyond --limit 2" in msg
    # what was sent is recorded, by fingerprint; the next two come next time, then nothing
    rows = list(db.query("select * from notifications order by id"))
    assert [r["asin"] for r in rows] == asins[:2] and {r["outcome"] for r in rows} == {"sent"}
    assert rows[0]["target"] == notifications.fingerprint(receiver.url)
    assert rows[0]["price_now_cents"] == db["deals"].get(asins[0])["price_now_cents"]
    run(["--db", db_path, "notify", "--to", receiver.url, "--min-profit", "10",
         "--limit", "2"], capsys)
    assert asins[2] in receiver.bodies[1]["message"] and asins[0] not in \
        receiver.bodies[1]["message"]
    for _ in range(len(asins)):
        run(["--db", db_path, "notify", "--to", receiver.url, "--min-profit", "10"], capsys)
    sent = [r[0] for r in db.execute("select asin from notifications where outcome = 'sent'")]
    assert sorted(sent) == sorted(asins)  # every deal once, none twice
    before = len(receiver.bodies)
    run(["--db", db_path, "notify", "--to", receiver.url, "--min-profit", "10"], capsys)
    assert len(receiver.bodies) == before  # nothing new: nothing sent


def test_a_price_drop_or_a_bigger_profit_sends_again_a_small_change_does_not(db_path,
                                                                           receiver):
    db = open_db(db_path)
    url = receiver.url
    pipeline.notify(db, [url])
    first = len(receiver.bodies)
    a, b, c = visible(db_path)[:3]
    row = db["deals"].get(a)
    db["deals"].update(a, {"price_now_cents": int(row["price_now_cents"] * 0.9)})
    row_b = db["deals"].get(b)
    db["deals"].update(b, {"profit_cents": row_b["profit_cents"] + 600})
    row_c = db["deals"].get(c)
    db["deals"].update(c, {"price_now_cents": int(row_c["price_now_cents"] * 0.98),
                           "profit_cents": row_c["profit_cents"] + 100})
    summary = pipeline.notify(db, [url])
    assert len(receiver.bodies) == first + 1 and summary["targets"][0]["sent"] == 2
    msg = receiver.bodies[-1]["message"]
    assert f"{a}, " in msg and "price down" in msg and "profit up" in msg and c not in msg
    reasons = dict(db.execute("select asin, reason from notifications where run_id = ?",
                              [summary["run"]]).fetchall())
    assert reasons == {a: "price_down", b: "profit_up"}


def test_a_failing_target_loses_nothing_and_the_next_run_delivers(db_path, receiver, capsys):
    receiver.status = 500
    code, _, err = run(["--db", db_path, "notify", "--to", receiver.url, "--limit", "50"],
                       capsys)
    assert code == 1 and "FAILED" in err and "kept for the next run" in err
    db = open_db(db_path)
    failed = {r[0] for r in db.execute("select asin from notifications where outcome = "
                                       "'failed'")}
    assert failed == set(visible(db_path)[:50])
    assert notifications.pending_failures(db) == len(failed)
    receiver.status = 200
    code, _, _ = run(["--db", db_path, "notify", "--to", receiver.url, "--limit", "50"], capsys)
    assert code == 0
    delivered = receiver.bodies[-1]["message"]
    assert all(a in delivered for a in failed)
    assert {r[0] for r in db.execute("select reason from notifications where outcome = "
                                     "'sent'")} == {"retry"}
    assert notifications.pending_failures(db) == 0


def test_the_url_is_a_secret_in_output_logs_and_database(db_path, receiver, capsys, tmp_path):
    log = tmp_path / "arbitrage.log"
    receiver.status = 500  # a failure is where a URL would be quoted
    run(["--db", db_path, "-vv", "--log-file", str(log), "notify", "--to", receiver.url],
        capsys)
    receiver.status = 200
    code, out, err = run(["--db", db_path, "-vv", "--log-file", str(log), "notify", "--to",
                          receiver.url, "--json"], capsys)
    assert code == 0 and json.loads(out)["targets"][0]["sent"] > 0
    dump = "\n".join(open_db(db_path).conn.iterdump())
    for text in (out, err, log.read_text(), dump):
        assert TOKEN not in text and receiver.url not in text


def test_marked_deals_are_never_notified(db_path, receiver, capsys):
    a, b, c = visible(db_path)[:3]
    for asin, decision in ((a, "bought"), (b, "ignored"), (c, "watch")):
        assert run(["--db", db_path, "mark", asin, decision], capsys)[0] == 0
    run(["--db", db_path, "notify", "--to", receiver.url, "--limit", "500"], capsys)
    msg = receiver.bodies[-1]["message"]
    assert a not in msg and b not in msg and c in msg


def test_no_target_or_a_bad_one_exits_2_and_a_shared_file_warns(db_path, tmp_path, capsys,
                                                                monkeypatch, receiver):
    monkeypatch.delenv("ARBITRAGE_NOTIFY_URLS", raising=False)
    code, _, err = run(["--db", db_path, "notify"], capsys)
    assert code == 2 and "--to" in err and "ARBITRAGE_NOTIFY_URLS" in err
    code, _, err = run(["--db", db_path, "notify", "--to", f"not-a-url-{TOKEN}"], capsys)
    assert code == 2 and TOKEN not in err
    targets = tmp_path / "targets"
    targets.write_text(f"# my phone\n{receiver.url}\n")
    targets.chmod(0o644)
    code, _, err = run(["--db", db_path, "notify", "--to-file", str(targets), "--dry-run"],
                       capsys)
    assert code == 0 and "can be read by other users" in err and TOKEN not in err
    assert "would send" in err and receiver.bodies == []  # a dry run sends nothing
    assert open_db(db_path)["notifications"].count == 0
    monkeypatch.setenv("ARBITRAGE_NOTIFY_URLS", receiver.url)
    assert run(["--db", db_path, "notify", "--limit", "1"], capsys)[0] == 0
    assert len(receiver.bodies) == 1


def test_a_stop_request_ends_between_targets_with_what_was_sent_recorded(db_path):
    from arbitrage_cli import signals

    sent = []

    def send(url, title, body):
        sent.append(url)
        signals.STOP.set()  # Ctrl-C while the first target is being told
        return True

    db = open_db(db_path)
    try:
        summary = pipeline.notify(db, ["json://127.0.0.1:1/a-first-target",
                                       "json://127.0.0.1:1/a-second-target"], send=send)
    finally:
        signals.STOP.clear()
    assert sent == ["json://127.0.0.1:1/a-first-target"] and summary["outcome"] == "stopped"
    assert db["notifications"].count == len(summary["targets"][0]["asins"]) > 0
    assert db.execute("select outcome from runs where id = ?", [summary["run"]]
                      ).fetchone()[0] == "stopped"


def test_a_run_that_breaks_is_recorded_failed_and_one_killed_is_closed_by_the_next(db_path):
    """A notify run that raises is a failed run, never a 'done' one; a run left 'running'
    (killed) is closed as killed by the next run that takes the lock."""
    db = open_db(db_path)
    dead = db["runs"].insert({"command": "notify", "started_at": "2026-01-01T00:00:00Z",
                              "outcome": "running", "pid": 999999, "host": "h"}).last_pk

    def send(url, title, body):
        raise SystemExit("the machine is going down")  # not a plugin error: the run breaks

    with pytest.raises(SystemExit):
        pipeline.notify(db, ["json://127.0.0.1:1/a-target"], send=send)
    last = db.execute("select outcome, message from runs where command = 'notify' "
                      "order by id desc limit 1").fetchone()
    assert last[0] == "failed" and "SystemExit" in last[1]
    assert db.execute("select outcome from runs where id = ?", [dead]).fetchone()[0] == "killed"
    assert not db.execute("select count(*) from locks where name = 'notify'").fetchone()[0]


def test_status_and_the_api_show_the_history_and_what_is_pending(db_path, receiver, capsys,
                                                                 monkeypatch):
    from starlette.testclient import TestClient

    from arbitrage_cli.serve import create_app

    monkeypatch.setenv("COLUMNS", "80")
    code, out, _ = run(["--db", db_path, "status"], capsys)
    assert "notify" in out and "never run" in out
    receiver.status = 500
    run(["--db", db_path, "notify", "--to", receiver.url, "--limit", "3"], capsys)
    code, out, _ = run(["--db", db_path, "status"], capsys)
    line = next(x for x in out.splitlines() if x.lstrip().startswith("notify"))
    assert "failed" in line and "3 failed, retried next run" in " ".join(out.split())
    with TestClient(create_app(db_path, chart_processes=False)) as client:
        body = client.get("/api/notifications", params={"limit": 2}).json()
        assert body["ok"] and len(body["notifications"]) == 2 and body["next"]
        assert body["notifications"][0]["outcome"] == "failed"
        rest = client.get("/api/notifications", params={"before": body["next"]}).json()
        assert len(rest["notifications"]) == 1 and rest["next"] is None
        assert client.get("/api/notifications", params={"limit": 0}).status_code == 400
        assert client.get("/api/notifications", params={"url": "x"}).status_code == 400
        status = client.get("/api/status").json()
        assert status["notify"]["pending_failures"] == 3
        assert "pid" not in status["notify"]["last_run"] and "host" not in \
            status["notify"]["last_run"]
        assert TOKEN not in json.dumps(status) and TOKEN not in json.dumps(body)


def test_the_cron_line_notifies_right_after_sync():
    """A deal sync saves at :15 is on the phone at :16: notify runs in sync's line, after
    it and before the backfill that may take minutes."""
    from pathlib import Path

    text = (Path(__file__).resolve().parent.parent / "crontab.example").read_text()
    line = next(x for x in text.splitlines() if x.startswith("*/15"))
    order = [line.index(f"$ARB -q {c}") for c in ("sync", "notify", "backfill")]
    assert order == sorted(order)
    assert "--to-file" in line and "://" not in line  # targets hold tokens: not in crontab

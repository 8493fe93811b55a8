"""The Keepa client against the live in-process simulator: typed errors, retries, budget."""

from __future__ import annotations

import json
import logging

import pytest
import requests

from arbitrage_cli.keepa.client import KeepaClient, canonical_json
from arbitrage_cli.keepa.errors import (BudgetPaused, InvalidRequest, MalformedResponse,
                                        PaymentRequired, RequestRejected, TokensExhausted,
                                        TransientError)
from arbitrage_cli.simulator.faults import FaultPlan
from tests.conftest import SENTINEL_KEY
from tests.reliability import record


def test_canonical_selection_is_sorted_and_integral():
    a = canonical_json({"page": 0, "priceTypes": [2.0], "b": {"z": 1, "a": 2}})
    b = canonical_json({"b": {"a": 2, "z": 1.0}, "priceTypes": [2], "page": 0})
    assert a == b == '{"b":{"a":2,"z":1},"page":0,"priceTypes":[2]}'


@pytest.mark.parametrize("call", [
    lambda c: c.product(["0000000000"], offers=10),
    lambda c: c.product(["0000000000"], offers=101),
    lambda c: c.product([f"{i:010d}" for i in range(101)]),
    lambda c: c.product([]),
    lambda c: c.product(["not-an-asin"]),
    lambda c: c.product(["0000000000"], days=0),
    lambda c: c.seller([f"A{i:013d}" for i in range(101)]),
    lambda c: c.deal({"page": "1"}),
    lambda c: c.query({"perPage": 10}),
])
def test_parameters_validated_before_sending(sim_factory, client_factory, call):
    sim, server = sim_factory()
    client = client_factory(server.url)
    with pytest.raises(InvalidRequest):
        call(client)
    assert [r for r in sim.log if r.endpoint != "token"] == []


def test_every_response_updates_the_shared_snapshot(sim_factory, client_factory, catalog):
    sim, server = sim_factory(refill_rate=20)
    client = client_factory(server.url)
    client.product(catalog.asins[:2], offers=20, stats=90)
    snap = client.budget.snapshot()
    assert snap.tokens_left == sim.bucket.state()[0]
    assert snap.refill_rate == 20
    assert client.requests == 2  # /token first (no snapshot yet), then /product
    assert client.tokens_consumed == sim.tokens_spent()


def test_429_waits_refill_then_succeeds(sim_factory, client_factory, clock):
    sim, server = sim_factory(faults=FaultPlan(storm429=2))
    client = client_factory(server.url, budget=False)
    before = clock.now()
    body = client.token()  # /token also answers 429 during a storm
    assert body["tokensConsumed"] == 0
    waited = clock.now() - before
    assert 2 * 0.1 < waited <= 2 * 60.2  # slept Keepa's refillIn, twice
    assert [r.status for r in sim.log] == [429, 429, 200]


def test_transient_errors_are_retried_a_bounded_number_of_times(sim_factory, client_factory,
                                                                 clock):
    sim, server = sim_factory(faults=FaultPlan({"500": 1.0}))
    client = client_factory(server.url, budget=False, max_attempts=4)
    with pytest.raises(TransientError) as exc:
        client.token()
    assert exc.value.status == 500
    assert len(sim.log) == 4
    assert clock.now() - 1_795_132_800.0 == pytest.approx(1 + 2 + 4)  # exponential back-off


def test_retry_stops_at_max_total_time(sim_factory, client_factory):
    sim, server = sim_factory(faults=FaultPlan(storm429=50))
    client = client_factory(server.url, budget=False, max_attempts=50, max_retry_s=150)
    with pytest.raises(TokensExhausted) as exc:
        client.token()
    assert 2 <= len(sim.log) <= 4
    assert exc.value.resume_at > 0 and exc.value.exit_code == 0


@pytest.mark.parametrize("fault,error", [("badkey", RequestRejected),
                                         ("expiredkey", PaymentRequired)])
def test_400_and_402_are_never_retried(sim_factory, client_factory, fault, error):
    sim, server = sim_factory(faults=FaultPlan.parse(fault))
    client = client_factory(server.url, budget=False)
    with pytest.raises(error) as exc:
        client.token()
    assert len(sim.log) == 1
    assert exc.value.exit_code == 4


@pytest.mark.parametrize("fault", ["reset", "truncate", "nonjson", "timeout", "nest"])
def test_network_and_body_faults_are_transient(sim_factory, client_factory, fault):
    """`nest`: a body of 200,000 `[` raised RecursionError out of the client and ended the
    run as an unexpected error (exit 1); it is a malformed, retried response like any other
    non-JSON body."""
    plan = FaultPlan({fault: 1.0}, timeout_s=1.5)
    sim, server = sim_factory(faults=plan)
    client = client_factory(server.url, budget=False, max_attempts=2, timeout=(1.0, 0.5))
    with pytest.raises(TransientError) as exc:
        client.token()
    if fault in ("truncate", "nonjson", "nest"):
        assert isinstance(exc.value, MalformedResponse) or "cut off" in str(exc.value)
    assert len(sim.log) == 2
    if fault == "nest":
        record("hostile input", "a body of 200,000 `[` (JSON nesting bomb)", len(sim.log),
               f"{type(exc.value).__name__}: retried like any malformed body, no crash")


def test_transient_then_success(sim_factory, client_factory, catalog):
    plan = FaultPlan(storm429=0)
    sim, server = sim_factory(faults=plan)
    client = client_factory(server.url)
    client.token()
    plan.rates = {"502": 1.0}
    seen = []
    orig = sim.faults.draw

    def draw():
        fault = orig() if not seen else None
        seen.append(fault)
        return fault

    sim.faults.draw = draw
    body = client.product(catalog.asins[:1])
    assert body["products"][0]["asin"] == catalog.asins[0]
    assert [r.status for r in sim.log] == [200, 502, 200]


def test_budget_pauses_instead_of_calling(sim_factory, client_factory, catalog, clock):
    sim, server = sim_factory(refill_rate=5, tokens=10)
    client = client_factory(server.url, allowance=20, max_wait_s=30)
    client.product(catalog.asins[:2], offers=20)  # worst case 24: 10 - 24 >= -20, so it runs
    assert sim.bucket.state()[0] <= 0
    n = len(sim.log)
    with pytest.raises(BudgetPaused) as exc:
        client.product(catalog.asins[2:4], offers=20)
    assert len(sim.log) == n  # nothing was sent
    assert "paused" in exc.value.summary and exc.value.resume_at > clock.now()
    assert exc.value.exit_code == 0


def test_client_repr_and_errors_hide_the_key(sim_factory, client_factory, caplog):
    caplog.set_level(logging.DEBUG)
    sim, server = sim_factory(faults=FaultPlan({"500": 1.0}))
    client = client_factory(server.url, budget=False, max_attempts=2)
    assert SENTINEL_KEY not in repr(client)
    with pytest.raises(TransientError) as exc:
        client.token()
    assert SENTINEL_KEY not in str(exc.value) and SENTINEL_KEY not in repr(exc.value)
    assert exc.value.__cause__ is None and exc.value.__context__ is None or \
        SENTINEL_KEY not in str(exc.value.__context__)
    dead = KeepaClient(SENTINEL_KEY, base_url="http://127.0.0.1:9", max_attempts=1,
                       timeout=(0.5, 0.5))
    from arbitrage_cli.errors import ConfigError

    with pytest.raises(ConfigError) as exc2:  # nothing listens: the URL to fix, named
        dead.token()
    assert SENTINEL_KEY not in str(exc2.value)
    assert exc2.value.__suppress_context__
    assert SENTINEL_KEY not in caplog.text


def test_learned_cost_corrects_prediction(sim_factory, client_factory, catalog):
    sim, server = sim_factory(refill_rate=60)
    client = client_factory(server.url)
    assert client.budget.predict("product_offers", 2, offers=20) == (12, 26)
    client.product(catalog.asins[:10], offers=20)
    consumed = sim.log[-1].tokens_consumed
    predicted, worst = client.budget.predict("product_offers", 10, offers=20)
    assert predicted == pytest.approx(consumed, abs=1) and worst == 130


def test_seller_ids_and_asins_deduplicated(sim_factory, client_factory, catalog):
    sim, server = sim_factory()
    client = client_factory(server.url)
    sid = catalog.sellers[0].seller_id
    body = client.seller([sid, sid])
    assert body["tokensConsumed"] == 1
    assert sim.log[-1].params["seller"] == sid


def test_deal_selection_sent_canonically(sim_factory, client_factory):
    sim, server = sim_factory()
    client = client_factory(server.url)
    client.deal({"priceTypes": [2], "dateRange": 3, "page": 0, "sortType": 1})
    sent = sim.log[-1].params["selection"]
    assert sent == canonical_json(json.loads(sent))
    assert json.loads(sent)["domainId"] == 1


def test_session_has_no_key_in_headers(sim_factory, client_factory):
    _, server = sim_factory()
    client = client_factory(server.url)
    assert SENTINEL_KEY not in str(dict(client.session.headers))
    assert isinstance(client.session, requests.Session)


def test_nothing_listening_at_a_chosen_url_is_a_setting_to_fix_at_once(tmp_path, capsys):
    """A wrong --keepa-url: exit 2 naming it within a second, not 15 s of retries ending in
    an 'unexpected error'; the key is never printed."""
    import socket
    import time

    from arbitrage_cli.cli import main
    from tests.conftest import SENTINEL_KEY

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    for command in ("sync", "backfill"):
        started = time.monotonic()
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("KEEPA_API_KEY", SENTINEL_KEY)
            with pytest.raises(SystemExit) as exc:
                main(["--db", str(tmp_path / "d.db"), "--keepa-url", url, command])
        err = capsys.readouterr().err
        assert exc.value.code == 2 and f"nothing answers at {url}" in err
        assert time.monotonic() - started < 5 and SENTINEL_KEY not in err
        # a first run that failed leaves no database and no lock file to trip the next one
        assert list(tmp_path.iterdir()) == [], command
    # a database that existed keeps everything
    from arbitrage_cli.store import open_db

    open_db(str(tmp_path / "d.db"))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("KEEPA_API_KEY", SENTINEL_KEY)
        with pytest.raises(SystemExit):
            main(["--db", str(tmp_path / "d.db"), "--keepa-url", url, "sync"])
    assert (tmp_path / "d.db").exists()

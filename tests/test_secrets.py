"""The sentinel key must never appear in logs, stderr/stdout, exceptions, the database or
cassettes, whatever goes wrong."""

from __future__ import annotations

import logging
import traceback

import pytest

from arbitrage_cli.keepa.errors import KeepaError
from arbitrage_cli.logs import setup_logging
from arbitrage_cli.simulator.faults import FaultPlan
from tests.conftest import CASSETTE_DIR, SENTINEL_KEY

FAULTS = ["500", "502", "503", "reset", "truncate", "nonjson", "timeout", "badkey",
          "expiredkey", "storm429=3"]


@pytest.mark.parametrize("fault", FAULTS)
def test_key_never_leaks(fault, sim_factory, client_factory, capfd, caplog, fresh_db, catalog):
    setup_logging(2)  # the most verbose setting, urllib3 DEBUG included
    caplog.set_level(logging.DEBUG)
    spec = fault if "=" in fault or fault.endswith("key") else f"{fault}=1.0"
    plan = FaultPlan.parse(spec + ",timeout_s=1")
    sim, server = sim_factory(faults=plan)
    client = client_factory(server.url, max_attempts=2, timeout=(0.5, 0.5), max_retry_s=130)
    texts = [repr(client)]
    try:
        client.product(catalog.asins[:2], offers=20)
    except KeepaError as exc:
        texts += [str(exc), repr(exc), "".join(traceback.format_exception(exc)),
                  repr(exc.envelope)]
    logging.getLogger("arbitrage_cli.test").error("after %s: %r", fault, client.last_envelope)
    out, err = capfd.readouterr()
    texts += [out, err, caplog.text]
    texts += [str(row) for row in fresh_db.conn.iterdump()]
    blob = "\n".join(texts)
    assert SENTINEL_KEY not in blob
    assert SENTINEL_KEY[:24] not in blob
    setup_logging(0)


def test_cassettes_never_hold_the_key():
    for f in CASSETTE_DIR.rglob("*"):
        if f.is_file():
            assert SENTINEL_KEY not in f.read_text(errors="replace")


def test_sp_api_credentials_are_scrubbed_from_the_first_log_line_on():
    """The log filters know the SP-API client secret and refresh token from the moment
    logging is set up, before any SP-API client exists (in a fresh interpreter, so nothing
    imported arbitrage_cli.spapi first)."""
    import os
    import subprocess
    import sys

    secret, refresh = "spapi-CLIENT-secret-123456789", "Atzr|refresh-TOKEN-987654321"
    code = ("import logging, sys; from arbitrage_cli.logs import setup_logging; "
            "setup_logging(1); "
            f"logging.getLogger('arbitrage_cli').warning('got %s and %s', {secret!r}, "
            f"{refresh!r})")
    env = {**os.environ, "SPAPI_CLIENT_ID": "amzn1.application-oa2-client.x",
           "SPAPI_CLIENT_SECRET": secret, "SPAPI_REFRESH_TOKEN": refresh,
           "SPAPI_SELLER_ID": "A1SELLER"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, check=True)
    assert "got <redacted> and <redacted>" in out.stderr, out.stderr
    assert secret not in out.stderr and refresh not in out.stderr

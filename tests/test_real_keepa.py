"""The pipeline on real Keepa /product responses (../shared/real-keepa, see its README): the
simulator is our own model of Keepa, these files are not."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from arbitrage_cli.clock import FakeClock
from arbitrage_cli.pipeline.chunk import process_chunk
from arbitrage_cli.store import open_db
from arbitrage_cli.store.deals import FETCH_FAILURES, load_payload
from arbitrage_cli.timefmt import epoch_from_keepa_minutes

REAL = Path(__file__).resolve().parent.parent.parent / "shared" / "real-keepa"
pytestmark = pytest.mark.skipif(not REAL.is_dir(), reason=f"{REAL} is not here")


def load(name: str) -> tuple[dict, int | None]:
    """(product, envelope timestamp in ms or None) of one real file."""
    data = json.load(gzip.open(REAL / f"{name}.json.gz"))
    if "products" in data:
        return data["products"][0], data.get("timestamp")
    return data, None


class Replay:
    """Answers /product with one recorded product, /seller with nothing found."""

    budget = None

    def __init__(self, product: dict, timestamp_ms: int | None):
        self.body = {"products": [product], "timestamp": timestamp_ms or
                     epoch_from_keepa_minutes(product["lastUpdate"]) * 1000}

    def product(self, asins, **kw):
        return self.body

    def seller(self, ids):
        return {"sellers": {}, "timestamp": self.body["timestamp"]}


def fetch(db, product, ts):
    clock = FakeClock((ts or epoch_from_keepa_minutes(product["lastUpdate"]) * 1000) / 1000)
    return process_chunk(db, Replay(product, ts), [product["asin"]], clock=clock,
                         seller_ttl_s=0, live=True)


NAMES = sorted(p.name[:-len(".json.gz")] for p in REAL.glob("*.json.gz")) if REAL.is_dir() \
    else []


@pytest.mark.parametrize("name", NAMES)
def test_every_real_product_is_recorded_with_when_it_was_checked(tmp_path, name):
    db = open_db(str(tmp_path / "d.db"))
    product, ts = load(name)
    result = fetch(db, product, ts)
    row = db["deals"].get(product["asin"])
    assert row["status"] in ("deal", "skipped") and (row["status"] == "deal"
                                                     or row["skip_reason"])
    if product.get("offersSuccessful") is True:
        # live offers collected: the check time is Keepa's, the offers refresh it reports
        assert result.failed == [] and row["retry_reason"] is None
        assert row["checked_keepa"] == product["stats"]["lastOffersUpdate"]
    elif product.get("productType") == 0:
        # requested without offers (Keepa then sends no `offers` at all): nothing is known
        # about the buy price, so it is queued for a retry, never read as "no offer"
        assert row["skip_reason"] in FETCH_FAILURES and row["retry_reason"] == row["skip_reason"]
        assert row["checked_keepa"] is None and row["next_check_at"]


def test_a_real_failed_refresh_keeps_the_real_deal_and_its_payload(tmp_path):
    """av-0593655036 with offers, then the same book requested without offers (Keepa's real
    history-only shape: offersSuccessful false, no liveOffersOrder)."""
    db = open_db(str(tmp_path / "d.db"))
    full, _ = load("av-0593655036")
    fetch(db, full, None)
    before = db["deals"].get(full["asin"])
    assert before["price_now_cents"] is not None and before["retry_reason"] is None
    stored_before = load_payload(db, full["asin"])
    nooffers, ts = load("av-0593655036-raw-nooffers")
    assert nooffers["offersSuccessful"] is False and nooffers.get("liveOffersOrder") is None
    result = fetch(db, nooffers, ts)
    assert result.failed == [full["asin"]]
    after = db["deals"].get(full["asin"])
    queue = {"retry_reason", "retry_count", "retry_since_at", "next_check_at"}
    assert {k: v for k, v in after.items() if k not in queue} == \
        {k: v for k, v in before.items() if k not in queue}
    assert after["retry_reason"] in FETCH_FAILURES and after["retry_count"] == 1
    assert load_payload(db, full["asin"]) == stored_before  # explain still explains this row


def test_explain_says_in_words_why_a_real_answer_has_no_buy_price(tmp_path, capsys):
    from arbitrage_cli.cli import main

    path = REAL / "av-0593655036-raw-nooffers.json.gz"
    with pytest.raises(SystemExit) as exc:
        main(["--db", str(tmp_path / "none.db"), "explain", "0593655036",
              "--product-file", str(path)])
    assert exc.value.code == 0
    words = " ".join(capsys.readouterr().out.split())
    assert "no buy price: Keepa did not collect the live offers (offersSuccessful false) " \
        "(offers_unknown)" in words


@pytest.mark.parametrize("name", NAMES)
def test_explain_of_a_real_file_gives_only_reasons_the_file_holds(name, tmp_path, capsys):
    """A product read from a file was hidden by nobody and never expired: those reasons
    come only from a stored row (the file has no `hidden` or `expired_at`)."""
    from arbitrage_cli.cli import main

    product, _ = load(name)
    with pytest.raises(SystemExit) as exc:
        main(["--db", str(tmp_path / "none.db"), "explain", product["asin"], "--product-file",
              str(REAL / f"{name}.json.gz"), "--json"])
    assert exc.value.code == 0
    why = json.loads(capsys.readouterr().out)["hidden_because"]
    assert "hidden by you" not in why and "no longer listed by Keepa" not in why

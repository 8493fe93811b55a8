"""recalc: one set-based UPDATE equal to analysis/business.py, explicit NULLs, idempotent,
zero tokens."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from arbitrage_cli.analysis.business import FeeInputs, compute
from arbitrage_cli.analysis.deal import ANALYSIS_COLUMNS
from arbitrage_cli.pipeline.recalc import RECALC_COLUMNS, recalc, recalc_rows
from arbitrage_cli.store import open_db
from arbitrage_cli.store import settings as settings_store
from tests.test_analysis_business import inputs_st, settings_st

PIPELINE_COLUMNS = {"first_seen_at", "confirmed_at", "updated_at", "next_check_at",
                    "expired_at", "hidden", "checked_keepa", "retry_reason", "retry_count",
                    "retry_since_at", "screen_price_cents", "screen_stage"}


def insert(db, asin, x: FeeInputs, screen_price=None, low=None):
    db["deals"].insert({"asin": asin, "status": "deal", "price_now_cents": x.price_now_cents,
                        "list_at_cents": x.list_at_cents, "fba_fee_cents": x.fba_fee_cents,
                        "referral_fee_pct": x.referral_fee_pct,
                        "closing_fee_cents": x.closing_fee_cents,
                        "screen_price_cents": screen_price, "list_at_low_cents": low})


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(inputs_st, st.one_of(st.none(), st.integers(0, 200_000)),
                          st.one_of(st.none(), st.integers(0, 200_000))),
                min_size=1, max_size=5), settings_st)
def test_sql_equals_python_on_random_inputs(rows, s):
    from arbitrage_cli.analysis.screen import at_price

    db = open_db(":memory:")
    for i, (x, judged, low) in enumerate(rows):
        insert(db, f"{i:010d}", x, judged, low)
    recalc_rows(db, settings=s)
    for i, (x, judged, low) in enumerate(rows):
        got = db["deals"].get(f"{i:010d}")
        want = dataclasses.asdict(compute(x, s))
        for col, value in want.items():
            assert got[col] == value, (col, x, s)
        # the history screen's bound: the same money math at the judged price less the margin
        bound = at_price(x, judged, s).bound_profit_cents if judged is not None else None
        assert got["screen_bound_cents"] == bound, (x, judged, s)
        # the profit at the low end of List at's range: the same math at that price
        at_low = compute(dataclasses.replace(x, list_at_cents=low), s).profit_cents
        assert got["profit_low_cents"] == at_low, (x, low, s)


def test_every_deal_column_has_exactly_one_producer():
    """R14: no column written by two steps, none by nobody."""
    from arbitrage_cli.store.schema import DERIVED_COLUMNS

    assert RECALC_COLUMNS == DERIVED_COLUMNS
    producers = [set(ANALYSIS_COLUMNS), set(RECALC_COLUMNS), PIPELINE_COLUMNS]
    all_cols = set(open_db(":memory:")["deals"].columns_dict)  # every migration's columns
    assert set().union(*producers) == all_cols
    assert sum(len(p) for p in producers) == len(all_cols)


def test_inputs_that_became_missing_clear_the_metrics(fresh_db):
    insert(fresh_db, "A", FeeInputs(3500, 24626, 625, 15.0, 180))
    recalc(fresh_db)
    assert fresh_db["deals"].get("A")["profit_cents"] == 15778
    fresh_db.execute("update deals set list_at_cents = null")
    recalc(fresh_db)
    row = fresh_db["deals"].get("A")
    assert row["profit_cents"] is None and row["margin_pct"] is None
    assert row["amazon_fees_cents"] is None and row["roi_pct"] is None
    assert row["all_in_cost_cents"] == 4349  # still known


def test_idempotent_and_records_runs_and_version(fresh_db):
    for i in range(50):
        insert(fresh_db, f"{i:010d}", FeeInputs(1000 + i, 5000, None, 15.0, 180))
    first = recalc(fresh_db)
    assert (first.rows, first.changed) == (50, 50)
    assert recalc(fresh_db).changed == 0
    settings_store.save(fresh_db, {"prep_fee_cents": 300})
    third = recalc(fresh_db)
    assert third.changed == 50 and third.settings_version == 1
    assert {r["settings_version"] for r in fresh_db["deals"].rows} == {1}
    runs = list(fresh_db.query("select outcome, counters from runs where command = 'recalc'"))
    assert len(runs) == 3 and all(r["outcome"] == "done" for r in runs)


def test_defaults_never_overwrite_real_fees(fresh_db):
    insert(fresh_db, "A", FeeInputs(1000, 5000, 412, 15.0, 180))
    settings_store.save(fresh_db, {"default_fba_fee_cents": 999})
    recalc(fresh_db)
    row = fresh_db["deals"].get("A")
    assert row["fba_fee_cents"] == 412 and row["fba_fee_estimated"] == 0
    assert row["amazon_fees_cents"] == 412 + 750 + 180


def test_recalc_is_fast_enough_in_the_default_run(fresh_db):
    fresh_db["deals"].insert_all(
        ({"asin": f"{i:010d}", "status": "deal", "price_now_cents": 1000 + i % 5000,
          "list_at_cents": 4000 + i % 9000, "fba_fee_cents": 400, "referral_fee_pct": 15.0,
          "closing_fee_cents": 180} for i in range(20_000)), batch_size=5000)
    result = recalc(fresh_db)
    assert result.changed == 20_000
    assert result.rows_per_s > 50_000  # the benchmark measures the real figure


def test_recalc_command_needs_no_key_and_no_client(db_path, monkeypatch, capsys):
    from arbitrage_cli.cli import main
    from arbitrage_cli.keepa import client

    monkeypatch.delenv("KEEPA_API_KEY")
    monkeypatch.setattr(client.KeepaClient, "__init__",
                        lambda *a, **k: pytest.fail("recalc built a Keepa client"))
    db = open_db(db_path)
    insert(db, "A", FeeInputs(3500, 24626, 625, 15.0, 180))
    with pytest.raises(SystemExit) as exc:
        main(["--db", db_path, "recalc"])
    assert exc.value.code == 0
    assert open_db(db_path)["deals"].get("A")["profit_cents"] == 15778


def test_indexes_on_derived_columns_survive_recalc(fresh_db):
    insert(fresh_db, "A", FeeInputs(3500, 24626, 625, 15.0, 180))
    fresh_db.execute("create index idx_partial on deals(roi_pct) where profit_cents > 0")
    before = set(fresh_db.execute("select name, sql from sqlite_master where type = 'index'"))
    recalc(fresh_db)
    after = set(fresh_db.execute("select name, sql from sqlite_master where type = 'index'"))
    assert before == after and "idx_partial" in {n for n, _ in after}
    assert fresh_db.execute("select asin from deals indexed by idx_partial "
                            "where profit_cents > 0 and roi_pct > 0").fetchall() == [("A",)]


def test_narrowed_recalc_touches_only_those_rows(fresh_db):
    for asin in ("A", "B", "C"):
        insert(fresh_db, asin, FeeInputs(3500, 24626, 625, 15.0, 180))
    changed = recalc_rows(fresh_db, asins=["A", "C"])
    assert changed == 2
    rows = {r["asin"]: r["profit_cents"] for r in fresh_db["deals"].rows}
    assert rows == {"A": 15778, "B": None, "C": 15778}

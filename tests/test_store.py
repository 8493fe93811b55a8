"""deals.db: migrations, typed state, runs, strict numbers."""

from __future__ import annotations

import sqlite3

import pytest
import sqlite_utils
from hypothesis import given, settings
from hypothesis import strategies as st

from arbitrage_cli.clock import FakeClock
from arbitrage_cli.errors import SchemaTooNew
from arbitrage_cli.store import open_db, runs, schema, state

TABLES = {"deals", "system_state", "locks", "keepa_tokens", "sellers", "runs", "settings",
          "user_restrictions"}


def test_fresh_database_has_every_table_wal_and_fk(db_path):
    db = open_db(db_path)
    assert TABLES <= set(db.table_names())
    assert "visible_deals" in db.view_names()
    assert db.execute("pragma journal_mode").fetchone()[0] == "wal"
    assert db.execute("pragma foreign_keys").fetchone()[0] == 1
    assert db.execute("pragma busy_timeout").fetchone()[0] >= 5000
    assert schema.schema_version(db) == schema.known_migrations()[-1]


def test_design_column_names_exist(fresh_db):
    cols = set(fresh_db["deals"].columns_dict)
    for name in ("asin", "title", "seller_id", "seller_name", "condition", "price_now_cents",
                 "list_at_cents", "all_in_cost_cents", "amazon_fees_cents", "profit_cents",
                 "margin_pct", "roi_pct", "min_listing_price_cents", "sales_rank"):
        assert name in cols
    assert set(fresh_db["locks"].columns_dict) == {"name", "owner", "pid", "host",
                                                   "acquired_at", "heartbeat_at", "expires_at"}


def test_money_columns_refuse_strings(fresh_db):
    """R10: '$12.34' can never land in a number column (STRICT tables)."""
    with pytest.raises(sqlite3.IntegrityError):
        fresh_db.execute("insert into deals (asin, status, list_at_cents) values ('X', 'deal', "
                         "'$246.26')")
    fresh_db.execute("insert into deals (asin, status, list_at_cents) values ('Y', 'deal', 24626)")
    assert fresh_db.execute("select typeof(list_at_cents) from deals").fetchone()[0] == "integer"


def test_reopening_is_idempotent_and_old_database_is_migrated(db_path):
    # An "old" database: a file that predates every migration.
    raw = sqlite_utils.Database(db_path)
    raw["unrelated"].insert({"x": 1})
    raw.conn.close()
    db = open_db(db_path)
    assert TABLES <= set(db.table_names())
    assert db["unrelated"].count == 1
    db.conn.close()
    again = open_db(db_path)
    assert schema.applied_migrations(again) == schema.known_migrations()


def test_newer_database_is_refused(db_path):
    db = open_db(db_path)
    db["_sqlite_migrations"].insert({"migration_set": schema.MIGRATION_SET,
                                     "name": "999_from_the_future", "applied_at": "x"})
    db.conn.close()
    with pytest.raises(SchemaTooNew, match="999_from_the_future"):
        open_db(db_path)
    with pytest.raises(SchemaTooNew):
        open_db(db_path, readonly=True)


def test_concurrent_first_open_migrates_once(db_path):
    import threading

    errors = []

    def opener():
        try:
            open_db(db_path)
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=opener) for _ in range(6)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert errors == []
    db = open_db(db_path)
    assert schema.applied_migrations(db) == schema.known_migrations()


def test_readonly_connection_cannot_write(db_path):
    open_db(db_path)
    ro = open_db(db_path, readonly=True)
    with pytest.raises(sqlite3.OperationalError):
        ro.execute("insert into system_state (key, value, updated_at) values ('a', 1, 'x')")


def test_system_state_is_typed(fresh_db):
    clock = FakeClock(1_795_132_800)
    state.set_(fresh_db, "backfill_page", 3, clock)
    state.set_(fresh_db, "watermark_iso", "2026-11-20T00:00:00.000Z", clock)
    state.set_(fresh_db, "custom_flag", True, clock)
    assert state.get(fresh_db, "backfill_page") == 3
    assert isinstance(state.get(fresh_db, "backfill_page"), int)
    assert state.get(fresh_db, "custom_flag") == 1
    assert state.get(fresh_db, "missing", default=0) == 0
    with pytest.raises(TypeError):
        state.set_(fresh_db, "backfill_page", "3")
    with pytest.raises(TypeError):
        state.set_(fresh_db, "anything", {"a": 1})
    row = fresh_db.execute("select typeof(value), updated_at from system_state "
                           "where key = 'backfill_page'").fetchone()
    assert row == ("integer", "2026-11-20T00:00:00.000Z")
    state.set_(fresh_db, "backfill_page", 4, clock)
    assert state.get_all(fresh_db)["backfill_page"] == 4


def test_runs_written_at_start_and_finish(fresh_db):
    clock = FakeClock(1_795_132_800)
    run = runs.Run(fresh_db, "backfill", clock)
    row = fresh_db["runs"].get(run.id)
    assert row["outcome"] == "running" and row["finished_at"] is None
    run.stats.requests = 3
    run.stats.tokens_consumed = 17
    run.stats.deals_saved = 2
    run.stats.skip_reasons.update({"no_live_used_offer": 2, "ghost_offer": 1})
    clock.advance(12)
    summary = run.finish("done")
    assert summary["duration_s"] == 12
    last = runs.last_runs(fresh_db)[0]
    assert last["outcome"] == "done" and last["tokens_consumed"] == 17
    assert last["deals_skipped"] == 3
    assert last["skip_reasons"] == {"ghost_offer": 1, "no_live_used_offer": 2}


def test_database_at_migration_001_is_migrated_forward(db_path):
    raw = sqlite_utils.Database(db_path)
    schema.migrations.apply(raw, stop_before="002_closing_fee_estimated")
    raw["deals"].insert({"asin": "0000000001", "status": "deal", "profit_cents": 5})
    assert "closing_fee_estimated" not in raw["deals"].columns_dict
    raw.conn.close()
    db = open_db(db_path)
    assert "closing_fee_estimated" in db["deals"].columns_dict
    assert db["deals"].get("0000000001")["profit_cents"] == 5
    assert schema.applied_migrations(db) == schema.known_migrations()


def test_migrations_read_no_live_constants():
    """Each migration does forever what it did when it shipped: it may read its own frozen
    `M0xx_` literals, never a constant or helper that later code can change (the visibility
    rule, the sorts, the columns)."""
    import inspect

    from arbitrage_cli.store import schema

    live = {name for name, value in vars(schema).items()
            if not name.startswith(("M0", "_")) and not inspect.ismodule(value)
            and name != "migrations"}
    for m in schema.migrations._migrations:
        code = m.fn.__code__
        names = set(code.co_names)
        for const in code.co_consts:  # nested code (comprehensions) reads names too
            if inspect.iscode(const):
                names |= set(const.co_names)
        assert not names & live, (m.name, sorted(names & live))


def test_the_frozen_sort_indexes_are_the_query_layers_expressions():
    """The planner uses a partial index only for the exact expression the query emits."""
    from arbitrage_cli.store import frozen_sql, schema
    from arbitrage_cli.store.queries import sort_expr

    for sort, sql in zip(schema.INDEXED_SORTS, frozen_sql.M006_INDEXES):
        assert f"({sort_expr(sort, True)} desc, asin)" in sql


def test_the_visibility_column_and_explain_say_the_same_words(fresh_db):
    """One story (issue 25): the generated `visibility` column (SQL, migration 016) and the
    words explain and serve-json give (store/visibility.py) agree on every combination of
    the rule's inputs, each reason said once and no code left raw."""
    import itertools

    from arbitrage_cli.store import visibility

    reasons = [None, *visibility.REASON_WORDS, "some_new_reason"]
    rows = []
    for n, (status, reason, hidden, expired, suspicious, list_at, profit) in enumerate(
            itertools.product(("deal", "screened", "skipped"), reasons, (0, 1),
                              (None, "2026-01-01T00:00:00Z"), (0, 1), (None, 2500),
                              (None, -100, 500))):
        rows.append({"asin": f"{n:010d}", "status": status,
                     "skip_reason": None if status == "deal" else reason, "hidden": hidden,
                     "expired_at": expired, "price_suspicious": suspicious,
                     "list_at_cents": list_at, "avg_1yr_cents": list_at, "profit_cents": profit})
    fresh_db["deals"].insert_all(rows)
    stored = dict(fresh_db.execute("select asin, visibility from deals").fetchall())
    for row in rows:
        said = visibility.text(row)
        assert stored[row["asin"]] == said, row
        parts = said.split("; ")
        assert len(parts) == len(set(parts)) and "_" not in said.replace(
            "some_new_reason", "")  # each once, in words
        assert (said == "visible") == (fresh_db.execute(
            "select count(*) from visible_deals where asin = ?", [row["asin"]]
        ).fetchone()[0] == 1)
    assert stored["0000000000"] == "no used sale in the last year; not profitable"


_RULE_DB: dict = {}  # one database for every example: the rows are replaced each time


@settings(max_examples=300, deadline=None)
@given(rows=st.lists(st.fixed_dictionaries({
    "status": st.sampled_from(["deal", "screened", "skipped", "new"]),
    "hidden": st.sampled_from([0, 1]),
    "expired_at": st.one_of(st.none(), st.just("2026-01-01T00:00:00.000Z")),
    "price_suspicious": st.sampled_from([None, 0, 1]),
    "list_at_cents": st.one_of(st.none(), st.integers(-5, 5), st.integers(1, 10**6)),
    "avg_1yr_cents": st.one_of(st.none(), st.integers(-5, 5), st.integers(1, 10**6)),
    "profit_cents": st.one_of(st.none(), st.integers(-10**5, 10**5)),
}), min_size=1, max_size=30))
def test_the_python_visibility_rule_is_the_views(tmp_path_factory, rows):
    """One rule (store/visibility.py TERMS): the Python predicate reconcile and the benches
    use says what the visible_deals view says, on random rows."""
    from arbitrage_cli.store import visibility

    db = _RULE_DB.get("db") or _RULE_DB.setdefault(
        "db", open_db(str(tmp_path_factory.mktemp("v") / "deals.db")))
    db.execute("delete from deals")
    db["deals"].insert_all({"asin": f"{i:010d}", **r} for i, r in enumerate(rows))
    shown = {a for a, in db.execute("select asin from visible_deals")}
    assert shown == {f"{i:010d}" for i, r in enumerate(rows) if visibility.visible(r)}
    assert schema.VISIBLE_WHERE == visibility.VISIBLE_WHERE

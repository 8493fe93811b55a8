"""The counts kept by triggers (migration 014) agree with counting the rows, always.

status, /api/status and the API's default total read them instead of counting: if a trigger
missed one kind of change, every one of those numbers would drift. Random writes of every kind
the program (or a user in the sqlite3 shell) makes, compared with a fresh count after each.
"""

from __future__ import annotations

import random

import pytest

from arbitrage_cli.store import counts, open_db, queries
from arbitrage_cli.store.queries import DealFilters
from arbitrage_cli.store.status import gather

STATUSES = ["deal", "deal", "deal", "screened", "skipped"]
REASONS = [None, "not_profitable", "no_used_sale_1y", "ghost_offer"]


def _row(rng: random.Random, asin: str) -> dict:
    status = rng.choice(STATUSES)
    return {
        "asin": asin, "status": status,
        "skip_reason": None if status == "deal" else rng.choice(REASONS),
        "hidden": rng.choice([0, 0, 0, 1]),
        "expired_at": rng.choice([None, None, "2026-11-01T00:00:00.000Z"]),
        "price_suspicious": rng.choice([None, 0, 0, 1]),
        "list_at_cents": rng.choice([None, 0, 1500, 2500]),
        "avg_1yr_cents": rng.choice([None, 0, 2000]),
        "profit_cents": rng.choice([None, -200, 0, 300, 900]),
        "screen_bound_cents": rng.choice([None, -50, 0, 120]),
        "title": "A Book",
    }


def _fresh(db) -> dict[str, int]:
    """What the counts must be, counted the slow way, generation aside."""
    out = {"rows": db.execute("select count(*) from deals").fetchone()[0]}
    where, params = queries.where_clause(DealFilters())
    out["visible"] = db.execute(f"select count(*) from deals where {where}",
                                params).fetchone()[0]
    where, params = queries.where_clause(DealFilters(include_marked=True))
    out["visible_all"] = db.execute(f"select count(*) from deals where {where}",
                                    params).fetchone()[0]
    out["screened_promising"] = db.execute(
        "select count(*) from deals where status = 'screened' and skip_reason = "
        "'not_profitable' and screen_bound_cents > 0").fetchone()[0]
    for status, reason, n in db.execute(
            "select status, skip_reason, count(*) from deals group by 1, 2"):
        key = "by:" + (f"screened: {reason or 'unknown'}" if status == "screened"
                       else reason or status)
        out[key] = out.get(key, 0) + n
    return out


def _kept(db) -> dict[str, int]:
    return {k: v for k, v in (counts.read(db) or {}).items() if k != "generation" and
            (v or not k.startswith("by:"))}


def test_the_kept_counts_equal_a_fresh_count_after_every_kind_of_write(tmp_path):
    rng = random.Random(24)
    db = open_db(tmp_path / "deals.db")
    asins = [f"B{i:09d}" for i in range(60)]
    generation = counts.generation(db)
    for step in range(400):
        op = rng.choice(["insert", "update", "update", "recalc", "delete", "mark", "unmark",
                         "remark", "gate", "rename"])
        asin = rng.choice(asins)
        if op == "insert":
            db.execute("insert or ignore into deals ({}) values ({})".format(
                ", ".join(_row(rng, asin)), ", ".join("?" * len(_row(rng, asin)))),
                list(_row(rng, asin).values()))
        elif op == "update":
            row = _row(rng, asin)
            field = rng.choice([k for k in row if k != "asin"])
            db.execute(f"update deals set {field} = ? where asin = ?", [row[field], asin])
        elif op == "recalc":  # one statement over every row, as recalc's SQL does
            db.execute("update deals set profit_cents = profit_cents - 400 + abs(random() % 800)")
        elif op == "delete":
            db.execute("delete from deals where asin = ?", [asin])
        elif op == "mark":
            db.execute("insert or replace into marks (asin, decision, decided_at) values "
                       "(?, ?, '2026-12-01T00:00:00.000Z')",
                       [asin, rng.choice(["bought", "ignored", "watch"])])
        elif op == "unmark":
            db.execute("delete from marks where asin = ?", [asin])
        elif op == "remark":
            db.execute("update marks set decision = ? where asin = ?",
                       [rng.choice(["bought", "ignored", "watch"]), asin])
        elif op == "gate":
            db.execute("insert or replace into user_restrictions (asin, status) values (?, ?)",
                       [asin, rng.choice(["restricted", "allowed"])])
        elif op == "rename":
            db.execute("update or ignore deals set asin = ? where asin = ?",
                       [rng.choice(asins), asin])
        assert _kept(db) == _fresh(db), f"step {step}: {op} {asin}"
        now = counts.generation(db)
        assert now >= generation  # it never goes back: a cached total is keyed by it
        generation = now


@pytest.mark.parametrize("filters", [DealFilters(), DealFilters(include_marked=True),
                                     DealFilters(sort="roi", descending=False)])
def test_unfiltered_totals_come_from_the_kept_counts_and_equal_the_rows(tmp_path, filters):
    rng = random.Random(7)
    db = open_db(tmp_path / "deals.db")
    for i in range(200):
        row = _row(rng, f"B{i:09d}")
        db.execute(f"insert into deals ({', '.join(row)}) values ({', '.join('?' * len(row))})",
                   list(row.values()))
    db.execute("insert into marks (asin, decision, decided_at) select asin, 'bought', "
               "'2026-12-01T00:00:00.000Z' from visible_deals limit 3")
    where, params = queries.where_clause(filters)
    assert queries.count(db, filters) == db.execute(
        f"select count(*) from deals where {where}", params).fetchone()[0]
    # the kept number is what count() answers: change it behind the triggers' back
    db.execute("update deal_counts set n = n + 1000 where name in ('visible', 'visible_all')")
    assert queries.count(db, filters) >= 1000
    assert gather(db)["counts"]["deals_visible"] >= 1000


def test_a_database_without_the_counts_table_still_counts(tmp_path):
    db = open_db(tmp_path / "deals.db")
    db.execute("insert into deals (asin, status, title) values ('B000000001', 'deal', 'x')")
    for name in list(db.execute("select name from sqlite_master where type = 'trigger' and "
                                "name like 'deal_counts%'")):
        db.execute(f"drop trigger {name[0]}")
    db.execute("drop table deal_counts")
    assert counts.read(db) is None and counts.generation(db) is None
    info = gather(db)["counts"]
    assert info["deals_raw"] == 1 and info["deals_by_status"] == {"deal": 1}


def test_a_table_transform_gets_its_count_triggers_back(tmp_path):
    d = open_db(str(tmp_path / "t.db"))
    d["deals"].insert({"asin": "0000000001", "status": "deal", "title": "Organic Chemistry"})
    d["deals"].transform(types={"title": str})  # a rebuilt table loses its triggers
    d.conn.close()
    d = open_db(str(tmp_path / "t.db"))  # ensure_shape puts them back and counts afresh
    d["deals"].insert({"asin": "0000000002", "status": "screened", "title": "Farming"})
    assert _kept(d) == _fresh(d) and _kept(d)["rows"] == 2

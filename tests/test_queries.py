"""The one deals query: visibility, filters, whitelisted sort, keyset pages, search, export."""

from __future__ import annotations

import csv
import io
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from arbitrage_cli.cli import main
from arbitrage_cli.store import open_db
from arbitrage_cli.store.queries import (SORTS, DealFilters, QueryError, count, decode_cursor,
                                         iter_deals, page)

def visible_asins(db):
    return {r[0] for r in db.execute("select asin from visible_deals")}


def test_visibility_rule_is_the_view(db):
    got = {r["asin"] for r in iter_deals(db, DealFilters())}
    assert got == visible_asins(db) and count(db) == len(got)


@pytest.mark.parametrize("sort", sorted(SORTS))
@pytest.mark.parametrize("descending", [True, False])
def test_keyset_pages_equal_the_full_listing(db, sort, descending):
    f = DealFilters(sort=sort, descending=descending)
    full = [r["asin"] for r in iter_deals(db, f)]
    paged, cursor, pages = [], None, 0
    while True:
        rows, cursor = page(db, f, 17, cursor)
        paged += [r["asin"] for r in rows]
        pages += 1
        if cursor is None:
            break
    assert paged == full and len(set(paged)) == len(paged) and pages == -(-len(full) // 17)
    values = [r[SORTS[sort]] for r in iter_deals(db, f)]
    present = [v for v in values if v is not None]
    assert present == sorted(present, reverse=descending)
    assert values[len(present):] == [None] * (len(values) - len(present))  # NULLs last


def test_filters(db):
    def asins(**kw):
        return [r for r in iter_deals(db, DealFilters(**kw))]

    assert all(r["profit_cents"] >= 2000 for r in asins(min_profit=20))
    assert all(r["roi_pct"] >= 50 for r in asins(min_roi=50))
    assert all(r["sales_rank"] is not None and r["sales_rank"] <= 100_000
               for r in asins(max_rank=100_000))
    assert all(r["drops_30"] >= 5 for r in asins(min_drops_30=5))
    assert all(r["deal_trust_pct"] >= 80 for r in asins(min_deal_trust=80))
    assert all(r["seller_quality"] >= 0.65 for r in asins(min_seller_quality=7))
    assert {r["condition"] for r in asins(conditions=(2, 3))} <= {2, 3}
    assert all(not r["amazon_selling"] for r in asins(hide_amazon=True))
    gated = {f"{i:010d}" for i in range(0, 300, 7)}
    assert not gated & {r["asin"] for r in asins(hide_gated=True)}
    assert gated & {r["asin"] for r in asins()}


def test_keyword_search_uses_full_text(db):
    law = asins = [r["title"] for r in iter_deals(db, DealFilters(keyword="law school"))]
    assert law and all("Law School" in t for t in asins)
    assert {r["asin"] for r in iter_deals(db, DealFilters(keyword="okafor"))} <= visible_asins(db)


@pytest.mark.parametrize("sort", ["profit", "roi", "rank", "margin"])
@pytest.mark.parametrize("keyword", ["law", "okafor", "science math", "17"])
def test_both_keyword_plans_give_the_same_pages(db, monkeypatch, sort, keyword):
    """A common word walks the sort index, a rare one joins from its matches: same answer."""
    from arbitrage_cli.store import queries

    def pages(threshold):
        monkeypatch.setattr(queries, "WALK_ABOVE_MATCHES", threshold)
        monkeypatch.setattr(db, "_plan_cache", None, raising=False)  # decided afresh
        f, out, cursor = DealFilters(keyword=keyword, sort=sort, min_profit=5), [], None
        while True:
            rows, cursor = page(db, f, 7, cursor)
            out += [r["asin"] for r in rows]
            if cursor is None:
                return out, queries.should_walk(db, f)

    walked, did_walk = pages(0)
    joined, did_join = pages(10**9)
    assert walked == joined and did_walk == (sort != "margin") and not did_join
    assert walked == [r["asin"] for r in iter_deals(
        db, DealFilters(keyword=keyword, sort=sort, min_profit=5))]
    sql, params = queries.select_sql(DealFilters(keyword=keyword, sort=sort), 51, None, True)
    if did_walk:
        plan = " ".join(r[3] for r in db.execute("explain query plan " + sql, params))
        assert f"idx_visible_{sort}" in plan and "TEMP B-TREE" not in plan, plan


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=30))
def test_any_keyword_is_safe(db, text):
    list(iter_deals(db, DealFilters(keyword=text), limit=5))


@pytest.mark.parametrize("cursor", ["!!!", "e30", "WzEsMl0", "bnVsbA", "W1tdLCJ4Il0"])
def test_malformed_cursor_is_a_query_error(db, cursor):
    with pytest.raises(QueryError):
        page(db, DealFilters(), 5, cursor)
        decode_cursor(cursor)


def test_bad_sort_and_conditions(db):
    with pytest.raises(QueryError, match="sort must be one of"):
        DealFilters(sort="profit_cents; drop table deals")
    with pytest.raises(QueryError):
        DealFilters(conditions=(99,))


def run(args, capsys):
    with pytest.raises(SystemExit) as exc:
        main(args)
    out, err = capsys.readouterr()
    return exc.value.code, out, err


def test_deals_command_formats(db, capsys):
    path = str(db.execute("pragma database_list").fetchone()[2])
    code, out, _ = run(["--db", path, "deals", "--min-profit", "30", "--sort", "roi"], capsys)
    arr = json.loads(out)
    assert code == 0 and arr and all(r["profit_cents"] >= 3000 for r in arr)
    code, out, _ = run(["--db", path, "deals", "--format", "ndjson", "--limit", "5"], capsys)
    lines = [json.loads(x) for x in out.splitlines()]
    assert len(lines) == 5 and all("asin" in x for x in lines)
    code, out, _ = run(["--db", path, "deals", "--format", "csv", "--limit", "3"], capsys)
    table = list(csv.DictReader(io.StringIO(out)))
    assert len(table) == 3 and table[0]["asin"]
    code, out, _ = run(["--db", path, "deals", "--format", "table", "--limit", "2"], capsys)
    assert code == 0 and "$" in out


def test_nothing_matches_is_an_empty_array_and_exit_0(db, capsys):
    path = str(db.execute("pragma database_list").fetchone()[2])
    code, out, _ = run(["--db", path, "deals", "--min-profit", "100000"], capsys)
    assert code == 0 and json.loads(out) == []
    code, out, _ = run(["--db", path, "deals", "--min-profit", "100000", "--format", "csv"],
                       capsys)
    assert code == 0 and out.startswith("asin,")


@pytest.mark.parametrize("args", [["--sort", "nope"], ["--format", "xml"],
                                  ["--condition", "42"]])
def test_bad_options_exit_2(db, capsys, args):
    path = str(db.execute("pragma database_list").fetchone()[2])
    assert run(["--db", path, "deals", *args], capsys)[0] == 2


def test_fts_survives_a_table_transform(tmp_path):
    d = open_db(str(tmp_path / "t.db"))
    d["deals"].insert({"asin": "0000000001", "status": "deal", "title": "Organic Chemistry"})
    d["deals"].transform(types={"title": str})  # drops the FTS triggers
    d.conn.close()
    d = open_db(str(tmp_path / "t.db"))  # ensure_shape puts them back
    d["deals"].insert({"asin": "0000000002", "status": "deal", "title": "Organic Farming"})
    hits = d.execute("select count(*) from deals_fts where deals_fts match 'organic'").fetchone()
    assert hits[0] == 2


def test_fts_follows_title_changes_but_not_metric_updates(tmp_path):
    d = open_db(str(tmp_path / "t.db"))
    sql = d.execute("select sql from sqlite_master where name = 'deals_au'").fetchone()[0]
    assert 'AFTER UPDATE OF "title", "author", "category" ON' in sql
    d["deals"].insert({"asin": "0000000001", "status": "deal", "title": "Organic Chemistry"})
    d.execute("update deals set title = 'Physical Chemistry' where asin = '0000000001'")
    match = "select count(*) from deals_fts where deals_fts match ?"
    assert d.execute(match, ["physical"]).fetchone()[0] == 1
    assert d.execute(match, ["organic"]).fetchone()[0] == 0


def test_keyword_plan_is_decided_again_after_a_commit(tmp_path, monkeypatch):
    from arbitrage_cli.store import queries

    monkeypatch.setattr(queries, "WALK_ABOVE_MATCHES", 2)
    path = str(tmp_path / "w.db")
    writer, reader = open_db(path), None
    row = {"status": "deal", "list_at_cents": 5000, "avg_1yr_cents": 4000, "profit_cents": 900}
    writer["deals"].insert_all([{"asin": f"000000000{i}", "title": "Organic Chemistry", **row}
                                for i in range(2)])
    reader = open_db(path, readonly=True)
    f = DealFilters(keyword="chemistry")
    assert not queries.should_walk(reader, f) and count(reader, f) == 2
    writer["deals"].insert_all([{"asin": f"000000001{i}", "title": "Chemistry", **row}
                                for i in range(3)])
    assert queries.should_walk(reader, f) and count(reader, f) == 5
    assert len(list(iter_deals(reader, f))) == 5


@settings(max_examples=60, deadline=None)
@given(title=st.text(max_size=30), author=st.one_of(st.none(), st.text(max_size=10)),
       roi=st.one_of(st.none(), st.floats(allow_nan=False, allow_infinity=False)),
       rank=st.one_of(st.none(), st.integers(-2**63, 2**63 - 1)))
def test_exports_written_by_sqlite_equal_pythons_json_and_csv(tmp_path_factory, title, author,
                                                              roi, rank):
    """deals --format json/ndjson/csv write tuples straight from the cursor: the same values
    as the rows every other reader gets (every float the same double), the same CSV text."""
    from arbitrage_cli import output
    from arbitrage_cli.store.queries import deal_columns, deal_tuples

    d = open_db(str(tmp_path_factory.mktemp("x") / "deals.db"))
    d["deals"].insert({"asin": "0000000001", "status": "deal", "title": title, "author": author,
                       "roi_pct": roi, "sales_rank": rank, "hidden": 0, "list_at_cents": 2000,
                       "avg_1yr_cents": 1800, "profit_cents": 500, "percent_down_pct": 1 / 3})
    f = DealFilters()
    rows = list(iter_deals(d, f))
    for fmt in ("json", "ndjson"):
        mine = io.StringIO()
        output.write_tuples(*deal_tuples(d, f), fmt, out=mine)
        assert (json.loads(mine.getvalue()) if fmt == "json" else
                [json.loads(x) for x in mine.getvalue().splitlines()]) == rows
    buf, mine = io.StringIO(), io.StringIO()
    output.write(iter_deals(d, f), "csv", deal_columns(d), out=buf)
    output.write_tuples(*deal_tuples(d, f), "csv", out=mine)
    assert mine.getvalue() == buf.getvalue()
    assert list(csv.DictReader(io.StringIO(mine.getvalue())))[0]["title"] == \
        title.replace("\r\n", "\n").replace("\r", "\n") or "\r" in title


@pytest.mark.parametrize("kw", [dict(min_deal_trust=90), dict(conditions=(5,)),
                                dict(max_rank=50_000, sort="roi"), dict(min_drops_30=11),
                                dict(min_seller_quality=9, descending=False),
                                dict(min_deal_trust=60, min_drops_30=3)])
def test_a_rare_threshold_reads_its_own_index_and_pages_the_same(db, kw, monkeypatch):
    """Few deals pass: the page starts from the filter's index (migration 015) instead of
    walking the sort index, and every page is the one the default plan gives."""
    from arbitrage_cli.store import queries

    f = DealFilters(**kw)
    assert queries.plan(db, f) and str(queries.plan(db, f)).startswith("idx_filter_")

    def pages():
        out, cursor = [], None
        while True:
            rows, cursor = page(db, f, 7, cursor)
            out.append([r["asin"] for r in rows])
            if not cursor:
                return out

    chosen = pages()
    monkeypatch.setattr(queries, "filter_index", lambda _db, _f: None)
    assert queries.plan(db, f) is False
    assert pages() == chosen and sum(map(len, chosen)) == count(db, f)


def test_deals_is_a_table_on_a_terminal_and_json_when_piped(db, capsys, monkeypatch):
    import sys

    path = str(db.execute("pragma database_list").fetchone()[2])
    code, out, _ = run(["--db", path, "deals", "--limit", "3"], capsys)
    assert code == 0 and len(json.loads(out)) == 3  # captured: not a terminal
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True, raising=False)
    monkeypatch.setenv("COLUMNS", "80")
    code, out, _ = run(["--db", path, "deals", "--limit", "3"], capsys)
    import re

    seen = re.sub(r"\x1b\[[0-9;]*m", "", out)  # a terminal gets colours
    assert code == 0 and "ASIN" in seen and "profit" in seen
    assert not seen.lstrip().startswith("[")
    assert all(len(line) <= 80 for line in seen.splitlines())


def test_a_condition_no_deal_can_have_names_the_ones_that_exist(db, capsys):
    path = str(db.execute("pragma database_list").fetchone()[2])
    code, out, err = run(["--db", path, "deals", "--condition", "9"], capsys)
    assert code == 2 and out == ""
    assert "deals are used copies" in err and "2 (Like New)" in err and "5 (Acceptable)" in err

"""Business settings: typed keys, defaults, validation that names key and range, recalc."""

from __future__ import annotations

import json

import pytest

from arbitrage_cli.analysis.business import FeeInputs
from arbitrage_cli.cli import main
from arbitrage_cli.errors import ConfigError
from arbitrage_cli.settings import parse
from arbitrage_cli.store import open_db
from tests.test_recalc import insert


def run(args, capsys):
    with pytest.raises(SystemExit) as exc:
        main(args)
    out, err = capsys.readouterr()
    return exc.value.code, out, err


@pytest.mark.parametrize("key,value,expected", [
    ("prep_fee", "3.00", ("prep_fee_cents", 300)), ("prep_fee", "$2.5", ("prep_fee_cents", 250)),
    ("prep_fee_cents", "275", ("prep_fee_cents", 275)), ("tax_pct", "6.5", ("tax_pct", 6.5)),
    ("tax_exempt", "yes", ("tax_exempt", 1)), ("markup_pct", "99.9", ("markup_pct", 99.9)),
    ("default_referral_pct", 15, ("default_referral_pct", 15.0)),
])
def test_parse_accepts(key, value, expected):
    assert parse(key, value) == expected


@pytest.mark.parametrize("key,value,fragment", [
    ("prep_fee", "-1", "prep_fee"), ("prep_fee", "abc", "dollars"),
    ("prep_fee", "1.234", "two decimals"), ("markup_pct", "100", "exclusive"),
    ("tax_pct", "101", "0 to 100"), ("tax_exempt", "maybe", "true or false"),
    ("bogus", "1", "unknown setting 'bogus'"), ("tax_pct", "nan", "percent"),
    ("prep_fee", True, "dollars"),
])
def test_parse_rejects_naming_key_and_range(key, value, fragment):
    with pytest.raises(ConfigError, match=fragment):
        parse(key, value)


def test_set_prep_fee_changes_every_profit_and_spends_no_tokens(db_path, capsys,
                                                                 monkeypatch):
    monkeypatch.delenv("KEEPA_API_KEY")
    db = open_db(db_path)
    for i in range(10):
        insert(db, f"{i:010d}", FeeInputs(2000 + i, 9000, 400, 15.0, 180))
    assert run(["--db", db_path, "recalc"], capsys)[0] == 0
    code, _, again = run(["--db", db_path, "recalc"], capsys)  # nothing new: none changed
    before = {r["asin"]: r["profit_cents"] for r in open_db(db_path)["deals"].rows}
    code, _, err = run(["--db", db_path, "settings", "set", "prep_fee", "3.00"], capsys)
    # both commands count alike: every deal recomputed, how many changed
    assert "recalculated all 10 deals: 0 changed" in again
    assert code == 0 and "recalculated all 10 deals: 10 changed" in err
    after = {r["asin"]: r["profit_cents"] for r in open_db(db_path)["deals"].rows}
    assert all(after[a] == before[a] - 25 for a in before)
    assert open_db(db_path).execute("select count(*) from keepa_tokens").fetchone()[0] == 0


def test_bad_value_exits_2_and_changes_nothing(db_path, capsys):
    open_db(db_path)
    code, _, err = run(["--db", db_path, "settings", "set", "prep_fee", "-1"], capsys)
    assert code == 2 and "prep_fee" in err and "from 0 to 1,000" in err
    assert open_db(db_path)["settings"].count == 0


def test_import_is_all_or_nothing(db_path, tmp_path, capsys):
    open_db(db_path)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"prep_fee": 3, "markup_pct": 150}))
    code, _, err = run(["--db", db_path, "settings", "import", str(bad)], capsys)
    assert code == 2 and "markup_pct" in err and str(bad) in err
    assert open_db(db_path)["settings"].count == 0
    broken = tmp_path / "broken.json"
    broken.write_text("{nope")
    assert run(["--db", db_path, "settings", "import", str(broken)], capsys)[0] == 2
    good = tmp_path / "good.json"
    good.write_text(json.dumps({"prep_fee": 3, "tax_exempt": True}))
    code, _, _ = run(["--db", db_path, "settings", "import", str(good), "--no-recalc"], capsys)
    assert code == 0
    code, out, _ = run(["--db", db_path, "settings", "show", "--json"], capsys)
    shown = json.loads(out)
    assert shown["settings"]["prep_fee_cents"] == 300 and shown["settings"]["tax_exempt"] is True
    assert shown["version"] == 1

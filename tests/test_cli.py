"""The `arbitrage` command: help, exit codes, status, locks, simulate-keepa."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from arbitrage_cli.cli import main, register
from arbitrage_cli.store import locks, open_db, schema
from tests.conftest import SENTINEL_KEY

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def run(args, capsys):
    with pytest.raises(SystemExit) as exc:
        main(args)
    out, err = capsys.readouterr()
    return exc.value.code, out, err


def command_names() -> list[str]:
    import typer.main

    group = typer.main.get_command(register())
    return sorted(group.commands)


def test_help_lists_every_command_and_each_has_an_example(capsys):
    code, out, _ = run(["--help"], capsys)
    assert code == 0
    for name in command_names():
        assert name in out
        code, sub, _ = run([name, "--help"], capsys)
        assert code == 0 and "Example" in sub, name
    assert {"status", "locks", "simulate-keepa"} <= set(command_names())


def test_command_lists_read_as_prose_at_80_columns(capsys, monkeypatch):
    """A summary runs on to the edge of its column: no break where the docstring's source
    line ended (typer's rich help keeps those)."""
    monkeypatch.setenv("COLUMNS", "80")
    for args in (["--help"], ["restrictions", "--help"], ["settings", "--help"],
                 ["locks", "--help"]):
        code, out, _ = run(args, capsys)
        assert code == 0
        lines = out.splitlines()
        assert max(len(line) for line in lines) <= 80
        start = next(k for k, line in enumerate(lines) if "─ Commands ─" in line)
        end = next(k for k in range(start, len(lines)) if lines[k].startswith("╰"))
        rows = [re.match(r"^│ ([a-z-]*) +(\S.*?) *│$", line) for line in lines[start + 1:end]]
        width = len(lines[start]) - 3 - rows[0].start(2)  # the text column's width
        for this, nxt in zip(rows, rows[1:]):
            if nxt.group(1):  # the next command's row
                continue
            # a continuation whose first word would have fitted on the line above
            assert len(this.group(2)) + 1 + len(nxt.group(2).split()[0]) > width, \
                (args, this.group(2), nxt.group(2))


def test_flags_show_no_type_in_any_help(capsys, monkeypatch):
    """`--help -h <bool>`, `--quiet -q <bool>`: a flag takes no value, so its help names none."""
    monkeypatch.setenv("COLUMNS", "80")
    for args in [[], *([name] for name in command_names())]:
        code, out, _ = run([*args, "--help"], capsys)
        assert code == 0 and "--help" in out
        assert "<bool>" not in out and "BOOLEAN" not in out, args
        assert not any("<int>" in line for line in out.splitlines() if "--verbose" in line)


def test_help_examples_fit_80_columns_unbroken():
    """An example is a line to copy: at 80 columns rich's help has 78 for it, so a longer
    one would break mid-command."""
    import importlib
    import inspect

    from arbitrage_cli.cli import COMMANDS

    for name, (module, attr, group) in COMMANDS.items():
        target = getattr(importlib.import_module(f"arbitrage_cli.commands.{module}"), attr)
        for fn in [c.callback for c in target.registered_commands] if group else [target]:
            for line in (inspect.getdoc(fn) or "").splitlines():
                assert not line.startswith("    ") or len(line) <= 78, (name, line)


def test_every_command_is_documented_in_the_readme():
    for name in command_names():
        assert f"`{name}" in README, name


def test_status_on_a_fresh_database(db_path, capsys):
    open_db(db_path)
    code, out, _ = run(["--db", db_path, "status"], capsys)
    assert code == 0 and f"(schema {schema.known_migrations()[-1]})" in " ".join(out.split())
    assert "0 raw, 0 visible" in out
    code, out, _ = run(["--db", db_path, "status", "--json"], capsys)
    info = json.loads(out)
    assert code == 0
    assert info["counts"]["deals_raw"] == 0 and info["tokens"] is None
    assert set(info) >= {"schema_version", "system_state", "tokens", "locks", "last_runs",
                         "counts"}


def test_db_from_environment(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("ARBITRAGE_DB", str(tmp_path / "env.db"))
    code, _, err = run(["status"], capsys)
    assert code == 2 and "env.db does not exist" in err  # a read never creates it
    code, _, _ = run(["settings", "set", "prep_fee", "1.5"], capsys)
    assert code == 0 and (tmp_path / "env.db").exists()
    code, out, _ = run(["status"], capsys)
    assert code == 0 and "env.db" in out


def test_newer_schema_exits_2(db_path, capsys):
    db = open_db(db_path)
    db["_sqlite_migrations"].insert({"migration_set": "arbitrage_cli", "name": "999_x",
                                     "applied_at": "x"})
    code, out, err = run(["--db", db_path, "status"], capsys)
    assert code == 2 and "newer version" in err and out == ""


def test_bad_db_directory_exits_2(tmp_path, capsys):
    code, _, err = run(["--db", str(tmp_path / "no" / "such" / "x.db"), "status"], capsys)
    assert code == 2 and "does not exist" in err


def test_unknown_option_exits_2(capsys):
    code, _, _ = run(["status", "--nope"], capsys)
    assert code == 2


def test_locks_list_and_release(db_path, capsys):
    db = open_db(db_path)
    code, out, _ = run(["--db", db_path, "locks", "list"], capsys)
    assert code == 0 and "no locks held" in out
    import os

    locks.acquire(db, "backfill", pid=os.getpid())  # a live owner: this test process
    code, out, _ = run(["--db", db_path, "locks", "list", "--json"], capsys)
    assert json.loads(out)[0]["name"] == "backfill"
    code, _, err = run(["--db", db_path, "locks", "release", "backfill"], capsys)
    assert code == 3 and "--force" in err
    code, _, err = run(["--db", db_path, "locks", "release", "backfill", "--force"], capsys)
    assert code == 0 and "released" in err
    assert locks.list_locks(db) == []


def test_dead_owner_lock_released_without_force(db_path, capsys):
    db = open_db(db_path)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    held = locks.acquire(db, "sync", pid=dead.pid)
    code, _, err = run(["--db", db_path, "locks", "release", "sync"], capsys)
    assert code == 3  # its OS lock is still held (by this process): alive, not released
    os.close(held.os_lock)  # what the kernel does when the owner dies
    code, _, err = run(["--db", db_path, "locks", "release", "sync"], capsys)
    assert code == 0 and "released" in err


def test_simulate_keepa_bad_faults_exit_2(capsys):
    code, _, err = run(["simulate-keepa", "--faults", "explode=1"], capsys)
    assert code == 2 and "unknown fault" in err


def test_simulate_keepa_builds_its_catalog_before_it_says_ready():
    """Issue 25: the catalog is built (with progress) before the ready line, so the first
    listing answers at once instead of building on a client's clock."""
    proc = subprocess.Popen([sys.executable, "-m", "arbitrage_cli", "simulate-keepa", "--port",
                             "0", "--products", "150"], stderr=subprocess.PIPE, text=True)
    try:
        lines = [proc.stderr.readline() for _ in range(3)]  # \r reads as a line end here
        assert lines[0].startswith("building the catalog: 100/150 products"), lines
        assert lines[1].startswith("building the catalog: 150/150 products"), lines
        line = lines[2]
        assert "Keepa simulator on" in line, lines
        url = re.search(r"(http://\S+)", line).group(1)
        started = time.monotonic()
        listing = requests.get(f"{url}/deal", timeout=10, params={
            "key": SENTINEL_KEY, "selection": json.dumps(
                {"domainId": 1, "priceTypes": [2], "dateRange": 3, "page": 0})})
        assert listing.status_code == 200 and time.monotonic() - started < 2
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_ctrl_c_while_the_simulator_builds_on_every_cpu_stops_it_and_its_workers():
    """A large catalog is built by worker processes; Ctrl-C (SIGINT to the terminal's
    process group) ends them all at once with 130 and one plain line, no traceback."""
    import signal

    proc = subprocess.Popen([sys.executable, "-m", "arbitrage_cli", "simulate-keepa", "--port",
                             "0", "--products", "3000"], stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        seen = ""
        while "building the catalog: 200/" not in seen:  # workers are building
            seen += proc.stderr.read(1) or pytest.fail(seen[-300:])
        os.killpg(proc.pid, signal.SIGINT)
        rest = proc.stderr.read()
        assert proc.wait(timeout=20) == 130
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert rest.strip().splitlines()[-1] == "stopped before the simulator was ready", rest
    assert "Traceback" not in rest and "Keepa simulator on" not in rest
    with pytest.raises(ProcessLookupError):  # no worker left behind
        os.killpg(proc.pid, 0)


def test_simulate_keepa_serves_http():
    proc = subprocess.Popen([sys.executable, "-m", "arbitrage_cli", "simulate-keepa", "--port",
                             "0", "--products", "5"], stderr=subprocess.PIPE, text=True)
    try:
        line = next(x for x in iter(proc.stderr.readline, "") if "simulator on" in x)
        url = re.search(r"(http://\S+)", line).group(1)
        deadline = time.time() + 10
        while True:
            try:
                body = requests.get(f"{url}/token", params={"key": SENTINEL_KEY}, timeout=5).json()
                break
            except requests.ConnectionError:
                assert time.time() < deadline
                time.sleep(0.1)
        assert body["refillRate"] == 20 and body["tokensLeft"] == 1200
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _imports(args: list[str], db: str) -> tuple[set[str], float]:
    """Modules a command imports and their total import time (python -X importtime)."""
    import subprocess
    import sys

    code = ("import sys; from arbitrage_cli.cli import main; "
            f"sys.argv = ['arbitrage', '--db', {db!r}, *{args!r}]; main()")
    err = subprocess.run([sys.executable, "-X", "importtime", "-c", code], capture_output=True,
                         text=True).stderr
    rows = [line.split("|") for line in err.splitlines() if line.startswith("import time:")
            and "self [us]" not in line]
    return {r[2].strip() for r in rows}, sum(int(r[0].split(":")[1]) for r in rows) / 1e6


@pytest.mark.parametrize("args", [["deals", "--limit", "50"], ["status", "--json"],
                                  ["marks", "--format", "json"], ["deals", "--format", "csv"],
                                  ["marks"], ["status"]])
def test_read_commands_start_without_the_heavy_libraries(tmp_path, args):
    """Every cron line and pipe pays start-up: no numpy (sqlite-utils would import it), no
    plotting, no web server, no rich for machine output, and the other commands' modules
    unloaded; total import time under a budget (0.15 s here on 2 cores; 3x for a busy CI)."""
    from arbitrage_cli.store import open_db

    db = str(tmp_path / "deals.db")
    open_db(db).conn.close()
    modules, seconds = _imports(args, db)
    heavy = {"numpy", "pandas", "matplotlib", "starlette", "uvicorn", "apprise",
             "arbitrage_cli.simulator", "arbitrage_cli.pipeline", "arbitrage_cli.keepa.client",
             "arbitrage_cli.commands.backfill", "arbitrage_cli.commands.serve"}
    if "--format" in args or "--json" in args or args[0] == "deals":  # no table: no rich
        heavy.add("rich.console")
    assert not {m for m in modules if m in heavy or m.split(".")[0] in heavy}
    assert seconds < 0.5, f"imports took {seconds:.2f} s"


def test_version_and_the_global_options_read_plainly(capsys, monkeypatch):
    from arbitrage_cli import __version__

    code, out, _ = run(["--version"], capsys)
    assert code == 0 and out.strip() == f"arbitrage_cli {__version__}"
    monkeypatch.setenv("COLUMNS", "80")
    code, out, _ = run(["--help"], capsys)
    lines = {line.split()[1]: line for line in out.splitlines()
             if line.startswith("│ --")}
    assert "<int>" not in lines["--verbose"] and "<bool>" not in lines["--quiet"]
    assert "URL" in lines["--keepa-url"] and "--version" in lines


def test_every_commands_help_reads_in_full_lines_at_80_columns(capsys, monkeypatch):
    """Prose paragraphs fill the line: none breaks where the source docstring did."""
    import typer.main

    monkeypatch.setenv("COLUMNS", "80")
    group = typer.main.get_command(register())
    paths = []
    for name, cmd in group.commands.items():
        paths.append([name])
        paths += [[name, sub] for sub in getattr(cmd, "commands", {})]
    for path in paths:
        code, out, _ = run([*path, "--help"], capsys)
        assert code == 0, path
        prose = out.split("╭")[0].split(" Example")[0].splitlines()  # examples keep lines
        for line, after in zip(prose, prose[1:]):
            text = line.strip()
            if text and after.strip() and not line.startswith("     ") \
                    and not text.startswith("Usage:"):
                assert len(line.rstrip()) > 60, (path, line)  # a break mid-sentence


def test_without_a_query_file_the_packaged_default_is_used_and_query_init_writes_it(
        tmp_path, monkeypatch, capsys):
    """A pip user has no repository to copy keepa_query.json from."""
    from arbitrage_cli import dealquery

    monkeypatch.chdir(tmp_path)
    q, source = dealquery.load(None)
    assert q == dealquery.validate(dealquery.default_query(), "x") and "packaged" in source
    code, _, err = run(["query", "init"], capsys)
    assert code == 0 and "wrote keepa_query.json" in err
    assert json.loads((tmp_path / "keepa_query.json").read_text()) == \
        dealquery.default_query()
    assert dealquery.load(None)[1] == "keepa_query.json"  # the file wins once it exists
    code, _, err = run(["query", "init"], capsys)
    assert code == 2 and "already exists (--force replaces it)" in err
    assert run(["query", "init", "--force"], capsys)[0] == 0
    code, _, err = run(["--db", str(tmp_path / "d.db"), "sync", "--query", "nosuch.json"],
                       capsys)
    assert code == 2 and "nosuch.json: no such file" in err and "pass --query" not in err

"""When the disk, not the program, is the problem (issue 23): a full disk or a read-only
database stops a writer with exit 2 and a message that names the place, before it spends a
token; a read-only file or filesystem still serves the read commands."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import uuid

import pytest

from arbitrage_cli.cli import main
from arbitrage_cli.errors import StorageError
from arbitrage_cli.simulator import start_simulator
from arbitrage_cli.store import open_db
from tests.conftest import SENTINEL_KEY
from tests.reliability import record
from tests.test_backfill import make_sim, query_file, run


def cli(args, capsys) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(args)
    out, err = capsys.readouterr()
    return exc.value.code, out, err


@contextlib.contextmanager
def mounted(tmp_path, size: str = "4m"):
    """A small tmpfs of our own (root with the right to mount, as in CI); skipped elsewhere."""
    point = tmp_path / f"mnt-{uuid.uuid4().hex[:6]}"
    point.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(point)],
                      capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here (needs root with CAP_SYS_ADMIN)")
    try:
        yield point
    finally:
        subprocess.run(["umount", "-l", str(point)], capture_output=True)


def test_a_full_database_stops_the_writer_before_any_token(tmp_path):
    """Before: backfill spent 10 tokens a try, then died "unexpected error: database or disk
    is full" (exit 1). The probe write finds it first."""
    sim, clock = make_sim()
    db = open_db(str(tmp_path / "d.db"))
    pages = db.execute("pragma page_count").fetchone()[0]
    db.execute(f"pragma max_page_count = {pages + 4}")  # the file may grow by 4 pages only
    with start_simulator(sim) as server:
        with pytest.raises(StorageError) as exc:
            run(db, server.url, clock)
    assert "disk full: free space near" in str(exc.value) and exc.value.exit_code == 2
    assert sim.log == []  # not a token spent
    record("storage", "backfill on a database that may grow by 4 pages only", 1,
           "stopped before the first request: 'disk full: free space near ...', 0 tokens")


def test_a_full_disk_exits_2_naming_the_place(tmp_path, capsys, monkeypatch):
    with mounted(tmp_path, "3m") as disk:
        db_path = str(disk / "deals.db")
        open_db(db_path).conn.close()
        filler = disk / "filler"
        with contextlib.suppress(OSError):  # fill what is left
            with open(filler, "wb") as fh:
                while True:
                    fh.write(b"\0" * 65536)
        sim, _ = make_sim()
        monkeypatch.setenv("KEEPA_API_KEY", SENTINEL_KEY)
        with start_simulator(sim) as server:
            code, _, err = cli(["--db", db_path, "--keepa-url", server.url, "backfill",
                                "--query", query_file(str(tmp_path / "q.db"))], capsys)
        assert code == 2 and "disk full: free space near" in err and str(disk) in err
        assert "unexpected" not in err and sim.log == []
    record("storage", "backfill on a full filesystem (tmpfs filled to the last byte)", 1,
           "exit 2 'disk full: free space near <mount>', 0 requests sent")


def backfilled(db_path: str):
    """A backfilled database at db_path, closed and checkpointed (nothing of ours holds the
    file open): (visible deals, the simulator)."""
    sim, clock = make_sim()
    db = open_db(db_path)
    with start_simulator(sim) as server:
        run(db, server.url, clock)
    rows = db.execute("select count(*) from visible_deals").fetchone()[0]
    db.execute("pragma wal_checkpoint(truncate)")
    db.conn.close()
    return rows, sim


@pytest.fixture()
def read_only(tmp_path, capsys, monkeypatch):
    """A database with deals on a filesystem then remounted read-only."""
    with mounted(tmp_path, "64m") as disk:
        db_path = str(disk / "deals.db")
        rows, sim = backfilled(db_path)
        assert subprocess.run(["mount", "-o", "remount,ro", str(disk)]).returncode == 0
        monkeypatch.setenv("KEEPA_API_KEY", SENTINEL_KEY)
        yield db_path, rows, sim


def test_on_a_read_only_filesystem_read_commands_still_read(read_only, capsys):
    db_path, rows, _ = read_only
    code, out, err = cli(["--db", db_path, "deals"], capsys)
    assert code == 0, err
    assert len(json.loads(out)) == rows
    code, out, err = cli(["--db", db_path, "status", "--json"], capsys)
    assert code == 0, err
    assert json.loads(out)["counts"]["deals_visible"] == rows
    record("storage", "`deals` and `status` on a filesystem remounted read-only", 2,
           f"both exit 0; all {rows} visible deals read")


@pytest.mark.parametrize("args", [["backfill"], ["sync"], ["recalc"]])
def test_on_a_read_only_database_writers_exit_2_saying_so(read_only, capsys, tmp_path, args):
    """Before: exit 1, "unexpected error: attempt to write a readonly database"."""
    db_path, _, sim = read_only
    extra = ["--query", query_file(str(tmp_path / "q.db"))] if args[0] != "recalc" else []
    with start_simulator(sim) as server:
        calls = len(sim.log)
        code, _, err = cli(["--db", db_path, "--keepa-url", server.url, *args, *extra], capsys)
    assert code == 2 and "read-only" in err and db_path in err, err
    assert "unexpected" not in err and len(sim.log) == calls
    assert not os.access(db_path, os.W_OK)
    record("storage", f"`{args[0]}` on a read-only filesystem", 1,
           "exit 2 naming the file and 'read-only', 0 requests sent")


@contextlib.contextmanager
def unwritable(path: str):
    """The database file itself cannot be written: mode 0444 for a user; for root (who
    ignores modes) the immutable attribute. Skipped where neither holds."""
    if os.geteuid() != 0:
        os.chmod(path, 0o444)
        try:
            yield
        finally:
            os.chmod(path, 0o644)
        return
    if subprocess.run(["chattr", "+i", path], capture_output=True).returncode:
        pytest.skip("root here, and this filesystem has no immutable attribute")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", path], capture_output=True)


def test_a_read_only_database_file_stops_writers_and_serves_readers(tmp_path, capsys,
                                                                     monkeypatch):
    """Before: `backfill` on a read-only deals.db exited 1, "unexpected error: attempt to
    write a readonly database". Now exit 2 naming the file; `deals` and `status` read."""
    db_path = str(tmp_path / "deals.db")
    rows, sim = backfilled(db_path)
    monkeypatch.setenv("KEEPA_API_KEY", SENTINEL_KEY)
    with unwritable(db_path), start_simulator(sim) as server:
        calls = len(sim.log)
        code, _, err = cli(["--db", db_path, "--keepa-url", server.url, "backfill", "--query",
                            query_file(str(tmp_path / "q.db"))], capsys)
        assert code == 2 and "read-only" in err and db_path in err, err
        assert "unexpected" not in err and len(sim.log) == calls
        code, out, err = cli(["--db", db_path, "deals"], capsys)
        assert code == 0, err
        assert len(json.loads(out)) == rows
    record("storage", "`backfill`, then `deals`, on a read-only deals.db file", 2,
           f"backfill exit 2 naming the file and 'read-only', 0 requests; deals exit 0, all "
           f"{rows} visible deals read")

"""Opening deals.db: WAL, busy timeout, foreign keys, migrations first (R15, R21)."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import sqlite_utils

from arbitrage_cli.errors import ConfigError

BUSY_TIMEOUT_S = 30.0


def _connect(path: str, readonly: bool) -> sqlite3.Connection:
    if readonly:
        uri = f"file:{Path(path).resolve()}?mode=ro"
        conn = sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_S, isolation_level=None,
                               check_same_thread=False)
    else:
        conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None,
                               check_same_thread=False)
    conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
    conn.execute("PRAGMA foreign_keys = ON")
    return conn


def _wal(conn: sqlite3.Connection) -> None:
    """Switch to WAL once. The switch needs the file to itself, and SQLite answers "locked"
    at once (no busy wait) while another process is migrating a fresh file: wait for it."""
    deadline = time.monotonic() + BUSY_TIMEOUT_S
    while True:
        try:
            if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def open_db(path: str | os.PathLike, *, readonly: bool = False, migrate: bool = True,
            must_exist: bool = False) -> sqlite_utils.Database:
    """Open (creating and migrating) deals.db. `must_exist`: a command that only reads
    refuses a path with no database instead of creating an empty one (a typo'd --db).

    The connection runs in driver autocommit mode: every write is either a single statement or
    inside an explicit `immediate()` block, so one chunk lands whole or not at all.
    """
    from arbitrage_cli.store import schema

    path = str(path)
    if path != ":memory:":
        parent = Path(path).resolve().parent
        if not parent.is_dir():
            raise ConfigError(f"database {path}: directory {parent} does not exist")
        if (readonly or must_exist) and not Path(path).exists():
            raise ConfigError(f"database {path} does not exist (check --db / ARBITRAGE_DB, "
                              f"or run backfill or demo first)")
    try:
        conn = _connect(path, readonly)
        if not readonly and path != ":memory:":
            _wal(conn)
            conn.execute("PRAGMA synchronous = NORMAL")
        db = sqlite_utils.Database(conn)
    except sqlite3.DatabaseError as exc:
        raise ConfigError(f"database {path}: cannot open ({exc})") from None
    if readonly:
        schema.check_version(db)
    elif migrate:
        schema.migrate(db)
    if path != ":memory:" and (readonly or migrate):
        from arbitrage_cli import money
        from arbitrage_cli.store import marketplace

        try:
            money.use_marketplace(marketplace.stored(db))  # amounts shown in its currency
        except sqlite3.OperationalError:  # a read-only view of a database not yet migrated
            money.use_marketplace(None)
    return db


@contextlib.contextmanager
def immediate(db: sqlite_utils.Database) -> Iterator[sqlite_utils.Database]:
    """A write transaction that takes the write lock up front (no upgrade deadlocks).

    Nested sqlite-utils writes inside it become savepoints of this transaction; an `immediate`
    inside an open transaction becomes a savepoint too.
    """
    if db.conn.in_transaction:
        with db.atomic():
            yield db
        return
    db.conn.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        if db.conn.in_transaction:
            db.conn.execute("ROLLBACK")
        raise
    else:
        db.conn.execute("COMMIT")

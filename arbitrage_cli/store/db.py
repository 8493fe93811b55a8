"""Opening deals.db: WAL, busy timeout, foreign keys, migrations first (R15, R21)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
import os
import shutil
import sqlite3
import time
from pathlib import Path

import sqlite_utils

from arbitrage_cli import money
from arbitrage_cli.errors import ArbitrageError, ConfigError, StorageError
from arbitrage_cli.store.conn import db_path, immediate  # noqa: F401 - immediate: re-exported
from arbitrage_cli.store import marketplace, schema

BUSY_TIMEOUT_S = 30.0
# A writer checks it can add this much to the database before it spends a token: about a
# chunk's rows and payloads (two products with three years of history).
WRITE_PROBE_BYTES = 512 * 1024


def storage_error(exc: BaseException, path: str | None) -> StorageError | None:
    """The people's message for SQLite's "disk full" / "read-only" errors, or None."""
    text = str(exc).lower()
    where = Path(path).resolve() if path and path != ":memory:" else None
    if "disk i/o error" in text and where is not None:  # creating -wal/-shm on a full disk
        with contextlib.suppress(OSError):
            if shutil.disk_usage(where.parent).free < 4 * WRITE_PROBE_BYTES:
                text = "database or disk is full"
    if "database or disk is full" in text or "no space left" in text:
        free = ""
        if where is not None:
            with contextlib.suppress(OSError):
                free = f" ({shutil.disk_usage(where.parent).free // 2**20} MiB free)"
        return StorageError(f"disk full: free space near {where.parent if where else path}"
                            f"{free}; nothing more was bought, run again once there is room")
    if "readonly" in text or "read-only" in text or (
            "unable to open" in text and where is not None and not writable(str(where))):
        return StorageError(f"database {where or path} is read-only: it cannot be written "
                            f"(its file or filesystem); read commands (deals, status) still "
                            f"read it")
    return None


def check_writable(db: sqlite_utils.Database) -> None:
    """Before a writer spends a token: can the database take a chunk? The disk near it must
    have room for a few chunks, and a chunk-sized write must be allowed (rolled back at once:
    a read-only file, or a database at its size limit, fails it). StorageError if not."""
    path = db_path(db)
    if path and path != ":memory:":
        with contextlib.suppress(OSError):
            if shutil.disk_usage(Path(path).resolve().parent).free < 4 * WRITE_PROBE_BYTES:
                raise storage_error(sqlite3.OperationalError("database or disk is full"), path)
    try:
        db.conn.execute("BEGIN IMMEDIATE")
        try:
            db.conn.execute("create table if not exists _write_probe (b blob)")
            db.conn.execute("insert into _write_probe values (zeroblob(?))", [WRITE_PROBE_BYTES])
        finally:
            if db.conn.in_transaction:  # SQLite rolls back itself after "disk full"
                db.conn.execute("ROLLBACK")
    except sqlite3.OperationalError as exc:
        raise storage_error(exc, path) or exc from None


def writable(path: str) -> bool:
    """The file and its directory (WAL's -wal and -shm files live beside it) can be written:
    false on a read-only filesystem, even for root."""
    p = Path(path).resolve()
    return os.access(p.parent, os.W_OK) and (not p.exists() or os.access(p, os.W_OK))


def _connect(path: str, readonly: bool) -> sqlite3.Connection:
    if readonly:
        resolved = Path(path).resolve()
        # On a read-only filesystem a WAL database without its -shm file opens only as
        # immutable: nobody can change it there anyway.
        query = "mode=ro" if writable(path) or Path(f"{resolved}-shm").exists() \
            else "mode=ro&immutable=1"
        conn = sqlite3.connect(f"file:{resolved}?{query}", uri=True, timeout=BUSY_TIMEOUT_S,
                               isolation_level=None, check_same_thread=False)
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
    path = str(path)
    if path != ":memory:":
        parent = Path(path).resolve().parent
        if not parent.is_dir():
            raise ConfigError(f"database {path}: directory {parent} does not exist")
        if (readonly or must_exist) and not Path(path).exists():
            raise ConfigError(f"database {path} does not exist (check --db / ARBITRAGE_DB, "
                              f"or run backfill or demo first)")
        if must_exist and not readonly and not writable(path):
            readonly = True  # a read command on a read-only file or filesystem still reads
    try:
        conn = _connect(path, readonly)
        if not readonly and path != ":memory:":
            _wal(conn)
            conn.execute("PRAGMA synchronous = NORMAL")
        db = sqlite_utils.Database(conn, execute_plugins=False)
    except sqlite3.DatabaseError as exc:
        raise storage_error(exc, path) or ConfigError(f"database {path}: cannot open ({exc})"
                                                      ) from None
    if readonly:
        schema.check_version(db)
    elif migrate:
        schema.migrate(db)
    if path != ":memory:" and (readonly or migrate):
        try:
            money.use_marketplace(marketplace.stored(db))  # amounts shown in its currency
        except sqlite3.OperationalError:  # a read-only view of a database not yet migrated
            money.use_marketplace(None)
    return db



@contextlib.contextmanager
def kept_only_if_used(path: str | os.PathLike) -> Iterator[None]:
    """A writer's first run on a new file that fails with a configuration or usage error
    (a refused --keepa-url, a rejected key) before any product is stored leaves no database
    and no lock file behind: the next attempt starts as clean as the first."""
    path = str(path)
    fresh = path != ":memory:" and not os.path.exists(path)
    try:
        yield
    except ArbitrageError:
        if fresh and os.path.exists(path) and not _holds_products(path):
            for leftover in [path, f"{path}-wal", f"{path}-shm",
                             *map(str, Path(path).parent.glob(Path(path).name + ".*.lock"))]:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(leftover)
        raise


def _holds_products(path: str) -> bool:
    try:
        with contextlib.closing(sqlite3.connect(path, timeout=5)) as conn:
            return conn.execute("select exists (select 1 from deals)").fetchone()[0] == 1
    except sqlite3.Error:
        return True  # unreadable: not ours to delete

"""What a connection is, below the schema and the opening of databases (both use it): its
file, and its write transaction."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import sqlite_utils


def db_path(db: sqlite_utils.Database) -> str:
    row = db.execute("pragma database_list").fetchone()
    return row[2] or ":memory:"


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

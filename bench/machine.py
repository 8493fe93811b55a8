"""What a benchmark ran on (reported next to every number)."""

from __future__ import annotations

import os
import platform
import sqlite3
import sys


def describe() -> dict:
    mem = None
    try:
        with open("/proc/meminfo") as fh:
            mem = round(int(fh.readline().split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next((ln.split(":", 1)[1].strip() for ln in fh if ln.startswith("model name")),
                       cpu)
    except OSError:
        pass
    return {"cores": os.cpu_count(), "memory_gib": mem, "cpu": cpu,
            "python": sys.version.split()[0], "sqlite": sqlite3.sqlite_version,
            "platform": platform.platform()}


def insert_batches(path: str, sql: str, rows, batch_size: int = 20_000) -> None:
    """Bulk-load benchmark rows into a fresh deals.db, one transaction per batch."""
    from arbitrage_cli.store import open_db

    db = open_db(path)
    batch = []
    for row in rows:
        batch.append(row)
        if len(batch) == batch_size:
            db.conn.execute("begin")
            db.conn.executemany(sql, batch)
            db.conn.execute("commit")
            batch = []
    if batch:
        db.conn.execute("begin")
        db.conn.executemany(sql, batch)
        db.conn.execute("commit")
    db.conn.close()

"""The settings table: stored values override the defaults; every change bumps a version
that recalc stamps on each row."""

from __future__ import annotations

import dataclasses
from typing import Any

import sqlite_utils

from arbitrage_cli.analysis.business import BusinessSettings
from arbitrage_cli.clock import Clock, SystemClock
from arbitrage_cli.settings import from_stored
from arbitrage_cli.store import state
from arbitrage_cli.store.db import immediate
from arbitrage_cli.timefmt import iso_utc



def load(db: sqlite_utils.Database) -> BusinessSettings:
    return from_stored(dict(db.execute("select key, value from settings")))


def version(db: sqlite_utils.Database) -> int:
    return state.get(db, "settings_version", 0)


def stored(db: sqlite_utils.Database) -> dict[str, Any]:
    return dict(db.execute("select key, value from settings"))


def save(db: sqlite_utils.Database, values: dict[str, Any], clock: Clock | None = None) -> int:
    """Write already-validated values all together; returns the new settings version."""
    clock = clock or SystemClock()
    known = {f.name for f in dataclasses.fields(BusinessSettings)}
    assert set(values) <= known, set(values) - known
    now = iso_utc(clock.now())
    with immediate(db):
        for key, value in values.items():
            db.execute("insert into settings (key, value, updated_at) values (?, ?, ?) "
                       "on conflict(key) do update set value = excluded.value, "
                       "updated_at = excluded.updated_at", [key, value, now])
        new_version = version(db) + 1
        state.set_(db, "settings_version", new_version, clock)
    return new_version

"""runs: one row per command that does work, written at start and at finish."""

from __future__ import annotations

import collections
import dataclasses
import json
import os
import socket

import sqlite_utils

from arbitrage_cli.clock import Clock, SystemClock
from arbitrage_cli.timefmt import iso_utc


@dataclasses.dataclass
class RunStats:
    requests: int = 0
    tokens_consumed: int = 0
    deals_saved: int = 0
    skip_reasons: collections.Counter = dataclasses.field(default_factory=collections.Counter)
    counters: dict = dataclasses.field(default_factory=dict)

    @property
    def deals_skipped(self) -> int:
        return sum(self.skip_reasons.values())


class Run:
    def __init__(self, db: sqlite_utils.Database, command: str, clock: Clock | None = None):
        self.db, self.command = db, command
        self.clock = clock or SystemClock()
        self.stats = RunStats()
        self.started = self.clock.now()
        self.id = db["runs"].insert({
            "command": command, "started_at": iso_utc(self.started), "outcome": "running",
            "pid": os.getpid(), "host": socket.gethostname(),
        }).last_pk
        self.outcome: str | None = None

    def finish(self, outcome: str, message: str | None = None) -> dict:
        self.outcome = outcome
        s = self.stats
        row = {
            "finished_at": iso_utc(self.clock.now()), "outcome": outcome,
            "requests": s.requests, "tokens_consumed": s.tokens_consumed,
            "deals_saved": s.deals_saved, "deals_skipped": s.deals_skipped,
            "skip_reasons": json.dumps(dict(sorted(s.skip_reasons.items()))),
            "counters": json.dumps(s.counters, sort_keys=True), "message": message,
        }
        self.db["runs"].update(self.id, row)
        # The summary carries them as objects: the table stores text
        return {"id": self.id, "command": self.command, **row,
                "skip_reasons": dict(sorted(s.skip_reasons.items())),
                "counters": dict(sorted(s.counters.items())),
                "duration_s": round(self.clock.now() - self.started, 3)}


def last_runs(db: sqlite_utils.Database, limit: int = 10, command: str | None = None
              ) -> list[dict]:
    where, params = ("where command = ?", [command]) if command else ("", [])
    rows = db.query(f"select * from runs {where} order by id desc limit ?", params + [limit])
    out = []
    for row in rows:
        for key in ("skip_reasons", "counters"):
            row[key] = json.loads(row[key]) if row[key] else {}
        out.append(row)
    return out


def holds_demo(db: sqlite_utils.Database) -> bool:
    """The database holds `arbitrage demo`'s simulated deals."""
    return db.execute("select 1 from runs where command = 'demo' limit 1").fetchone() is not None


def close_dead(db: sqlite_utils.Database, commands: tuple[str, ...], own_id: int,
               now: float, last_heartbeat: str | None = None) -> int:
    """Runs of `commands` still 'running' when a new one holds their lock died without a
    word (SIGKILL, power loss): recorded as 'killed', with their pid and last heartbeat."""
    marks = ", ".join("?" * len(commands))
    dead = list(db.query(f"select id, pid, host, started_at from runs where outcome = "
                         f"'running' and command in ({marks}) and id != ?",
                         [*commands, own_id]))
    for r in dead:
        seen = last_heartbeat if last_heartbeat and last_heartbeat >= r["started_at"] \
            else r["started_at"]
        db["runs"].update(r["id"], {
            "outcome": "killed", "finished_at": iso_utc(now),
            "message": f"process {r['pid']} on {r['host']} ended without finishing (last "
                       f"sign of life {seen}); the next run resumed its work"})
    return len(dead)

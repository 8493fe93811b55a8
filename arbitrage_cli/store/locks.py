"""Advisory locks as rows (R9): atomic acquire, a leased heartbeat, healing takeover.

A lock is taken over only when its lease has expired AND its owner is gone: on the same host
the PID must be dead; from another host (a shared network drive) the lease must have been
expired for `foreign_grace_s` too, since we cannot see that process.
"""

from __future__ import annotations

import dataclasses
import os
import socket
import sqlite3
import threading
import uuid

import sqlite_utils

from arbitrage_cli.clock import Clock, SystemClock
from arbitrage_cli.errors import LockHeld, LockLost
from arbitrage_cli.timefmt import iso_utc, parse_iso

DEFAULT_LEASE_S = 300.0
FOREIGN_GRACE_S = 3600.0


def pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (exited, not yet reaped) holds its PID but will never heartbeat again.
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


@dataclasses.dataclass
class LockInfo:
    name: str
    owner: str
    pid: int
    host: str
    acquired_at: str
    heartbeat_at: str
    expires_at: str
    expired: bool
    owner_alive: bool | None  # None: another host, cannot tell

    def describe(self) -> str:
        alive = {True: "alive", False: "dead", None: "unknown (other host)"}[self.owner_alive]
        return (f"lock '{self.name}' held by {self.owner} (pid {self.pid} on {self.host}, "
                f"{alive}) since {self.acquired_at}, lease until {self.expires_at}")


def list_locks(db: sqlite_utils.Database, clock: Clock | None = None) -> list[LockInfo]:
    now = iso_utc((clock or SystemClock()).now())
    host = socket.gethostname()
    out = []
    for row in db.query("select * from locks order by name"):
        same_host = row["host"] == host
        out.append(LockInfo(**row, expired=row["expires_at"] < now,
                            owner_alive=pid_alive(row["pid"]) if same_host else None))
    return out


class Lock:
    """A held lock: `with acquire(db, 'backfill') as lock: ... lock.check()`."""

    def __init__(self, db: sqlite_utils.Database, name: str, owner: str, lease_s: float,
                 clock: Clock):
        self.db, self.name, self.owner, self.lease_s, self.clock = db, name, owner, lease_s, clock
        self.lost = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def heartbeat(self, db: sqlite_utils.Database | None = None) -> None:
        """Extend the lease; marks the lock lost if someone else owns the row now."""
        now = self.clock.now()
        cur = (db or self.db).execute(
            "update locks set heartbeat_at = ?, expires_at = ? where name = ? and owner = ?",
            [iso_utc(now), iso_utc(now + self.lease_s), self.name, self.owner],
        )
        if cur.rowcount != 1:
            self.lost = True

    def check(self) -> None:
        if self.lost:
            raise LockLost(f"lock '{self.name}' was taken over by another process; stopping")

    def start_heartbeat(self, db_path: str, interval_s: float | None = None) -> None:
        """Heartbeat from a thread on its own connection, so a slow HTTP call keeps the lease."""
        interval = interval_s if interval_s is not None else max(1.0, self.lease_s / 3)

        def beat() -> None:
            conn = sqlite3.connect(db_path, timeout=30, isolation_level=None)
            other = sqlite_utils.Database(conn)
            try:
                while not self._stop.wait(interval):
                    try:
                        self.heartbeat(other)
                    except sqlite3.OperationalError:
                        pass  # busy: try again at the next beat, the lease has slack
            finally:
                conn.close()

        self._thread = threading.Thread(target=beat, name=f"lock-{self.name}", daemon=True)
        self._thread.start()

    def release(self) -> bool:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        cur = self.db.execute("delete from locks where name = ? and owner = ?",
                              [self.name, self.owner])
        return cur.rowcount == 1

    def __enter__(self) -> Lock:
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def new_owner(command: str) -> str:
    return f"{command}-{uuid.uuid4().hex[:12]}"


def acquire(db: sqlite_utils.Database, name: str, *, owner: str | None = None,
            lease_s: float = DEFAULT_LEASE_S, clock: Clock | None = None,
            pid: int | None = None, foreign_grace_s: float = FOREIGN_GRACE_S) -> Lock:
    """Take lock `name` or raise LockHeld naming the holder. Never waits."""
    clock = clock or SystemClock()
    owner = owner or new_owner(name)
    pid = os.getpid() if pid is None else pid
    host = socket.gethostname()
    now = clock.now()
    row = [name, owner, pid, host, iso_utc(now), iso_utc(now), iso_utc(now + lease_s)]
    # Fresh lock: one conditional INSERT; whoever inserts first owns it.
    cur = db.execute(
        "insert into locks (name, owner, pid, host, acquired_at, heartbeat_at, expires_at) "
        "values (?, ?, ?, ?, ?, ?, ?) on conflict(name) do nothing", row)
    if cur.rowcount == 1:
        return Lock(db, name, owner, lease_s, clock)
    held = next((lk for lk in list_locks(db, clock) if lk.name == name), None)
    if held is None:  # released between our two statements: try once more
        return acquire(db, name, owner=owner, lease_s=lease_s, clock=clock, pid=pid,
                       foreign_grace_s=foreign_grace_s)
    if _can_take_over(held, now, foreign_grace_s):
        # Compare-and-swap on the old owner: of two contenders only one matches.
        cur = db.execute(
            "update locks set owner = ?, pid = ?, host = ?, acquired_at = ?, heartbeat_at = ?, "
            "expires_at = ? where name = ? and owner = ? and expires_at = ?",
            row[1:] + [name, held.owner, held.expires_at])
        if cur.rowcount == 1:
            return Lock(db, name, owner, lease_s, clock)
    raise LockHeld(held.describe())


def _can_take_over(held: LockInfo, now: float, foreign_grace_s: float) -> bool:
    if not held.expired:
        return False
    if held.owner_alive is None:
        return parse_iso(held.expires_at) + foreign_grace_s < now
    return not held.owner_alive


def force_release(db: sqlite_utils.Database, name: str) -> bool:
    return db.execute("delete from locks where name = ?", [name]).rowcount == 1

"""Advisory locks as rows (R9): atomic acquire, a leased heartbeat, healing takeover.

For a database file, the holder also keeps an OS lock (`fcntl.flock`) on a file beside it
(`deals.db.backfill.lock`) for the life of its process. The kernel drops it when the process
dies, however it dies, so a row whose file lock is free has a dead owner, even when its PID was
reused (or is PID 1 in a container), and is taken over at once. The row stays what
`status` and `locks list` show. Without a file (`:memory:`), or for an owner on another
host (a shared network drive, where flock cannot be trusted), the old rule holds: the lease
must have expired and the PID be dead, or from another host expired `foreign_grace_s` ago.
"""

from __future__ import annotations

import dataclasses
import fcntl
import os
import socket
import sqlite3
import threading
import time
import uuid

import sqlite_utils

from arbitrage_cli.clock import Clock, SystemClock
from arbitrage_cli.errors import LockHeld, LockLost
from arbitrage_cli.timefmt import iso_utc, parse_iso
from arbitrage_cli.store.conn import db_path

DEFAULT_LEASE_S = 300.0
FOREIGN_GRACE_S = 3600.0
FLOCK_TRIES, FLOCK_RETRY_S = 5, 0.05  # a reader's probe lasts microseconds: 0.2 s is plenty


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
                            owner_alive=_alive(db, row) if same_host else None))
    return out


def _alive(db: sqlite_utils.Database, row: dict) -> bool:
    """Whether the owner on this host lives: its OS lock held (the kernel knows), else, with
    no lock file (or none we may read), its PID. The probe opens the file read-only and asks
    for a shared lock: a reader without write access can ask, and a writer that starts in
    that instant retries (`_os_lock`) instead of giving up."""
    path = lock_file(db, row["name"])
    if path is None or not os.path.exists(path):
        return pid_alive(row["pid"])
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return pid_alive(row["pid"])
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing drops our shared lock at once
    return False


class Lock:
    """A held lock: `with acquire(db, 'backfill') as lock: ... lock.check()`."""

    def __init__(self, db: sqlite_utils.Database, name: str, owner: str, lease_s: float,
                 clock: Clock, os_lock: int | None = None):
        self.db, self.name, self.owner, self.lease_s, self.clock = db, name, owner, lease_s, clock
        self.os_lock = os_lock  # the flock'ed file descriptor, held until release
        self.lost = False
        self.previous: LockInfo | None = None  # the dead owner this lock was taken from
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
            other = sqlite_utils.Database(conn, execute_plugins=False)
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
        if self.os_lock is not None:
            os.close(self.os_lock)  # closing drops the flock
            self.os_lock = None
        return cur.rowcount == 1

    def __enter__(self) -> Lock:
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def new_owner(command: str) -> str:
    return f"{command}-{uuid.uuid4().hex[:12]}"


def lock_file(db: sqlite_utils.Database, name: str) -> str | None:
    path = db_path(db)
    return None if path == ":memory:" or not path else f"{path}.{name}.lock"


def _os_lock(path: str | None) -> tuple[int | None, bool]:
    """(descriptor, True) when we got the OS lock; (None, False) when a live process holds
    it; (None, True) when there is no file to lock."""
    if path is None:
        return None, True
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    for attempt in range(FLOCK_TRIES):
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fd, True
        except BlockingIOError:
            if attempt + 1 < FLOCK_TRIES:  # a status probe holds it for a moment
                time.sleep(FLOCK_RETRY_S)
    os.close(fd)
    return None, False


def acquire(db: sqlite_utils.Database, name: str, *, owner: str | None = None,
            lease_s: float = DEFAULT_LEASE_S, clock: Clock | None = None,
            pid: int | None = None, foreign_grace_s: float = FOREIGN_GRACE_S) -> Lock:
    """Take lock `name` or raise LockHeld naming the holder. Never waits."""
    path = lock_file(db, name)
    # A holder from before OS locks never made the file: then only the old rule can judge.
    existed = path is not None and os.path.exists(path)
    fd, free = _os_lock(path)
    try:
        return _acquire(db, name, owner, lease_s, clock or SystemClock(), pid,
                        foreign_grace_s, fd if existed else None, free, fd)
    except BaseException:
        if fd is not None:
            os.close(fd)
        raise


def _acquire(db, name, owner, lease_s, clock, pid, foreign_grace_s, proof, free, fd) -> Lock:
    """`proof`: our OS lock on a file that existed, so a same-host row's owner is dead."""
    owner = owner or new_owner(name)
    pid = os.getpid() if pid is None else pid
    host = socket.gethostname()
    now = clock.now()
    row = [name, owner, pid, host, iso_utc(now), iso_utc(now), iso_utc(now + lease_s)]
    held = next((lk for lk in list_locks(db, clock) if lk.name == name), None)
    if not free:  # a live process on this host holds the OS lock
        raise LockHeld(held.describe() if held else f"lock '{name}' is held by a process "
                       f"on this host (its row is being written)")
    # Fresh lock: one conditional INSERT; whoever inserts first owns it.
    cur = db.execute(
        "insert into locks (name, owner, pid, host, acquired_at, heartbeat_at, expires_at) "
        "values (?, ?, ?, ?, ?, ?, ?) on conflict(name) do nothing", row)
    if cur.rowcount == 1:
        return Lock(db, name, owner, lease_s, clock, fd)
    held = next((lk for lk in list_locks(db, clock) if lk.name == name), None)
    if held is None:  # released between our two statements: try once more
        return _acquire(db, name, owner, lease_s, clock, pid, foreign_grace_s, proof, free, fd)
    # With the OS lock ours, an owner on this host is dead whatever its PID says now.
    dead_here = proof is not None and held.host == host
    if dead_here or _can_take_over(held, now, foreign_grace_s):
        # Compare-and-swap on the old owner: of two contenders only one matches.
        cur = db.execute(
            "update locks set owner = ?, pid = ?, host = ?, acquired_at = ?, heartbeat_at = ?, "
            "expires_at = ? where name = ? and owner = ? and expires_at = ?",
            row[1:] + [name, held.owner, held.expires_at])
        if cur.rowcount == 1:
            lock = Lock(db, name, owner, lease_s, clock, fd)
            lock.previous = held
            return lock
    raise LockHeld(held.describe())


def _can_take_over(held: LockInfo, now: float, foreign_grace_s: float) -> bool:
    if not held.expired:
        return False
    if held.owner_alive is None:
        return parse_iso(held.expires_at) + foreign_grace_s < now
    return not held.owner_alive


def force_release(db: sqlite_utils.Database, name: str) -> bool:
    return db.execute("delete from locks where name = ?", [name]).rowcount == 1

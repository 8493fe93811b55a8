"""Advisory lock rows (R9), with real processes where it matters."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from arbitrage_cli.clock import FakeClock
from arbitrage_cli.errors import LockHeld, LockLost
from arbitrage_cli.store import locks, open_db


def test_acquire_release_and_exclusion(db_path):
    db = open_db(db_path)
    lock = locks.acquire(db, "backfill", lease_s=60)
    with pytest.raises(LockHeld, match="held by backfill-"):
        locks.acquire(open_db(db_path), "backfill")
    # only the owner releases
    assert locks.Lock(db, "backfill", "someone-else", 60, FakeClock()).release() is False
    assert lock.release() is True
    locks.acquire(db, "backfill").release()


def test_expired_lease_of_a_dead_pid_is_taken_over(fresh_db):
    clock = FakeClock(1000)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    locks.acquire(fresh_db, "sync", lease_s=10, clock=clock, pid=dead.pid)
    with pytest.raises(LockHeld):  # lease still valid: not taken over even though dead
        locks.acquire(fresh_db, "sync", clock=clock)
    clock.advance(11)
    taken = locks.acquire(fresh_db, "sync", clock=clock)
    assert taken.owner == locks.list_locks(fresh_db, clock)[0].owner


def test_expired_lease_of_a_live_pid_is_not_taken_over(fresh_db):
    clock = FakeClock(1000)
    locks.acquire(fresh_db, "sync", lease_s=10, clock=clock, pid=os.getpid())
    clock.advance(3600)
    with pytest.raises(LockHeld, match="alive"):
        locks.acquire(fresh_db, "sync", clock=clock)


def test_heartbeat_extends_and_detects_loss(fresh_db):
    from arbitrage_cli.timefmt import iso_utc

    clock = FakeClock(1000)
    lock = locks.acquire(fresh_db, "backfill", lease_s=10, clock=clock)
    assert locks.list_locks(fresh_db, clock)[0].expires_at == iso_utc(1010)
    clock.advance(8)
    lock.heartbeat()
    # the lease now runs from the beat: later than the first expiry, which alone cannot pass
    assert locks.list_locks(fresh_db, clock)[0].expires_at == iso_utc(1018)
    locks.force_release(fresh_db, "backfill")
    lock.heartbeat()
    with pytest.raises(LockLost):
        lock.check()


def _holder_script(db_path: str, hold_s: float, lease_s: float) -> str:
    return textwrap.dedent(f"""
        import sys, time
        from arbitrage_cli.errors import LockHeld
        from arbitrage_cli.store import locks, open_db
        db = open_db({db_path!r})
        try:
            lock = locks.acquire(db, "backfill", lease_s={lease_s})
        except LockHeld as exc:
            print("held", flush=True)
            sys.exit(3)
        lock.start_heartbeat({db_path!r}, interval_s=0.2)
        print("won", flush=True)
        time.sleep({hold_s})
        lock.release()
    """)


def test_two_real_contenders_one_wins(db_path):
    open_db(db_path)
    script = _holder_script(db_path, hold_s=6.0, lease_s=30)  # outlasts a slow start
    procs = [subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
             for _ in range(2)]
    outs = sorted(p.communicate(timeout=60)[0].strip() for p in procs)
    assert outs == ["held", "won"]
    assert sorted(p.returncode for p in procs) == [0, 3]


def test_killed_owner_is_taken_over_live_owner_is_not(db_path):
    open_db(db_path)
    owner = subprocess.Popen([sys.executable, "-c", _holder_script(db_path, 60, lease_s=1.0)],
                             stdout=subprocess.PIPE, text=True)
    assert owner.stdout.readline().strip() == "won"
    db = open_db(db_path)
    time.sleep(1.5)  # past one lease: the heartbeat keeps a live owner's lock
    with pytest.raises(LockHeld, match="alive"):
        locks.acquire(db, "backfill")
    owner.send_signal(signal.SIGKILL)
    owner.wait()
    time.sleep(1.2)  # let the last heartbeat's lease expire
    lock = locks.acquire(db, "backfill")
    assert lock.release()


def test_killed_owner_whose_pid_was_reused_is_taken_over(db_path):
    """The row names a PID that is alive again (here: ours, as after PID reuse or PID 1 in a
    container) and a lease that has not run out: the OS lock, dropped by the kernel when the
    owner was killed, is what says the owner is gone."""
    open_db(db_path)
    holder = subprocess.Popen([sys.executable, "-c", _holder_script(db_path, 60, 3600)],
                              stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "won"
    db = open_db(db_path)
    with pytest.raises(LockHeld, match="alive"):  # alive: never taken over
        locks.acquire(db, "backfill")
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    db.execute("update locks set pid = ?", [os.getpid()])  # the PID now belongs to a live process
    assert locks.list_locks(db)[0].owner_alive is False and not locks.list_locks(db)[0].expired
    taken = locks.acquire(db, "backfill")
    assert locks.list_locks(db)[0].owner == taken.owner
    with pytest.raises(LockHeld):  # and ours excludes the next one, in this process too
        locks.acquire(open_db(db_path), "backfill")
    taken.release()


def test_status_probes_the_writer_lock_read_only_and_a_writer_waits_out_a_probe(tmp_path,
                                                                              monkeypatch):
    """status and `locks list` took the writer's flock with O_RDWR|O_CREAT: a user without
    write access got PermissionError, and a writer starting in that instant exited 3."""
    import fcntl
    import os
    import threading

    db = open_db(str(tmp_path / "deals.db"))
    held = locks.acquire(db, "backfill")
    path = locks.lock_file(db, "backfill")
    real_open = os.open

    def read_only_user(file, flags, *args):
        if flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT):
            raise PermissionError(13, "Permission denied", file)
        return real_open(file, flags, *args)

    monkeypatch.setattr(locks.os, "open", read_only_user)
    (info,) = locks.list_locks(db)
    assert info.owner_alive is True
    monkeypatch.setattr(locks.os, "open", real_open)
    held.release()
    probe = os.open(path, os.O_RDONLY)  # a status probing at the very moment ...
    fcntl.flock(probe, fcntl.LOCK_SH | fcntl.LOCK_NB)
    threading.Timer(0.1, os.close, [probe]).start()  # ... for a moment
    locks.acquire(db, "backfill").release()  # the writer waits it out instead of exit 3

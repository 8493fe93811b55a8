"""The frame of every Keepa-writing run: the writer lock (with heartbeat), a `runs` row, the
mapping of how it ended to an outcome, and one summary line in the log."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator

import sqlite_utils

from arbitrage_cli import signals
from arbitrage_cli.clock import Clock
from arbitrage_cli.errors import ConfigError, LockLost
from arbitrage_cli.keepa.client import KeepaClient
from arbitrage_cli.keepa.errors import KeepaError, OutOfTokens, TransientError
from arbitrage_cli.store import locks, runs, schema
from arbitrage_cli.store.db import check_writable

log = logging.getLogger(__name__)
WRITER_LOCK = "backfill"  # one Keepa writer at a time: backfill and sync share it
WRITER_COMMANDS = ("backfill", "sync", "demo")  # the commands that run under it

Body = Callable[[locks.Lock, runs.Run], tuple[str, str | None]]


class Deadline:
    """`--max-minutes`: stop before a unit of work that would overrun the limit, judged by the
    longest unit so far (token waits included), so cron's next run is never locked out."""

    def __init__(self, clock: Clock, minutes: float | None):
        self.clock = clock
        self.minutes = minutes
        self.end = clock.now() + minutes * 60 if minutes else None
        self.longest = 0.0

    @contextlib.contextmanager
    def unit(self) -> Iterator[None]:
        started = self.clock.now()
        try:
            yield
        finally:
            self.longest = max(self.longest, self.clock.now() - started)

    def bind(self, client: KeepaClient) -> Deadline:
        """No wait of the client's (a retry, tokens) may run past the limit either. Always
        set, None included: a client reused for a run without a limit must not keep the
        last run's."""
        client.stop_at = self.end
        if client.budget is not None:
            client.budget.stop_at = self.end
        return self

    def allows_next(self) -> bool:
        if signals.requested():
            return False
        return self.end is None or self.clock.now() + self.longest <= self.end

    def message(self) -> str:
        if signals.requested():
            return signals.MESSAGE
        return f"--max-minutes {self.minutes:g} reached; the next run resumes"


def check_domain(query: dict, client: KeepaClient) -> None:
    """/deal asks the query's marketplace and /product, /seller the client's: the same one."""
    if query.get("domainId", client.domain) != client.domain:
        raise ConfigError(f"the query asks domainId {query.get('domainId')} but the Keepa "
                          f"client asks domain {client.domain}: every call must ask one "
                          f"marketplace")


def run_locked(db: sqlite_utils.Database, client: KeepaClient, command: str, clock: Clock,
               lease_s: float, body: Body) -> dict:
    """Take the lock (LockHeld -> exit 3 before any work), run `body`, record the run.

    Out of tokens ends the run cleanly ("paused"); Keepa errors are recorded and re-raised
    (400/402 exit 4, the rest 1). A database holding `arbitrage demo`'s simulated deals is
    refused (exit 2) before the lock, for every command but the demo itself."""
    if command != "demo" and runs.holds_demo(db):
        raise ConfigError(
            f"{schema.db_path(db)} holds simulated demo data (from `arbitrage demo`); real Keepa "
            f"deals must not mix with it. Use another --db for your real data (the default is "
            f"./deals.db; the demo writes ./demo.db), or delete this file.")
    check_writable(db)  # a full disk or a read-only file: exit 2 before any token
    lock = locks.acquire(db, WRITER_LOCK, clock=clock, lease_s=lease_s)
    if schema.db_path(db) != ":memory:":
        lock.start_heartbeat(schema.db_path(db))
    run = runs.Run(db, command, clock)
    # we hold the writer lock: any other writer's run still 'running' died (SIGKILL)
    runs.close_dead(db, WRITER_COMMANDS, run.id, clock.now(),
                    lock.previous.heartbeat_at if lock.previous else None)
    req0, tok0 = client.requests, client.tokens_consumed
    outcome, message, error = "failed", None, None
    try:
        with signals.stop_gracefully():
            outcome, message = body(lock, run)
    except signals.StopRequested:
        outcome, message = "stopped", signals.MESSAGE
    except KeyboardInterrupt:
        outcome, message = "interrupted", signals.INTERRUPTED
        raise
    except OutOfTokens as exc:
        outcome, message = "paused", exc.summary
    except LockLost as exc:
        outcome, message = "lock lost", str(exc)
    except TransientError as exc:
        outcome, message, error = "failed", f"Keepa unavailable: {exc}", exc
    except KeepaError as exc:
        outcome, message, error = "failed", str(exc), exc
    except BaseException as exc:
        message = f"{type(exc).__name__}: {exc}"
        raise
    finally:
        s = run.stats
        s.requests, s.tokens_consumed = client.requests - req0, client.tokens_consumed - tok0
        s.counters["tokens_per_saved_deal"] = (round(s.tokens_consumed / s.deals_saved, 2)
                                               if s.deals_saved else None)
        summary = run.finish(outcome, message)
        lock.release()
        log.info("%s %s: %d deals saved, %d skipped %s, %d requests, %d tokens, %s tokens/deal, "
                 "%.1f s%s", command, outcome, s.deals_saved, s.deals_skipped,
                 dict(s.skip_reasons), s.requests, s.tokens_consumed,
                 s.counters["tokens_per_saved_deal"], summary["duration_s"],
                 f" ({message})" if message else "")
    if error is not None:
        raise error
    return summary

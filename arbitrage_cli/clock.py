"""Injectable time, so hours of Keepa time can run in a test in seconds.

Everything that waits or reads the time takes a Clock. SystemClock is the real one;
FakeClock only moves when someone sleeps on it (or advances it), and is thread-safe so an
in-process simulator and a client can share it.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol

from arbitrage_cli.signals import STOP


class Clock(Protocol):
    def now(self) -> float:
        """Seconds since the Unix epoch (UTC)."""

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    def now(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            STOP.wait(seconds)  # a stop request (Ctrl-C, SIGTERM) ends the wait

    def __repr__(self) -> str:
        return "SystemClock()"


class FakeClock:
    def __init__(self, start: float = 1_790_000_000.0):
        self._now = float(start)
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return self._now

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            self.advance(seconds)

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += seconds

    def __repr__(self) -> str:
        return f"FakeClock(now={self._now})"

"""Keepa's token bucket (keepa-api.md §1.5): +rate tokens every minute, capacity 60 x rate,
a call runs whenever the balance is > 0 whatever it costs (so the balance can go negative),
otherwise it is refused with 429 and nothing is charged."""

from __future__ import annotations

import threading

from arbitrage_cli.clock import Clock

TICK_MS = 60_000


class TokenBucket:
    def __init__(self, rate: int, clock: Clock, tokens: int | None = None):
        if rate <= 0:
            raise ValueError("refill rate must be > 0 tokens/minute")
        self.rate = rate
        self.capacity = rate * 60
        self.clock = clock
        self.balance = self.capacity if tokens is None else tokens
        self._next_tick = int(clock.now() * 1000) + TICK_MS
        self._lock = threading.Lock()
        self.lowest = self.balance  # deepest balance seen, for benchmarks
        self.refilled = 0  # tokens added by ticks (before the capacity cap)
        self.wasted = 0  # refill lost to the cap: tokens nobody spent in time

    def _refill(self, now_ms: int) -> None:
        if now_ms < self._next_tick:
            return
        ticks = 1 + (now_ms - self._next_tick) // TICK_MS
        self._next_tick += ticks * TICK_MS
        added = ticks * self.rate
        self.refilled += added
        room = max(0, self.capacity - self.balance)
        self.wasted += max(0, added - room)
        self.balance = min(self.capacity, self.balance + added) if self.balance < self.capacity \
            else self.balance

    def state(self) -> tuple[int, int]:
        """(balance, ms until the next refill tick)."""
        with self._lock:
            now = int(self.clock.now() * 1000)
            self._refill(now)
            return self.balance, min(TICK_MS - 1, self._next_tick - now)

    def try_spend(self, cost: int) -> bool:
        with self._lock:
            self._refill(int(self.clock.now() * 1000))
            if self.balance <= 0:
                return False
            self.balance -= cost
            self.lowest = min(self.lowest, self.balance)
            return True

    def set_balance(self, tokens: int) -> None:
        with self._lock:
            self.balance = tokens

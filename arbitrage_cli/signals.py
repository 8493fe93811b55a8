"""Ctrl-C and SIGTERM during backfill or sync: finish the unit of work in hand, then stop.

The handler only sets a flag (and says so at once): chunks commit whole or not at all, so the
safe point is between them (runner.Deadline asks); a wait for tokens or a retry ends early
(SystemClock.sleep waits on the flag) and no request goes out after it (the Keepa client
asks), so the run ends within the request in flight. A second signal interrupts at once, as
Ctrl-C always did, and the run is recorded `interrupted`.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from collections.abc import Iterator

from arbitrage_cli.errors import ArbitrageError

STOP = threading.Event()
MESSAGE = "stopped; progress kept; run again to resume"
FIRST_NOTICE = "stopping after the current request (Ctrl-C again to quit now)"
INTERRUPTED = ("interrupted by a second Ctrl-C or SIGTERM: what was saved stays, the work in "
               "hand was dropped; run again to resume")


class StopRequested(ArbitrageError):
    """Raised where waiting on would ignore the request (a wait for tokens)."""

    def __init__(self) -> None:
        super().__init__(MESSAGE)


def requested() -> bool:
    return STOP.is_set()


@contextlib.contextmanager
def stop_gracefully() -> Iterator[None]:
    """Install the handlers for the block (main thread only: elsewhere Python cannot)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    STOP.clear()

    def handler(signum, frame):
        if STOP.is_set():
            raise KeyboardInterrupt
        STOP.set()
        # at once, whatever is in flight: the current request may take its whole timeout
        print(FIRST_NOTICE, file=sys.stderr, flush=True)

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
        STOP.clear()

"""Typed Keepa errors (R23). Messages never contain the request URL: it carries the key."""

from __future__ import annotations

from arbitrage_cli.errors import EXIT_KEY_REJECTED, EXIT_OK, EXIT_USAGE, ArbitrageError
from arbitrage_cli.timefmt import local_hhmm


class OutOfTokens(ArbitrageError):
    """The budget says stop: end the run cleanly, cron resumes it (exit 0)."""

    exit_code = EXIT_OK

    def __init__(self, message: str, *, needed: int = 0, resume_at: float = 0.0):
        super().__init__(message)
        self.needed = needed
        self.resume_at = resume_at

    @property
    def summary(self) -> str:
        return f"paused: {self.needed} tokens needed, refill at {local_hhmm(self.resume_at)}"


class BudgetPaused(OutOfTokens):
    pass


class KeepaError(ArbitrageError):
    def __init__(self, message: str, *, endpoint: str = "", status: int | None = None,
                 error_type: str | None = None, envelope: dict | None = None):
        super().__init__(message)
        self.endpoint, self.status, self.error_type = endpoint, status, error_type
        self.envelope = envelope or {}


class TokensExhausted(KeepaError, OutOfTokens):
    """HTTP 429: the balance was <= 0 when Keepa received the call; nothing was charged."""

    exit_code = EXIT_OK

    def __init__(self, message: str, *, wait_s: float, resume_at: float, needed: int = 1,
                 **kw):
        KeepaError.__init__(self, message, **kw)
        self.needed, self.resume_at, self.wait_s = needed, resume_at, wait_s


class TransientError(KeepaError):
    """5xx, timeouts, connection resets: worth a bounded retry."""


class MalformedResponse(TransientError):
    """A body that is not Keepa JSON (truncated, HTML, missing envelope): usually a cut
    connection, so it is retried like other transient errors."""


class RequestRejected(KeepaError):
    """HTTP 400: bad parameter or an invalid key. Never retried."""

    exit_code = EXIT_KEY_REJECTED


class PaymentRequired(KeepaError):
    """HTTP 402: the key has no access (expired subscription). Never retried."""

    exit_code = EXIT_KEY_REJECTED


class InvalidRequest(KeepaError, ValueError):
    """Refused locally before sending: a parameter outside Keepa's documented range."""

    exit_code = EXIT_USAGE

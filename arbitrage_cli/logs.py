"""Logging to stderr (and later a file), with the Keepa key scrubbed from every record."""

from __future__ import annotations

import logging
import os
import re
import sys

from arbitrage_cli.config import credential_secrets, load_keepa_key
from arbitrage_cli.errors import ConfigError

_KEY_PARAM = re.compile(r"(key=)[^&\s'\"]+", re.IGNORECASE)
_RUNTIME_SECRETS: list[str] = []  # learned while running, e.g. SP-API access tokens


def add_secret(secret: str | None) -> None:
    """Scrub this value from every log record from now on. Real secrets are long; a short
    value (a test's "x") would shred every message, so it is not a secret here."""
    if secret and len(secret) >= 12 and secret not in _RUNTIME_SECRETS:
        _RUNTIME_SECRETS.append(secret)


class RedactingFilter(logging.Filter):
    """Removes `key=...` query parameters and any known secret from the final message."""

    def __init__(self, secrets: list[str] | None = None):
        super().__init__()
        self.secrets = [s for s in (secrets or []) if s]

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = redact(record.getMessage(), self.secrets), None
        if record.exc_info:  # tracebacks may quote URLs: render and scrub them now
            text = logging.Formatter().formatException(record.exc_info)
            record.exc_text, record.exc_info = redact(text, self.secrets), None
        return True


def redact(text: str, secrets: list[str] | None = None) -> str:
    text = _KEY_PARAM.sub(r"\1<redacted>", text)
    for secret in [*(secrets or []), *_RUNTIME_SECRETS]:
        # a short "secret" (a dummy key) would cut ordinary words apart: real ones are long
        if secret and len(secret) >= 12:
            text = text.replace(secret, "<redacted>")
    return text


def known_secrets() -> list[str]:
    """The Keepa key and the SP-API client secret and refresh token, when configured."""
    try:
        keepa = [load_keepa_key(check=False)]
    except ConfigError:
        keepa = []
    return keepa + credential_secrets()


LOG_MAX_BYTES = 5 * 1024 * 1024
LOG_BACKUPS = 3


_FILE: dict = {"handler": None}  # the log file, for the errors main() prints


def to_log_file(message: str) -> None:
    """An error the user saw on stderr, into the log file too (cron can then drop stderr
    and the file, which rotates, tells the whole story)."""
    fh = _FILE["handler"]
    if fh is not None:
        fh.handle(logging.LogRecord("arbitrage_cli", logging.ERROR, __file__, 0, message,
                                    None, None))


def setup_logging(verbosity: int = 0, log_file: str | None = None) -> None:
    """stderr at the chosen verbosity; the optional log file always gets INFO (the one
    summary line per run and every warning), rotated by size so cron cannot fill a disk."""
    level = logging.ERROR if verbosity < 0 else logging.WARNING if verbosity == 0 else \
        logging.INFO if verbosity == 1 else logging.DEBUG
    root = logging.getLogger()
    for h in list(root.handlers):
        if getattr(h, "_arbitrage", False):
            root.removeHandler(h)
            h.close()
    _FILE["handler"] = None
    handler = logging.StreamHandler(sys.stderr)
    handler._arbitrage = True
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"
                                           if verbosity > 0 else "%(levelname)s: %(message)s"))
    handler.addFilter(RedactingFilter(known_secrets()))
    root.addHandler(handler)
    if log_file:
        from logging.handlers import RotatingFileHandler

        try:
            fh = RotatingFileHandler(log_file, maxBytes=LOG_MAX_BYTES, backupCount=LOG_BACKUPS)
        except OSError as exc:
            raise ConfigError(f"--log-file {log_file}: cannot open ({exc.strerror})") from None
        fh._arbitrage = True
        fh.setLevel(min(level, logging.INFO))
        fh.setFormatter(logging.Formatter("%(asctime)s %(process)d %(levelname)s %(name)s: "
                                          "%(message)s"))
        fh.addFilter(RedactingFilter(known_secrets()))
        root.addHandler(fh)
        _FILE["handler"] = fh
        level = min(level, logging.INFO)
        handler.setLevel(logging.ERROR if verbosity < 0 else logging.WARNING
                         if verbosity == 0 else logging.DEBUG)
    root.setLevel(level)
    # urllib3 logs full request URLs at DEBUG; keep it quiet unless asked twice.
    logging.getLogger("urllib3").setLevel(logging.DEBUG if verbosity > 1 else logging.WARNING)
    os.environ.setdefault("PYTHONWARNINGS", "ignore")

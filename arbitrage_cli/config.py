"""Where configuration comes from (DESIGN §3): flags, then environment, then defaults."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

from arbitrage_cli.errors import ConfigError
from arbitrage_cli.keepa.constants import DEFAULT_BASE_URL

DEFAULT_DB = "deals.db"
DEMO_DB = "demo.db"  # the demo's own file: simulated deals never land in the real database


@dataclasses.dataclass
class AppConfig:
    db_path: str = DEFAULT_DB
    keepa_url: str = DEFAULT_BASE_URL
    verbosity: int = 0  # -1 quiet, 0 normal, 1+ verbose
    db_given: bool = False  # --db was on the command line (not the default or ARBITRAGE_DB)

    def keepa_key(self) -> str:
        return load_keepa_key()


_WARNED: set[str] = set()  # said once a process (the key is read for redaction and for use)


def warn_if_shared(path: str | Path, what: str) -> bool:
    """Warn when a file holding a secret can be read by others than its owner."""
    import logging
    import stat

    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        if str(path) in _WARNED:
            return True
        _WARNED.add(str(path))
        logging.getLogger("arbitrage_cli").warning(
            "%s %s can be read by other users (mode %s): chmod 600 %s", what, path,
            oct(stat.S_IMODE(mode)), path)
        return True
    return False


KEY_LENGTH = 64  # Keepa's keys are 64 letters and digits


def checked_key(key: str, source: str) -> str:
    """The key if it has Keepa's shape; ConfigError naming where it came from (never the
    key itself) otherwise, before any call is paid for."""
    if len(key) != KEY_LENGTH or not key.isascii() or not key.isalnum():
        raise ConfigError(f"{source}: a Keepa API key is {KEY_LENGTH} letters and digits; "
                          f"this one has {len(key)} characters"
                          + ("" if key.isascii() and key.isalnum() else
                             " and some that are not letters or digits")
                          + " (copy it again from keepa.com > API)")
    return key


def load_keepa_key(env: dict[str, str] | None = None, check: bool = True) -> str:
    """The key from KEEPA_API_KEY or the file named by KEEPA_API_KEY_FILE; never a flag.
    `check=False`: as given, malformed or not (what the log redaction must hide)."""
    env = os.environ if env is None else env
    key = (env.get("KEEPA_API_KEY") or "").strip()
    if key:
        return checked_key(key, "KEEPA_API_KEY") if check else key
    path = env.get("KEEPA_API_KEY_FILE")
    if path:
        warn_if_shared(path, "KEEPA_API_KEY_FILE")
        try:
            key = Path(path).read_text().strip()
        except OSError as exc:
            raise ConfigError(f"KEEPA_API_KEY_FILE {path}: cannot read ({exc.strerror})") from None
        if not key:
            raise ConfigError(f"KEEPA_API_KEY_FILE {path}: the file is empty")
        return checked_key(key, f"KEEPA_API_KEY_FILE {path}") if check else key
    raise ConfigError("no Keepa API key: set KEEPA_API_KEY, or KEEPA_API_KEY_FILE to a file "
                      "holding it (try `arbitrage demo` to run without a key)")


def read_json_file(path: str | Path, missing_hint: str = "") -> object:
    """Parsed JSON of a user's file; ConfigError (exit 2) naming the file otherwise."""
    p = Path(path)
    try:
        if p.suffix == ".gz":
            import gzip

            with gzip.open(p, "rt") as fh:
                text = fh.read()
        else:
            text = p.read_text()
    except FileNotFoundError:
        raise ConfigError(f"{p}: no such file{missing_hint}") from None
    except (OSError, EOFError) as exc:
        raise ConfigError(f"{p}: cannot read ({getattr(exc, 'strerror', None) or exc})"
                          ) from None
    except UnicodeDecodeError:
        raise ConfigError(f"{p}: not UTF-8 text") from None
    try:
        return json.loads(text)
    except ValueError as exc:
        raise ConfigError(f"{p}: not valid JSON ({exc})") from None

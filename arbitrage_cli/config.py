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


def load_keepa_key(env: dict[str, str] | None = None) -> str:
    """The key from KEEPA_API_KEY or the file named by KEEPA_API_KEY_FILE; never a flag."""
    env = os.environ if env is None else env
    key = (env.get("KEEPA_API_KEY") or "").strip()
    if key:
        return key
    path = env.get("KEEPA_API_KEY_FILE")
    if path:
        try:
            key = Path(path).read_text().strip()
        except OSError as exc:
            raise ConfigError(f"KEEPA_API_KEY_FILE {path}: cannot read ({exc.strerror})") from None
        if not key:
            raise ConfigError(f"KEEPA_API_KEY_FILE {path}: the file is empty")
        return key
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

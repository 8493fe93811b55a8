"""Where configuration comes from (DESIGN §3): flags, then environment, then defaults."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

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


# -- SP-API credentials (arbitrage_cli/spapi.py uses them; logs scrub their secrets) -----
NA_ENDPOINT = "https://sellingpartnerapi-na.amazon.com"
US_MARKETPLACE = "ATVPDKIKX0DER"
ENV = {"client_id": "SPAPI_CLIENT_ID", "client_secret": "SPAPI_CLIENT_SECRET",
       "refresh_token": "SPAPI_REFRESH_TOKEN", "seller_id": "SPAPI_SELLER_ID",
       "marketplace_id": "SPAPI_MARKETPLACE_ID", "endpoint": "SPAPI_ENDPOINT"}
REQUIRED = ("client_id", "client_secret", "refresh_token", "seller_id")
FILE_ENV = "SPAPI_CREDENTIALS_FILE"


@dataclasses.dataclass(frozen=True)
class Credentials:
    client_id: str
    client_secret: str = dataclasses.field(repr=False)
    refresh_token: str = dataclasses.field(repr=False)
    seller_id: str
    marketplace_id: str = US_MARKETPLACE
    endpoint: str = NA_ENDPOINT


def load_credentials(env: dict[str, str] | None = None) -> Credentials | None:
    """From SPAPI_* variables, or the JSON file named by SPAPI_CREDENTIALS_FILE (keys
    client_id, client_secret, refresh_token, seller_id[, marketplace_id, endpoint]). None when
    nothing is configured; ConfigError naming what is missing when it is half configured."""
    env = os.environ if env is None else env
    values: dict[str, Any] = {}
    source = "environment"
    if env.get(FILE_ENV):
        path = Path(env[FILE_ENV])
        source = str(path)
        try:
            values = json.loads(path.read_text())
        except OSError as exc:
            raise ConfigError(f"{FILE_ENV}={path}: cannot read ({exc.strerror})") from None
        except ValueError as exc:
            raise ConfigError(f"{path}: not valid JSON ({exc})") from None
        if not isinstance(values, dict):
            raise ConfigError(f"{path}: expected a JSON object with {', '.join(REQUIRED)}")
        unknown = sorted(set(values) - set(ENV))
        if unknown:
            raise ConfigError(f"{path}: unknown field(s) {', '.join(unknown)}")
    else:
        values = {k: env[v] for k, v in ENV.items() if env.get(v)}
    if not values:
        return None
    missing = [k for k in REQUIRED if not isinstance(values.get(k), str) or not values[k]]
    if missing:
        names = missing if source != "environment" else [ENV[k] for k in missing]
        raise ConfigError(f"SP-API credentials in {source}: missing {', '.join(names)}")
    return Credentials(**{k: str(v) for k, v in values.items()})


def credential_secrets() -> list[str]:
    try:
        creds = load_credentials()
    except ConfigError:
        return []
    return [creds.client_secret, creds.refresh_token] if creds else []

"""One marketplace per database: the Keepa domain of the first Keepa-writing run is stored
in `system_state` (`domain_id`, `amazon_tld`), every later run must ask the same one, and the
links every reader builds come from it. A database from before this was written by domain 1
(every /product and /seller call asked amazon.com)."""

from __future__ import annotations

import logging

import sqlite_utils

from arbitrage_cli.clock import Clock, SystemClock
from arbitrage_cli.errors import ConfigError
from arbitrage_cli.keepa.constants import DOMAINS
from arbitrage_cli.store import state

US = 1
log = logging.getLogger(__name__)


def stored(db: sqlite_utils.Database) -> int | None:
    """The database's marketplace: stored, or 1 when it holds deals from before."""
    domain = state.get(db, "domain_id")
    if domain is not None:
        return int(domain)
    has_rows = db.execute("select 1 from deals limit 1").fetchone() is not None
    return US if has_rows else None


def claim(db: sqlite_utils.Database, domain: int, source: str,
          clock: Clock | None = None) -> int:
    """Record `domain` for a new database, or refuse one that holds another (exit 2)."""
    current = stored(db)
    if current is not None and current != domain:
        raise ConfigError(
            f"{source}: domainId {domain} (amazon.{DOMAINS[domain]}) but this database holds "
            f"domainId {current} (amazon.{DOMAINS[current]}) deals; one marketplace per "
            f"database: use another --db for amazon.{DOMAINS[domain]}")
    if state.get(db, "domain_id") is None:
        clock = clock or SystemClock()
        state.set_(db, "domain_id", domain, clock)
        state.set_(db, "amazon_tld", DOMAINS[domain], clock)
    if domain != US:
        log.warning("marketplace amazon.%s: the fee defaults (default_fba_fee, "
                    "default_referral_pct, default_closing_fee) are US values; Keepa's "
                    "per-product fees are used where it has them, set the others for your "
                    "marketplace with `arbitrage settings set`", DOMAINS[domain])
    return domain

"""deals.db: the only place state lives (schema, system_state, locks, runs, token snapshot)."""

from arbitrage_cli.store.db import immediate, open_db

__all__ = ["immediate", "open_db"]

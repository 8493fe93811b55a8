"""User-facing errors and the exit codes a cron job can branch on (DESIGN §4)."""

from __future__ import annotations

EXIT_OK = 0
EXIT_UNEXPECTED = 1
EXIT_USAGE = 2
EXIT_LOCKED = 3
EXIT_KEY_REJECTED = 4


class ArbitrageError(Exception):
    """An error with a message meant for people and an exit code."""

    exit_code = EXIT_UNEXPECTED


class ConfigError(ArbitrageError):
    """Bad usage or configuration: names the file/field and what is allowed."""

    exit_code = EXIT_USAGE


class SchemaTooNew(ConfigError):
    pass


class LockHeld(ArbitrageError):
    exit_code = EXIT_LOCKED


class LockLost(ArbitrageError):
    """Our lease was taken over while we worked: stop before writing anything else."""

    exit_code = EXIT_LOCKED


class StorageError(ConfigError):
    """The database cannot be written: the disk is full or the file is read-only. Nothing
    more is bought until it can be (exit 2: the machine, not the program, needs fixing)."""

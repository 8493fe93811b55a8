"""arbitrage_cli: Amazon used-book arbitrage deals from Keepa data, kept in one SQLite file."""

__version__ = "0.1.0"


def _sqlite_utils_without_numpy() -> None:
    """sqlite-utils imports numpy and pandas whenever they are installed (matplotlib brings
    numpy), only to map their scalar types to SQL; we never insert either. numpy alone was a
    quarter of every command's start-up, so import sqlite-utils once with both hidden. A
    process that already loaded numpy keeps it, and later imports of it work as usual."""
    import sys

    if "sqlite_utils" in sys.modules:
        return
    hidden = [name for name in ("numpy", "pandas") if name not in sys.modules]
    for name in hidden:
        sys.modules[name] = None  # type: ignore[assignment]  # `import` raises ImportError
    try:
        import sqlite_utils.db  # noqa: F401
    finally:
        for name in hidden:
            if sys.modules.get(name, False) is None:
                del sys.modules[name]


_sqlite_utils_without_numpy()

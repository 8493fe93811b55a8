"""arbitrage_cli: Amazon used-book arbitrage deals from Keepa data, kept in one SQLite file."""

__version__ = "0.1.0"

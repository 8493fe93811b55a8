"""Offline Keepa simulator: the same HTTP contract as api.keepa.com, a deterministic synthetic
catalog of used books, Keepa's token bucket and injectable faults. It imports nothing from the
pipeline; only constants and time helpers are shared."""

from arbitrage_cli.simulator.app import KeepaSimulator
from arbitrage_cli.simulator.catalog import Catalog
from arbitrage_cli.simulator.server import SimulatorServer, start_simulator

__all__ = ["Catalog", "KeepaSimulator", "SimulatorServer", "start_simulator"]

from __future__ import annotations

import typer

from arbitrage_cli.errors import ConfigError
from arbitrage_cli.simulator.faults import KINDS, LISTING_KINDS

FAULT_KINDS = (*KINDS, *LISTING_KINDS)


def simulate_keepa(
    host: str = typer.Option("127.0.0.1", help="Address to bind (keep it on loopback)."),
    port: int = typer.Option(8765, help="Port (0 picks a free one)."),
    seed: int = typer.Option(7, help="Catalog seed: same seed, same catalog."),
    products: int = typer.Option(200, min=1, max=100_000, help="Number of products."),
    refill_rate: int = typer.Option(20, "--refill-rate", min=1, help="Tokens per minute."),
    tokens: int = typer.Option(None, help="Starting balance (default: a full bucket)."),
    faults: str = typer.Option("", metavar="SPEC",
                               help="Faults: kind=share pairs joined by commas, e.g. "
                                    f"429=0.05,500=0.02 (kinds: {' '.join(FAULT_KINDS)})."),
    key: str = typer.Option(None, envvar="SIMULATOR_KEY",
                            help="Only accept this key (default: any non-empty key)."),
    creation_date: str = typer.Option(
        "changed", "--creation-date",
        help="What a deal's creationDate means: 'changed' (Keepa's documentation: last change "
             "of the price type) or 'found' (Keepa's Java client: when the deal was found)."),
    history_lag: int = typer.Option(
        0, "--history-lag-minutes", min=0,
        help="Keepa crawls each product this often: history, stats and deals are up to this "
             "old, while live offers are current."),
) -> None:
    """Run the offline Keepa simulator (same HTTP contract as api.keepa.com).

    Example:

        arbitrage simulate-keepa --port 8765 --products 500 &
        export KEEPA_API_KEY=$(printf "%064d" 0)   # any 64 characters
        export KEEPA_API_URL=http://127.0.0.1:8765
        arbitrage --db sim.db backfill --max-deals 20
    """
    from arbitrage_cli.simulator import Catalog, KeepaSimulator, SimulatorServer
    from arbitrage_cli.simulator.faults import FaultPlan

    try:
        plan = FaultPlan.parse(faults, seed=seed)
    except ValueError as exc:
        raise ConfigError(f"--faults: {exc}") from None
    from arbitrage_cli.simulator.endpoints import CREATION_MEANINGS

    if creation_date not in CREATION_MEANINGS:
        raise ConfigError(f"--creation-date must be one of {', '.join(CREATION_MEANINGS)}, "
                          f"got {creation_date!r}")
    sim = KeepaSimulator(Catalog(seed=seed, products=products), refill_rate=refill_rate,
                         tokens=tokens, faults=plan, keys={key} if key else None,
                         creation_date=creation_date, history_lag_minutes=history_lag)
    try:
        build_catalog(sim.catalog)
    except KeyboardInterrupt:  # nothing to keep: the catalog is built again from its seed
        typer.echo("\nstopped before the simulator was ready", err=True)
        raise SystemExit(130) from None  # not typer.Exit: that would say "interrupted" too
    server = SimulatorServer(sim, host, port)
    typer.echo(f"Keepa simulator on {server.url} ({products:,} products, seed {seed}, "
               f"{refill_rate} tokens/min); Ctrl-C to stop", err=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


def build_catalog(catalog) -> None:
    """Every product's listing before the ready line, on every CPU: a first listing built
    on the first request of a large catalog outlasts a client's timeout. Progress on
    stderr."""
    import sys
    import time

    from arbitrage_cli.simulator import listing

    start = time.monotonic()

    def progress(done: int, total: int) -> None:
        end = "\n" if done == total else "\r"
        sys.stderr.write(f"building the catalog: {done:,}/{total:,} products, "
                         f"{time.monotonic() - start:.0f} s{end}")
        sys.stderr.flush()

    listing.build_all(catalog, progress)

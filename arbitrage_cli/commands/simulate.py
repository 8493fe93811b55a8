from __future__ import annotations

import typer

from arbitrage_cli.errors import ConfigError


def simulate_keepa(
    host: str = typer.Option("127.0.0.1", help="Address to bind (keep it on loopback)."),
    port: int = typer.Option(8765, help="Port (0 picks a free one)."),
    seed: int = typer.Option(7, help="Catalog seed: same seed, same catalog."),
    products: int = typer.Option(200, min=1, max=100_000, help="Number of products."),
    refill_rate: int = typer.Option(20, "--refill-rate", min=1, help="Tokens per minute."),
    tokens: int = typer.Option(None, help="Starting balance (default: a full bucket)."),
    faults: str = typer.Option("", help="Fault spec, e.g. '429=0.05,500=0.02,timeout=0.01'."),
    key: str = typer.Option(None, envvar="SIMULATOR_KEY",
                            help="Only accept this key (default: any non-empty key)."),
) -> None:
    """Run the offline Keepa simulator (same HTTP contract as api.keepa.com).

    Example:

        arbitrage simulate-keepa --port 8765 --products 500 &
        KEEPA_API_KEY=test arbitrage --keepa-url http://127.0.0.1:8765 status
    """
    from arbitrage_cli.simulator import Catalog, KeepaSimulator, SimulatorServer
    from arbitrage_cli.simulator.faults import FaultPlan

    try:
        plan = FaultPlan.parse(faults, seed=seed)
    except ValueError as exc:
        raise ConfigError(f"--faults: {exc}") from None
    sim = KeepaSimulator(Catalog(seed=seed, products=products), refill_rate=refill_rate,
                         tokens=tokens, faults=plan, keys={key} if key else None)
    server = SimulatorServer(sim, host, port)
    typer.echo(f"Keepa simulator on {server.url} ({products} products, seed {seed}, "
               f"{refill_rate} tokens/min); Ctrl-C to stop", err=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()

from __future__ import annotations

from pathlib import Path

import typer


DEMO_SEASON = 1_788_220_800  # 2026-09-01 00:00 UTC: the textbook rush


def demo(
    ctx: typer.Context,
    products: int = typer.Option(1000, min=10, max=5000, help="Simulated catalog size."),
    seed: int = typer.Option(7, help="Catalog seed."),
    top: int = typer.Option(10, min=1, help="How many deals to show."),
) -> None:
    """Run the whole pipeline on the built-in Keepa simulator: no key, no network.

    Starts the simulator on a free loopback port, backfills the default query into its own
    database, ./demo.db (or the --db given on the command line; never ./deals.db or
    ARBITRAGE_DB unless you name it), and prints the best deals. The deals are simulated:
    a real backfill or sync refuses a database that holds them.

    Example:

        arbitrage demo && arbitrage --db demo.db deals --format table
    """
    from rich.console import Console

    from arbitrage_cli.commands.backfill import make_progress, report
    from arbitrage_cli.commands.deals import DEAL_TABLE
    from arbitrage_cli.commands.simulate import build_catalog
    from arbitrage_cli.errors import ConfigError
    from arbitrage_cli.output import print_table
    from arbitrage_cli.store.queries import DealFilters, count, iter_deals
    from arbitrage_cli.dealquery import default_query
    from arbitrage_cli.keepa.budget import TokenBudget
    from arbitrage_cli.keepa.client import KeepaClient
    from arbitrage_cli.pipeline.backfill import BackfillOptions, backfill
    from arbitrage_cli.simulator import Catalog, KeepaSimulator, start_simulator
    from arbitrage_cli.config import DEMO_DB
    from arbitrage_cli.store import open_db, schema

    db = open_db(ctx.obj.db_path if ctx.obj.db_given else DEMO_DB)
    real = db.execute("select count(*) from runs where command in ('backfill', 'sync')"
                      ).fetchone()[0]
    if real:
        raise ConfigError(f"{schema.db_path(db)} holds your real Keepa data ({real} backfill/"
                          f"sync runs); the demo would mix simulated deals into it and reset "
                          f"your backfill's progress. Use another file: arbitrage --db demo.db "
                          f"demo")
    err = Console(stderr=True, soft_wrap=True)
    err.print(f"Starting the Keepa simulator ({products} books, seed {seed})...")
    # the same market whatever the date (its seasons are those of DEMO_SEASON), so the
    # README's examples are the deals every reader's demo finds
    sim = KeepaSimulator(Catalog(seed=seed, products=products, season_now=DEMO_SEASON),
                         refill_rate=1000)
    build_catalog(sim.catalog)  # with progress, instead of a silent first listing
    with start_simulator(sim) as server:
        # The simulator's tokens must not leak into the real token snapshot of this database.
        client = KeepaClient("demo-simulator-key", base_url=server.url,
                             budget=TokenBudget(open_db(":memory:")))
        bar, update = make_progress()
        if bar:
            bar.start()
        try:
            summary = backfill(db, client, default_query(), BackfillOptions(restart=True),
                               progress=update, command="demo")
        finally:
            if bar:
                bar.stop()
    report(summary, as_json=False)
    from arbitrage_cli.money import money
    from arbitrage_cli.store import settings as settings_store

    # what the seller's setting calls a deal (min_profit, default $5): never a loss
    least = max(settings_store.load(db).min_profit_cents, 1)
    wanted = DealFilters(min_profit=least / 100)
    rows = list(iter_deals(db, wanted, limit=top))
    # "saved" counts every analysed deal; say how many of them a seller would act on
    print_table(rows, DEAL_TABLE, title=f"Best {len(rows)} of the {count(db, wanted)} deals "
                                        f"with a profit of {money(least)} or more (simulated)")
    path = schema.db_path(db)
    err.print(f"\nSimulated deals are in [bold]{path}[/]; real backfill and sync refuse this "
              f"file, so your Keepa data goes to another (by default ./deals.db). Look closer "
              f"with:\n"
              f"  arbitrage --db {path} explain {rows[0]['asin'] if rows else 'ASIN'}\n"
              f"  arbitrage --db {path} chart {rows[0]['asin'] if rows else 'ASIN'} --out "
              f"book.png\n"
              f"  arbitrage --db {path} status\n"
              # its own directory: never over the metadata.yml a checkout tracks for deals.db
              f"  arbitrage --db {path} datasette-files --out {Path(path).stem}-datasette && "
              f"datasette {path} -m {Path(path).stem}-datasette/metadata.yml\n  (pip install "
              f"datasette: the cover, links and charts come with it)")

from __future__ import annotations

import json
from pathlib import Path

import typer

from arbitrage_cli.errors import ConfigError


def saved_products(directory: Path):
    """(product, end of history, name) from every .json / .json.gz below `directory`: a
    /product envelope (its timestamp ends the history) or a bare product (its lastUpdate)."""
    from arbitrage_cli.analysis.deal import reference_time
    from arbitrage_cli.config import read_json_file

    if not directory.is_dir():
        raise ConfigError(f"--product-dir {directory}: not a directory")
    files = sorted(p for p in directory.rglob("*") if p.name.endswith((".json", ".json.gz")))
    if not files:
        raise ConfigError(f"--product-dir {directory}: no .json or .json.gz files in it")
    for f in files:
        data = read_json_file(f)
        products = data.get("products") if isinstance(data, dict) else None
        end = reference_time(data)
        for p in products if isinstance(products, list) else [data]:
            if isinstance(p, dict) and isinstance(p.get("csv"), list):
                stop = end or p.get("lastUpdate")
                if isinstance(stop, int) and stop > 0:
                    yield p, stop, f"{f.name}:{p.get('asin')}"


def backtest(
    ctx: typer.Context,
    product_dir: Path = typer.Option(None, "--product-dir",
                                     help="Saved Keepa /product responses (.json, .json.gz; "
                                          "an envelope or a bare product). Default: the "
                                          "payloads stored in --db."),
    horizon_days: int = typer.Option(90, "--horizon-days", min=1, max=1000,
                                     help="Predict as of this many days before the end of "
                                          "each history; score against the sales after."),
    estimator: list[str] = typer.Option(None, "--estimator",
                                        help="Estimators to compare (repeat); default: all."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON document."),
) -> None:
    """Prove List at against what happened next: predict as of T = end of history -
    horizon, with nothing after T, and compare with the used sales that followed. 0 tokens.

    Columns: n products predicted; coverage (share with a used sale in the horizon); MdAPE
    (median absolute % error against the median sale); over (share predicted above the
    highest sale: the error that loses money); precision and recall of "profitable at the
    buy price of T".

    Example:

        arbitrage backtest --horizon-days 90
        arbitrage backtest --product-dir ./saved --estimator default --estimator seed --json
    """
    from arbitrage_cli.analysis.backtest import evaluate
    from arbitrage_cli.analysis.estimators import ESTIMATORS

    names = estimator or list(ESTIMATORS)
    unknown = [n for n in names if n not in ESTIMATORS]
    if unknown:
        raise ConfigError(f"--estimator {', '.join(unknown)}: unknown; known: "
                          f"{', '.join(ESTIMATORS)}")
    chosen = {n: ESTIMATORS[n] for n in dict.fromkeys(names)}
    settings = None
    if product_dir is not None:
        items = list(saved_products(product_dir))
    else:
        from arbitrage_cli.store import open_db
        from arbitrage_cli.store import settings as settings_store
        from arbitrage_cli.store.deals import payloads

        db = open_db(ctx.obj.db_path, must_exist=True)
        settings = settings_store.load(db)
        items = list(payloads(db))
    report = evaluate(items, horizon_days, chosen, settings)
    if as_json:
        typer.echo(json.dumps(report, indent=2))
        return
    render(report, len(items))


def render(report: dict, loaded: int) -> None:
    from rich.console import Console
    from rich.table import Table

    def pct(v):
        return "-" if v is None else f"{v:.0%}"

    table = Table(title=f"List at backtest: {report['products']} of {loaded} histories cut "
                        f"{report['horizon_days']} days before their end")
    for name in ("estimator", "n", "coverage", "MdAPE", "over", "precision", "recall"):
        table.add_column(name, justify="left" if name == "estimator" else "right")
    for name, s in report["estimators"].items():
        table.add_row(name, str(s["n"]), pct(s["coverage"]),
                      "-" if s["mdape_pct"] is None else f"{s['mdape_pct']:.1f}%",
                      pct(s["overestimate_rate"]), pct(s["precision"]), pct(s["recall"]))
    console = Console()
    console.print(table)
    if not report["products"]:
        console.print("no history is longer than the horizon: try a shorter --horizon-days")

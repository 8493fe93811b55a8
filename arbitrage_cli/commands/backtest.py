from __future__ import annotations

import json
from pathlib import Path

import typer

from arbitrage_cli.errors import ConfigError


def backtest(
    ctx: typer.Context,
    product_dir: Path = typer.Option(None, "--product-dir",
                                     help="Saved Keepa /product responses (.json, .json.gz; "
                                          "an envelope or a bare product). Default: the "
                                          "payloads stored in --db."),
    horizon_days: int = typer.Option(90, "--horizon-days", min=1, max=1000,
                                     help="Predict this many days ahead; score against the "
                                          "sales that followed."),
    step_days: int = typer.Option(30, "--step-days", min=1, max=1000,
                                  help="Cut every history every this many days, back to "
                                       "where 180 days of history precede the cut."),
    estimator: list[str] = typer.Option(None, "--estimator",
                                        help="Estimators to compare (repeat); default: all."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON document."),
) -> None:
    """Prove List at against what happened next: predict as of T = end of history -
    horizon, - step, ... with nothing after T, and compare with the used sales that
    followed. One book, one vote: snapshots of an ASIN are one book, each measure is taken
    per book first, and the 90% interval comes from resampling books. 0 tokens.

    Columns: books and cut points predicted; MdAPE (median absolute % error against the
    median sale: per book, then the median of the books) with its interval, and over all cut
    points; over (share predicted above the highest sale: the error that loses money);
    range (how often the sales' median fell in List at's 20-80% range; 60% is right).

    Example:

        arbitrage backtest --horizon-days 90 --step-days 30
        arbitrage backtest --product-dir ./saved --json
        arbitrage backtest --estimator default --estimator seed
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
        from arbitrage_cli.product_files import saved_products

        items = list(saved_products(product_dir))
    else:
        from arbitrage_cli.store import open_db
        from arbitrage_cli.store import settings as settings_store
        from arbitrage_cli.store.deals import payloads

        db = open_db(ctx.obj.db_path, must_exist=True)
        settings = settings_store.load(db)
        items = list(payloads(db))
    report = evaluate(items, horizon_days, chosen, settings, step_days)
    if as_json:
        typer.echo(json.dumps(report, indent=2))
        return
    render(report, len(items))


def render(report: dict, loaded: int) -> None:
    from rich.console import Console
    from rich.table import Table

    def pct(v, digits=0):
        return "-" if v is None else f"{v:.{digits}%}"

    def ci(pair, scale=1.0, suffix="%"):
        return "" if not pair else f" ({pair[0] * scale:.0f}-{pair[1] * scale:.0f}{suffix})"

    table = Table(title=f"List at backtest: {report['books']} books, {report['cut_points']} "
                        f"cut points of {loaded} histories, {report['horizon_days']} days "
                        f"ahead every {report['step_days']}")
    for name in ("estimator", "books", "cuts", "MdAPE", "all", "over", "range"):
        table.add_column(name, justify="left" if name == "estimator" else "right")
    for name, s in report["estimators"].items():
        table.add_row(name, str(s["books"]), str(s["n"]),
                      "-" if s["mdape_pct"] is None else f"{s['mdape_pct']:.1f}%"
                      + ci(s["mdape_ci_pct"]),
                      "-" if s["mdape_all_pct"] is None else f"{s['mdape_all_pct']:.1f}%",
                      pct(s["overestimate_rate"]) + ci(s["overestimate_ci"], 100),
                      pct(s["interval_coverage"]))
    console = Console()
    console.print(table)
    if not report["cut_points"]:
        console.print("no history reaches 180 days before a cut: try a shorter "
                      "--horizon-days")
        return
    for name, d in (report.get("differences") or {}).items():
        if d.get("mdape_pct"):
            m = d["mdape_pct"]
            console.print(f"default vs {name}: MdAPE {m['difference']:+.1f} points where "
                          f"both predict (90% interval {m['ci'][0]:+.1f} to "
                          f"{m['ci'][1]:+.1f}" + (": noise" if m["noise"] else "")
                          + f"); lower on {d['better_books']} of {d['books']} books")

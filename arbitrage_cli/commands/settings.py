from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import typer

from arbitrage_cli import settings as spec
from arbitrage_cli.config import read_json_file
from arbitrage_cli.errors import ConfigError
from arbitrage_cli.store import open_db
from arbitrage_cli.store import settings as store

app = typer.Typer(no_args_is_help=True)


def _after_change(ctx: typer.Context, db, no_recalc: bool) -> None:
    if no_recalc:
        typer.echo("settings saved; run `arbitrage recalc` to update the deals", err=True)
        return
    from arbitrage_cli.commands.recalc import said
    from arbitrage_cli.pipeline.recalc import recalc

    result = recalc(db)
    typer.echo(said(result), err=True)


@app.callback()
def _group() -> None:
    """View and change business settings (costs, tax, markup, fee defaults).

    Example:

        arbitrage settings set prep_fee 3.00
    """


@app.command("show")
def show(ctx: typer.Context,
         as_json: bool = typer.Option(False, "--json", help="Print JSON (cents and percents).")
         ) -> None:
    """Show every setting, its value and whether it is the default.

    Example:

        arbitrage settings show --json
    """
    db = open_db(ctx.find_root().obj.db_path)
    current = dataclasses.asdict(store.load(db))
    current["tax_exempt"] = bool(current["tax_exempt"])
    overridden = store.stored(db)
    if as_json:
        typer.echo(json.dumps({"settings": current, "version": store.version(db),
                               "defaults": dataclasses.asdict(spec.DEFAULTS)}, indent=2))
        return
    for key, s in spec.SPECS.items():
        value = current[s.field]
        mark = "" if s.field in overridden else "  (default)"
        typer.echo(f"{key:<22} {spec.display(s.field, value):>10}{mark}   {s.help}")


@app.command("set", context_settings={"ignore_unknown_options": True})
def set_(ctx: typer.Context, key: str = typer.Argument(..., help="Setting name."),
         value: str = typer.Argument(..., help="New value (dollars, percent, true/false)."),
         no_recalc: bool = typer.Option(False, "--no-recalc", help="Do not recalc now.")
         ) -> None:
    """Change one setting, then recalculate every deal (no Keepa tokens).

    Example:

        arbitrage settings set prep_fee 3.00
    """
    field, canonical = spec.parse(key, value, source="settings set")
    db = open_db(ctx.find_root().obj.db_path)
    store.save(db, {field: canonical})
    typer.echo(f"{key} = {spec.display(field, canonical)}", err=True)
    _after_change(ctx, db, no_recalc)


@app.command("import")
def import_(ctx: typer.Context,
            file: Path = typer.Argument(..., help="JSON object of setting: value."),
            no_recalc: bool = typer.Option(False, "--no-recalc", help="Do not recalc now.")
            ) -> None:
    """Set several settings from a JSON file; all or nothing.

    Example:

        echo '{"prep_fee": 3.00, "tax_pct": 6}' > costs.json
        arbitrage settings import costs.json
    """
    data = read_json_file(file)
    if not isinstance(data, dict) or not data:
        raise ConfigError(f"{file}: expected a JSON object of setting names to values")
    values = dict(spec.parse(k, v, source=str(file)) for k, v in data.items())
    db = open_db(ctx.find_root().obj.db_path)
    store.save(db, values)
    typer.echo(f"imported {len(values)} setting(s) from {file}", err=True)
    _after_change(ctx, db, no_recalc)

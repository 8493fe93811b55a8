from __future__ import annotations

import json

import typer

from arbitrage_cli.errors import LockHeld
from arbitrage_cli.store import locks as lock_store
from arbitrage_cli.store import open_db

app = typer.Typer(no_args_is_help=False, invoke_without_command=True)


@app.callback()
def _default(ctx: typer.Context) -> None:
    """Inspect and clear advisory locks (default: list).

    Example:

        arbitrage locks list
    """
    if ctx.invoked_subcommand is None:
        list_(ctx, as_json=False)


@app.command("list")
def list_(ctx: typer.Context,
          as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """List held locks with owner, PID, host, lease and whether the owner is alive.

    Example:

        arbitrage locks list --json
    """
    db = open_db(ctx.find_root().obj.db_path, must_exist=True)
    held = lock_store.list_locks(db)
    if as_json:
        typer.echo(json.dumps([vars(lk) for lk in held], indent=2))
        return
    if not held:
        typer.echo("no locks held")
    for lk in held:
        typer.echo(lk.describe() + (" [lease expired]" if lk.expired else ""))


@app.command("release")
def release(ctx: typer.Context, name: str = typer.Argument(..., help="Lock name."),
            force: bool = typer.Option(False, "--force",
                                       help="Release even if the owner may still be running.")
            ) -> None:
    """Release a lock whose owner is gone (or any lock with --force).

    Example:

        arbitrage locks release backfill --force
    """
    db = open_db(ctx.find_root().obj.db_path, must_exist=True)
    held = next((lk for lk in lock_store.list_locks(db) if lk.name == name), None)
    if held is None:
        typer.echo(f"lock '{name}' is not held", err=True)
        return
    if not force and held.owner_alive is not False:
        raise LockHeld(f"{held.describe()}; its owner may still be running. Use --force to "
                       f"release it anyway.")
    lock_store.force_release(db, name)
    typer.echo(f"released lock '{name}' (was {held.owner}, pid {held.pid})", err=True)

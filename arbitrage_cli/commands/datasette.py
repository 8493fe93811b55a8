from __future__ import annotations

from pathlib import Path

import typer

from arbitrage_cli.errors import ConfigError


def datasette_files(
    ctx: typer.Context,
    out: Path = typer.Option(Path("."), "--out",
                             help="Directory to write the two files to (made if missing)."),
) -> None:
    """Write metadata.yml (Datasette 0.65) and datasette.yml (1.0) for your deals database.

    Titles, column units, default sort by profit, facets, search, hidden internals and canned
    queries built by the same query as `deals` and serve-json.

    Example:

        arbitrage datasette-files && datasette deals.db -m metadata.yml
    """
    from arbitrage_cli import datasette_files as files

    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out}: not a directory")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"--out {out}: cannot make the directory ({exc.strerror})") from None
    db_file = str(ctx.obj.db_path)
    for path in files.write(out, db_file):
        typer.echo(f"wrote {path}", err=True)
    prefix = "" if out == Path(".") else f"{out}/"
    for name in files.USAGE:
        typer.echo(f"  {files.usage(name, db_file, prefix)}", err=True)

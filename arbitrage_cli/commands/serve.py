from __future__ import annotations

import os
from pathlib import Path

import typer

from arbitrage_cli.errors import ConfigError


def serve_json(
    ctx: typer.Context,
    host: str = typer.Option("127.0.0.1", help="Address to bind."),
    port: int = typer.Option(8001, help="Port."),
    token_file: Path = typer.Option(None, "--token-file",
                                    help="File holding a bearer token required by every "
                                         "endpoint but /healthz (or ARBITRAGE_SERVE_TOKEN)."),
    workers: int = typer.Option(1, min=1, max=64,
                                help="Server processes. Each answers one query at a time, so "
                                     "use about one per CPU core for many concurrent clients."),
) -> None:
    """Serve the deals as a read-only JSON API: /api/deals, /api/deals/ASIN,
    /api/deals/ASIN/chart.svg, /api/marks, /api/status.

    /api/deals takes the filters of `deals` with underscores (min_profit, max_rank,
    conditions=3,4 or conditions=3&conditions=4 or condition=3, include_marked=1, sort,
    order=asc|desc, limit up to 500). It pages by keyset: the response's "next" (and the
    X-Next-Cursor header, empty on the last page) is the cursor= of the next page.

    Example:

        arbitrage serve-json --port 8001 &
        curl 'http://127.0.0.1:8001/api/deals?min_profit=10&sort=roi&limit=20'
    """
    import uvicorn

    from arbitrage_cli.serve import is_loopback
    from arbitrage_cli.store import open_db

    token = os.environ.get("ARBITRAGE_SERVE_TOKEN") or None
    if token_file is not None:
        from arbitrage_cli.config import warn_if_shared

        warn_if_shared(token_file, "--token-file")
        try:
            token = token_file.read_text().strip()
        except OSError as exc:
            raise ConfigError(f"--token-file {token_file}: cannot read ({exc.strerror})") from None
        if not token:
            raise ConfigError(f"--token-file {token_file}: the file is empty")
    open_db(ctx.obj.db_path, must_exist=True)  # migrate once; the server itself only reads
    _check_port(host, port)
    if not token and not is_loopback(host):
        typer.echo(f"WARNING: serving {host} without a token: anyone who can reach it can "
                   f"read your deals (use --token-file)", err=True)
    typer.echo(f"serving {ctx.obj.db_path} on http://{host}:{port}/api/deals", err=True)
    os.environ["ARBITRAGE_SERVE_DB"] = str(ctx.obj.db_path)
    if token:
        os.environ["ARBITRAGE_SERVE_TOKEN"] = token
    uvicorn.run("arbitrage_cli.serve:app_from_env", factory=True, workers=workers, host=host,
                port=port, log_level="warning", access_log=False)


def _check_port(host: str, port: int) -> None:
    """Refuse a busy or unusable address (exit 2) before announcing anything."""
    import errno
    import socket

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise ConfigError(f"--host {host}: cannot resolve ({exc.strerror})") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            s.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise ConfigError(f"--port {port}: port in use on {host} (another serve-json "
                                  f"or program; choose another --port)") from None
            raise ConfigError(f"--host {host} --port {port}: cannot listen ({exc.strerror})"
                              ) from None

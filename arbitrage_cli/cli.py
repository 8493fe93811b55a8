"""The `arbitrage` command: global options, command registration, exit-code mapping.

Commands are thin (sqlite-utils style): parse options, open the database, call one library
function, print. Human messages go to stderr, data to stdout.
"""

from __future__ import annotations

import os
import sqlite3
import sys
import traceback

import typer

from arbitrage_cli import __version__, signals
from arbitrage_cli.config import DEFAULT_DB, AppConfig
from arbitrage_cli.errors import EXIT_UNEXPECTED, EXIT_USAGE, ArbitrageError, ConfigError
from arbitrage_cli.keepa.constants import DEFAULT_BASE_URL
from arbitrage_cli.logs import known_secrets, redact, setup_logging, to_log_file

def _flags_without_a_type() -> None:
    """A flag takes no value: Typer's rich help would print `--json <bool>`, `-h <bool>`."""
    option = typer.core.TyperOption
    original = option.display_type_rich

    def display_type_rich(self, ctx):
        return None if self.is_flag or self.count else original(self, ctx)

    option.display_type_rich = display_type_rich


_flags_without_a_type()

app = typer.Typer(
    name="arbitrage",
    help="Find Amazon used-book arbitrage deals from Keepa data and keep them in one SQLite "
         "file (deals.db).",
    no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"arbitrage_cli {__version__}")
        raise typer.Exit(0)


@app.callback()
def _global_options(
    ctx: typer.Context,
    _show_version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                       metavar="", help="Print the version and exit."),
    db: str = typer.Option(DEFAULT_DB, "--db", envvar="ARBITRAGE_DB", metavar="PATH",
                           help="SQLite database file."),
    keepa_url: str = typer.Option(DEFAULT_BASE_URL, "--keepa-url", envvar="KEEPA_API_URL",
                                  metavar="URL",
                                  help="Keepa API base URL (point it at simulate-keepa)."),
    verbose: int = typer.Option(0, "--verbose", "-v", count=True, metavar="",
                                help="More log output (-vv: more still)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", metavar="", help="Only errors."),
    log_file: str = typer.Option(None, "--log-file", envvar="ARBITRAGE_LOG", metavar="PATH",
                                 help="Also log to this file (rotated at 5 MB, 3 kept)."),
) -> None:
    if not db.strip():
        raise ConfigError("--db (or ARBITRAGE_DB) is empty: name the database file, e.g. "
                          "--db deals.db")
    verbosity = -1 if quiet else verbose
    setup_logging(verbosity, log_file)
    _RUN["verbosity"] = verbosity
    if quiet:  # only errors: progress, summaries and notes on stderr go nowhere
        _RUN["devnull"] = sys.stderr = open(os.devnull, "w")
    # typer bundles its own click: compare by name, not with click.core's enum
    given = getattr(ctx.get_parameter_source("db"), "name", None) == "COMMANDLINE"
    ctx.obj = AppConfig(db_path=db, keepa_url=keepa_url, verbosity=verbosity, db_given=given)
    _RUN["db_path"] = db


# name -> (module in arbitrage_cli.commands, attribute, a group of subcommands?). A command
# module is imported only when its command runs (or for help): start-up is paid on every cron
# line and every pipe, and most modules pull in libraries the other commands never need.
COMMANDS = {
    "backfill": ("backfill", "backfill", False), "sync": ("sync", "sync", False),
    "notify": ("notify", "notify", False),
    "janitor": ("janitor", "janitor", False), "deals": ("deals", "deals", False),
    "demo": ("demo", "demo", False), "serve-json": ("serve", "serve_json", False),
    "datasette-files": ("datasette", "datasette_files", False),
    "explain": ("explain", "explain", False), "chart": ("chart", "chart", False),
    "mark": ("marks", "mark", False), "unmark": ("marks", "unmark", False),
    "marks": ("marks", "marks_", False), "backtest": ("backtest", "backtest", False),
    "recalc": ("recalc", "recalc", False), "settings": ("settings", "app", True),
    "status": ("status", "status", False), "locks": ("locks", "app", True),
    "restrictions": ("restrictions", "app", True), "query": ("query", "app", True),
    "simulate-keepa": ("simulate", "simulate_keepa", False),
}
_REGISTERED: set[str] = set()
VALUE_OPTIONS = ("--db", "--keepa-url", "--log-file")


def register(names: list[str] | None = None) -> typer.Typer:
    """Add the named commands (all of them by default) to `app`, in the help's order."""
    import importlib

    for name, (module, attr, group) in COMMANDS.items():
        if name in _REGISTERED or (names is not None and name not in names):
            continue
        target = getattr(importlib.import_module(f"arbitrage_cli.commands.{module}"), attr)
        if group:
            app.add_typer(target, name=name)
        else:
            app.command(name)(target)
        _REGISTERED.add(name)
    order = list(COMMANDS)
    app.registered_commands.sort(key=lambda info: order.index(info.name))
    app.registered_groups.sort(key=lambda info: order.index(info.name))
    _summaries(app)
    return app


def wanted(argv: list[str]) -> list[str] | None:
    """The one command an argument list runs, or None (help, a typo: register them all)."""
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg in VALUE_OPTIONS:
            skip = True
        elif not arg.startswith("-"):
            return [arg] if arg in COMMANDS else None
        elif arg in ("--help", "-h"):
            return None
    return None


def _reflow(doc: str) -> str:
    """A docstring as help text: typer's rich help keeps the source's line breaks, which cut
    sentences mid-line at 80 columns. Prose paragraphs become one line each (the terminal
    wraps them); indented example blocks keep their lines."""
    import inspect

    paragraphs = inspect.cleandoc(doc).split("\n\n")
    return "\n\n".join(p if p.startswith("    ") or "\n    " in p else " ".join(p.split())
                       for p in paragraphs)


def _summaries(typer_app: typer.Typer) -> None:
    """Command lists show each docstring's first paragraph, as one line; the command's own
    help its paragraphs reflowed."""
    for info in typer_app.registered_commands:
        doc = info.help or (info.callback.__doc__ if info.callback else None)
        if info.short_help is None and doc:
            info.short_help = " ".join(doc.strip().split("\n\n")[0].split())
        if info.help is None and doc:
            info.help = _reflow(doc)
    for group in typer_app.registered_groups:
        _summaries(group.typer_instance)


# This process's verbosity, and the real stderr that errors go to even under -q.
_RUN: dict = {"verbosity": 0, "devnull": None, "db_path": None}

GLOBAL_OPTIONS = ("--db", "--keepa-url", "--verbose", "-v", "--quiet", "-q", "--log-file")


def _global_after_command(exc: Exception, argv: list[str]) -> str | None:
    """`arbitrage deals --db x`: say where a global option belongs, with the fixed line."""
    name = getattr(exc, "option_name", None)
    if type(exc).__name__ != "NoSuchOption" or name not in GLOBAL_OPTIONS:
        return None
    at = argv.index(name) if name in argv else -1
    takes_value = name in ("--db", "--keepa-url", "--log-file")
    moved = argv[at:at + (2 if takes_value else 1)] if at >= 0 else [name]
    rest = [a for i, a in enumerate(argv) if not at <= i < at + len(moved)]
    return (f"{name} is a global option and goes before the command: arbitrage "
            f"{' '.join(moved + rest)}")


def main(argv: list[str] | None = None) -> None:
    """Entry point: maps errors to DESIGN §4 exit codes, never prints the key."""
    stderr = sys.stderr
    try:
        code = _main(argv, stderr)
    finally:
        if _RUN["devnull"] is not None:
            sys.stderr = stderr
            _RUN["devnull"].close()
            _RUN["devnull"] = None
        _RUN["verbosity"] = 0
    sys.exit(code)


def _main(argv: list[str] | None, stderr) -> int:
    def error(text: str) -> None:
        print(text, file=stderr)
        to_log_file(text)

    try:
        register(wanted(argv if argv is not None else sys.argv[1:]))
        rv = app(args=argv, standalone_mode=False)
        if rv == 130:  # typer turns Ctrl-C into a quiet exit 130: say what happened
            error(f"error: {signals.INTERRUPTED}")
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        error("aborted")
        return EXIT_UNEXPECTED
    except typer.TyperException as exc:  # usage errors of Typer's bundled click
        misplaced = _global_after_command(exc, argv if argv is not None else sys.argv[1:])
        if misplaced:
            error(f"error: {misplaced}")
            return EXIT_USAGE
        exc.show(file=stderr)
        return getattr(exc, "exit_code", EXIT_USAGE)
    except ArbitrageError as exc:
        error(f"error: {redact(str(exc), known_secrets())}")
        if _RUN["verbosity"] >= 2:
            error(redact(traceback.format_exc(), known_secrets()))
        return exc.exit_code
    except KeyboardInterrupt:
        error(f"error: {signals.INTERRUPTED}")
        return 130
    except sqlite3.OperationalError as exc:  # the disk, not the program: exit 2 when known
        from arbitrage_cli.store.db import storage_error

        known = storage_error(exc, _RUN.get("db_path"))
        if known is None:
            return _unexpected(exc, error)
        error(f"error: {known}")
        return known.exit_code
    except Exception as exc:  # noqa: BLE001 - last resort: a message, not a traceback with secrets
        return _unexpected(exc, error)
    return rv if isinstance(rv, int) else 0


def _unexpected(exc: Exception, error) -> int:
    error(f"unexpected error: {redact(f'{type(exc).__name__}: {exc}', known_secrets())}"
          + ("" if _RUN["verbosity"] >= 1 else " (run with -v for details)"))
    if _RUN["verbosity"] >= 1:  # the traceback, with every known secret scrubbed
        error(redact(traceback.format_exc(), known_secrets()))
    return EXIT_UNEXPECTED

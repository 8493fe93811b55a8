"""Rows out to stdout in the formats every list command shares (json, ndjson, csv, table),
and tables that fit the terminal. Data goes to stdout as it streams; the CSV header comes
from the columns, never from the first row."""

from __future__ import annotations

import csv
import itertools
import json
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from arbitrage_cli.errors import ConfigError

FORMATS = ("json", "ndjson", "csv", "table")


def check_format(fmt: str) -> str:
    if fmt not in FORMATS:
        raise ConfigError(f"--format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    return fmt


@dataclass(frozen=True)
class Column:
    """A table column: its heading, how to show a row's value, and its priority (1 is
    kept longest when the terminal is narrow); `flex` columns shrink with an ellipsis."""
    heading: str
    show: Callable[[dict], str]
    priority: int = 1
    flex: bool = False
    justify: str = "left"


BATCH = 1000  # rows a write() call: one syscall-sized string instead of a call per row


def write_tuples(names: Sequence[str], rows: Iterable[tuple], fmt: str, out=None) -> int:
    """json, ndjson or csv from rows as tuples in `names` order (a SQLite cursor): csv
    straight from the tuples a batch at a time, json building each object once. Returns how
    many were written."""
    out = out or sys.stdout
    n = 0
    if fmt == "csv":
        writer = csv.writer(out)
        writer.writerow(names)
        for batch in _batched(rows):
            writer.writerows(batch)
            n += len(batch)
        return n
    # json: one write a row (joining batches of big objects measured slower)
    dumps, first = json.dumps, fmt == "json"
    if first:
        out.write("[")
    for n, r in enumerate(rows, start=1):
        if first:
            out.write(("," if n > 1 else "") + "\n" + dumps(dict(zip(names, r))))
        else:
            out.write(dumps(dict(zip(names, r))) + "\n")
    if first:
        out.write("\n]\n")
    return n


def sheet_value(name: str) -> Callable[[Any], Any]:
    """How a spreadsheet shows the column `name`: cents as dollars with two decimals,
    percents with one, other fractions with at most four significant digits; JSON keeps
    the stored numbers (it is for programs)."""
    if name.endswith("_cents"):
        return lambda v: None if v is None else f"{v / 100:.2f}"
    if name.endswith("_pct"):
        return lambda v: None if v is None else f"{v:.1f}"
    return lambda v: f"{v:.4g}" if isinstance(v, float) else v


def sheet_heading(name: str) -> str:
    """`price_now_cents` is `price_now` in a spreadsheet, its values in dollars."""
    return name[:-len("_cents")] if name.endswith("_cents") else name


def write_sheet(names: Sequence[str], rows: Iterable[tuple], out=None) -> int:
    """csv for spreadsheets: every column of `rows` (tuples in `names` order), each shown by
    sheet_value under its sheet_heading."""
    out = out or sys.stdout
    shown = [sheet_value(n) for n in names]
    writer = csv.writer(out)
    writer.writerow([sheet_heading(n) for n in names])
    n = 0
    for batch in _batched(rows):
        writer.writerows([tuple(f(v) for f, v in zip(shown, r)) for r in batch])
        n += len(batch)
    return n


def _batched(rows: Iterable) -> Iterable[list]:
    it = iter(rows)
    while batch := list(itertools.islice(it, BATCH)):
        yield batch


def write(rows: Iterable[dict], fmt: str, columns: Sequence[str],
          table: Sequence[Column] = (), title: str | None = None, out=None) -> int:
    """Write `rows` in `fmt`; returns how many were written."""
    out = out or sys.stdout
    n = 0
    if fmt == "json":
        out.write("[")
        for n, row in enumerate(rows, start=1):
            out.write(("," if n > 1 else "") + "\n" + json.dumps(row))
        out.write("\n]\n")
    elif fmt == "ndjson":
        for n, row in enumerate(rows, start=1):
            out.write(json.dumps(row) + "\n")
    elif fmt == "csv":
        writer = csv.DictWriter(out, fieldnames=list(columns), extrasaction="ignore")
        writer.writeheader()
        for n, row in enumerate(rows, start=1):
            writer.writerow(row)
    else:
        rows = list(rows)
        n = len(rows)
        print_table(rows, table, title=title)
    return n


def console(stderr: bool = False):
    """rich's console at the terminal's width (80 when not a terminal or COLUMNS unset)."""
    from rich.console import Console

    return Console(stderr=stderr)


PADDING = 3  # a column's border and padding in rich's default box


def _need(rows: list[dict], col: Column) -> int:
    longest = max([len(col.heading)] + [len(col.show(r)) for r in rows])
    return (min(longest, 12) if col.flex else longest) + PADDING


def fitting(rows: list[dict], columns: Sequence[Column], width: int) -> list[Column]:
    """The columns that fit `width` without wrapping: the lowest priority leave first; a
    flexible column needs at least 12 characters."""
    kept = list(columns)
    while len(kept) > 1 and sum(_need(rows, c) for c in kept) + 1 > width:
        worst = max(range(len(kept)), key=lambda i: (kept[i].priority, i))
        if kept[worst].priority == 1:
            break
        kept.pop(worst)
    return kept


def print_table(rows: list[dict], columns: Sequence[Column], title: str | None = None,
                con=None) -> None:
    from rich.table import Table

    con = con or console()
    if not rows:
        con.print(f"{title or 'rows'}: none")
        return
    shown = fitting(rows, columns, con.width)
    fixed = sum(_need(rows, c) for c in shown if not c.flex) + 1
    flex = [c for c in shown if c.flex]
    room = max(8, (con.width - fixed) // max(len(flex), 1) - PADDING)
    table = Table(title=title, title_justify="left")
    for col in shown:
        table.add_column(col.heading, no_wrap=True, justify=col.justify,
                         overflow="ellipsis", max_width=room if col.flex else None)
    for r in rows:
        table.add_row(*(col.show(r) for col in shown))
    con.print(table)


def text(value: Any, unknown: str = "") -> str:
    return unknown if value is None else str(value)

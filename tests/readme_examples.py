"""The README's "day to day" examples, generated from the default demo and checked against it
(issue 25): every command is run in a fresh directory after `arbitrage demo`, at 80 columns,
and its output quoted as a terminal shows it (stdout and stderr).

    python -m tests.readme_examples          # rewrite the block in README.md from a new demo
    pytest -m demo tests/test_readme.py      # check it (CI runs it)
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"
BEGIN = ("<!-- examples: generated from `arbitrage demo` by `python -m tests.readme_examples`; "
         "checked by `pytest -m demo` -->")
END = "<!-- /examples -->"
# (command after `arbitrage --db demo.db`, its comment, how many output lines to quote)
STEPS = (
    ("deals --format table --limit 5", "the best deals, fitted to the terminal", None),
    ("explain {asin}", "every number and where it came from (first lines)", 9),
    ("chart {asin} --out book.png", "or .svg; --out - writes SVG to stdout", None),
    ("mark {asin} bought --price {paid} --note 'box 4'", "what you paid, a note", None),
    ("deals --format table --limit 5", "it has left the list", None),
    ("marks", "your decisions: what you paid, the profit now", None),
)
ELIDED = "..."
# what differs from one day's demo to the next: the times and dates it prints
WHEN = re.compile(r"\d{4}-\d\d-\d\d(?:[ T]\d\d:\d\d(?::\d\d)?)?(?: [A-Z]{2,5}| ?[+-]\d\d:?\d\d)?")


def arbitrage(args: str, cwd: str) -> str:
    env = {**os.environ, "COLUMNS": "80", "NO_COLOR": "1", "TERM": "dumb"}
    env.pop("KEEPA_API_KEY", None)
    out = subprocess.run(f"{sys.executable} -m arbitrage_cli {args}", shell=True, cwd=cwd,
                         env=env, capture_output=True, text=True, timeout=600)
    if out.returncode != 0:
        raise RuntimeError(f"arbitrage {args} exited {out.returncode}: {out.stderr[-2000:]}")
    return out.stdout + out.stderr


def generate() -> str:
    """The block as a fresh demo prints it."""
    with tempfile.TemporaryDirectory() as cwd:
        arbitrage("demo", cwd)
        best = json.loads(arbitrage("--db demo.db deals --format json --limit 1", cwd))[0]
        values = {"asin": best["asin"], "paid": f"{best['price_now_cents'] / 100:.2f}"}
        lines = [BEGIN, "```console"]
        for step, comment, first in STEPS:
            command = "--db demo.db " + step.format(**values)
            shown = arbitrage(command, cwd).rstrip("\n").splitlines()
            lines.append(f"$ arbitrage {command}" + (f"   # {comment}" if comment else ""))
            lines += [line.rstrip() for line in shown[:first]]
            if first is not None and len(shown) > first:
                lines.append(ELIDED)
        return "\n".join(lines + ["```", END])


def quoted(text: str | None = None) -> str:
    text = README.read_text() if text is None else text
    return text[text.index(BEGIN):text.index(END) + len(END)]


def normal(block: str) -> str:
    return WHEN.sub("<when>", block)


def write() -> None:
    text = README.read_text()
    README.write_text(text.replace(quoted(text), generate()))


if __name__ == "__main__":
    write()
    print(f"rewrote the examples in {README}")

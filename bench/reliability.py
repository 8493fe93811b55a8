"""Run the whole reliability suite (slow tests included) and write docs/reliability.md.

    python -m bench.reliability            # about 4 minutes on 2 cores
    python -m bench.reliability --out -    # print instead of writing

The tests record what they tried and how it ended (tests/reliability.py); this renders those
records, with pytest's own pass/fail count, into one table.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.machine import describe

ROOT = Path(__file__).resolve().parent.parent
SUITE = ["tests/test_crash.py", "tests/test_hostile.py", "tests/test_concurrency.py",
         "tests/test_serve.py", "tests/test_budget.py", "tests/test_secrets.py",
         "tests/test_backfill.py", "tests/test_sync.py", "tests/test_freshness.py",
         "tests/test_client.py", "tests/test_storage.py", "tests/test_hardening.py"]
AREAS = ["crash", "faults", "hostile input", "storage", "signals", "clock", "concurrency",
         "tokens", "secrets"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "docs" / "reliability.md"))
    args = ap.parse_args()
    report = Path(tempfile.mkdtemp()) / "records.ndjson"
    # one process: the timing tests (readers under load, cron launches) measure alone
    cmd = [sys.executable, "-m", "pytest", "-q", "-n", "0", "-m", "slow or not slow", *SUITE]
    started = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env={**os.environ, "RELIABILITY_REPORT": str(report)},
                          capture_output=True, text=True)
    seconds = time.perf_counter() - started
    summary = (proc.stdout.strip().splitlines() or ["(no output)"])[-1]
    records = [json.loads(line) for line in report.read_text().splitlines()] \
        if report.exists() else []
    records.sort(key=lambda r: (AREAS.index(r["area"]) if r["area"] in AREAS else 99,
                                r["case"]))
    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    machine = describe()
    lines = [
        "# Reliability", "",
        f"Produced by `python -m bench.reliability` on {when} "
        f"({machine['cores']} cores, {machine['cpu']}, Python {machine['python']}, "
        f"SQLite {machine['sqlite']}). It runs `pytest -m 'slow or not slow'` over "
        f"{', '.join(f'`{s}`' for s in SUITE)} ({seconds:.0f} s).", "",
        f"pytest: **{summary.strip('= ')}** (exit code {proc.returncode}).", "",
        "The default `pytest` run holds a CI-sized subset of the same tests (3 kills instead "
        "of 20, 60 products under faults instead of 1,500); everything else is identical.", "",
        "| area | what was tried | count | outcome |", "|---|---|---|---|",
        *[f"| {r['area']} | {r['case']} | {r['count']:,} | {r['outcome']} |" for r in records],
        "",
        "Counts: kills for crash safety; injected faults, hours or duplicated products for "
        "faults; generated cases or requests for hostile input; commands for storage, "
        "signals and clock; processes or requests for concurrency; calls for tokens; "
        "captured texts for secrets.", ""]
    if proc.returncode != 0:
        lines += ["## Failures", "", "```", proc.stdout[-4000:], "```", ""]
    text = "\n".join(lines)
    if args.out == "-":
        print(text)
    else:
        Path(args.out).write_text(text)
        print(f"wrote {args.out}: {summary}", file=sys.stderr)
    sys.exit(proc.returncode)


if __name__ == "__main__":
    main()

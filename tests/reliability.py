"""What the reliability tests tried and how it ended, for docs/reliability.md.

Tests call `record(...)`; when RELIABILITY_REPORT names a file, conftest appends the records
there at the end of the session (`python -m bench.reliability` renders them).
"""

from __future__ import annotations

import json
import os

RECORDS: list[dict] = []


def record(area: str, case: str, count: int, outcome: str) -> None:
    RECORDS.append({"area": area, "case": case, "count": count, "outcome": outcome})


def flush() -> None:
    path = os.environ.get("RELIABILITY_REPORT")
    if path and RECORDS:
        with open(path, "a") as fh:
            for r in RECORDS:
                fh.write(json.dumps(r) + "\n")

"""What a benchmark ran on (reported next to every number)."""

from __future__ import annotations

import os
import platform
import sqlite3
import sys


def describe() -> dict:
    mem = None
    try:
        with open("/proc/meminfo") as fh:
            mem = round(int(fh.readline().split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next((ln.split(":", 1)[1].strip() for ln in fh if ln.startswith("model name")),
                       cpu)
    except OSError:
        pass
    return {"cores": os.cpu_count(), "memory_gib": mem, "cpu": cpu,
            "python": sys.version.split()[0], "sqlite": sqlite3.sqlite_version,
            "platform": platform.platform()}

"""The one canonical time format of deals.db (R27) and Keepa time (R7).

Database times are fixed-width UTC ISO-8601 strings with milliseconds and a "Z", so they sort
and compare correctly as text. Keepa times are integer minutes since 2011-01-01 00:00 UTC.
"""

from __future__ import annotations

import datetime as dt

# 21,564,000 minutes = 14,975 days from 1970-01-01 to 2011-01-01 (keepa-api.md §7).
KEEPA_EPOCH_OFFSET_MINUTES = 21_564_000


def iso_utc(epoch_seconds: float) -> str:
    """2026-11-23T08:49:00.123Z for a Unix time."""
    stamp = dt.datetime.fromtimestamp(epoch_seconds, tz=dt.timezone.utc)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z"


def parse_iso(text: str) -> float:
    """Unix seconds from an ISO-8601 string; naive strings are taken as UTC."""
    stamp = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=dt.timezone.utc)
    return stamp.timestamp()


def keepa_minutes_from_epoch(epoch_seconds: float) -> int:
    return int(epoch_seconds // 60) - KEEPA_EPOCH_OFFSET_MINUTES


def epoch_from_keepa_minutes(keepa_minutes: int) -> int:
    return (int(keepa_minutes) + KEEPA_EPOCH_OFFSET_MINUTES) * 60


def keepa_minutes_to_iso(keepa_minutes: int) -> str:
    return iso_utc(epoch_from_keepa_minutes(keepa_minutes))


def local_hhmm(epoch_seconds: float) -> str:
    """Short local wall-clock time for people ("resume at 14:05")."""
    return dt.datetime.fromtimestamp(epoch_seconds).astimezone().strftime("%H:%M %Z").strip()


def local_time(iso: str | None, unknown: str = "never") -> str:
    """A stored UTC time as people read it on a terminal: local time, to the minute, with the
    zone (JSON keeps the UTC string)."""
    if not iso:
        return unknown
    stamp = dt.datetime.fromtimestamp(parse_iso(iso)).astimezone()
    return stamp.strftime("%Y-%m-%d %H:%M %Z")

"""Listing restrictions (gating) per ASIN in `user_restrictions`.

Statuses: allowed, restricted (with the approval URL when Amazon gives one), error (message
and a retry time; never read as allowed), unknown. Every write names the columns it sets.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import sqlite_utils

from arbitrage_cli.errors import ConfigError
from arbitrage_cli.keepa.client import ASIN_RE
from arbitrage_cli.store.db import immediate
from arbitrage_cli.timefmt import iso_utc

STATUSES = ("allowed", "restricted", "error", "unknown")
SETTABLE = ("allowed", "restricted", "unknown")


def save(db: sqlite_utils.Database, asin: str, status: str, *, now: float,
         approval_url: str | None = None, message: str | None = None,
         condition_type: str | None = None, retry_at: float | None = None) -> None:
    if status not in STATUSES:
        raise ValueError(status)
    db.execute(
        "insert into user_restrictions (asin, status, is_restricted, approval_url, message, "
        "condition_type, checked_at, retry_at) values (?, ?, ?, ?, ?, ?, ?, ?) "
        "on conflict(asin) do update set status = excluded.status, "
        "is_restricted = excluded.is_restricted, approval_url = excluded.approval_url, "
        "message = excluded.message, condition_type = excluded.condition_type, "
        "checked_at = excluded.checked_at, retry_at = excluded.retry_at",
        [asin, status, {"allowed": 0, "restricted": 1}.get(status), approval_url, message,
         condition_type, iso_utc(now), iso_utc(retry_at) if retry_at is not None else None])


def get(db: sqlite_utils.Database, asin: str) -> dict | None:
    rows = list(db.query("select * from user_restrictions where asin = ?", [asin]))
    return rows[0] if rows else None


LISTING_COLUMNS = ("asin", "status", "condition_type", "checked_at", "retry_at", "message",
                   "approval_url", "title")


def listing(db: sqlite_utils.Database, status: str | None = None) -> list[dict]:
    """Every stored status (or those of one status), restricted first, with the title."""
    where, params = ("where r.status = ?", [status]) if status else ("", [])
    return list(db.query(
        f"select {', '.join('r.' + c for c in LISTING_COLUMNS[:-1])}, d.title "
        f"from user_restrictions r left join deals d on d.asin = r.asin {where} "
        "order by case r.status when 'restricted' then 0 when 'error' then 1 else 2 end, "
        "r.asin", params))


def due(db: sqlite_utils.Database, now: float, stale_after_s: float
        ) -> list[tuple[str, int | None]]:
    """(asin, Keepa condition of the winning offer) of the deals to check: never checked,
    unknown, checked before the stale cutoff or for another condition, or an error whose
    retry time has come. Best deals first, so a partial run checks what matters most."""
    from arbitrage_cli.spapi import CONDITION_TYPES

    cases = " ".join(f"when {k} then '{v}'" for k, v in CONDITION_TYPES.items())
    params = {"cutoff": iso_utc(now - stale_after_s), "now": iso_utc(now)}
    sql = f"""
        select d.asin, d.condition from deals d
        left join user_restrictions r on r.asin = d.asin
        where d.status = 'deal'
          and (r.asin is null or r.status = 'unknown'
               or (r.status in ('allowed', 'restricted') and (r.checked_at < :cutoff
                   or coalesce(r.condition_type, '') !=
                      coalesce(case d.condition {cases} end, '')))
               or (r.status = 'error' and coalesce(r.retry_at, '') <= :now))
        order by coalesce(d.profit_cents, -1) desc, d.asin"""
    return [(r[0], r[1]) for r in db.execute(sql, params).fetchall()]


def conditions_of(db: sqlite_utils.Database, asins: list[str]) -> list[tuple[str, int | None]]:
    """Named ASINs are checked whatever their state; the condition comes from the deal (None
    when we have no deal for it: Amazon then answers for every condition)."""
    known = {r["asin"]: r["condition"] for r in db.query(
        f"select asin, condition from deals where asin in ({', '.join('?' * len(asins))})",
        asins)}
    return [(a, known.get(a)) for a in asins]


def parse_csv(path: Path) -> list[dict]:
    """asin,status[,approval_url] with a header row. Everything is checked before anything
    is written: ConfigError naming the file, line and field."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror})") from None
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[:exc.start].count(b"\n") + 1
        raise ConfigError(f"{path}:{line}: not UTF-8 text (save the file as UTF-8 CSV)"
                          ) from None
    reader = csv.DictReader(io.StringIO(text), restkey="_extra")
    fields = [f.strip().lower() for f in reader.fieldnames or []]
    if "asin" not in fields or "status" not in fields:
        raise ConfigError(f"{path}: the header must name the columns asin,status"
                          f"[,approval_url]; got {','.join(fields) or 'nothing'}")
    unknown = sorted(set(fields) - {"asin", "status", "approval_url"})
    if unknown:
        raise ConfigError(f"{path}: unknown column(s) {', '.join(unknown)}")
    rows = []
    for raw in reader:
        # the line the row ended on: csv skips blank lines, so counting rows would drift
        where = f"{path}:{reader.line_num}"
        if raw.get("_extra"):
            raise ConfigError(f"{where}: more fields than the header's {len(fields)} "
                              f"({', '.join(fields)}); quote a value that holds a comma")
        row = {k.strip().lower(): (v or "").strip() for k, v in raw.items() if k}
        rows.append(entry(row.get("asin", ""), row.get("status", ""),
                          row.get("approval_url") or None, where=where))
    return rows


def checked_asin(text: str, where: str) -> str:
    asin = text.strip().upper()
    if not ASIN_RE.match(asin):
        raise ConfigError(f"{where}: asin must be 10 letters or digits, got {text!r}")
    return asin


def entry(asin: str, status: str, approval_url: str | None, where: str) -> dict:
    """A status set by hand (CSV row or `restrictions set`), checked: ConfigError naming
    `where` and the field."""
    status_ = status.strip().lower()
    if status_ not in SETTABLE:
        raise ConfigError(f"{where}: status must be one of {', '.join(SETTABLE)}, "
                          f"got {status!r}")
    if approval_url and not approval_url.startswith("https://"):
        raise ConfigError(f"{where}: approval_url must start with https://")
    return {"asin": checked_asin(asin, where), "status": status_, "approval_url": approval_url}


def import_rows(db: sqlite_utils.Database, rows: list[dict], now: float) -> int:
    with immediate(db):  # all or nothing
        for r in rows:
            save(db, r["asin"], r["status"], now=now, approval_url=r["approval_url"],
                 message="imported")
    return len(rows)

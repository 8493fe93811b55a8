"""keepa_query.json: the user's /deal selection, validated before any token is spent.

Errors name the file and the field and say what is allowed (exit 2). Numbers must be JSON
integers: Keepa silently ignores "4" (keepa-api.md §4), which once made a whole filter vanish.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

from arbitrage_cli.config import read_json_file
from arbitrage_cli.errors import ConfigError
from arbitrage_cli.keepa import constants as K

DEFAULT_NAME = "keepa_query.json"
MAX_INT = 2_147_483_647


def default_query() -> dict:
    """The embedded default (Books, used price drops); `keepa_query.json` ships the same."""
    return json.loads(resources.files("arbitrage_cli").joinpath("default_query.json")
                      .read_text())


def price_type(query: dict) -> int:
    """The one price type a (validated) query asks for; Keepa's default is 0."""
    pts = query.get("priceTypes")
    return pts[0] if isinstance(pts, list) and pts else pts if _int(pts) else 0


def _int(v: Any) -> bool:
    """An integer Keepa can take: its fields are Java ints (32-bit)."""
    return isinstance(v, int) and not isinstance(v, bool) and -MAX_INT - 1 <= v <= MAX_INT


def validate(query: Any, source: str) -> dict:
    def bad(field: str, allowed: str, value: Any) -> ConfigError:
        return ConfigError(f"{source}: field {field!r} = {json.dumps(value)} is not allowed; "
                           f"expected {allowed}")

    if not isinstance(query, dict):
        raise ConfigError(f"{source}: expected a JSON object of Keepa /deal fields")
    unknown = sorted(set(query) - K.DEAL_FIELDS)
    if unknown:
        raise ConfigError(f"{source}: unknown field(s) {', '.join(unknown)}; see Keepa's "
                          f"/deal documentation for the allowed fields")
    for f in K.DEAL_BOOL_FIELDS:
        if f in query and not isinstance(query[f], bool):
            raise bad(f, "true or false", query[f])
    for f in K.DEAL_INT_FIELDS:
        if f in query and not _int(query[f]):
            raise bad(f, f"an integer within +-{MAX_INT:,} (not a string)", query[f])
    for f in K.DEAL_INT_LIST_FIELDS:
        if f in query and not (isinstance(query[f], list) and all(_int(x) for x in query[f])):
            raise bad(f, f"a list of integers within +-{MAX_INT:,}", query[f])
    for f in K.DEAL_RANGE_FIELDS:
        v = query.get(f)
        if f in query and not (isinstance(v, list) and len(v) == 2 and all(_int(x) for x in v)
                               and v[0] <= (v[1] if v[1] >= 0 else MAX_INT)):
            raise bad(f, "[min, max] integers with min <= max (-1 = open)", v)
    for f in K.DEAL_STRING_LIST_FIELDS:
        if f in query and not (isinstance(query[f], list)
                               and all(isinstance(x, str) for x in query[f])):
            raise bad(f, "a list of strings", query[f])
    if "titleSearch" in query and not isinstance(query["titleSearch"], str):
        raise bad("titleSearch", "a string", query["titleSearch"])
    if query.get("domainId", 1) not in K.DOMAINS:
        raise bad("domainId", f"one of {sorted(K.DOMAINS)}", query.get("domainId"))
    if query.get("domainId") == 5:
        raise bad("domainId", "a marketplace other than 5: amazon.co.jp prices have no "
                  "hundredths, and every amount here is in hundredths (cents)", 5)
    # Required: Keepa's own default (0, Amazon's price) is never what a used-book query means,
    # and a guess here would differ from the simulator's and Keepa's.
    if "priceTypes" not in query:
        raise bad("priceTypes", "a list of exactly one price type, e.g. [2] for the lowest "
                  "used price (required)", None)
    pts = query["priceTypes"]
    if len(pts) != 1 or pts[0] not in K.DEAL_PRICE_TYPES:
        raise bad("priceTypes", f"exactly one of {sorted(K.DEAL_PRICE_TYPES)}", pts)
    if query.get("dateRange", 0) not in K.DATE_RANGE_DAYS:
        raise bad("dateRange", "0 (day), 1 (week), 2 (month) or 3 (90 days)",
                  query.get("dateRange"))
    if query.get("sortType", 1) not in (1, 2, 3, 4, -2, -3, -4):
        raise bad("sortType", "1 deal age, 2 absolute delta, 3 sales rank, 4 percent delta "
                  "(negative reverses 2-4; 1 cannot be reversed)", query.get("sortType"))
    if "page" in query:
        raise bad("page", "no page: backfill walks the pages itself", query["page"])
    dpr = query.get("deltaPercentRange")
    if dpr and dpr[0] < 10:
        raise bad("deltaPercentRange", "a minimum of at least 10 (Keepa's floor)", dpr)
    return query


PACKAGED = ("the packaged default query (Books, used price drops; `arbitrage query init` "
            "writes it to ./keepa_query.json to edit)")


def load(path: str | Path | None) -> tuple[dict, str]:
    """(query, source): the file given, else ./keepa_query.json when there is one, else the
    packaged default (a pip user has no repository to copy one from)."""
    if path is None and not Path(DEFAULT_NAME).exists():
        return validate(default_query(), PACKAGED), PACKAGED
    p = Path(path or DEFAULT_NAME)
    data = read_json_file(p, missing_hint=" (`arbitrage query init` writes the default query "
                                        "to ./keepa_query.json)")
    return validate(data, str(p)), str(p)


def init(path: str | Path, force: bool = False) -> Path:
    """Write the packaged default query to `path` for the user to edit."""
    p = Path(path)
    if p.exists() and not force:
        raise ConfigError(f"{p} already exists (--force replaces it)")
    if not p.parent.is_dir():
        raise ConfigError(f"{p}: directory {p.parent} does not exist")
    p.write_text(json.dumps(default_query(), indent=2) + "\n")
    return p

"""serve-json: a read-only JSON API over deals.db (Starlette + uvicorn; no hand-rolled HTTP).

Every worker thread has its own read-only connection (the server can never write; WAL lets it
read while cron writes). Every query string either parses or gets a JSON 400 naming the
parameter; SQL is built by store/queries.py from whitelisted columns and bound values.
"""

from __future__ import annotations

import hmac
import json
import threading
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from arbitrage_cli.store import open_db
from arbitrage_cli.store.queries import SORTS, DealFilters, QueryError, count, get_deal, page
from arbitrage_cli.store.status import gather

MAX_LIMIT = 500
FLOATS = ("min_profit", "min_profit_low", "min_roi", "min_percent_down", "min_deal_trust",
          "min_seller_quality", "min_confidence", "max_days_to_sell")
INTS = ("max_rank", "min_drops_30", "min_sale_days")
BOOLS = ("hide_gated", "hide_amazon", "include_marked")
OTHER = ("keyword", "conditions", "sort", "order", "limit", "cursor", "_shape", "format")
ALLOWED = frozenset(FLOATS + INTS + BOOLS + OTHER)
# The CLI's names (`deals --condition 3 --asc`) are accepted too.
ALIASES = {"condition": "conditions"}
REPEATABLE = frozenset({"conditions"})


class BadRequest(Exception):
    pass


def error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"ok": False, "error": message, "status": status}, status_code=status)


def _float(name: str, raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise BadRequest(f"{name} must be a number, got {raw!r}") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise BadRequest(f"{name} must be a finite number")
    return value


def _int(name: str, raw: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise BadRequest(f"{name} must be an integer, got {raw!r}") from None


def single(query) -> dict[str, str]:
    """A query string (Starlette's multi-dict, or a plain dict) as one value per name: the
    CLI's names mapped to the API's, repeated `conditions` joined as a comma list, any other
    name given twice refused (which one would win is a guess)."""
    items = query.multi_items() if hasattr(query, "multi_items") else list(query.items())
    out: dict[str, str] = {}
    for raw_name, value in items:
        name = ALIASES.get(raw_name, raw_name)
        if name in out:
            if name not in REPEATABLE:
                raise BadRequest(f"{name} given more than once")
            out[name] = f"{out[name]},{value}"
        else:
            out[name] = value
    return out


def parse(params: dict[str, str]) -> tuple[DealFilters, int, str | None]:
    """Filters, page size and cursor from a query string already made `single`."""
    unknown = sorted(set(params) - ALLOWED)
    if unknown:
        raise BadRequest(f"unknown parameter(s): {', '.join(unknown)}; allowed: "
                         f"{', '.join(sorted(ALLOWED))}")
    kw: dict[str, Any] = {}
    for name in FLOATS:
        if name in params:
            kw[name] = _float(name, params[name])
    for name in INTS:
        if name in params:
            kw[name] = _int(name, params[name])
    for name in BOOLS:
        if name in params:
            value = params[name].lower()
            if value not in ("1", "0", "true", "false", ""):
                raise BadRequest(f"{name} must be 1/0 or true/false")
            kw[name] = value in ("1", "true")
    if "keyword" in params:
        kw["keyword"] = params["keyword"]
    if params.get("conditions"):
        kw["conditions"] = tuple(_int("conditions", c) for c in params["conditions"].split(",")
                                 if c.strip())
    if "sort" in params:
        if params["sort"] not in SORTS:
            raise BadRequest(f"sort must be one of {', '.join(sorted(SORTS))}")
        kw["sort"] = params["sort"]
    order = params.get("order", "desc")
    if order not in ("asc", "desc"):
        raise BadRequest("order must be asc or desc")
    kw["descending"] = order == "desc"
    limit = _int("limit", params["limit"]) if "limit" in params else 50
    if not 1 <= limit <= MAX_LIMIT:
        raise BadRequest(f"limit must be within 1..{MAX_LIMIT}")
    try:
        filters = DealFilters(**kw)
    except QueryError as exc:
        raise BadRequest(str(exc)) from None
    return filters, limit, params.get("cursor") or None


def create_app(db_path: str, token: str | None = None) -> Starlette:
    local = threading.local()

    def db():
        conn = getattr(local, "db", None)
        if conn is None:
            conn = local.db = open_db(db_path, readonly=True)
            local.counts, local.version = {}, None
        return conn

    def cached_count(key, compute):
        """Totals are exact but recomputed only after a writer commits (data_version)."""
        version = db().execute("pragma data_version").fetchone()[0]
        if version != local.version:
            local.counts, local.version = {}, version
        if key not in local.counts:
            local.counts[key] = compute()
        return local.counts[key]

    def authorised(request: Request) -> bool:
        if not token:
            return True
        given = request.headers.get("authorization", "")
        return hmac.compare_digest(given.encode(), f"Bearer {token}".encode())

    def guarded(handler):
        # Run inline on the event loop: queries take milliseconds and SQLite holds the GIL
        # for most of them, so a thread pool only adds switching (measured: 4 clients got
        # 40% less throughput through the pool).
        async def endpoint(request: Request) -> Response:
            if not authorised(request):
                return error(401, "missing or wrong bearer token")
            try:
                return handler(request)
            except (BadRequest, QueryError) as exc:
                return error(400, str(exc))
        return endpoint

    def deals(request: Request) -> Response:
        params = single(request.query_params)
        filters, limit, cursor = parse(params)
        rows, nxt = page(db(), filters, limit, cursor)
        ndjson = params.get("format") == "ndjson" or \
            "application/x-ndjson" in request.headers.get("accept", "")
        if params.get("format") not in (None, "json", "ndjson"):
            raise BadRequest("format must be json or ndjson")
        if ndjson:
            return StreamingResponse((json.dumps(r) + "\n" for r in rows),
                                     media_type="application/x-ndjson",
                                     headers={"X-Next-Cursor": nxt or ""})
        if params.get("_shape") not in (None, "array", "objects"):
            raise BadRequest("_shape must be array or objects")
        if params.get("_shape") == "array":
            return JSONResponse(rows, headers={"X-Next-Cursor": nxt or ""})
        total_raw = cached_count("raw", lambda: db().execute("select count(*) from deals")
                                 .fetchone()[0])
        total = cached_count(filters, lambda: count(db(), filters))
        return JSONResponse({"ok": True, "deals": rows, "next": nxt, "total": total,
                             "total_raw": total_raw}, headers={"X-Next-Cursor": nxt or ""})

    def one_deal(request: Request) -> Response:
        from arbitrage_cli import explain
        from arbitrage_cli.store import deals as deal_store

        asin = request.path_params["asin"].upper()
        if set(request.query_params) - {"explain"}:
            raise BadRequest("unknown parameter(s); allowed: explain")
        row = get_deal(db(), asin)
        if row is None:
            return error(404, f"no deal {asin}")
        body: dict[str, Any] = {"ok": True, "deal": row}
        found = deal_store.explain_inputs(db(), asin)
        if found is not None:
            body["explanation"] = explain.report(**found, settings_source="from the database")
        return JSONResponse(body)

    def chart(request: Request) -> Response:
        from arbitrage_cli import chart as charts
        from arbitrage_cli.store import deals as deal_store

        asin = request.path_params["asin"].upper()
        if set(request.query_params) - {"days"}:
            raise BadRequest("unknown parameter(s); allowed: days")
        days = _int("days", request.query_params["days"]) if "days" in request.query_params \
            else 365
        if not 7 <= days <= 3650:
            raise BadRequest("days must be within 7..3650")
        found = deal_store.stored_product(db(), asin)
        if found is None:
            return error(404, f"no stored product {asin}")
        return Response(charts.render(found[0], found[1], days=days, fmt="svg"),
                        media_type="image/svg+xml")

    def marks(request: Request) -> Response:
        from arbitrage_cli.store import marks as mark_store

        if request.query_params:
            raise BadRequest("/api/marks takes no parameters")
        return JSONResponse({"ok": True, "marks": mark_store.listing(db())})

    def status(request: Request) -> Response:
        if request.query_params:
            raise BadRequest("/api/status takes no parameters")
        return JSONResponse(gather(db()))

    async def healthz(request: Request) -> Response:
        return JSONResponse({"ok": True})

    async def not_found(request: Request, exc: Exception) -> Response:
        return error(getattr(exc, "status_code", 404), getattr(exc, "detail", "not found"))

    async def crashed(request: Request, exc: Exception) -> Response:
        return error(500, "internal error")

    return Starlette(routes=[
        Route("/healthz", healthz),
        Route("/api/deals", guarded(deals)),
        Route("/api/deals/{asin}", guarded(one_deal)),
        Route("/api/deals/{asin}/chart.svg", guarded(chart)),
        Route("/api/marks", guarded(marks)),
        Route("/api/status", guarded(status)),
    ], exception_handlers={404: not_found, 405: not_found, Exception: crashed})


def app_from_env() -> Starlette:
    """uvicorn's factory for every worker process: the parent passes the database and the
    token through the environment (never the command line, where `ps` would show it)."""
    import os

    return create_app(os.environ["ARBITRAGE_SERVE_DB"],
                      os.environ.get("ARBITRAGE_SERVE_TOKEN") or None)


def is_loopback(host: str) -> bool:
    return host in ("localhost", "::1") or host.startswith("127.")

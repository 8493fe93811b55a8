"""serve-json: a read-only JSON API over deals.db (Starlette + uvicorn; no hand-rolled HTTP).

Every worker thread has its own read-only connection (the server can never write; WAL lets it
read while cron writes). Every query string either parses or gets a JSON 400 naming the
parameter; SQL is built by store/queries.py from whitelisted columns and bound values.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import contextlib
import hmac
import inspect
import itertools
import json
import logging
import multiprocessing
import os
import re
import threading
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from arbitrage_cli.store import open_db
from arbitrage_cli.store import counts as deal_counts
from arbitrage_cli.store.queries import SORTS, DealFilters, QueryError, count, get_deal, page, \
    unfiltered
from arbitrage_cli.store.status import gather
from arbitrage_cli.decisions import marks_listing
from arbitrage_cli.store import notifications as sent

log = logging.getLogger(__name__)

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


def _json(value: Any) -> str:
    """As Starlette's JSONResponse writes it."""
    return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))


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


# Totals on a small database are counted while the page is read (milliseconds); above this
# many rows a new filter's total is counted in the background and the page does not wait.
INLINE_COUNT_BELOW_ROWS = 20_000
# How long a page waits for a background total before answering without it: a count the
# background finishes this fast was nearly free anyway (measured: 30-40 ms at 100k rows).
TOTAL_WAIT_S = 0.01
CACHED = 512  # explanations and charts kept per worker process


class _Lru(collections.OrderedDict):
    def get_or(self, key, make):
        if key in self:
            self.move_to_end(key)
            return self[key]
        value = self[key] = make()
        if len(self) > CACHED:
            self.popitem(last=False)
        return value


_CHART_DB: dict = {}


def draw_chart(db_path: str, asin: str, days: int) -> bytes | None:
    """A chart drawn in the chart process (its own connection, kept): matplotlib is Python
    all the way down and would hold the worker's GIL for the ~0.1-0.3 s a chart takes."""
    from arbitrage_cli import chart as charts
    from arbitrage_cli.pipeline.stored import stored_product

    db = _CHART_DB.get(db_path)
    if db is None:
        db = _CHART_DB[db_path] = open_db(db_path, readonly=True)
    found = stored_product(db, asin)
    return None if found is None else charts.render(found[0], found[1], days=days, fmt="svg")


# What /api/status tells a client of the machine: progress and health, not the server's file
# paths, host names, process ids or internal bookkeeping.
PUBLIC_STATE = ("backfill_started_at", "backfill_completed_at", "watermark_iso",
                "full_walk_completed_at", "last_sync_success_at")


def public_status(info: dict) -> dict:
    out = dict(info)
    out["database"] = os.path.basename(str(info.get("database") or ""))
    out["system_state"] = {k: v for k, v in (info.get("system_state") or {}).items()
                           if k in PUBLIC_STATE}
    out["locks"] = [{k: v for k, v in lock.items() if k not in ("pid", "host")}
                    for lock in info.get("locks") or []]
    out["last_runs"] = [_public_run(r) for r in info.get("last_runs") or []]
    if info.get("notify"):
        out["notify"] = {**info["notify"], "last_run": _public_run(info["notify"]["last_run"])}
    health = dict(info.get("health") or {})
    health["warnings"] = [re.sub(r" \(pid \d+\)", "", w) for w in health.get("warnings", [])]
    out["health"] = health
    return out


def _public_run(run: dict | None) -> dict | None:
    """A run without where it ran (pid, host): what a client may know."""
    return None if run is None else {k: v for k, v in run.items() if k not in ("pid", "host")}


def create_app(db_path: str, token: str | None = None, chart_processes: bool = True
               ) -> Starlette:
    local = threading.local()
    lock, pools_lock = threading.Lock(), threading.Lock()
    totals: dict = {}  # (generation, filters) -> exact count
    pending: dict = {}  # (generation, filters) -> Future of that count
    pools: dict = {}  # one thread each for background totals and charts, made on first use
    explained, charts_, answers = _Lru(), _Lru(), _Lru()
    serials = itertools.count()

    def db():
        conn = getattr(local, "db", None)
        if conn is None:
            conn = local.db = open_db(db_path, readonly=True)
            local.serial = next(serials)
        return conn

    def pool(name: str) -> concurrent.futures.Executor:
        with pools_lock:
            if name not in pools:
                if name == "charts" and chart_processes:  # spawn: no fork of a threaded loop
                    pools[name] = concurrent.futures.ProcessPoolExecutor(
                        max_workers=1, mp_context=multiprocessing.get_context("spawn"))
                else:
                    pools[name] = concurrent.futures.ThreadPoolExecutor(
                        max_workers=1, thread_name_prefix=f"serve-{name}")
            return pools[name]

    def data_version() -> tuple[int, int]:
        """Changes when another connection commits; per connection, so it names the one."""
        conn = db()
        return local.serial, conn.execute("pragma data_version").fetchone()[0]

    def counted(filters: DealFilters) -> tuple[int | None, int]:
        """(the exact total, the generation it was counted at), in one read transaction."""
        conn = db()
        conn.execute("begin")
        try:
            return deal_counts.generation(conn), count(conn, filters)
        finally:
            conn.execute("commit")

    def remember(key, future: concurrent.futures.Future) -> None:
        with lock:
            pending.pop(key, None)  # a failed count is simply asked for again
            if future.cancelled() or future.exception() is not None:
                return
            generation, total = future.result()
            if generation is not None:
                if len(totals) >= CACHED:
                    totals.clear()
                totals[(generation, key[1])] = total

    async def total_of(filters: DealFilters, kept: dict | None) -> int | None:
        """The exact total, or None while a large database counts it in the background."""
        if kept is None or unfiltered(filters) or kept.get("rows", 0) < INLINE_COUNT_BELOW_ROWS:
            return count(db(), filters)
        key = (kept["generation"], filters)
        with lock:
            if key in totals:
                return totals[key]
            future = pending.get(key)
            if future is None:
                future = pending[key] = pool("totals").submit(counted, filters)
                future.add_done_callback(lambda f: remember(key, f))
        try:
            generation, total = await asyncio.wait_for(
                asyncio.shield(asyncio.wrap_future(future)), TOTAL_WAIT_S)
        except asyncio.TimeoutError:
            return None
        except Exception:  # noqa: BLE001 - logged by nobody else: the page still answers
            log.warning("counting a total failed", exc_info=True)
            return None
        return total if generation == key[0] else None

    def authorised(request: Request) -> bool:
        if not token:
            return True
        given = request.headers.get("authorization", "")
        return hmac.compare_digest(given.encode(), f"Bearer {token}".encode())

    def guarded(handler):
        # Run inline on the event loop: queries take milliseconds and SQLite holds the GIL
        # for most of them, so a thread pool only adds switching (measured: 4 clients got
        # 40% less throughput through the pool). What can take longer (a total on a large
        # database, a chart) is handed to its own thread by the handler.
        async def endpoint(request: Request) -> Response:
            if not authorised(request):
                return error(401, "missing or wrong bearer token")
            try:
                response = handler(request)
                if inspect.isawaitable(response):
                    response = await response
                return response
            except (BadRequest, QueryError) as exc:
                return error(400, str(exc))
        return endpoint

    async def deals(request: Request) -> Response:
        params = single(request.query_params)
        filters, limit, cursor = parse(params)
        if params.get("format") not in (None, "json", "ndjson"):
            raise BadRequest("format must be json or ndjson")
        ndjson = params.get("format") == "ndjson" or \
            "application/x-ndjson" in request.headers.get("accept", "")
        if params.get("_shape") not in (None, "array", "objects"):
            raise BadRequest("_shape must be array or objects")
        kept = deal_counts.read(db())
        # The same question since the last change to deals, marks or gating has the same
        # answer: a repeated page (a dashboard, a heavy keyword) costs a dict lookup.
        key = None if kept is None else (kept["generation"], ndjson,
                                         tuple(sorted(params.items())))
        if key is not None and key in answers:
            body, media, headers = answers[key]
            return Response(body, media_type=media, headers=headers)
        rows, nxt = page(db(), filters, limit, cursor)
        headers = {"X-Next-Cursor": nxt or ""}
        if ndjson:
            body, media = "".join(_json(r) + "\n" for r in rows), "application/x-ndjson"
        elif params.get("_shape") == "array":
            body, media = _json(rows), "application/json"
        else:
            total_raw = kept.get("rows", 0) if kept is not None else \
                db().execute("select count(*) from deals").fetchone()[0]
            total = await total_of(filters, kept)
            out = {"ok": True, "deals": rows, "next": nxt, "total": total,
                   "total_raw": total_raw}
            if total is None:
                out["total_counting"] = True
                key = None  # the total follows: ask again
            else:
                headers["X-Total-Count"] = str(total)
            body, media = _json(out), "application/json"
        if key is not None:
            answers.get_or(key, lambda: (body, media, headers))
        return Response(body, media_type=media, headers=headers)

    def one_deal(request: Request) -> Response:
        from arbitrage_cli import explain
        from arbitrage_cli.pipeline.stored import explain_inputs

        asin = request.path_params["asin"].upper()
        if set(request.query_params) - {"explain"}:
            raise BadRequest("unknown parameter(s); allowed: explain")
        wanted = request.query_params.get("explain", "0").lower()
        if wanted not in ("1", "0", "true", "false", ""):
            raise BadRequest("explain must be 1/0 or true/false")
        row = get_deal(db(), asin)
        if row is None:
            return error(404, f"no deal {asin}")
        body: dict[str, Any] = {"ok": True, "deal": row}
        if wanted in ("1", "true"):
            # the analysis behind the numbers: computed on request, kept until a write
            def make():
                found = explain_inputs(db(), asin)
                return None if found is None else explain.report(
                    **found, settings_source="from the database")
            body["explanation"] = explained.get_or((data_version(), asin), make)
        else:
            body["explanation_url"] = f"/api/deals/{asin}?explain=1"
        return JSONResponse(body)

    async def chart(request: Request) -> Response:
        asin = request.path_params["asin"].upper()
        if set(request.query_params) - {"days"}:
            raise BadRequest("unknown parameter(s); allowed: days")
        days = _int("days", request.query_params["days"]) if "days" in request.query_params \
            else 365
        if not 7 <= days <= 3650:
            raise BadRequest("days must be within 7..3650")
        key = (data_version(), asin, days)
        svg = charts_.get(key)
        if svg is None:  # drawn once per write, in its own process, while the loop serves
            svg = await asyncio.wrap_future(pool("charts").submit(draw_chart, db_path, asin,
                                                                  days))
            if svg is None:
                return error(404, f"no stored product {asin}")
            charts_.get_or(key, lambda: svg)
        return Response(svg, media_type="image/svg+xml")

    def marks(request: Request) -> Response:
        if request.query_params:
            raise BadRequest("/api/marks takes no parameters")
        return JSONResponse({"ok": True, "marks": marks_listing(db())})

    def notifications(request: Request) -> Response:
        """What notify sent or failed to send, newest first; `before` (an id) pages back."""
        params = single(request.query_params)
        unknown = set(params) - {"limit", "before"}
        if unknown:
            raise BadRequest(f"unknown parameter {sorted(unknown)[0]!r} (limit, before)")
        limit = _int("limit", params.get("limit", "100"))
        if not 1 <= limit <= 500:
            raise BadRequest("limit must be 1..500")
        before = _int("before", params["before"]) if "before" in params else None
        rows = sent.history(db(), limit + 1, before)
        more = len(rows) > limit
        rows = rows[:limit]
        return JSONResponse({"ok": True, "notifications": rows,
                             "next": rows[-1]["id"] if more else None})

    def status(request: Request) -> Response:
        if request.query_params:
            raise BadRequest("/api/status takes no parameters")
        return JSONResponse(public_status(gather(db())))

    async def healthz(request: Request) -> Response:
        return JSONResponse({"ok": True})

    async def not_found(request: Request, exc: Exception) -> Response:
        return error(getattr(exc, "status_code", 404), getattr(exc, "detail", "not found"))

    async def crashed(request: Request, exc: Exception) -> Response:
        return error(500, "internal error")

    @contextlib.asynccontextmanager
    async def lifespan(_app):
        yield
        for executor in pools.values():
            executor.shutdown(wait=False, cancel_futures=True)

    return Starlette(routes=[
        Route("/healthz", healthz),
        Route("/api/deals", guarded(deals)),
        Route("/api/deals/{asin}", guarded(one_deal)),
        Route("/api/deals/{asin}/chart.svg", guarded(chart)),
        Route("/api/marks", guarded(marks)),
        Route("/api/status", guarded(status)),
        Route("/api/notifications", guarded(notifications)),
    ], exception_handlers={404: not_found, 405: not_found, Exception: crashed},
        lifespan=lifespan)


def app_from_env() -> Starlette:
    """uvicorn's factory for every worker process: the parent passes the database and the
    token through the environment (never the command line, where `ps` would show it)."""

    return create_app(os.environ["ARBITRAGE_SERVE_DB"],
                      os.environ.get("ARBITRAGE_SERVE_TOKEN") or None)


def is_loopback(host: str) -> bool:
    return host in ("localhost", "::1") or host.startswith("127.")

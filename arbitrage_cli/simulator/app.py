"""KeepaSimulator: routing, key check, token bucket, envelope, faults and the request log.

`handle()` is transport-free (method, path, params, body in; a SimResponse out) so it can be
served over HTTP by server.py or called directly.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import threading
import time

from arbitrage_cli.clock import Clock, SystemClock
from arbitrage_cli.simulator import endpoints
from arbitrage_cli.simulator.bucket import TokenBucket
from arbitrage_cli.simulator.catalog import Catalog
from arbitrage_cli.simulator.faults import FaultPlan
from arbitrage_cli.timefmt import keepa_minutes_from_epoch

ENDPOINTS = ("product", "seller", "deal", "query", "token")


@dataclasses.dataclass
class SimResponse:
    status: int
    payload: dict | None
    body: bytes | None = None  # raw body overriding the payload (non-JSON fault)
    action: str | None = None  # reset | truncate
    delay_s: float = 0.0


@dataclasses.dataclass
class RequestRecord:
    at_ms: int
    endpoint: str
    params: dict  # without the key
    status: int
    tokens_consumed: int
    tokens_left: int
    fault: str | None
    units: int  # ASINs or seller ids asked for


class KeepaSimulator:
    def __init__(self, catalog: Catalog | None = None, *, refill_rate: int = 20,
                 tokens: int | None = None, clock: Clock | None = None,
                 faults: FaultPlan | None = None, keys: set[str] | None = None,
                 expired_keys: set[str] | None = None,
                 creation_date: str = endpoints.CREATION_CHANGED,
                 history_lag_minutes: int = 0):
        """`creation_date`: what a deal's creationDate means, "changed" (Keepa's
        documentation: last change of the price type) or "found" (Keepa's Java client: when
        the deal was found). `history_lag_minutes`: Keepa crawls each product this often, so
        its stored history, stats and deal listing are up to this old while a live offer
        fetch sees the market now (new cheaper offers, copies sold in between); 0: none."""
        if creation_date not in endpoints.CREATION_MEANINGS:
            raise ValueError(f"creation_date must be one of {endpoints.CREATION_MEANINGS}")
        self.clock = clock or SystemClock()
        self.catalog = catalog or Catalog(now=self.clock.now())
        self.bucket = TokenBucket(refill_rate, self.clock, tokens)
        self.faults = faults if faults is not None else FaultPlan()
        self.keys = keys  # None: any non-empty key is valid
        self.expired_keys = expired_keys or set()
        self.log: list[RequestRecord] = []
        self._lock = threading.Lock()
        self._deal_cache: dict = {}
        self.creation_date = creation_date
        if history_lag_minutes < 0:
            raise ValueError("history_lag_minutes must be >= 0")
        self.history_lag_minutes = history_lag_minutes
        self.refreshed: dict[str, int] = {}  # asin -> Keepa minute of its last refresh
        self._found: dict | None = {} if creation_date == endpoints.CREATION_FOUND else None
        self.offers_fetched: dict[str, int] = {}  # asin -> Keepa minute of the last offer fetch

    # -- introspection for tests and benchmarks --------------------------------------------
    def calls(self, endpoint: str | None = None, status: int | None = 200) -> list[RequestRecord]:
        with self._lock:
            return [r for r in self.log if (endpoint is None or r.endpoint == endpoint)
                    and (status is None or r.status == status)]

    def tokens_spent(self) -> int:
        with self._lock:
            return sum(r.tokens_consumed for r in self.log)

    def now_keepa(self) -> int:
        return keepa_minutes_from_epoch(self.clock.now())

    def history_view(self, asin: str, now: int) -> int:
        """The minute Keepa's stored data of `asin` reflects: its last crawl (one every
        `history_lag_minutes`, at a phase of its own) or its last refresh on request."""
        lag = self.history_lag_minutes
        if not lag:
            return now
        phase = int.from_bytes(hashlib.sha256(f"{self.catalog.seed}:{asin}".encode())
                               .digest()[:4], "big") % lag
        crawled = now - (now - phase) % lag
        refreshed = self.refreshed.get(asin)
        return max(crawled, refreshed) if refreshed is not None and refreshed <= now \
            else crawled

    def _refreshed(self, asin: str, now: int) -> None:
        if self.history_lag_minutes:
            self.refreshed[asin] = now

    # -- the request -----------------------------------------------------------------------
    def handle(self, method: str, path: str, params: dict[str, str], body: bytes | None = None
               ) -> SimResponse:
        started = time.perf_counter()
        endpoint = path.strip("/").split("/")[0]
        key = params.get("key", "")
        public = {k: v for k, v in params.items() if k != "key"}
        fault = None
        if endpoint not in ENDPOINTS:
            resp = self._error(404, "notFound", "unknown endpoint")
        elif not key or (self.keys is not None and key not in self.keys) or self.faults.bad_key:
            resp = self._error(400, "invalidKey", "Invalid access key.")
        elif key in self.expired_keys or self.faults.expired_key:
            resp = self._error(402, "paymentRequired", "Your subscription has expired.")
        elif method not in ("GET", "POST") or (method == "POST" and endpoint not in ("deal", "query")):
            resp = self._error(405, "methodNotAllowed", "method not allowed")
        else:
            fault = self.faults.draw() if self.faults else None
            resp = self._serve(endpoint, params, body, fault)
        if resp.payload is not None:
            resp.payload.setdefault("processingTimeInMs",
                                    int((time.perf_counter() - started) * 1000))
        units = len([x for x in (params.get("asin") or params.get("seller") or "").split(",") if x])
        with self._lock:
            self.log.append(RequestRecord(
                int(self.clock.now() * 1000), endpoint, public, resp.status,
                (resp.payload or {}).get("tokensConsumed", 0) if resp.action != "reset" else 0,
                self.bucket.state()[0], fault, units))
        return resp

    def _envelope(self, consumed: int) -> dict:
        balance, refill_in = self.bucket.state()
        return {"timestamp": int(self.clock.now() * 1000), "tokensLeft": balance,
                "refillIn": refill_in, "refillRate": self.bucket.rate,
                "tokenFlowReduction": 0.0, "tokensConsumed": consumed}

    def _error(self, status: int, etype: str, message: str) -> SimResponse:
        return SimResponse(status, {**self._envelope(0),
                                    "error": {"type": etype, "message": message}})

    def _serve(self, endpoint: str, params: dict[str, str], body: bytes | None,
               fault: str | None) -> SimResponse:
        if fault == "429":
            return SimResponse(429, self._envelope(0))
        if fault in ("500", "502", "503"):
            return self._error(int(fault), "serverError", "Internal server error")
        if fault == "reset":
            return SimResponse(0, None, action="reset")
        # Validate before touching the bucket: a rejected request costs nothing.
        now = self.now_keepa()
        try:
            work = self._prepare(endpoint, params, body, now, fault)
        except endpoints.BadRequest as exc:
            return self._error(exc.status, exc.error_type, str(exc))
        if endpoint != "token" and self.bucket.state()[0] <= 0:
            return SimResponse(429, self._envelope(0))
        payload, cost = work()
        # /token is free and always answers; everything else runs only while balance > 0.
        if endpoint != "token" and not self.bucket.try_spend(cost):
            return SimResponse(429, self._envelope(0))
        payload.update(self._envelope(cost))
        resp = SimResponse(200, payload)
        if endpoint == "deal" and self.faults:
            self._thin_listing(payload, self.faults.listing())
        if fault in ("missing", "wrongtype"):
            self._corrupt(payload, fault)
        elif fault == "duplicate" and payload.get("products"):
            self._duplicate(payload)
        elif fault == "nest":
            resp.body = b"[" * 200_000
        elif fault == "nonjson":
            resp.body = b"<html><body><h1>502 Bad Gateway</h1></body></html>"
        elif fault == "truncate":
            resp.action = "truncate"
        elif fault == "slow":
            resp.delay_s = self.faults.slow_s
        elif fault == "timeout":
            resp.delay_s = self.faults.timeout_s
        return resp

    def _prepare(self, endpoint: str, params: dict[str, str], body: bytes | None, now: int,
                 fault: str | None):
        cat = self.catalog
        if endpoint == "token":
            return lambda: ({}, 0)
        if endpoint == "product":
            req = endpoints.product_request(params, now)
            fail = self.faults.rng().choice(req["asins"]) if fault == "offersfail" else None
            return lambda: endpoints.product(cat, req, now, self.offers_fetched,
                                              offers_fail_asin=fail, view=self.history_view,
                                              refresh=self._refreshed)
        if endpoint == "seller":
            result = endpoints.seller(cat, params, now)  # cheap and side-effect free
            return lambda: result
        if endpoint == "deal":
            result = endpoints.deal(cat, params, body, now, self._deal_cache, self._found,
                                    self.history_view)
            return lambda: result
        result = endpoints.query(cat, params, body, now)
        return lambda: result

    @staticmethod
    def _thin_listing(payload: dict, fault: str | None) -> None:
        deals = payload.get("deals") or {}
        if fault == "emptylisting":
            deals["dr"] = []
        elif fault == "shrinklisting":
            deals["dr"] = (deals.get("dr") or [])[::3]

    def _duplicate(self, payload: dict) -> None:
        """One product twice: the copy has every offer at 1 cent (a 1,922% ROI once)."""
        import copy

        twin = copy.deepcopy(self.faults.rng().choice(payload["products"]))
        for o in twin.get("offers") or []:
            if isinstance(o.get("offerCSV"), list) and len(o["offerCSV"]) >= 3:
                o["offerCSV"][-2] = 1
        payload["products"].append(twin)

    def _corrupt(self, payload: dict, fault: str) -> None:
        """Damage one record of the payload the way a broken upstream might."""
        rng = self.faults.rng()
        records = (payload.get("products") or list((payload.get("sellers") or {}).values())
                   or (payload.get("deals") or {}).get("dr") or [])
        if not records:
            return
        rec = rng.choice(records)
        keys = [k for k in rec if k not in ("asin", "sellerId")]
        if not keys:
            return
        k = rng.choice(keys)
        if fault == "missing":
            del rec[k]
        else:
            rec[k] = rng.choice(["N/A", {"unexpected": True}, -2, 10**12, []])


def dumps(payload: dict) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()

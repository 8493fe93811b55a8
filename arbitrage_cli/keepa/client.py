"""One Keepa client, one request function (R2, R23; akaszynski/keepa's `_request` idea).

Every response, errors included, has its envelope parsed and fed to the token budget. Errors
are typed; only transient ones and 429 are retried, bounded in attempts and in total time.
The key travels only in the query string of the request itself: it is not in any message,
repr, log line or exception this module produces.
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

import requests
import tenacity

from arbitrage_cli.clock import Clock, SystemClock
from arbitrage_cli.keepa import constants as K
from arbitrage_cli.keepa.budget import TokenBudget
from arbitrage_cli.logs import RedactingFilter
from arbitrage_cli import signals
from arbitrage_cli.errors import ConfigError
from arbitrage_cli.keepa.errors import (InvalidRequest, KeepaError, MalformedResponse,
                                        PaymentRequired, RequestRejected, TokensExhausted,
                                        TransientError)

log = logging.getLogger(__name__)
# urllib3 logs every request URL (key included) at DEBUG: scrub it at the source, whatever
# logging configuration the host program uses.
logging.getLogger("urllib3.connectionpool").addFilter(RedactingFilter())

ENVELOPE_FIELDS = ("timestamp", "tokensLeft", "refillIn", "refillRate", "tokensConsumed")
ASIN_RE = re.compile(r"^[0-9A-Z]{10}$")
SELLER_RE = re.compile(r"^[0-9A-Z]{8,20}$")


def canonical_json(value: Any) -> str:
    """Sorted keys, no spaces, integral floats as integers (Keepa ignores "4" and may
    mis-read 4.0): the same selection always produces the same bytes."""

    def canon(v: Any) -> Any:
        if isinstance(v, Mapping):
            return {str(k): canon(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [canon(x) for x in v]
        if isinstance(v, float) and v.is_integer():
            return int(v)
        return v

    return json.dumps(canon(value), sort_keys=True, separators=(",", ":"))


def _int_param(name: str, value: Any, lo: int | None = None, hi: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidRequest(f"{name} must be an integer, got {value!r}")
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise InvalidRequest(f"{name} must be in {lo}..{hi}, got {value}")
    return value


def _ids(name: str, values: Iterable[str], pattern: re.Pattern, limit: int) -> list[str]:
    ids = list(dict.fromkeys(values))  # keep order, drop repeats: Keepa would charge twice
    if not 1 <= len(ids) <= limit:
        raise InvalidRequest(f"{name}: between 1 and {limit} ids per call, got {len(ids)}")
    bad = [i for i in ids if not isinstance(i, str) or not pattern.match(i)]
    if bad:
        raise InvalidRequest(f"{name}: malformed id(s) {bad[:3]}")
    return ids


def checked_base_url(url: str) -> str:
    """http(s)://host[:port][/path], or ConfigError naming the setting (exit 2)."""
    from urllib.parse import urlsplit

    parts = urlsplit(url or "")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"--keepa-url / KEEPA_API_URL = {url!r} is not a URL; expected "
                          f"http(s)://host[:port], e.g. {K.DEFAULT_BASE_URL} or "
                          f"http://127.0.0.1:8765 for simulate-keepa")
    if parts.query or parts.fragment or parts.username:
        raise ConfigError(f"--keepa-url / KEEPA_API_URL = {url!r}: no query, fragment or "
                          f"credentials in it (the key comes from KEEPA_API_KEY)")
    return url.rstrip("/")


def _refused(exc: Exception) -> bool:
    """A connection the other end refused (nothing listening), through requests' wrappers."""
    seen, e = set(), exc
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if isinstance(e, ConnectionRefusedError) or "Connection refused" in str(e):
            return True
        e = e.__cause__ or e.__context__ or (e.args[0] if e.args and isinstance(
            e.args[0], BaseException) else None)
    return False


class KeepaClient:
    def __init__(self, key: str, *, base_url: str = K.DEFAULT_BASE_URL,
                 budget: TokenBudget | None = None, clock: Clock | None = None,
                 session: requests.Session | None = None, domain: int = 1,
                 timeout: tuple[float, float] = (10.0, 90.0), max_attempts: int = 5,
                 max_retry_s: float = 180.0):
        if not key or not isinstance(key, str):
            raise InvalidRequest("a Keepa API key is required")
        if domain not in K.DOMAINS:
            raise InvalidRequest(f"domain must be one of {sorted(K.DOMAINS)}, got {domain}")
        self._key = key
        self.base_url = checked_base_url(base_url)
        self.budget = budget
        self.clock = clock or (budget.clock if budget else SystemClock())
        self.session = session or requests.Session()
        self.session.headers.setdefault("Accept-Encoding", "gzip")
        self.domain = domain
        self.timeout = timeout
        self.max_attempts = max_attempts
        self.max_retry_s = max_retry_s
        # Run counters, read by the commands for their `runs` row.
        self.requests = 0
        self.tokens_consumed = 0
        self.last_envelope: dict = {}
        self._unsettled: list[int] = []  # reservations of calls that timed out
        self.stop_at: float | None = None  # --max-minutes: no retry wait past it

    def __repr__(self) -> str:
        return f"KeepaClient(base_url={self.base_url!r}, domain={self.domain}, key=<redacted>)"

    # -- endpoints -------------------------------------------------------------------------
    def product(self, asins: Iterable[str], *, offers: int | None = None,
                stats: int | str | None = None, history: bool = True, days: int | None = None,
                update: int | None = None, only_live_offers: bool = False,
                rating: bool = False) -> dict:
        ids = _ids("asin", asins, ASIN_RE, K.MAX_ASINS_PER_PRODUCT)
        params: dict[str, Any] = {"domain": self.domain, "asin": ",".join(ids),
                                  "history": int(bool(history))}
        if offers is not None:
            params["offers"] = _int_param("offers", offers, K.OFFERS_MIN, K.OFFERS_MAX)
        if stats is not None:
            if isinstance(stats, str):
                if not re.match(r"^[0-9T:\-]+,[0-9T:\-]+$", stats):
                    raise InvalidRequest(f"stats must be days or 'start,end', got {stats!r}")
                params["stats"] = stats
            else:
                params["stats"] = _int_param("stats", stats, 1)
        if days is not None:
            params["days"] = _int_param("days", days, 1)
        if update is not None:
            params["update"] = _int_param("update", update, -1)
        if only_live_offers:
            params["only-live-offers"] = 1
        if rating:
            params["rating"] = 1
        kind = "product_offers" if offers is not None else "product"
        return self.request("product", params, cost_kind=kind, units=len(ids), offers=offers)

    def seller(self, seller_ids: Iterable[str]) -> dict:
        ids = _ids("seller", seller_ids, SELLER_RE, K.MAX_SELLERS_PER_CALL)
        return self.request("seller", {"domain": self.domain, "seller": ",".join(ids)},
                            cost_kind="seller", units=len(ids))

    def deal(self, selection: Mapping[str, Any]) -> dict:
        sel = dict(selection)
        sel.setdefault("domainId", self.domain)
        _int_param("page", sel.get("page", 0), 0, 66)  # 10,000 deals / 150 per page
        return self.request("deal", {"selection": canonical_json(sel)}, cost_kind="deal",
                            units=1)

    def query(self, selection: Mapping[str, Any]) -> dict:
        sel = dict(selection)
        per_page = _int_param("perPage", sel.get("perPage", 50), 50, 10_000)
        page = _int_param("page", sel.get("page", 0), 0)
        if page * per_page > 10_000:
            raise InvalidRequest("page x perPage must stay <= 10000")
        return self.request("query", {"domain": self.domain, "selection": canonical_json(sel)},
                            cost_kind="query", units=per_page)

    def token(self) -> dict:
        return self.request("token", {}, cost_kind="token", units=0)

    def ensure_token_snapshot(self) -> None:
        """Learn the balance with the free /token call when no process has seen it yet."""
        if self.budget is not None and self.budget.snapshot() is None:
            self.token()

    # -- the one request function ----------------------------------------------------------
    def request(self, endpoint: str, params: dict[str, Any], *, cost_kind: str, units: int,
                offers: int | None = None) -> dict:
        if cost_kind != "token":
            self.ensure_token_snapshot()
        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception_type((TransientError, TokensExhausted)),
            stop=self._stop, wait=self._next_wait, sleep=self.clock.sleep, reraise=True,
            before_sleep=self._log_retry,
        )
        self._retry_started = self.clock.now()
        return retrying(self._attempt, endpoint, params, cost_kind, units, offers)

    def _attempt(self, endpoint: str, params: dict[str, Any], cost_kind: str, units: int,
                 offers: int | None) -> dict:
        if signals.requested():  # Ctrl-C / SIGTERM: no new request, no retry
            raise signals.StopRequested()
        reservation = None
        if self.budget is not None:
            predicted, worst = self.budget.predict(cost_kind, units, offers)
            reservation = self.budget.reserve(predicted, worst)
        url = f"{self.base_url}/{endpoint}"
        try:
            resp = self.session.get(url, params={"key": self._key, **params},
                                    timeout=self.timeout)
            body = resp.content
        except (requests.ReadTimeout, requests.exceptions.ChunkedEncodingError,
                requests.exceptions.ContentDecodingError) as exc:
            # Keepa had the request and may have charged it: its reservation stands until
            # the next envelope reports the balance (or the reservation's lease runs out).
            if reservation is not None:
                self._unsettled.append(reservation)
            what = "timed out" if isinstance(exc, requests.Timeout) else "response cut off"
            raise TransientError(f"Keepa {self.base_url}/{endpoint}: {what} "
                                 f"({type(exc).__name__})", endpoint=endpoint) from None
        except (requests.ConnectionError, requests.Timeout) as exc:  # never reached Keepa
            self._settle({}, reservation)
            if self.base_url.rstrip("/") != K.DEFAULT_BASE_URL and _refused(exc):
                # a URL the user chose where nothing listens: a setting to fix, not an
                # outage to wait out (api.keepa.com refusing is retried like any outage)
                raise ConfigError(f"nothing answers at {self.base_url} (connection refused):"
                                  f" check --keepa-url or KEEPA_API_URL") from None
            raise TransientError(f"Keepa {self.base_url}/{endpoint}: connection failed "
                                 f"({type(exc).__name__})", endpoint=endpoint) from None
        self.requests += 1
        payload = _decode(body)
        envelope = {f: payload.get(f) for f in (*ENVELOPE_FIELDS, "tokenFlowReduction")
                    } if payload is not None else {}
        self._settle(envelope, reservation, cost_kind, units)
        return self._check(endpoint, resp.status_code, payload, envelope)

    def _settle(self, envelope: dict, reservation: int | None, kind: str | None = None,
                units: int = 0) -> None:
        self.last_envelope = envelope or self.last_envelope
        self.tokens_consumed += int(envelope.get("tokensConsumed") or 0)
        if self.budget is not None:
            self.budget.observe(envelope, reservation, kind, units)
            if envelope.get("tokensLeft") is not None:
                # the balance now includes whatever the timed-out calls cost
                for rid in self._unsettled:
                    self.budget.release(rid)
                self._unsettled.clear()

    def _check(self, endpoint: str, status: int, payload: dict | None, envelope: dict) -> dict:
        err = (payload or {}).get("error") or {}
        err_type = err.get("type") if isinstance(err, dict) else None
        detail = ""
        if isinstance(err, dict) and (err.get("type") or err.get("message")):
            detail = f": {err.get('type') or 'error'}: {err.get('message') or ''}".rstrip(": ")
        kw = {"endpoint": endpoint, "status": status, "error_type": err_type,
              "envelope": envelope}
        if status == 429:
            wait_s = self._refill_wait_s(envelope)
            raise TokensExhausted(
                f"Keepa /{endpoint}: HTTP 429 out of tokens (balance "
                f"{envelope.get('tokensLeft')}, refill in {wait_s:.0f} s)",
                wait_s=wait_s, resume_at=self.clock.now() + wait_s, **kw)
        if status == 400:
            raise RequestRejected(
                f"Keepa /{endpoint}: HTTP 400 request rejected{detail} (an invalid key is also "
                f"reported as 400: check KEEPA_API_KEY)", **kw)
        if status == 402:
            raise PaymentRequired(
                f"Keepa /{endpoint}: HTTP 402 payment required: the key has no access "
                f"(expired or cancelled subscription){detail}", **kw)
        if status >= 500 or status == 408:
            raise TransientError(f"Keepa /{endpoint}: HTTP {status}{detail}", **kw)
        if status != 200:
            raise KeepaError(f"Keepa /{endpoint}: HTTP {status}{detail}", **kw)
        if payload is None:
            raise MalformedResponse(f"Keepa /{endpoint}: response body is not JSON", **kw)
        missing = [f for f in ENVELOPE_FIELDS if not isinstance(payload.get(f), int)
                   or isinstance(payload.get(f), bool)]
        if missing:
            raise MalformedResponse(
                f"Keepa /{endpoint}: response lacks envelope field(s) {', '.join(missing)}", **kw)
        if err_type or (isinstance(err, dict) and err.get("message")):
            # Keepa reports e.g. an invalid seller id inside a 200; the payload is still usable.
            log.warning("Keepa /%s reported an error%s", endpoint, detail)
        return payload

    def _refill_wait_s(self, envelope: dict) -> float:
        """Time until the balance is positive again: the next tick, plus the deficit's worth
        of minutes (keepa-api.md §1.5)."""
        refill_in = envelope.get("refillIn") if isinstance(envelope.get("refillIn"), int) else 60_000
        left = envelope.get("tokensLeft") if isinstance(envelope.get("tokensLeft"), int) else 0
        rate = envelope.get("refillRate") if isinstance(envelope.get("refillRate"), int) else 0
        wait_ms = refill_in + 100
        if left < 0 and rate > 0:
            wait_ms += math.ceil(-left / rate) * 60_000
        return wait_ms / 1000

    # -- retry policy ----------------------------------------------------------------------
    def _next_wait(self, retry_state: tenacity.RetryCallState) -> float:
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        if isinstance(exc, TokensExhausted):
            return exc.wait_s
        return min(30.0, 2.0 ** (retry_state.attempt_number - 1))

    def _stop(self, retry_state: tenacity.RetryCallState) -> bool:
        if retry_state.attempt_number >= self.max_attempts:
            return True
        elapsed = self.clock.now() - self._retry_started
        if self.stop_at is not None and \
                self.clock.now() + self._next_wait(retry_state) > self.stop_at:
            return True
        return elapsed + self._next_wait(retry_state) > self.max_retry_s

    def _log_retry(self, retry_state: tenacity.RetryCallState) -> None:
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        log.warning("%s; retry %d in %.1f s", exc, retry_state.attempt_number,
                    self._next_wait(retry_state))


def _decode(body: bytes) -> dict | None:
    """The JSON object of a body, or None for anything else: not JSON, not UTF-8, or nested so
    deep (a body of 200,000 `[`) that the parser gives up with a RecursionError."""
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    return payload if isinstance(payload, dict) else None

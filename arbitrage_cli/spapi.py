"""Amazon Selling Partner API: Listings Restrictions (`getListingsRestrictions`), nothing else.

A small requests + tenacity client (the SP-API SDKs pull in far more than one GET needs).
Authentication: a Login-with-Amazon refresh token is exchanged for an access token (valid an
hour), sent as `x-amz-access-token`. Credentials come from the environment or a JSON file,
never the command line; every secret, including the access tokens, is scrubbed from logs.

Rate limit of getListingsRestrictions: 5 requests/s, burst 10 (Amazon's usage plan); the
client paces itself below that and retries a 429 after a pause.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from arbitrage_cli.clock import Clock, SystemClock
from arbitrage_cli.errors import ConfigError
from arbitrage_cli.config import (ENV, FILE_ENV, NA_ENDPOINT, REQUIRED,  # noqa: F401 - its API
                                  US_MARKETPLACE, Credentials, credential_secrets,
                                  load_credentials)
from arbitrage_cli.logs import add_secret

TOKEN_URL = "https://api.amazon.com/auth/o2/token"
RESTRICTIONS_PATH = "/listings/2021-08-01/restrictions"
RATE_PER_S, BURST = 5.0, 10
# Keepa offer condition -> SP-API conditionType (Listings Restrictions API model)
CONDITION_TYPES = {1: "new_new", 2: "used_like_new", 3: "used_very_good", 4: "used_good",
                   5: "used_acceptable", 6: "refurbished_refurbished",
                   7: "collectible_like_new", 8: "collectible_very_good",
                   9: "collectible_good", 10: "collectible_acceptable"}


class SpApiError(Exception):
    """A failed call: `status` (0 for no answer), Amazon's message, and whether a later
    retry may succeed."""

    def __init__(self, status: int, message: str, retryable: bool):
        super().__init__(f"SP-API {status or 'unreachable'}: {message}")
        self.status, self.message, self.retryable = status, message, retryable


@dataclasses.dataclass(frozen=True)
class Restriction:
    status: str  # allowed | restricted
    approval_url: str | None
    message: str | None


def _errors_text(resp) -> str:
    try:
        body = resp.json()
    except ValueError:
        return resp.text[:200] or resp.reason
    errors = body.get("errors") if isinstance(body, dict) else None
    if isinstance(errors, list) and errors:
        return "; ".join(f"{e.get('code', '')}: {e.get('message', '')}".strip(": ")
                         for e in errors if isinstance(e, dict))
    if isinstance(body, dict) and body.get("error"):  # Login with Amazon's shape
        return f"{body['error']}: {body.get('error_description', '')}".strip(": ")
    return resp.reason


def parse_restrictions(body: Any, condition_type: str | None) -> Restriction:
    """`{"restrictions": []}` is allowed; any restriction for our condition (or for every
    condition) is restricted, with the approval link when Amazon offers one."""
    if not isinstance(body, dict) or not isinstance(body.get("restrictions"), list):
        raise SpApiError(200, "answer without a restrictions list", True)
    mine = [r for r in body["restrictions"] if isinstance(r, dict)
            and (condition_type is None or r.get("conditionType") in (None, condition_type))]
    if not mine:
        return Restriction("allowed", None, None)
    messages, url = [], None
    for r in mine:
        for reason in r.get("reasons") or []:
            if not isinstance(reason, dict):
                continue
            text = reason.get("message") or reason.get("reasonCode")
            if text:
                messages.append(str(text))
            for link in reason.get("links") or []:
                if url is None and isinstance(link, dict) and \
                        str(link.get("resource", "")).startswith("https://"):
                    url = link["resource"]
    return Restriction("restricted", url, "; ".join(dict.fromkeys(messages)) or None)


class SpApiClient:
    def __init__(self, creds: Credentials, *, clock: Clock | None = None,
                 session=None, timeout: float = 30,
                 max_attempts: int = 5, rate_per_s: float = RATE_PER_S):
        import requests  # here, not at import: every command's logging setup imports this

        self.creds = creds
        self.clock = clock or SystemClock()
        self.session = session or requests.Session()
        self.timeout, self.max_attempts = timeout, max_attempts
        self.interval = 1.0 / rate_per_s
        self._next_slot = 0.0
        self._token: str | None = None
        self._token_expires = 0.0
        self.calls = 0
        add_secret(creds.client_secret)
        add_secret(creds.refresh_token)

    def __repr__(self) -> str:
        return f"SpApiClient(seller_id={self.creds.seller_id!r}, endpoint={self.creds.endpoint!r})"

    def access_token(self) -> str:
        """Exchange the refresh token (cached until a minute before it expires). A rejected
        exchange is a configuration problem: ConfigError, exit 2."""
        import requests

        if self._token and self.clock.now() < self._token_expires - 60:
            return self._token
        try:
            resp = self.session.post(TOKEN_URL, data={
                "grant_type": "refresh_token", "refresh_token": self.creds.refresh_token,
                "client_id": self.creds.client_id, "client_secret": self.creds.client_secret,
            }, timeout=self.timeout)
        except requests.RequestException as exc:
            raise SpApiError(0, f"Login with Amazon unreachable ({type(exc).__name__})",
                             True) from None
        if resp.status_code in (400, 401, 403):
            raise ConfigError(f"SP-API credentials rejected by Login with Amazon: "
                              f"{_errors_text(resp)}")
        if resp.status_code != 200:
            raise SpApiError(resp.status_code, _errors_text(resp), True)
        body = resp.json()
        token = body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            raise SpApiError(resp.status_code, "token answer without access_token", True)
        add_secret(token)
        self._token = token
        self._token_expires = self.clock.now() + float(body.get("expires_in") or 3600)
        return token

    def _pace(self) -> None:
        """At most RATE_PER_S calls a second, whatever the burst allowance."""
        now = self.clock.now()
        if now < self._next_slot:
            self.clock.sleep(self._next_slot - now)
        self._next_slot = max(now, self._next_slot) + self.interval

    def restrictions(self, asin: str, condition_type: str | None) -> Restriction:
        """None: no condition sent, Amazon answers for every condition."""
        import tenacity

        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self.max_attempts),
            wait=tenacity.wait_exponential(multiplier=1, min=1, max=30),
            retry=tenacity.retry_if_exception(lambda e: isinstance(e, SpApiError)
                                              and e.retryable),
            sleep=self.clock.sleep, reraise=True)
        return retrying(self._restrictions_once, asin, condition_type)

    def _restrictions_once(self, asin: str, condition_type: str | None) -> Restriction:
        import requests

        self._pace()
        self.calls += 1
        try:
            resp = self.session.get(
                self.creds.endpoint + RESTRICTIONS_PATH,
                params={"asin": asin, "sellerId": self.creds.seller_id,
                        "marketplaceIds": self.creds.marketplace_id,
                        **({"conditionType": condition_type} if condition_type else {})},
                headers={"x-amz-access-token": self.access_token(),
                         "accept": "application/json"},
                timeout=self.timeout)
        except requests.RequestException as exc:
            raise SpApiError(0, f"connection failed ({type(exc).__name__})", True) from None
        if resp.status_code == 200:
            try:
                return parse_restrictions(resp.json(), condition_type)
            except ValueError:
                raise SpApiError(200, "answer is not JSON", True) from None
        retryable = resp.status_code == 429 or resp.status_code >= 500
        raise SpApiError(resp.status_code, _errors_text(resp), retryable)

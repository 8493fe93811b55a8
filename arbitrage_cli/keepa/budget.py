"""The controlled deficit (R2, R3): one token budget shared by every process via deals.db.

Keepa executes a call whenever the balance is > 0, whatever it costs, and lets the balance go
negative. We call only while the projected balance (last snapshot + refills since, minus calls
in flight) is positive and the call's worst case keeps it above -allowance. When that is not
true, we wait if the refill is near (bounded), else raise BudgetPaused so the run ends and cron
resumes it. Predictions follow Keepa's price list, corrected by observed `tokensConsumed`.
"""

from __future__ import annotations

import dataclasses
import math
import uuid

import sqlite_utils

from arbitrage_cli import signals
from arbitrage_cli.clock import Clock, SystemClock
from arbitrage_cli.keepa import constants as K
from arbitrage_cli.keepa.errors import BudgetPaused
from arbitrage_cli.store import immediate
from arbitrage_cli.store import tokens as sql
from arbitrage_cli.timefmt import iso_utc, local_hhmm

TICK_MS = 60_000
# Our clock and Keepa's differ by latency and skew: count a refill tick only this long after
# Keepa said it would come, or a call could arrive a moment early and be refused (429).
TICK_MARGIN_MS = 500
DEFAULT_ALLOWANCE = 60
DEFAULT_MAX_WAIT_S = 61.0  # one refill tick (+ margin) at most: never minutes under a lock
COST_EWMA_ALPHA = 0.3


@dataclasses.dataclass(frozen=True)
class Snapshot:
    tokens_left: int
    refill_rate: int
    refill_in_ms: int
    observed_at_ms: int
    keepa_timestamp_ms: int = 0
    token_flow_reduction: float = 0.0

    @property
    def capacity(self) -> int:
        return self.refill_rate * 60


def project(snap: Snapshot, now_ms: int) -> int:
    """Balance at `now_ms`: +refill_rate at each minute tick after the snapshot, capped at
    60 x rate (tokens expire after an hour)."""
    if snap.refill_rate <= 0 or snap.tokens_left >= snap.capacity:
        return snap.tokens_left
    return min(snap.capacity, snap.tokens_left + _ticks(snap, now_ms) * snap.refill_rate)


def _ticks(snap: Snapshot, now_ms: int) -> int:
    first_tick = snap.observed_at_ms + snap.refill_in_ms + TICK_MARGIN_MS
    if now_ms < first_tick:
        return 0
    return 1 + (now_ms - first_tick) // TICK_MS


def ms_until(snap: Snapshot, now_ms: int, target: int) -> int | None:
    """Milliseconds until the projected balance reaches `target` (None: never)."""
    if project(snap, now_ms) >= target:
        return 0
    if snap.refill_rate <= 0 or target > snap.capacity:
        return None
    ticks_needed = math.ceil((target - snap.tokens_left) / snap.refill_rate)
    at = snap.observed_at_ms + snap.refill_in_ms + TICK_MARGIN_MS + (ticks_needed - 1) * TICK_MS
    return max(0, at - now_ms)


@dataclasses.dataclass(frozen=True)
class Decision:
    ok: bool
    available: int
    predicted: int
    worst: int
    wait_ms: int | None  # None: unknown balance, or never


def decide(snap: Snapshot | None, reserved: int, predicted: int, worst: int, allowance: int,
           now_ms: int) -> Decision:
    if snap is None:
        return Decision(True, 0, predicted, worst, 0)
    available = project(snap, now_ms) - reserved
    # A call that can never fit (bigger than a full bucket plus allowance) goes ahead at a
    # full bucket: refusing it forever would be a livelock.
    full = max(1, snap.capacity)
    never_fits = worst - allowance > full
    if worst == 0 or (available > 0 and (available - worst >= -allowance
                                         or never_fits and available >= full)):
        return Decision(True, available, predicted, worst, 0)
    # Needed: a positive balance that keeps the worst case above -allowance.
    target = min(max(1, worst - allowance) + reserved, full)
    return Decision(False, available, predicted, worst, ms_until(snap, now_ms, target))


class TokenBudget:
    def __init__(self, db: sqlite_utils.Database, clock: Clock | None = None, *,
                 allowance: int = DEFAULT_ALLOWANCE, max_wait_s: float = DEFAULT_MAX_WAIT_S,
                 reservation_ttl_s: float = 300.0):
        if allowance < 0:
            raise ValueError("allowance must be >= 0")
        self.db = db
        self.clock = clock or SystemClock()
        self.allowance = allowance
        self.max_wait_s = max_wait_s
        self.stop_at: float | None = None  # --max-minutes: never wait for tokens past it
        self.reservation_ttl_ms = int(reservation_ttl_s * 1000)
        self.owner = f"budget-{uuid.uuid4().hex[:8]}"

    def _now_ms(self) -> int:
        return int(self.clock.now() * 1000)

    def snapshot(self) -> Snapshot | None:
        row = sql.read_snapshot(self.db)
        if row is None:
            return None
        return Snapshot(**{f: row[f] for f in sql.SNAPSHOT_FIELDS})

    def balance(self) -> int | None:
        snap = self.snapshot()
        return None if snap is None else project(snap, self._now_ms())

    # -- cost prediction -------------------------------------------------------------------
    def predict(self, kind: str, units: int, offers: int | None = None) -> tuple[int, int]:
        """(predicted, worst case) tokens for a call, from Keepa's prices and observed costs."""
        if kind == "token":
            return 0, 0
        if kind == "deal":
            return K.TOKENS_PER_DEAL_PAGE, K.TOKENS_PER_DEAL_PAGE
        if kind == "query":
            cost = K.TOKENS_PER_QUERY + math.ceil(units / 100)
            return cost, cost
        if kind == "seller":
            return units * K.TOKENS_PER_SELLER, units * K.TOKENS_PER_SELLER
        if kind == "product":
            base, worst_unit = K.TOKENS_PER_PRODUCT, K.TOKENS_PER_PRODUCT
        elif kind == "product_offers":
            pages = math.ceil((offers or K.OFFERS_MIN) / 10)
            # + 1: update=0 on a product refreshed within the hour
            base, worst_unit = K.TOKENS_PER_OFFER_PAGE, K.TOKENS_PER_OFFER_PAGE * pages + 1
        else:
            raise ValueError(f"unknown cost kind {kind!r}")
        learned = sql.cost_per_unit(self.db, kind)
        per_unit = min(worst_unit, learned[0]) if learned else base
        return math.ceil(per_unit * units), worst_unit * units

    def _learn(self, kind: str, units: int, consumed: int) -> None:
        if units <= 0 or kind not in ("product", "product_offers"):
            return
        learned = sql.cost_per_unit(self.db, kind)
        observed = consumed / units
        if learned is None:
            per_unit, samples = observed, 1
        else:
            per_unit = learned[0] + COST_EWMA_ALPHA * (observed - learned[0])
            samples = learned[1] + 1
        sql.save_cost(self.db, kind, per_unit, samples, iso_utc(self.clock.now()))

    # -- spending --------------------------------------------------------------------------
    def can_spend(self, predicted: int, worst: int | None = None) -> bool:
        """Would a call of this cost be made now? (read-only; `reserve` is the atomic form)"""
        return self.decide(predicted, worst).ok

    def decide(self, predicted: int, worst: int | None = None) -> Decision:
        now = self._now_ms()
        return decide(self.snapshot(), sql.reserved_tokens(self.db, now), predicted,
                      predicted if worst is None else worst, self.allowance, now)

    def reserve(self, predicted: int, worst: int | None = None) -> int | None:
        """Promise `predicted` tokens to a call about to be sent, or wait briefly, or raise
        BudgetPaused. Returns a reservation id to hand to `observe`."""
        worst = predicted if worst is None else worst
        while True:
            with immediate(self.db):
                now = self._now_ms()
                d = decide(self.snapshot(), sql.reserved_tokens(self.db, now), predicted, worst,
                           self.allowance, now)
                if d.ok:
                    if predicted <= 0:
                        return None
                    return sql.add_reservation(self.db, self.owner, predicted, now,
                                               self.reservation_ttl_ms)
            wait_s = None if d.wait_ms is None else d.wait_ms / 1000
            if wait_s is None or wait_s > self.max_wait_s:
                resume_at = self.clock.now() + (wait_s if wait_s is not None else 3600)
                raise BudgetPaused(
                    f"paused: {worst} tokens needed, balance {d.available}, "
                    f"refill at {local_hhmm(resume_at)}",
                    needed=worst, resume_at=resume_at)
            if self.stop_at is not None and self.clock.now() + wait_s > self.stop_at:
                raise BudgetPaused(
                    f"paused: the {wait_s:.0f} s wait for {worst} tokens would pass "
                    f"--max-minutes; the next run resumes", needed=worst,
                    resume_at=self.clock.now() + wait_s)
            # The wait ends on a refill tick, so the next decision has more tokens: no livelock.
            self.clock.sleep(wait_s + 0.05)
            if signals.requested():
                raise signals.StopRequested()

    def observe(self, envelope: dict, reservation_id: int | None, kind: str | None = None,
                units: int = 0) -> None:
        """Record what Keepa said after a call (any status) and settle its reservation."""
        with immediate(self.db):
            if reservation_id is not None:
                sql.drop_reservation(self.db, reservation_id)
            if envelope.get("tokensLeft") is not None:
                sql.write_snapshot(self.db, {
                    "tokens_left": int(envelope["tokensLeft"]),
                    "refill_rate": int(envelope.get("refillRate") or 0),
                    "refill_in_ms": int(envelope.get("refillIn") or 0),
                    "token_flow_reduction": float(envelope.get("tokenFlowReduction") or 0.0),
                    "keepa_timestamp_ms": int(envelope.get("timestamp") or self._now_ms()),
                    "observed_at_ms": self._now_ms(),
                }, int(envelope.get("tokensConsumed") or 0))
            if kind and envelope.get("tokensConsumed"):
                self._learn(kind, units, int(envelope["tokensConsumed"]))

    def release(self, reservation_id: int | None) -> None:
        if reservation_id is not None:
            sql.drop_reservation(self.db, reservation_id)

"""Fault injection for the simulator: `429=0.05,500=0.02,timeout=0.01,...`.

Kinds: 429 (refused, no charge), 500/502/503 (no charge), reset (connection dropped, no
charge), timeout (answer after the client gave up: charged), slow (answer late but in time:
charged), truncate (body cut: charged), nonjson (an HTML error page with 200), missing (a
product/seller/deal loses a key: charged), wrongtype (a field gets a wrong type: charged),
offersfail (`offersSuccessful: false` on one product: 1 token for it), duplicate (a /product
answer holds one of its products twice, the second copy with every offer at 1 cent: charged),
nest (a body of 200,000 `[`: charged). `all=P` spreads P over those kinds. The listing kinds
are not in `all`: emptylisting (/deal answers with no deals) and shrinklisting (/deal lists a
third of its deals), at their rate of /deal calls. `storm429=N`: the next N calls are
refused. `badkey` / `expiredkey`: every call is answered 400 / 402.
"""

from __future__ import annotations

import random
import threading

KINDS = ("429", "500", "502", "503", "reset", "timeout", "slow", "truncate", "nonjson",
         "missing", "wrongtype", "offersfail", "duplicate", "nest")
LISTING_KINDS = ("emptylisting", "shrinklisting")  # what a broken query or Keepa outage does


class FaultPlan:
    def __init__(self, rates: dict[str, float] | None = None, *, seed: int = 0,
                 storm429: int = 0, bad_key: bool = False, expired_key: bool = False,
                 slow_s: float = 0.5, timeout_s: float = 5.0):
        self.rates = dict(rates or {})
        self.storm429 = storm429
        self.bad_key, self.expired_key = bad_key, expired_key
        self.slow_s, self.timeout_s = slow_s, timeout_s
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self.injected: dict[str, int] = {}

    @classmethod
    def parse(cls, spec: str | None, seed: int = 0) -> FaultPlan:
        """`429=0.05,timeout=0.01,storm429=3,badkey,slow_s=2` -> FaultPlan (ValueError on bad)."""
        plan = cls(seed=seed)
        for part in filter(None, (p.strip() for p in (spec or "").split(","))):
            name, _, value = part.partition("=")
            if name == "badkey" and not value:
                plan.bad_key = True
            elif name == "expiredkey" and not value:
                plan.expired_key = True
            elif name == "storm429":
                plan.storm429 = int(value)
            elif name in ("slow_s", "timeout_s"):
                setattr(plan, name, float(value))
            elif name == "all":
                for kind in KINDS:
                    plan.rates[kind] = plan.rates.get(kind, 0) + float(value) / len(KINDS)
            elif name in KINDS or name in LISTING_KINDS:
                rate = float(value)
                if not 0 <= rate <= 1:
                    raise ValueError(f"fault rate for {name} must be within 0..1, got {rate}")
                plan.rates[name] = rate
            else:
                raise ValueError(f"unknown fault {name!r}; kinds: "
                                 f"{', '.join(KINDS + LISTING_KINDS)}, all, "
                                 f"storm429=N, badkey, expiredkey, slow_s, timeout_s")
        return plan

    def draw(self) -> str | None:
        """The fault for the next request, or None."""
        with self._lock:
            if self.storm429 > 0:
                self.storm429 -= 1
                return self._count("429")
            r = self._rng.random()
            acc = 0.0
            for kind in KINDS:
                acc += self.rates.get(kind, 0.0)
                if r < acc:
                    return self._count(kind)
            return None

    def listing(self) -> str | None:
        """The listing fault for the next /deal call, or None (drawn apart from `draw`)."""
        with self._lock:
            for kind in LISTING_KINDS:
                if self.rates.get(kind) and self._rng.random() < self.rates[kind]:
                    return self._count(kind)
            return None

    def _count(self, kind: str) -> str:
        self.injected[kind] = self.injected.get(kind, 0) + 1
        return kind

    def rng(self) -> random.Random:
        return self._rng

    def __bool__(self) -> bool:
        return bool(self.rates or self.storm429 or self.bad_key or self.expired_key)

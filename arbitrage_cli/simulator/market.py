"""One simulated book's market over its whole history: offers listed, repriced, relisted,
withdrawn and sold, and the sales rank Amazon reports (the simulator's own model of Keepa's
data; nothing here is shared with the analysis it is tested against).

The rank follows a sales score, the way Amazon's rank is understood to: each sale adds to a
score with a short memory (days) and a long one (weeks); the rank is about
`r0 / (score + eps)`, with a slow drift up while nothing sells and a small multiplicative
wiggle on every report. So a slow book
jumps from millions to a few hundred thousand at a sale and decays for weeks (the sawtooth of
the real files), a faster one jumps less, and several sales between two reports show as one
jump. The noise is the kind the real files show (`../shared/real-keepa`, docs/benchmarks.md
"Sales"): reports that wiggle a few percent with no sale, listings that leave and come back
(offer-count drops without a sale), repricers stepping prices, sales from listings of several
copies (no offer-count drop), and Amazon's rank lagging a sale by hours now and then.
"""

from __future__ import annotations

import dataclasses
import heapq
import math
import random
from collections.abc import Callable

DAY = 1440
MIN_RANK, MAX_RANK = 500, 5_000_000
TWO_PI = 2.0 * math.pi
KEEPA_RANK_DROP = 0.05  # Keepa counts a rank drop of more than ~5% as a sale (real files)


@dataclasses.dataclass(frozen=True, slots=True)
class SimSale:
    """The truth: one copy sold."""
    time: int  # Keepa minute the copy left (the offer-count drop, when there is one)
    offer_id: int
    condition: int
    price: int  # item price
    shipping: int
    report: int | None  # the rank report that first shows it (None: none before the horizon)


@dataclasses.dataclass(frozen=True)
class RankModel:
    r0: float  # the rank with a score of 1 (one sale just now)
    eps: float  # the score floor: an unsold book's rank is about r0 / eps
    tau_fast: float  # minutes: how fast a sale's first weight decays (days: the jump's fall)
    tau_slow: float  # minutes: the long memory (weeks: the slow climb after)
    slow_weight: float
    drift: float  # log-rank per day the rank keeps rising while nothing sells (up to 60 days)
    sigma: float  # the report-to-report wiggle (log scale)
    step: int  # minutes between reports
    same_minute: float  # share of sales whose offer change triggers a report at once
    lag: float  # share of sales Amazon's rank shows only hours later

    @classmethod
    def draw(cls, rng: random.Random, sparse: bool) -> RankModel:
        r0 = 200_000 * rng.uniform(0.5, 2.0)
        return cls(r0=r0, eps=r0 / rng.uniform(1_000_000, 4_000_000),
                   tau_fast=rng.uniform(1, 3) * DAY, tau_slow=rng.uniform(15, 40) * DAY,
                   slow_weight=rng.uniform(0.05, 0.2), drift=rng.uniform(0.0, 0.01),
                   sigma=rng.uniform(0.004, 0.012),
                   step=rng.randint(2 * DAY, 7 * DAY) if sparse else rng.randint(180, 720),
                   same_minute=0.0 if sparse else 0.35, lag=rng.uniform(0.1, 0.4))

    def steady(self, sales_per_day: float) -> tuple[float, float]:
        """The (fast, slow) scores of a book that has sold at this rate for a while."""
        return sales_per_day * self.tau_fast / DAY, sales_per_day * self.tau_slow / DAY


class Rank:
    """The reports of one product's rank, driven by the sales fed to it."""

    def __init__(self, model: RankModel, rng: random.Random, start: int,
                 sales_per_day: float = 0.0):
        self.m, self.rng = model, rng
        # an unsold book's rank levels off, each at its own height (not all at one round
        # number): 3.75 to 6.25 million, from the model's draw (no extra random number)
        self.cap = int(MAX_RANK * (0.75 + 0.5 * math.modf(model.r0)[0]))
        self.fast, self.slow = model.steady(sales_per_day)
        self.at = start
        self.last_sale = start if sales_per_day else start - 60 * DAY
        self.pending: list[tuple[int, int]] = []  # (effective minute, sale index)
        self.points: list[list[int]] = []
        self.shown: dict[int, int] = {}  # sale index -> report minute
        self.next = start
        self.report(start)

    def sale(self, t: int, index: int) -> int:
        """A sale at `t`; returns when Amazon's rank takes it into account."""
        lag = self.rng.randint(60, 720) if self.rng.random() < self.m.lag else 0
        heapq.heappush(self.pending, (t + lag, index))
        if lag == 0 and self.rng.random() < self.m.same_minute:
            self.report(t)
        return t + lag

    def until(self, t: int) -> None:
        """Every scheduled report up to `t`."""
        if self.next <= t:
            self._reports(t, None)

    def report(self, t: int) -> None:
        """One report at `t`, outside the schedule (a sale's offer change triggers it)."""
        self._reports(t, t)

    def _reports(self, until: int, single: int | None) -> None:
        """The reports at the scheduled minutes up to `until`, or one at `single`. One loop
        with the state in locals: a three-year history has thousands of reports, and this is
        most of a product's generation time. The Gaussian wiggle is random.gauss written
        out (the same draws from the same generator, so a catalog stays the same)."""
        m, rng = self.m, self.rng
        rnd = rng.random
        tau_fast, tau_slow, r0, eps = m.tau_fast, m.tau_slow, m.r0, m.eps
        slow_weight, drift, sigma, step = m.slow_weight, m.drift, m.sigma, m.step
        fast, slow, at, last_sale = self.fast, self.slow, self.at, self.last_sale
        pending, points, shown, cap = self.pending, self.points, self.shown, self.cap
        exp, heappop, sqrt, log, cos, sin = (math.exp, heapq.heappop, math.sqrt, math.log,
                                             math.cos, math.sin)
        gauss_next = rng.gauss_next
        t = self.next if single is None else single
        last_t, last_rank = (points[-1][0], points[-1][1]) if points else (None, None)
        while t <= until:
            if t != at:
                fast *= exp((at - t) / tau_fast)
                slow *= exp((at - t) / tau_slow)
                at = t
            while pending and pending[0][0] <= t:
                effective, index = heappop(pending)
                fast += exp((effective - t) / tau_fast)
                slow += exp((effective - t) / tau_slow)
                if effective > last_sale:
                    last_sale = effective
                shown[index] = t
            idle = (t - last_sale) / DAY
            z, gauss_next = gauss_next, None
            if z is None:
                x2pi = rnd() * TWO_PI
                g2rad = sqrt(-2.0 * log(1.0 - rnd()))
                z, gauss_next = cos(x2pi) * g2rad, sin(x2pi) * g2rad
            value = r0 / (fast + slow_weight * slow + eps) * exp(
                drift * (idle if idle < 60.0 else 60.0) + (0.0 + z * sigma))
            rank = MIN_RANK if value < MIN_RANK else cap if value > cap else int(value)
            if last_t == t:
                points[-1][1] = last_rank = rank
            elif rank != last_rank:
                points.append([t, rank])
                last_t, last_rank = t, rank
            if single is not None:
                break
            gap = int(step * (0.6 + 0.8 * rnd()))
            t += gap if gap > 60 else 60
        if single is None:
            self.next = t
        rng.gauss_next = gauss_next
        self.fast, self.slow, self.at, self.last_sale = fast, slow, at, last_sale


@dataclasses.dataclass
class Churn:
    """How a product's listings come and go, besides sales (per day)."""
    delist: float  # per live offer: withdrawn for good
    relist: float  # per live offer: withdrawn and listed again hours or days later
    reprice: float  # per live offer
    repricer_share: float  # offers whose seller runs a repricer (small steps, often)
    multi_copy: float  # share of listings with several copies (a sale leaves the count)
    same_crawl_listing: float  # share of sales with a new listing at the same minute

    @classmethod
    def draw(cls, rng: random.Random) -> Churn:
        return cls(delist=0.002, relist=rng.uniform(0.002, 0.02), reprice=0.01,
                   repricer_share=rng.uniform(0.0, 0.4), multi_copy=rng.uniform(0.2, 0.7),
                   same_crawl_listing=rng.uniform(0.1, 0.5))


def sale_reports(sales: list[SimSale]) -> dict[int, list[SimSale]]:
    """Rank report minute -> the true sales it shows (a report may show several)."""
    out: dict[int, list[SimSale]] = {}
    for s in sales:
        if s.report is not None:
            out.setdefault(s.report, []).append(s)
    return out


Seasonal = Callable[[int], float]
__all__ = ["Churn", "DAY", "KEEPA_RANK_DROP", "Rank", "RankModel", "SimSale", "Seasonal",
           "sale_reports"]

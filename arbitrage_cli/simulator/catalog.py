"""A deterministic synthetic catalog of used books with multi-year histories.

Each product is simulated as a market (simulator/market.py): offers are listed, repriced,
relisted, withdrawn and sold over three years. A sale takes the cheapest shippable used copy
(an offer-count drop, unless its listing holds more copies) and shows as a jump of the sales
rank at the next report (or a later one). Every csv series is derived from that one history,
so they agree the way Keepa's do, and `SimProduct.sales` keeps the truth. Part of
the history lies in the future of the catalog's creation time: as the clock advances, products
change and a delta sync has work. A product is generated when first asked for and
the most recently used are kept (simulator/listing.py keeps what the deal listing reads of
every product).
"""

from __future__ import annotations

import bisect
import collections
import dataclasses
from array import array
import hashlib
import heapq
import itertools
import math
import random
import threading

from arbitrage_cli.keepa.constants import AMAZON_SELLER_ID
from arbitrage_cli.simulator.market import Churn, Rank, RankModel, SimSale
from arbitrage_cli.simulator.series import Points
from arbitrage_cli.timefmt import keepa_minutes_from_epoch

DAY = 1440
BOOKS_ROOT = 283155
USED_DRAW, USED_CUM = (2, 3, 4, 5), (1, 4, 8, 9.5)  # used conditions and their odds 1:3:4:1.5
CONDITION_FACTOR = {1: 1.5, 2: 1.15, 3: 1.0, 4: 0.9, 5: 0.75}  # price against a Good copy
KEPT_PRODUCTS = 256  # whole products kept (~250 KB each with their series)
CATEGORIES = [  # (leaf id, name)
    (4, "Children's Books"), (5, "Computers & Technology"), (6, "Cookbooks, Food & Wine"),
    (48, "Crafts, Hobbies & Home"), (9, "History"), (10, "Health, Fitness & Dieting"),
    (173507, "Medical Books"), (75, "Science & Math"), (8975347011, "Education & Teaching"),
    (10777, "Law"), (23, "Romance"), (27, "Travel"), (3, "Business & Money"),
    (3377866011, "Politics & Social Sciences"), (17, "Literature & Fiction"),
]
TITLE_WORDS = ["Principles", "Introduction", "Essentials", "Guide", "Handbook", "Modern",
               "Applied", "Foundations", "Advanced", "Practical", "Complete", "Theory",
               "Concepts", "Art", "Science", "History", "World", "Design", "Systems", "Methods"]
ADJECTIVES = {"Modern", "Applied", "Advanced", "Practical", "Complete"}
TOPICS = ["Biology", "Chemistry", "Calculus", "Economics", "Psychology", "Accounting",
          "Statistics", "Physics", "Marketing", "Sociology", "Philosophy", "Anatomy",
          "Programming", "Finance", "Literature", "Astronomy", "Geology", "Ethics"]
# the category a title belongs in (a bookseller reads "Law School Confidential" under Law)
TOPIC_CATEGORY = {
    **dict.fromkeys(["Biology", "Chemistry", "Calculus", "Statistics", "Physics", "Astronomy",
                     "Geology", "College Algebra"], 75),
    **dict.fromkeys(["Economics", "Accounting", "Marketing", "Finance"], 3),
    **dict.fromkeys(["Psychology", "Sociology", "Philosophy", "Ethics"], 3377866011),
    **dict.fromkeys(["Anatomy", "NCLEX-RN Review"], 173507),
    "Programming": 5, "Literature": 17, "Gardening for Everyone": 48,
    "The Christmas Book": 4, "Law School Confidential": 10777, "Travel Guide to Italy": 27,
    "Grilling and BBQ Basics": 6, "MCAT Biology Review": 8975347011,
    "Fitness After Forty": 10, "AP Chemistry Prep": 8975347011,
}
SEASONAL_TITLES = ["Gardening for Everyone", "The Christmas Book", "NCLEX-RN Review",
                   "College Algebra", "Law School Confidential", "Travel Guide to Italy",
                   "Grilling and BBQ Basics", "MCAT Biology Review", "Fitness After Forty",
                   "AP Chemistry Prep"]
AUTHORS = ["Smith", "Johnson", "Garcia", "Chen", "Nguyen", "Patel", "Miller", "Okafor",
           "Kowalski", "Rossi", "Haddad", "Larsen", "Tanaka", "Moreau", "Silva"]
PUBLISHERS = ["Pearson", "Wiley", "Cengage Learning", "McGraw-Hill Education", "Penguin",
              "HarperCollins", "Vintage", "Oxford University Press", "Norton", "Random House"]
SELLER_WORDS = ["Books", "Media", "Readers", "Page", "Shelf", "Library", "Campus", "Store",
                "Discount", "Rare", "Text", "Planet", "Better World", "Thrift", "Owl"]


@dataclasses.dataclass(eq=False, slots=True)  # identity: removing one from the live list is O(n), not O(n*fields)
class SimOffer:
    offer_id: int
    seller_id: str
    condition: int
    is_fba: bool
    listed: int
    ended: int | None = None  # Keepa minute it left the market; None: still live at horizon
    sold: bool = False
    prices: list[list[int]] = dataclasses.field(default_factory=list)  # [t, price, shipping]
    comment: str | None = None
    quantity: int = 1  # copies left in this listing
    repricer: bool = False  # its seller steps the price down now and then

    @property
    def is_amazon(self) -> bool:
        return self.seller_id == AMAZON_SELLER_ID

    def live_at(self, t: int) -> bool:
        return self.listed <= t and (self.ended is None or self.ended > t)

    def price_at(self, t: int) -> tuple[int, int]:
        price, ship = self.prices[0][1], self.prices[0][2]
        for pt, pp, ps in self.prices:
            if pt > t:
                break
            price, ship = pp, ps
        return price, ship


@dataclasses.dataclass
class SimSeller:
    seller_id: str
    name: str
    rating_pct: int  # -1: no rating yet
    rating_count: int
    tracked_since: int
    fba_share: float
    weight: float


@dataclasses.dataclass
class SimProduct:
    index: int
    asin: str
    title: str
    author: str
    publisher: str
    binding: str
    category: tuple[int, str]
    publication_date: int
    tracking_since: int
    listed_since: int
    refresh_minutes: int
    fba_fee: int | None
    referral_pct: float | None
    closing_fee: int
    offers: list[SimOffer]
    rank_points: Points  # (t, rank)
    amazon_prices: list[list[int]]  # [t, price]; empty: Amazon never sold it
    change_times: array  # sorted minutes at which any series changed ('q')
    sales: list[SimSale] = dataclasses.field(default_factory=list)  # the truth, oldest first
    series: dict | None = None  # its csv series, built once (views.build_series)


def isbn10(n: int) -> str:
    digits = f"{n % 1_000_000_000:09d}"
    check = sum((10 - i) * int(d) for i, d in enumerate(digits)) % 11
    check = (11 - check) % 11
    return digits + ("X" if check == 10 else str(check))


def ordinal(n: int) -> str:
    """2nd, 3rd, 4th, 11th, 12th, 13th, 21st."""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _category(drawn: tuple[int, str], topic: str) -> tuple[int, str]:
    """The title's own category (the draw is kept, so the rest of a product stays the same)."""
    wanted = TOPIC_CATEGORY.get(topic)
    return next((c for c in CATEGORIES if c[0] == wanted), drawn)


class Catalog:
    """`Catalog(seed=7, products=200, now=<epoch s>)`: product i is the same for a given seed
    whatever else is asked; products are generated on use, the KEPT_PRODUCTS most recent
    kept, and every one a test changed (`reprice`) kept for good."""

    def __init__(self, seed: int = 7, products: int = 200, now: float | None = None,
                 history_days: int = 1095, future_days: int = 30, sellers: int | None = None,
                 season_now: float | None = None):
        """`season_now` (epoch s): the calendar date the seasons take for the creation time,
        so that a catalog made on any day is the same one (the demo's); default: the real
        date."""
        import time as _time

        now = _time.time() if now is None else now
        self.seed = seed
        self.size = products
        self.created = keepa_minutes_from_epoch(now)
        self.season_shift = 0 if season_now is None else \
            keepa_minutes_from_epoch(season_now) - self.created
        self.history_days = history_days
        self.future_days = future_days
        self.horizon = self.created + future_days * DAY
        # what makes this catalog: a worker process builds the same one (simulator/listing.py)
        self.args = {"seed": seed, "products": products, "now": now, "history_days": history_days,
                     "future_days": future_days, "sellers": sellers, "season_now": season_now}
        self._lock = threading.RLock()
        # whole products: the most recently used (LRU) and every one changed by a test
        self._products: collections.OrderedDict[int, SimProduct] = collections.OrderedDict()
        self._changed: dict[int, SimProduct] = {}
        self.listings: dict[int, object] = {}  # index -> its Listing (simulator/listing.py)
        self.sellers = self._make_sellers(sellers or max(12, products // 6))
        # cumulative once: random.choices would add up thousands of weights on every draw
        self._seller_cum = list(itertools.accumulate(s.weight for s in self.sellers))
        self.asins = [isbn10(self._rng("asin", i).randrange(10**9)) for i in range(products)]
        self._asin_index = {a: i for i, a in enumerate(self.asins)}
        self.seller_by_id = {s.seller_id: s for s in self.sellers}

    # -- determinism -----------------------------------------------------------------------
    def _rng(self, *parts) -> random.Random:
        digest = hashlib.sha256(repr((self.seed, *parts)).encode()).digest()
        return random.Random(int.from_bytes(digest[:8], "big"))

    def _make_sellers(self, n: int) -> list[SimSeller]:
        out = []
        for i in range(n):
            rng = self._rng("seller", i)
            sid = "A" + "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
                                for _ in range(13))
            big = i < max(2, n // 8)  # a few big used-book sellers win most deals
            weight = (20.0 if big else 1.0) / (1 + i) ** 0.3
            if big:
                pct, count = rng.randint(92, 99), rng.randint(20_000, 2_000_000)
            elif rng.random() < 0.1:
                pct, count = -1, 0  # brand-new seller: no rating yet
            else:
                pct, count = rng.randint(70, 100), rng.randint(1, 800)
            name = f"{rng.choice(SELLER_WORDS)} {rng.choice(SELLER_WORDS)} {i}"
            out.append(SimSeller(sid, name, pct, count,
                                 self.created - rng.randint(400, 4000) * DAY,
                                 0.8 if big and rng.random() < 0.5 else rng.random() * 0.4,
                                 weight))
        return out

    # -- access ----------------------------------------------------------------------------
    def index_of(self, asin: str) -> int | None:
        return self._asin_index.get(asin)

    def product(self, asin: str) -> SimProduct | None:
        i = self.index_of(asin)
        if i is None:
            return None
        with self._lock:
            if i in self._changed:
                return self._changed[i]
            p = self._products.get(i)
            if p is None:
                p = self._products[i] = self.generate(i)
                if len(self._products) > KEPT_PRODUCTS:
                    self._products.popitem(last=False)
            else:
                self._products.move_to_end(i)
            return p

    def changed(self, i: int) -> bool:
        """Whether a test changed product `i` (then only the whole product has it right)."""
        return i in self._changed

    def all_products(self) -> list[SimProduct]:
        return [self.product(a) for a in self.asins]

    # -- mutation (tests: "change N products") ---------------------------------------------
    def reprice(self, asin: str, at: int, factor: float = 0.8) -> None:
        """Every live used offer of `asin` changes price at Keepa minute `at`."""
        p = self.product(asin)
        with self._lock:
            self._changed[p.index] = p  # kept whole from now on; its listing is stale
            self.listings.pop(p.index, None)
            p.series = None  # and so are its series
            for o in p.offers:
                if o.live_at(at) and o.condition != 1:
                    price, ship = o.price_at(at)
                    o.prices = [x for x in o.prices if x[0] < at]
                    o.prices.append([at, max(100, int(price * factor)), ship])
            p.change_times = array("q", sorted(set(p.change_times) | {at}))

    # -- generation ------------------------------------------------------------------------
    def generate(self, i: int) -> SimProduct:
        """Product `i`, generated anew (the same every time for a catalog)."""
        rng = self._rng("product", i)
        start = self.created - rng.randint(min(200, self.history_days), self.history_days) * DAY
        base = int(min(30_000, max(500, math.exp(rng.gauss(math.log(3500), 0.75)))))
        amp = rng.uniform(0.05, 0.5)
        peak = rng.choice([1, 8, 8, 9, rng.randint(1, 12)])
        kind = rng.random()
        sales_per_day = (rng.uniform(0.3, 1.0) if kind < 0.2 else
                         rng.uniform(0.05, 0.3) if kind < 0.7 else rng.uniform(0.004, 0.05))
        # Keepa reports the rank of a slow book now and then, days apart
        sparse_rank = sales_per_day < 0.03 and rng.random() < 0.5
        churn = Churn.draw(rng)
        target_live = rng.randint(1, 10)
        amazon = rng.random() < 0.12
        new_only = rng.random() < 0.06  # nobody sells it used

        shift = self.season_shift

        def seasonal(t: int) -> float:
            month = (((t + shift) / DAY) % 365.25) / 30.44  # months since Jan 1 (approx.)
            return base * (1 + amp * math.cos(2 * math.pi * (month - (peak - 1)) / 12))

        draw, sellers, seller_cum = rng.random, self.sellers, self._seller_cum
        seller_total = seller_cum[-1] + 0.0
        offers: list[SimOffer] = []
        live_offers: list[SimOffer] = []
        planned_end: list[tuple[int, int, SimOffer]] = []  # (minute, offer id, offer)
        next_id = [0]
        live_count = {"used": 0, "repricer": 0}  # kept as offers come and go (speed)

        def counted(o: SimOffer, sign: int) -> None:
            if o.seller_id != AMAZON_SELLER_ID and (o.condition != 1 or new_only):
                live_count["used"] += sign
            if o.repricer:
                live_count["repricer"] += sign

        def now_price(o: SimOffer) -> tuple[int, int]:
            """Its price while the market is generated: the last one set (prices are
            appended in time order here)."""
            return o.prices[-1][1], o.prices[-1][2]

        def new_offer(t: int, new_condition: bool = False, seller: SimSeller | None = None
                      ) -> SimOffer:
            # random.choices by cumulative weights, written out (the same draw): thousands
            # of offers a product
            seller = seller or sellers[bisect.bisect(seller_cum, draw() * seller_total, 0,
                                                     len(sellers) - 1)]
            cond = 1 if new_condition or new_only else \
                USED_DRAW[bisect.bisect(USED_CUM, draw() * USED_CUM[-1], 0, 3)]
            fba = draw() < seller.fba_share
            factor = CONDITION_FACTOR[cond]
            # now and then a seller underprices a copy: the arbitrage opportunity
            spread = rng.uniform(0.25, 0.5) if rng.random() < 0.25 else rng.uniform(0.7, 1.35)
            price = max(100, int(seasonal(t) * factor * spread * (1.12 if fba else 1)))
            if fba:
                ship = -1 if rng.random() < 0.1 else 0
            else:
                r = rng.random()
                ship = -1 if r < 0.06 else 0 if r < 0.16 else rng.choice([399, 399, 385, 449, 599])
            unshippable = ship == -1 and not fba
            o = SimOffer(next_id[0], seller.seller_id, cond, fba, t, prices=[[t, price, ship]],
                         comment=rng.choice([None, "Some highlighting.", "Ex-library copy.",
                                             "Clean pages, light wear."]),
                         quantity=rng.randint(2, 4) if rng.random() < churn.multi_copy else 1,
                         repricer=rng.random() < churn.repricer_share)
            if unshippable:  # unshippable listings do not linger for years
                heapq.heappush(planned_end, (t + rng.randint(1, 20) * DAY, o.offer_id, o))
            next_id[0] += 1
            offers.append(o)
            live_offers.append(o)
            counted(o, 1)
            return o

        def end(o: SimOffer, at: int, sold: bool) -> None:
            o.ended, o.sold = at, sold
            live_offers.remove(o)
            counted(o, -1)

        for _ in range(target_live):
            new_offer(start)
        if rng.random() < 0.5:
            new_offer(start, new_condition=True)
        amazon_prices: list[list[int]] = []
        if amazon:
            amazon_price = int(base * rng.uniform(1.3, 2.0))
            amazon_prices.append([start, amazon_price])
            amz = SimSeller(AMAZON_SELLER_ID, "Amazon.com", 100, 0, start, 1.0, 0)
            o = new_offer(start, new_condition=True, seller=amz)
            o.prices = [[start, amazon_price, 0]]

        model = RankModel.draw(rng, sparse_rank)
        rank = Rank(model, rng, start, sales_per_day)  # a selling book starts at its level
        change_times = {start}
        sold: list[tuple[int, SimOffer, int, int]] = []  # (minute, offer, price, shipping)
        relisted: list[tuple[int, int, SimOffer]] = []  # (minute, offer id, template)
        t = start

        def relist_due(until: int) -> None:
            while relisted and relisted[0][0] <= until:
                at, _, old = heapq.heappop(relisted)
                seller = self.seller_by_id.get(old.seller_id)
                o = new_offer(at, new_condition=old.condition == 1, seller=seller)
                counted(o, -1)
                o.condition, o.is_fba, o.prices = old.condition, old.is_fba, [[at, *now_price(old)]]
                o.quantity, o.repricer = old.quantity, old.repricer
                counted(o, 1)
                change_times.add(at)

        # the market refills toward target_live offers of the kind it sells: as fast as
        # listings leave it there (a sale from a listing of several copies leaves none)
        leaving = (sales_per_day * (1 - churn.multi_copy * 0.6) + churn.delist * target_live)
        while True:
            n_live = len(live_offers)
            birth = leaving * target_live / max(1, live_count["used"]) * 0.9 + 0.01
            delist = churn.delist * n_live
            relist = churn.relist * n_live
            repr_rate = churn.reprice * n_live + 0.1 * live_count["repricer"]
            total = sales_per_day + birth + delist + relist + repr_rate
            gap = int(-math.log(1.0 - draw()) / total * DAY)  # random.expovariate(total)
            t_event = t + (gap if gap > 1 else 1)
            reached = t_event if t_event < self.horizon else self.horizon
            rank.until(reached)
            if relisted and relisted[0][0] <= reached:
                relist_due(reached)
            t = t_event
            if t > self.horizon:
                break
            while planned_end and planned_end[0][0] <= t:
                at, _, o = heapq.heappop(planned_end)
                if o.ended is None:
                    end(o, at, False)
                    change_times.add(at)
            r = rng.random() * total
            if r < sales_per_day:
                # the buyer takes the cheapest shippable copy (landed), a used one 9 times in
                # 10 when there is one: both found in one pass
                cheapest = cheapest_used = None
                for x in live_offers:
                    price, ship = x.prices[-1][1], x.prices[-1][2]
                    if ship < 0 and not x.is_fba:
                        continue
                    k = ((price if price > 0 else 0) + (ship if ship > 0 else 0), x.offer_id)
                    if cheapest is None or k < cheapest[0]:
                        cheapest = (k, x)
                    if x.condition != 1 and (cheapest_used is None or k < cheapest_used[0]):
                        cheapest_used = (k, x)
                if cheapest_used is not None and rng.random() < 0.9:
                    o = cheapest_used[1]
                elif cheapest is None:
                    continue
                else:
                    o = cheapest[1]
                if o.seller_id == AMAZON_SELLER_ID:
                    continue
                price, ship = now_price(o)
                if o.quantity > 1:  # one copy of several: the offer count does not move
                    o.quantity -= 1
                else:
                    end(o, t, True)
                    if rng.random() < churn.same_crawl_listing:  # another copy listed at the
                        new_offer(t, new_condition=rng.random() < 0.12)  # same crawl
                change_times.add(t)
                sold.append((t, o, price, ship))
                rank.sale(t, len(sold) - 1)
            elif r < sales_per_day + birth:
                new_offer(t, new_condition=rng.random() < 0.12)
                change_times.add(t)
            elif r < sales_per_day + birth + delist + relist:
                cands = [o for o in live_offers if o.seller_id != AMAZON_SELLER_ID]
                if cands:
                    o = rng.choice(cands)
                    end(o, t, False)
                    change_times.add(t)
                    if r >= sales_per_day + birth + delist:  # back in hours or days
                        heapq.heappush(relisted, (t + rng.randint(120, 4320), o.offer_id, o))
            else:
                cands = live_offers
                if cands:
                    o = rng.choice(cands)
                    price, ship = now_price(o)
                    if o.repricer and rng.random() < 0.9:  # undercut by a step
                        new_price = int(price * rng.uniform(0.97, 0.995))
                    else:
                        target = seasonal(t) * rng.uniform(0.8, 1.2)
                        new_price = int((price + target) / 2)
                    o.prices.append([t, max(100, new_price), ship])
                    if o.is_amazon:
                        amazon_prices.append([t, o.prices[-1][1]])
                    change_times.add(t)
        rank.until(self.horizon)
        rank_points = Points(rank.points)
        change_times.update(rank_points.t)
        true_sales = [SimSale(st, o.offer_id, o.condition, price, ship, rank.shown.get(k))
                      for k, (st, o, price, ship) in enumerate(sold)]
        word, topic = rng.choice(TITLE_WORDS), rng.choice(TOPICS)
        if rng.random() < 0.15:
            title = topic = rng.choice(SEASONAL_TITLES)
        else:
            title = (f"{word} {topic}" if word in ADJECTIVES else
                     f"{word} {'to' if word in ('Introduction', 'Guide') else 'of'} {topic}")
        if rng.random() < 0.3:
            title += f", {ordinal(rng.randint(2, 14))} Edition"
        return SimProduct(
            index=i, asin=self.asins[i], title=title,
            author=f"{rng.choice('ABCDEFGHJKLMNPRSTW')}. {rng.choice(AUTHORS)}",
            publisher=rng.choice(PUBLISHERS), binding=rng.choice(["Paperback", "Hardcover"]),
            category=_category(rng.choice(CATEGORIES), topic),
            publication_date=int(f"{rng.randint(1995, 2025)}{rng.randint(1, 12):02d}"
                                 f"{rng.randint(1, 28):02d}"),
            tracking_since=start, listed_since=start - rng.randint(0, 2000) * DAY,
            refresh_minutes=rng.randint(60, 1440),
            fba_fee=None if rng.random() < 0.08 else rng.choice([306, 322, 375, 412, 468, 525]),
            referral_pct=None if rng.random() < 0.05 else rng.choice([15.0, 15.0, 15.01]),
            closing_fee=180, offers=offers, rank_points=rank_points,
            amazon_prices=amazon_prices, change_times=array("q", sorted(change_times)),
            sales=true_sales,
        )

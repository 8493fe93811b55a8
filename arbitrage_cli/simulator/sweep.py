"""The offer-derived csv series of a simulated product (new and used prices, offer counts,
the cheapest copy of each used condition), from its market: whole, or from a minute on.

One sweep over the market's changes in time order (at one minute: prices set, then listings,
then endings); after each minute the groups it touched (the new offers, or one used
condition) are summed up again and a series is extended where its value moved. From a
minute on (a deal listing reads only the last months), the changes before it only update
the book of live offers; the point in effect then, and the value before it, are found by
undoing changes backwards from there until each value differs, which is a few changes for
most series instead of three years of them.
"""

from __future__ import annotations

import bisect

from arbitrage_cli.keepa.constants import CONDITION_CSV, USED_CONDITIONS

USED_CSV = {c: CONDITION_CSV[c] for c in sorted(USED_CONDITIONS)}  # condition -> csv index
INDICES = (1, 2, 11, 12, *USED_CSV.values())
GROUPS = (1, *USED_CSV)  # 1: the new offers; 2-5: the live copies of one used condition


def landed(price: int, ship: int) -> int:
    return price if price < 0 else price + max(ship, 0)


def events(p) -> list[tuple]:
    """(minute, kind, sequence, offer, price, shipping), sorted; kind 0: a price set (before
    the listing that starts at it), 1: listed, 2: ended."""
    out = []
    for o in p.offers:
        for pt, price, ship in o.prices:
            out.append((pt, 0, len(out), o, price, ship))
        out.append((o.listed, 1, len(out), o, 0, 0))
        if o.ended is not None:
            out.append((o.ended, 2, len(out), o, 0, 0))
    out.sort()
    return out


class Book:
    """The live offers after some of the changes. A used copy is kept as (landed, listing
    order, price, shipping): the cheapest of a condition is the first listed among equal
    landed prices, whatever order the book was filled in."""
    __slots__ = ("prices", "new", "used", "summary")

    def __init__(self) -> None:
        self.prices: dict[int, tuple[int, int]] = {}  # offer id -> the price set last
        self.new: dict[int, int] = {}  # live new offer id -> price
        self.used: dict[int, dict[int, tuple]] = {c: {} for c in USED_CSV}
        self.summary: dict[int, tuple[int, int]] = {}  # condition -> (lowest price, count)

    def copy(self) -> Book:
        other = Book()
        other.prices, other.new = dict(self.prices), dict(self.new)
        other.used = {c: dict(live) for c, live in self.used.items()}
        other.summary = dict(self.summary)
        return other

    def _live(self, cond: int) -> dict | None:
        return self.new if cond == 1 else self.used.get(cond)

    def apply(self, n: int, event: tuple) -> tuple[int | None, object]:
        """Change `n` applied: (the group it touched or None, what undoes it)."""
        _, kind, _, o, price, ship = event
        oid, cond = o.offer_id, o.condition
        live = self._live(cond)
        if kind == 0:
            before = self.prices.get(oid)
            self.prices[oid] = (price, ship)
            if live is not None and oid in live:
                live[oid] = price if cond == 1 else (landed(price, ship), live[oid][1], price,
                                                     ship)
                return cond, before
            return None, before
        if kind == 1:
            if live is None:
                return None, None
            price, ship = self.prices[oid]
            live[oid] = price if cond == 1 else (landed(price, ship), n, price, ship)
            return cond, None
        gone = live.pop(oid, None) if live is not None else None
        return (cond if gone is not None else None), gone

    def undo(self, event: tuple, before: object) -> int | None:
        _, kind, _, o, _, _ = event
        oid, cond = o.offer_id, o.condition
        live = self._live(cond)
        if kind == 0:
            if before is None:
                self.prices.pop(oid, None)
            else:
                self.prices[oid] = before
            if live is not None and oid in live and before is not None:
                price, ship = before
                live[oid] = price if cond == 1 else (landed(price, ship), live[oid][1], price,
                                                     ship)
                return cond
            return None
        if kind == 1:
            return cond if live is not None and live.pop(oid, None) is not None else None
        if before is not None:
            live[oid] = before
            return cond
        return None

    def values(self, groups) -> dict[int, object]:
        """csv index -> its value now, for the series of the groups given (a used
        condition's cheapest copy is (landed, shipping))."""
        out: dict[int, object] = {}
        used = False
        for g in groups:
            if g == 1:
                out[1] = min(self.new.values(), default=-1)
                out[11] = len(self.new)
                continue
            live = self.used[g]
            if live:
                best = min(live.values())
                out[USED_CSV[g]] = (best[0], best[3])
                self.summary[g] = (min(c[2] for c in live.values()), len(live))
            else:
                out[USED_CSV[g]] = (-1, -1)
                self.summary[g] = (-1, 0)
            used = True
        if used:
            out[2] = min((s[0] for s in self.summary.values() if s[0] >= 0), default=-1)
            out[12] = sum(s[1] for s in self.summary.values())
        return out


def _starts(book: Book, changes: list[tuple], start: int, undo: list,
            now: dict[int, object]) -> dict[int, list[tuple[int, object]]]:
    """Each series' points in effect after change `start - 1`: the value then, from the
    minute it took that value, and the value before it (at a minute when it held), found
    by undoing the changes backwards. `book` is used up."""
    out: dict[int, list[tuple[int, object]]] = {}
    open_ = set(now)
    k = start - 1
    while k >= 0 and open_:
        t = changes[k][0]
        touched = set()
        while k >= 0 and changes[k][0] == t:
            g = book.undo(changes[k], undo[k])
            if g is not None:
                touched.add(g)
            k -= 1
        if k < 0:
            break
        for idx, v in book.values(touched).items():
            if idx in open_ and v != now[idx]:
                out[idx] = [(changes[k][0], v), (t, now[idx])]
                open_.discard(idx)
    for idx in open_:  # the same value since the first minute
        out[idx] = [(changes[0][0], now[idx])]
    return out


def offer_series(p, since: int | None = None) -> dict[int, tuple[list, list | None]]:
    """csv index -> (its points [(minute, value)], their shipping (19-22) or None); from
    `since` on: the point in effect at `since`, the one before it (its value; its minute
    is one when it held), and every later one."""
    changes = events(p)
    book = Book()
    points: dict[int, list] = {i: [] for i in INDICES}
    start = 0 if since is None else bisect.bisect_right([c[0] for c in changes], since)
    touched = set(GROUPS)  # all at the first minute
    if start:
        undo = [book.apply(n, changes[n])[1] for n in range(start)]
        now = book.values(GROUPS)
        points.update(_starts(book.copy(), changes, start, undo, now))
        touched = set()
    for n in range(start, len(changes)):
        t = changes[n][0]
        g, _ = book.apply(n, changes[n])
        if g is not None:
            touched.add(g)
        if n + 1 == len(changes) or changes[n + 1][0] != t:
            for idx, v in book.values(touched).items():
                pts = points[idx]
                if not pts or pts[-1][1] != v:
                    pts.append((t, v))
            touched.clear()
    out: dict[int, tuple[list, list | None]] = {}
    for idx, pts in points.items():
        if idx in USED_CSV.values():
            out[idx] = ([(t, v[0]) for t, v in pts], [v[1] for _, v in pts])
        else:
            out[idx] = (pts, None)
    return out

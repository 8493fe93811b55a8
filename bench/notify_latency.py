"""From a deal's appearance in Keepa's listing to the seller's notification (issue 26).

    python -m bench.notify_latency --rate 20 --hours 24

24 simulated hours of crontab.example's line (`sync; notify; backfill` every 15 minutes,
janitor every 4 hours; bench.schedule drives it) on a catalog whose products keep changing.
Before each tick the simulator's own listing is read (its truth, no tokens): a deal (an ASIN
at a price) that was not listed at the previous look appeared after the later of that look
and the time its price appeared (`currentSince`), the earliest it could have: latencies are
upper bounds. Counted from one cron cycle after the backfill completed (before that a deal
waits for the backfill, which is not what this measures). Every notified deal passed the
funnel and is visible: notify sends nothing else.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

from arbitrage_cli.keepa.budget import TokenBudget
from arbitrage_cli.keepa.client import KeepaClient
from arbitrage_cli.pipeline import notify
from arbitrage_cli.simulator import endpoints, start_simulator
from arbitrage_cli.store import notifications, state
from arbitrage_cli.timefmt import epoch_from_keepa_minutes, keepa_minutes_from_epoch, parse_iso
from bench.machine import describe
from bench.cron import CRON_S, cron, new_world
from bench.tokens import BENCH_KEY, EPOCH, QUERY

TARGET = "json://bench.invalid/hook"


def run(rate: int = 20, hours: float = 24, products: int = 400, seed: int = 5,
        meaning: str = "changed") -> dict:
    clock, catalog, sim, db, _ = new_world(rate, products, seed, creation_date=meaning)
    pt, date_range = QUERY["priceTypes"][0], QUERY["dateRange"]
    appeared: dict[tuple[str, int], float] = {}
    look = {"last": None, "listed": set()}
    latencies: list[dict] = []
    counted: set[tuple[str, int]] = set()

    def at_tick(tick: float, when: str) -> None:
        if when != "before":
            return
        listed = endpoints._deal_list(catalog, {**QUERY}, pt, date_range,
                                      keepa_minutes_from_epoch(clock.now()))
        now_listed = set()
        for d in listed:
            since = d["currentSince"][pt]
            key = (d["asin"], since)
            now_listed.add(key)
            if key not in appeared:
                at = epoch_from_keepa_minutes(since)
                appeared[key] = at if look["last"] is None else max(at, look["last"])
        look["last"], look["listed"] = clock.now(), now_listed

    def after_sync() -> None:
        summary = notify.notify(db, [TARGET], send=lambda url, title, body: True, clock=clock)
        done = state.get(db, "backfill_completed_at")
        if not done or clock.now() < parse_iso(done) + CRON_S:
            return
        for asin, reason, since, first_listed, first_seen, checked in db.execute(
                "select n.asin, n.reason, l.current_since_keepa, l.first_listed_at, "
                "d.first_seen_at, d.checked_keepa from notifications n "
                "join listing l on l.asin = n.asin join deals d on d.asin = n.asin "
                "where n.run_id = ? and n.outcome = 'sent'", [summary["run"]]):
            at = appeared.get((asin, since))
            if at is None or at < parse_iso(done):  # it was there before the backfill ended
                continue
            if reason == notifications.PROFIT_UP or (asin, since) in counted:
                continue  # the same offer again (its List at rose): not a new appearance
            counted.add((asin, since))
            latencies.append({"asin": asin, "reason": reason,
                              "minutes": round((clock.now() - at) / 60, 1),
                              "hour": round((clock.now() - EPOCH) / 3600, 2),
                              "first_listed_at": first_listed, "first_seen_at": first_seen,
                              "checked_keepa": checked, "current_since_keepa": since})

    started = time.perf_counter()
    with start_simulator(sim) as server:
        client = KeepaClient(BENCH_KEY, base_url=server.url, budget=TokenBudget(db, clock),
                             clock=clock)
        day = cron(db, client, clock, hours, at_tick, after_sync=after_sync)
    minutes = sorted(x["minutes"] for x in latencies)
    done = state.get(db, "backfill_completed_at")
    return {
        "rate_per_min": rate, "hours": hours, "catalog": products, "creation_date": meaning,
        "cron_minutes": CRON_S // 60,
        "backfill_completed_hour": round((parse_iso(done) - EPOCH) / 3600, 2) if done else None,
        "notified_after_backfill": len(minutes),
        "median_minutes": statistics.median(minutes) if minutes else None,
        "p90_minutes": minutes[int(0.9 * (len(minutes) - 1))] if minutes else None,
        "worst_minutes": minutes[-1] if minutes else None,
        "within_one_interval": sum(m <= CRON_S / 60 for m in minutes),
        "notifications_sent": notifications.sent_total(db),
        "runs": day["runs"], "wall_seconds": round(time.perf_counter() - started, 1),
        "latencies": latencies,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rate", type=int, default=20)
    ap.add_argument("--hours", type=float, default=24)
    ap.add_argument("--products", type=int, default=400)
    ap.add_argument("--meaning", default="changed", choices=["changed", "found"])
    args = ap.parse_args()
    result = run(args.rate, args.hours, args.products, meaning=args.meaning)
    result["machine"] = describe()
    result["slower_than_one_interval"] = [x for x in result.pop("latencies")
                                          if x["minutes"] > result["cron_minutes"]]
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()


def render(r: dict, command: str) -> list[str]:
    from bench.report import section, verdict

    cron = r["cron_minutes"]
    lines = section(
        "Notification latency (notify after sync)", command,
        f"{r['hours']:g} simulated hours of the cron line `sync; notify; backfill` every "
        f"{cron} minutes at {r['rate_per_min']} tokens/min on a {r['catalog']:,}-product "
        "catalog whose products keep changing. A deal (an ASIN at a price) counts from the "
        "earliest it can have entered Keepa's listing (the later of its price's appearance "
        "and the previous look at the listing) to the notify run that first sent it (a resend "
        "because the same offer's profit rose is not an appearance); counted once "
        f"the backfill had completed (hour {r['backfill_completed_hour']}) plus one cycle. "
        "Every deal sent passed the funnel and is visible.")
    n = r["notified_after_backfill"]
    lines += ["| deals notified | median | 90th percentile | worst | within one interval |",
              "|---|---|---|---|---|",
              f"| {n} | {r['median_minutes']} min | {r['p90_minutes']} min | "
              f"{r['worst_minutes']} min | {r['within_one_interval']} of {n} |", "",
              f"Target: the worst at most one cron interval ({cron} min) - "
              f"{verdict(n > 0 and r['worst_minutes'] <= cron)}. Notifications sent in all "
              f"(the backfill's deals included): {r['notifications_sent']}; runs: {r['runs']}.",
              ""]
    return lines

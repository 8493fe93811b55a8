"""sync's invariant over 24 simulated hours of the cron schedule (bench.schedule --freshness).

Every hour, at the cron tick (before its commands: the state 15 minutes after the last sync,
the worst point of the cycle) and again once its commands ended, deals.db is compared with
what the simulator lists for the query at that moment (its own truth, no tokens):

* coverage: listed deals whose stored price was checked (live offers, `checked_keepa`) at or
  after the last change Keepa reports for them (`currentSince` of the price type) / listed;
* the same among listed deals that are visible (profitable) in deals.db: where the budget
  should go first when it is short;
* never processed: listed deals with no successful fetch; hidden while listed: listed deals
  the janitor expired;
* failures pending, their age, and overdue ones (due before the last sync started, yet not
  retried); tokens spent in the hour on listing walks vs products and sellers.
"""

from __future__ import annotations

import time

from arbitrage_cli.keepa.budget import TokenBudget
from arbitrage_cli.keepa.client import KeepaClient
from arbitrage_cli.simulator import endpoints, start_simulator
from arbitrage_cli.simulator.faults import FaultPlan
from arbitrage_cli.store import state
from arbitrage_cli.timefmt import iso_utc, keepa_minutes_from_epoch, parse_iso
from bench.schedule import EPOCH, cron, new_world
from bench.tokens import BENCH_KEY, QUERY

FAULTS = "offersfail=0.02"  # Keepa's live offer fetch fails now and then (keepa-api.md §2.6)


def snapshot(db, catalog, sim, now: float, last_sync_start: float | None) -> dict:
    pt, date_range = QUERY["priceTypes"][0], QUERY["dateRange"]
    listed = endpoints._deal_list(catalog, {**QUERY}, pt, date_range,
                                  keepa_minutes_from_epoch(now))
    rows = {r["asin"]: r for r in db.query(
        "select asin, checked_keepa, expired_at, retry_reason, status, profit_cents, "
        "list_at_cents, avg_1yr_cents, price_suspicious, hidden from deals")}
    covered = never = hidden = visible = visible_covered = young = retrying = missed = 0
    sync_keepa = keepa_minutes_from_epoch(last_sync_start) if last_sync_start else None
    for d in listed:
        r = rows.get(d["asin"])
        ok = r is not None and r["checked_keepa"] is not None and \
            r["checked_keepa"] >= d["currentSince"][pt]
        covered += ok
        if not ok:  # why not: a fetch failed and waits for its retry; it changed (or entered
            # the listing) after the last sync looked; or sync lost it
            if r is not None and r["retry_reason"]:
                retrying += 1
            elif sync_keepa is not None and (d["currentSince"][pt] >= sync_keepa
                                             or d["lastUpdate"] >= sync_keepa):
                young += 1
            else:
                missed += 1
        never += r is None or r["checked_keepa"] is None
        hidden += r is not None and r["expired_at"] is not None
        if r is not None and r["status"] == "deal" and (r["profit_cents"] or 0) > 0 and \
                (r["list_at_cents"] or 0) > 0 and (r["avg_1yr_cents"] or 0) > 0 and \
                not r["price_suspicious"]:
            visible += 1
            visible_covered += ok
    pending = [r for r in db.query("select retry_since_at, next_check_at from deals where "
                                   "retry_reason is not null")]
    since = last_sync_start and iso_utc(last_sync_start)
    overdue = [r for r in pending if since and r["next_check_at"] < since]
    return {
        "listed": len(listed), "coverage": round(covered / len(listed), 4) if listed else None,
        "visible_listed": visible,
        "visible_coverage": round(visible_covered / visible, 4) if visible else None,
        "uncovered": {"retry_pending": retrying, "changed_since_last_sync": young,
                      "missed": missed},
        "never_processed": never, "hidden_while_listed": hidden,
        "failures_pending": len(pending),
        "oldest_failure_age_min": round(max((now - parse_iso(r["retry_since_at"])) / 60
                                            for r in pending)) if pending else 0,
        "failures_overdue": len(overdue),
    }


def run_freshness(rate: int, hours: float, meaning: str, products: int = 400,
                  seed: int = 5) -> dict:
    clock, catalog, sim, db, warm = new_world(
        rate, products, seed, creation_date=meaning, faults=FaultPlan.parse(FAULTS, seed=seed))
    hourly: list[dict] = []
    marks = {"hour_start": 0, "sync_start": None, "prev_sync_start": None,
             "backfill_done_h": None}

    def at_tick(tick: float, when: str) -> None:
        if when == "before":
            marks["prev_sync_start"], marks["sync_start"] = marks["sync_start"], tick
        if (tick - EPOCH) % 3600:
            return
        if marks["backfill_done_h"] is None and state.get(db, "backfill_completed_at"):
            marks["backfill_done_h"] = round(
                (parse_iso(state.get(db, "backfill_completed_at")) - EPOCH) / 3600, 2)
        snap = snapshot(db, catalog, sim, clock.now(),
                        tick if when == "after" else marks["prev_sync_start"])
        if when == "before":
            log = sim.log[marks["hour_start"]:]
            marks["hour_start"] = len(sim.log)
            spent = {"listing": sum(r.tokens_consumed for r in log if r.endpoint == "deal"),
                     "products": sum(r.tokens_consumed for r in log
                                     if r.endpoint in ("product", "seller"))}
            hourly.append({"hour": round((tick - EPOCH) / 3600), **snap, "tokens": spent})
        else:
            hourly[-1]["after_tick"] = snap

    started = time.perf_counter()
    with start_simulator(sim) as server:
        client = KeepaClient(BENCH_KEY, base_url=server.url, budget=TokenBudget(db, clock),
                             clock=clock)
        day = cron(db, client, clock, hours + 1 / 60, at_tick)  # the last hour's tick too
    done_h = marks["backfill_done_h"]
    # the targets hold from the first hour mark after one full cron cycle since the backfill
    # completed (the reconciliation that covers what its moving pages skipped runs then)
    after = [h for h in hourly if done_h is not None and h["hour"] >= done_h + 0.25]
    return {
        "rate_per_min": rate, "creation_date": meaning, "catalog": products,
        "faults": FAULTS, "backfill_completed_hour": done_h, "hourly": hourly,
        "after_backfill": {
            "hours": len(after),
            "min_coverage": min((h["coverage"] for h in after), default=None),
            "min_coverage_after_tick": min((h["after_tick"]["coverage"] for h in after),
                                           default=None),
            "min_visible_coverage": min((h["visible_coverage"] for h in after
                                         if h["visible_coverage"] is not None), default=None),
            "max_hidden_while_listed": max((h["hidden_while_listed"] for h in hourly),
                                           default=0),
            "max_failures_overdue": max((h["failures_overdue"] for h in after), default=0),
            "max_never_processed": max((h["never_processed"] for h in after), default=None),
            "max_missed": max((max(h["uncovered"]["missed"], h["after_tick"]["uncovered"]["missed"])
                               for h in after), default=None),
        },
        "tokens": {"listing": sum(h["tokens"]["listing"] for h in hourly),
                   "products": sum(h["tokens"]["products"] for h in hourly),
                   "refilled": sim.bucket.refilled},
        "faults_injected": sim.faults.injected,
        "responses_429": len([r for r in sim.log if r.status == 429]),
        "runs": day["runs"], "cron_ticks_skipped_busy": day["cron_ticks_skipped_busy"],
        "wall_seconds": round(time.perf_counter() - started, 1),
        "catalog_generation_seconds": round(warm, 1),
    }

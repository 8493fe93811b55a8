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

import math
import time

from arbitrage_cli.keepa.budget import TokenBudget
from arbitrage_cli.keepa.client import KeepaClient
from arbitrage_cli.simulator import endpoints, start_simulator
from arbitrage_cli.simulator.faults import FaultPlan
from arbitrage_cli.store import state
from arbitrage_cli.store.visibility import visible as is_visible
from arbitrage_cli.timefmt import iso_utc, keepa_minutes_from_epoch, parse_iso
from bench.report import pct, section, verdict
from bench.cron import cron, new_world
from bench.tokens import BENCH_KEY, EPOCH, QUERY

FAULTS = "offersfail=0.02"  # Keepa's live offer fetch fails now and then (keepa-api.md §2.6)


def snapshot(db, catalog, sim, now: float, last_sync_start: float | None) -> dict:
    pt, date_range = QUERY["priceTypes"][0], QUERY["dateRange"]
    listed = endpoints._deal_list(catalog, {**QUERY}, pt, date_range,
                                  keepa_minutes_from_epoch(now))
    rows = {r["asin"]: r for r in db.query(
        "select asin, checked_keepa, expired_at, retry_reason, status, profit_cents, "
        "list_at_cents, avg_1yr_cents, price_suspicious, hidden from deals")}
    covered = never = hidden = visible = visible_covered = young = retrying = missed = 0
    oldest_check = stale_for = 0  # minutes: a visible deal's price check, and how long it
    # has been out of date (Keepa reports a change after the check)
    sync_keepa = keepa_minutes_from_epoch(last_sync_start) if last_sync_start else None
    now_keepa = keepa_minutes_from_epoch(now)
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
        if r is not None and is_visible(r):
            visible += 1
            visible_covered += ok
            if r["checked_keepa"] is not None:
                oldest_check = max(oldest_check, now_keepa - r["checked_keepa"])
                if not ok:
                    stale_for = max(stale_for, now_keepa - d["currentSince"][pt])
    pending = [r for r in db.query("select retry_since_at, next_check_at from deals where "
                                   "retry_reason is not null")]
    since = last_sync_start and iso_utc(last_sync_start)
    overdue = [r for r in pending if since and r["next_check_at"] < since]
    return {
        "listed": len(listed), "coverage": round(covered / len(listed), 4) if listed else None,
        "visible_listed": visible,
        "visible_coverage": round(visible_covered / visible, 4) if visible else None,
        "visible_oldest_check_min": oldest_check, "visible_stale_max_min": stale_for,
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
            # the worst age of a visible deal's price: how long one was shown after Keepa
            # reported a change it had not been checked since, and the oldest check shown
            "max_visible_stale_min": max((max(h["visible_stale_max_min"],
                                              h["after_tick"]["visible_stale_max_min"])
                                          for h in after), default=None),
            "max_visible_check_age_min": max((h["visible_oldest_check_min"] for h in after),
                                             default=None),
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


def render(runs: list[dict], command: str) -> list[str]:
    lines = section(
        "Freshness: sync's invariant over 24 simulated hours", command,
        "The README's cron schedule (sync, backfill, janitor) against a 400-product catalog "
        "whose products keep changing; the simulator's listing moves (a deal leaves it 12 h "
        "after its product's last update, pages shift as clients page, results cached 120 s), "
        "2% of live offer fetches fail, under both meanings of `creationDate`. Every hour, "
        "deals.db is compared with what the simulator lists at that moment. **coverage** = "
        "listed deals checked at or after their last change (`currentSince` of the price "
        "type; checked: live offers, or the funnel's verdict on the listed price or the "
        "history) / listed deals, measured at the hour's "
        "cron tick once its commands ended (\"at :00\"), and just before them (\"before\": "
        "the state 15 minutes after the last sync, the worst point of the cycle). An "
        "uncovered deal is *retrying* (a failed fetch waiting for its retry), *changed since "
        "the last sync* (no sync could have seen it yet), or *missed*. Targets apply from "
        "the first hour mark one cron cycle after the backfill completed.") + [
        "| creationDate | tokens/min | backfill done (h) | hours | min coverage at :00 | "
        "min coverage before | min coverage of visible deals (before) | missed (max) | "
        "hidden while listed (max) | failures overdue (max) | worst out-of-date visible "
        "price (min) | tokens on listing walks / products (walks' share of the refill) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in runs:
        a, t = r["after_backfill"], r["tokens"]
        share = t["listing"] / max(1, t["refilled"])
        lines.append(
            f"| {r['creation_date']} | {r['rate_per_min']} | {r['backfill_completed_hour']} | "
            f"{a['hours']} | **{pct(a['min_coverage_after_tick'])}** | {pct(a['min_coverage'])} | "
            f"{pct(a['min_visible_coverage'])} | {a['max_missed']} | "
            f"{a['max_hidden_while_listed']} | {a['max_failures_overdue']} | "
            f"{a.get('max_visible_stale_min', '-')} | "
            f"{t['listing']:,} / {t['products']:,} ({share:.1%}) |")
    fast = [r for r in runs if r["rate_per_min"] >= 20]
    ok = all((r["after_backfill"]["min_coverage_after_tick"] or 0) >= 0.99
             and r["after_backfill"]["max_hidden_while_listed"] == 0
             and r["after_backfill"]["max_failures_overdue"] == 0
             and r["after_backfill"]["max_missed"] == 0 for r in fast)
    before = min(((r["after_backfill"]["min_coverage"] or 0) for r in fast), default=None)
    worst_visible = min(((h["visible_coverage"], h["visible_listed"]) for r in fast
                         for h in r["hourly"] if h["visible_coverage"] is not None
                         and h["hour"] >= (r["backfill_completed_hour"] or 99) + 0.25),
                        default=(None, 0))
    vis_missing = round((1 - (worst_visible[0] or 1)) * worst_visible[1])
    lines += ["", f"Targets at 20 and 60 tokens/min, both meanings: coverage >= 99% at every "
              f"hour after the backfill, 0 hidden while listed, 0 failures past their retry "
              f"time - {verdict(ok)} (at :00, with 0 missed). Just before a cron run the "
              f"lowest coverage is {pct(before)}: every deal not covered then changed less than "
              "one cron interval earlier (or waits for its retry), so no schedule of 15 "
              f"minutes could have checked it (the lowest coverage of visible deals before a "
              f"run, {pct(worst_visible[0])}, is {vis_missing} of {worst_visible[1]} deals "
              "of that kind). Tokens left over stay in the bucket: after the backfill there "
              "is little to fetch on a 400-deal listing.", ""]
    for r in runs:
        lines += [f"<details><summary>{r['creation_date']}, {r['rate_per_min']} tokens/min: "
                  "per hour</summary>", "",
                  "| hour | listed | coverage at :00 | before | visible deals covered (before) | "
                  "retrying / changed since last sync / missed (before) | never processed | "
                  "hidden while listed | failures pending (oldest, min) | overdue | tokens: "
                  "walks / products |", "|---|---|---|---|---|---|---|---|---|---|---|"]
        for h in r["hourly"]:
            u, at = h["uncovered"], h["after_tick"]
            lines.append(
                f"| {h['hour']} | {h['listed']} | {pct(at['coverage'])} | {pct(h['coverage'])} | "
                f"{pct(h['visible_coverage'])} of {h['visible_listed']} | "
                f"{u['retry_pending']} / {u['changed_since_last_sync']} / {u['missed']} | "
                f"{h['never_processed']} | {h['hidden_while_listed']} | "
                f"{h['failures_pending']} ({h['oldest_failure_age_min']}) | "
                f"{h['failures_overdue']} | {h['tokens']['listing']} / "
                f"{h['tokens']['products']} |")
        lines += ["", "</details>", ""]
    for r in (r for r in runs if r["rate_per_min"] < 20):
        done = r["backfill_completed_hour"]
        after = [h for h in r["hourly"] if done is not None and h["hour"] > done]
        backlog = []
        for h in after:  # the hours right after the backfill while sync still catches up
            if h["uncovered"]["missed"] == 0:
                break
            backlog.append(h)
        if backlog:
            lines.append(
                f"At {r['rate_per_min']} tokens/min ({r['creation_date']}) the backfill ends "
                f"at hour {done} and sync needs {len(backlog)} more hour(s) for what its "
                f"moving pages skipped; meanwhile coverage is as low as "
                f"{min(h['coverage'] for h in backlog):.1%} while visible deals stay at "
                f"{min(h['visible_coverage'] or 1 for h in backlog):.1%}: the due queue "
                "fetches changed deals that could be profitable before new and unpromising "
                "ones.")
    lines += ["", *_short_budget(runs), ""]
    return lines


def _short_budget(runs: list[dict]) -> list[str]:
    """Where the tokens went when they were short: the hours the backfill still ran."""
    by_rate: dict[int, list[str]] = {}
    for r in (r for r in runs if r["rate_per_min"] < 20):
        done = r["backfill_completed_hour"]
        if done is None:
            continue
        during = [h for h in r["hourly"] if 0 < h["hour"] <= math.ceil(done)
                  and h["visible_listed"]]
        after = [h for h in r["hourly"] if h["hour"] > math.ceil(done)]
        if during and after:
            by_rate.setdefault(r["rate_per_min"], []).append(
                f"{r['creation_date']}: hours {during[0]['hour']}-{during[-1]['hour']}, all "
                f"{min(h['coverage'] for h in during):.1%} / visible "
                f"{min(h['visible_coverage'] for h in during):.1%}; later hours "
                f"{min(h['coverage'] for h in after):.1%} / "
                f"{min(h['visible_coverage'] or 1 for h in after):.1%}")
    return [f"At {rate} tokens/min the tokens are short until the backfill completes. Lowest "
            f"coverage before a run, of all listed deals / of the listed deals that are "
            f"visible, up to the first hour mark after the backfill and later "
            f"({'; '.join(parts)}). Each tick runs sync before backfill, and sync's queue "
            "serves due retries, then changes that could pay at the listed price (highest "
            "bound profit first), then new and unpromising ones; "
            "`test_a_short_budget_goes_to_the_most_valuable_changes_first` pauses a sync on a "
            "5 tokens/min plan mid-queue and checks that what it bought is the head of that "
            "order." for rate, parts in by_rate.items()]


def render_week(runs: list[dict], command: str) -> list[str]:
    """The same measures over a week, a line a day: long enough for stored histories to pass
    the 7 days after which a changed deal goes through its history again (reconcile)."""
    days = max(r["after_backfill"]["hours"] for r in runs) // 24
    lines = section(
        f"Freshness over {days} simulated days", command,
        "The 24-hour run above, continued for a week at the small plans. **Worst "
        "out-of-date visible price**: the longest a deal was shown as visible after Keepa "
        "reported a change of its price that deals.db had not checked since, over every "
        "hour mark (before and after the tick's commands); **oldest visible check**: the "
        "oldest price check among visible deals (an unchanged deal is re-checked when Keepa "
        "re-crawls it, `--refresh-hours`).") + [
        "| creationDate | tokens/min | backfill done (h) | hours | min coverage at :00 | "
        "min coverage before | missed (max) | hidden while listed (max) | failures overdue "
        "(max) | **worst out-of-date visible price** | oldest visible check | tokens: walks / "
        "products |", "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in runs:
        a, t = r["after_backfill"], r["tokens"]
        lines.append(
            f"| {r['creation_date']} | {r['rate_per_min']} | {r['backfill_completed_hour']} | "
            f"{a['hours']} | **{pct(a['min_coverage_after_tick'])}** | {pct(a['min_coverage'])} | "
            f"{a['max_missed']} | {a['max_hidden_while_listed']} | {a['max_failures_overdue']} | "
            f"**{a['max_visible_stale_min']} min** | "
            f"{a['max_visible_check_age_min'] / 60:.1f} h | "
            f"{t['listing']:,} / {t['products']:,} |")
    ok = all((r["after_backfill"]["min_coverage_after_tick"] or 0) >= 0.99
             and r["after_backfill"]["max_hidden_while_listed"] == 0
             and r["after_backfill"]["max_failures_overdue"] == 0 for r in runs)
    lines += ["", f"Targets over the week, every rate and meaning: coverage >= 99% at every "
              f"hour after the backfill, 0 hidden while listed, 0 failures past their retry "
              f"time - {verdict(ok)}.", ""]
    for r in runs:
        lines += [f"<details><summary>{r['creation_date']}, {r['rate_per_min']} tokens/min: "
                  "per day</summary>", "",
                  "| day | min coverage at :00 | min before | missed (max) | worst out-of-date "
                  "visible price (min) | oldest visible check (h) | tokens: walks / products |",
                  "|---|---|---|---|---|---|---|"]
        for d in range(days + 1):
            hs = [h for h in r["hourly"] if d * 24 <= h["hour"] < d * 24 + 24
                  and h["hour"] >= (r["backfill_completed_hour"] or 0) + 0.25]
            if not hs:
                continue
            lines.append(
                f"| {d + 1} | {pct(min(h['after_tick']['coverage'] or 0 for h in hs))} | "
                f"{pct(min(h['coverage'] or 0 for h in hs))} | "
                f"{max(h['uncovered']['missed'] for h in hs)} | "
                f"{max(max(h['visible_stale_max_min'], h['after_tick']['visible_stale_max_min']) for h in hs)} | "
                f"{max(h['visible_oldest_check_min'] for h in hs) / 60:.1f} | "
                f"{sum(h['tokens']['listing'] for h in hs):,} / "
                f"{sum(h['tokens']['products'] for h in hs):,} |")
        lines += ["", "</details>", ""]
    return lines

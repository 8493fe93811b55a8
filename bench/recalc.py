"""recalc throughput vs one hand-written SQL UPDATE on the same database (issue 3).

    python -m bench.recalc --rows 100000 1000000 --repeat 3

Each repeat alternates the prep fee so every row really changes; the baseline is a plain
UPDATE computing the same six metrics with the settings inlined as literals. Reports medians.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import time
from pathlib import Path

from arbitrage_cli.pipeline.recalc import recalc
from arbitrage_cli.store import open_db
from arbitrage_cli.store import settings as settings_store
from bench.machine import describe, insert_batches


def baseline_sql(prep: int) -> str:
    all_in = f"(price_now_cents + (price_now_cents * 500 + 5000) / 10000 + {prep} + 399)"
    ref = "coalesce(cast(round(referral_fee_pct * 100) as integer), 1500)"
    fba, closing = "coalesce(fba_fee_cents, 550)", "coalesce(closing_fee_cents, 180)"
    fees = f"({fba} + (list_at_cents * {ref} + 5000) / 10000 + {closing})"
    profit = f"(list_at_cents - {all_in} - {fees})"
    den = f"(9000 - {ref})"
    return (f"update deals set all_in_cost_cents = {all_in}, amazon_fees_cents = {fees}, "
            f"profit_cents = {profit}, margin_pct = {profit} * 100.0 / list_at_cents, "
            f"roi_pct = {profit} * 100.0 / {all_in}, "
            f"min_listing_price_cents = (({all_in} + {fba} + {closing}) * 10000 + {den} - 1)"
            f" / {den}")


def build(path: str, rows: int) -> None:
    rng = random.Random(rows)
    cols = ("asin", "status", "title", "price_now_cents", "list_at_cents", "fba_fee_cents",
            "referral_fee_pct", "closing_fee_cents", "sales_rank", "avg_1yr_cents")
    sql = f"insert into deals ({', '.join(cols)}) values ({', '.join('?' * len(cols))})"
    insert_batches(path, sql, ((f"{i:010d}", "deal", f"Book {i}", rng.randint(300, 20_000),
                                None if rng.random() < 0.05 else rng.randint(500, 40_000),
                                None if rng.random() < 0.1 else rng.choice([306, 375, 412]),
                                None if rng.random() < 0.05 else rng.choice([15.0, 15.01]), 180,
                                rng.randint(1000, 3_000_000), rng.randint(500, 30_000))
                               for i in range(rows)))


def measure(rows: int, repeat: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "bench.db")
        build(path, rows)
        db = open_db(path)
        ours, base = [], []
        for i in range(repeat):
            prep = 300 + i % 2 * 25  # a different value each time: every row changes
            settings_store.save(db, {"prep_fee_cents": prep})
            r = recalc(db, record_run=False)
            assert r.changed == rows, (r.changed, rows)
            ours.append(r.seconds)
            t = time.perf_counter()
            db.conn.execute("begin immediate")
            db.conn.execute(baseline_sql(prep + 1))
            db.conn.execute("commit")
            base.append(time.perf_counter() - t)
        db.conn.close()
    o, b = statistics.median(ours), statistics.median(base)
    return {"rows": rows, "recalc_s": round(o, 3), "recalc_rows_per_s": int(rows / o),
            "baseline_s": round(b, 3), "baseline_rows_per_s": int(rows / b),
            "ratio_recalc_over_baseline": round(o / b, 2), "repeat": repeat}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    out = {"machine": describe(), "results": [measure(n, args.repeat) for n in args.rows]}
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()

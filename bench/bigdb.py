"""A deals.db of any size with real row widths, for the speed benchmarks (bench.serve, bench.cli).

A demo backfill on the simulator gives a few hundred complete rows (every column as the
pipeline fills it, the stored Keepa products behind them); the rest are copies of those rows
under new ASINs with their prices, profits and ranks spread, so sorts and filters see a
realistic mix. Only the demo's own ASINs have a stored product (charts, explanations).
Loading runs without the table's triggers; opening it afterwards rebuilds the search index
and the kept counts exactly as a migration would.
"""

from __future__ import annotations

import random
import sqlite3
import subprocess
import sys
from pathlib import Path

TEMPLATE_PRODUCTS = 1000
BATCH = 20_000


def templates(workdir: Path) -> Path:
    path = workdir / "templates.db"
    if not path.exists():
        subprocess.run([sys.executable, "-m", "arbitrage_cli", "--db", str(path), "-q", "demo",
                        "--products", str(TEMPLATE_PRODUCTS)], check=True,
                       stdout=subprocess.DEVNULL)
    return path


def build(path: str, rows: int, workdir: Path, seed: int = 24) -> dict:
    """deals.db at `path` with `rows` deals; returns {"rows", "visible", "originals"}."""
    from arbitrage_cli.store import open_db

    src = sqlite3.connect(templates(workdir))
    dst = sqlite3.connect(path)
    src.backup(dst)
    src.close()
    names = [r[1] for r in dst.execute("pragma table_xinfo(deals)") if r[6] == 0]
    originals = [dict(zip(names, r)) for r in dst.execute(
        f"select {', '.join(names)} from deals order by asin")]
    for (name,) in dst.execute("select name from sqlite_master where type = 'trigger' and "
                               "tbl_name = 'deals'").fetchall():
        dst.execute(f'drop trigger "{name}"')
    rng = random.Random(seed)
    sql = f"insert into deals ({', '.join(names)}) values ({', '.join('?' * len(names))})"
    money = [n for n in names if n.endswith("_cents")]

    visible = [r for r in originals if r["asin"] in {a for (a,) in dst.execute(
        "select asin from visible_deals")}] or originals

    def copies():
        for i in range(rows - len(originals)):
            # two in three copies of a visible deal: the share of a long-kept broad query
            row = dict(rng.choice(visible) if rng.random() < 0.67 else rng.choice(originals))
            row["asin"] = f"X{i:09d}"
            f = rng.uniform(0.6, 1.6)
            for n in money:
                if isinstance(row[n], int):
                    row[n] = round(row[n] * f)
            if isinstance(row.get("sales_rank"), int):
                row["sales_rank"] = max(1, round(row["sales_rank"] * rng.uniform(0.3, 3)))
            yield tuple(row[n] for n in names)

    batch = []
    for values in copies():
        batch.append(values)
        if len(batch) == BATCH:
            with dst:
                dst.executemany(sql, batch)
            batch = []
    if batch:
        with dst:
            dst.executemany(sql, batch)
    dst.close()
    db = open_db(path)  # puts the search index and the count triggers back, counts afresh
    n = dict(db.execute("select name, n from deal_counts where name in ('rows', 'visible')"))
    db.conn.execute("analyze")
    db.conn.close()
    return {"rows": n["rows"], "visible": n["visible"],
            "originals": [r["asin"] for r in originals]}

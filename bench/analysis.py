"""Products analysed per second: parse + offer selection + sales inference + business math.

    python -m bench.analysis --products 300 --repeat 5

Products are Keepa-shaped `/product` answers from the simulator (offers=20, stats, 3 years of
history), kept as the JSON text Keepa sends. The baseline, run in the same process on the same
bytes, is `json.loads` alone: the least any reader of these products must do.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

from arbitrage_cli.analysis.deal import analyse, reference_time
from arbitrage_cli.clock import FakeClock
from arbitrage_cli.simulator import Catalog, KeepaSimulator
from bench.machine import describe
from bench.tokens import BENCH_KEY, EPOCH


def keepa_products(n: int, seed: int = 3) -> tuple[list[bytes], int]:
    clock = FakeClock(EPOCH)
    catalog = Catalog(seed=seed, products=n, now=EPOCH)
    sim = KeepaSimulator(catalog, clock=clock, refill_rate=100_000, tokens=10**7)
    raw, now = [], None
    for i in range(0, n, 20):
        resp = sim.handle("GET", "/product", {
            "key": BENCH_KEY, "domain": "1", "asin": ",".join(catalog.asins[i:i + 20]),
            "offers": "20", "stats": "365", "days": "1095"})
        now = now or reference_time(resp.payload)
        raw += [json.dumps(p).encode() for p in resp.payload["products"]]
    return raw, now


def _time(fn, raw: list[bytes]) -> float:
    started = time.perf_counter()
    for body in raw:
        fn(body)
    return time.perf_counter() - started


def measure(products: int, repeat: int) -> dict:
    raw, now = keepa_products(products)
    parse = [_time(json.loads, raw) for _ in range(repeat)]
    full = [_time(lambda b: analyse(json.loads(b), None, now=now), raw) for _ in range(repeat)]
    p, f = statistics.median(parse), statistics.median(full)
    return {
        "products": len(raw), "repeat": repeat,
        "mean_product_kib": round(sum(map(len, raw)) / len(raw) / 1024, 1),
        "products_per_s": round(len(raw) / f, 1), "ms_per_product": round(1000 * f / len(raw), 2),
        "baseline_json_loads_per_s": round(len(raw) / p, 1),
        "ratio_to_baseline_time": round(f / p, 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--products", type=int, default=300)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    print(json.dumps({"machine": describe(), **measure(args.products, args.repeat)}, indent=2))


if __name__ == "__main__":
    main()

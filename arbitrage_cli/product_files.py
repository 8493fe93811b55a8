"""Saved Keepa /product responses on disk (`--product-file`, `--product-dir`, the real files
the benches and tests read): one product by ASIN, or every product below a directory with
the moment its history ends. Reading only; the analysis they feed is in analysis/."""

from __future__ import annotations

from pathlib import Path

from arbitrage_cli.analysis.deal import reference_time
from arbitrage_cli.config import read_json_file
from arbitrage_cli.errors import ConfigError


def from_file(path: Path, asin: str) -> tuple[dict, int | None]:
    """The product with `asin` from a saved /product response (or a bare product object)."""
    data = read_json_file(path)
    if isinstance(data, dict) and isinstance(data.get("products"), list):
        found = [p for p in data["products"] if isinstance(p, dict) and p.get("asin") == asin]
        if not found:
            raise ConfigError(f"{path}: no product with asin {asin} in 'products'")
        return found[0], reference_time(data)
    if isinstance(data, dict) and data.get("asin") == asin:
        return data, None
    raise ConfigError(f"{path}: expected a Keepa /product response or a product object "
                      f"with asin {asin}")


def saved_products(directory: Path):
    """(product, end of history, name) from every .json / .json.gz below `directory`: a
    /product envelope (its timestamp ends the history) or a bare product (its lastUpdate)."""
    if not directory.is_dir():
        raise ConfigError(f"--product-dir {directory}: not a directory")
    files = sorted(p for p in directory.rglob("*") if p.name.endswith((".json", ".json.gz")))
    if not files:
        raise ConfigError(f"--product-dir {directory}: no .json or .json.gz files in it")
    for f in files:
        data = read_json_file(f)
        products = data.get("products") if isinstance(data, dict) else None
        end = reference_time(data)
        for p in products if isinstance(products, list) else [data]:
            if isinstance(p, dict) and isinstance(p.get("csv"), list):
                stop = end or p.get("lastUpdate")
                if isinstance(stop, int) and stop > 0:
                    yield p, stop, f"{f.name}:{p.get('asin')}"

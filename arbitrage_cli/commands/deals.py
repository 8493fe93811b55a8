from __future__ import annotations

import csv
import json
import sys

import typer

FORMATS = ("json", "ndjson", "csv", "table")


def deals(
    ctx: typer.Context,
    min_profit: float = typer.Option(None, "--min-profit", help="Profit at least, dollars."),
    min_roi: float = typer.Option(None, "--min-roi", help="ROI at least, percent."),
    max_rank: int = typer.Option(None, "--max-rank", help="Sales rank at most."),
    min_drops_30: int = typer.Option(None, "--min-drops-30", help="30-day rank drops at least."),
    min_percent_down: float = typer.Option(None, "--min-percent-down",
                                           help="Below the 1-year average by at least, %."),
    min_deal_trust: float = typer.Option(None, "--min-deal-trust", help="Deal trust at least, %."),
    min_seller_quality: float = typer.Option(None, "--min-seller-quality", min=0, max=10,
                                             help="Seller quality at least, 0-10."),
    min_confidence: float = typer.Option(None, "--min-confidence", min=0, max=1,
                                         help="List at confidence at least, 0-1."),
    max_days_to_sell: float = typer.Option(None, "--max-days-to-sell", min=0,
                                           help="Expected days to sell one copy at most."),
    min_sale_days: int = typer.Option(None, "--min-sale-days", min=0, max=180,
                                      help="Days with a used sale in the last 180, at least."),
    keyword: str = typer.Option(None, "--keyword", help="Words in title, author or category."),
    condition: list[int] = typer.Option(None, "--condition",
                                        help="Keepa condition code to keep (repeatable)."),
    hide_gated: bool = typer.Option(False, "--hide-gated", help="Hide restricted ASINs."),
    hide_amazon: bool = typer.Option(False, "--hide-amazon", help="Hide items Amazon sells."),
    sort: str = typer.Option("profit", "--sort", help="profit, roi, margin, rank, percent_down, "
                             "last_change, list_at, price, deal_trust, seller_quality, drops_30, "
                             "updated, confidence, days_to_sell, sale_days."),
    ascending: bool = typer.Option(False, "--asc", help="Ascending (default: descending)."),
    limit: int = typer.Option(None, "--limit", min=1, help="At most this many deals."),
    fmt: str = typer.Option("json", "--format", help="json, ndjson, csv or table."),
) -> None:
    """Export the visible deals to stdout (JSON array, NDJSON, CSV) or show a table.

    Example:

        arbitrage deals --min-profit 10 --format table
        arbitrage deals --format ndjson | jq -r .asin
    """
    from arbitrage_cli.errors import ConfigError
    from arbitrage_cli.store import open_db
    from arbitrage_cli.store.queries import DealFilters, iter_deals

    if fmt not in FORMATS:
        raise ConfigError(f"--format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    filters = DealFilters(min_profit=min_profit, min_roi=min_roi, max_rank=max_rank,
                          min_drops_30=min_drops_30, min_percent_down=min_percent_down,
                          min_deal_trust=min_deal_trust, min_seller_quality=min_seller_quality,
                          min_confidence=min_confidence, max_days_to_sell=max_days_to_sell,
                          min_sale_days=min_sale_days, keyword=keyword, conditions=tuple(condition or ()),
                          hide_gated=hide_gated, hide_amazon=hide_amazon, sort=sort,
                          descending=not ascending)
    db = open_db(ctx.obj.db_path)
    rows = iter_deals(db, filters, limit=limit if limit or fmt != "table" else 50)
    out = sys.stdout
    if fmt == "json":
        out.write("[")
        for i, row in enumerate(rows):
            out.write(("," if i else "") + "\n" + json.dumps(row))
        out.write("\n]\n")
    elif fmt == "ndjson":
        for row in rows:
            out.write(json.dumps(row) + "\n")
    elif fmt == "csv":
        writer = None
        for row in rows:
            if writer is None:
                writer = csv.DictWriter(out, fieldnames=list(row))
                writer.writeheader()
            writer.writerow(row)
        if writer is None:  # still a header when nothing matches
            cols = [d[1] for d in db.execute("pragma table_info(deals)")]
            csv.writer(out).writerow(cols)
    else:
        _table(rows)


def _table(rows) -> None:
    from rich.console import Console
    from rich.table import Table

    from arbitrage_cli.explain import dollars, pct
    from arbitrage_cli.keepa.constants import CONDITIONS

    table = Table()
    for name in ("ASIN", "title", "condition", "buy", "list at", "profit", "ROI", "rank",
                 "seller", "gating"):
        table.add_column(name, no_wrap=True, overflow="ellipsis",
                         max_width=40 if name == "title" else None)
    for r in rows:
        table.add_row(r["asin"], r["title"] or "", CONDITIONS.get(r["condition"], "?"),
                      dollars(r["price_now_cents"]), dollars(r["list_at_cents"]),
                      dollars(r["profit_cents"]), pct(r["roi_pct"]),
                      f"{r['sales_rank']:,}" if r["sales_rank"] else "-", r["seller_name"] or "",
                      r.get("gating") or "unknown")
    Console(width=160).print(table)

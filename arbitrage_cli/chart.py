"""A deal's price history as a picture (matplotlib, Agg; no pyplot, so threads are safe):
used, new and Amazon prices, each inferred used sale at its price, the List at, trough and
buy-price lines; below, the sales rank with every inferred sale marked at its jump, and the
used offer count. From a stored or saved Keepa
product: no tokens. `sparkline` is the terminal's one-line version (the sparklines library).
"""

from __future__ import annotations

import datetime as dt
import io
import math
from typing import Any

from arbitrage_cli.analysis.deal import DealAnalysis
from arbitrage_cli.analysis.keepa_data import series
from arbitrage_cli.keepa.constants import CSV
from arbitrage_cli.money import money, symbol
from arbitrage_cli.timefmt import epoch_from_keepa_minutes

FORMATS = ("svg", "png")
DAY_MIN = 24 * 60


def _when(keepa_minute: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(epoch_from_keepa_minutes(keepa_minute), tz=dt.timezone.utc)


def _steps(product: Any, index: int, since: int, now: int, scale: float = 100.0
           ) -> tuple[list[dt.datetime], list[float]]:
    """A Keepa series as a step line over [since, now]: -1 (no offer) breaks the line, the
    value holding at `since` starts it, the last value runs to `now`."""
    points = series(product, index)
    before = [p for p in points if p[0] <= since]
    shown = ([(since, before[-1][1])] if before else []) + [p for p in points if since < p[0] <= now]
    if shown:
        shown.append((now, shown[-1][1]))
    xs = [_when(t) for t, _ in shown]
    ys = [v / scale if v >= 0 else math.nan for _, v in shown]
    return xs, ys


def _money(value: float, _pos: Any = None) -> str:
    """Axis ticks: whole dollars from $10 up."""
    sym = symbol()
    if value == 0:
        return f"{sym}0"
    return f"{sym}{value:,.0f}" if value >= 10 else f"{sym}{value:,.2f}"


SPIKE_LIMIT = 3  # the axis never reaches past 3x the highest sale, List at or buy price
HEADROOM = 1.15  # above the highest value that matters


def _time_quantile(points: list[tuple[int, int]], since: int, now: int, q: float) -> int | None:
    """The value (cents) the series stayed at or below for `q` of the window's time."""
    spans: list[tuple[int, int]] = []
    for i, (t, v) in enumerate(points):
        end = points[i + 1][0] if i + 1 < len(points) else now
        lo, hi = max(t, since), min(end, now)
        if v >= 0 and hi > lo:
            spans.append((v, hi - lo))
    if not spans:
        return None
    spans.sort()
    total, run = sum(d for _, d in spans), 0
    for v, d in spans:
        run += d
        if run >= q * total:
            return v
    return spans[-1][0]


def price_axis(product: Any, a: DealAnalysis, since: int, now: int,
               full_range: bool = False) -> tuple[float | None, list[tuple[int, int]]]:
    """(the price axis' top in dollars, or None for everything; the (time, cents) points of
    the drawn price series above it). The axis fits what a decision reads - the sales, List
    at and its range, trough and buy price, and the used price 80% of the time - so a
    month-long $2,000 listing does not press every sale into the bottom of the plot."""
    row = a.row
    keys = [s.price_cents for s in (a.history.used if a.history else [])
            if since <= s.time <= now]
    keys += [row[k] for k in ("list_at_cents", "list_at_high_cents", "list_at_low_cents",
                              "price_now_cents", "trough_price_cents") if row.get(k)]
    used = _time_quantile(series(product, CSV["USED"]), since, now, 0.8)
    if full_range or not keys:
        return None, []
    if used is not None:
        keys.append(min(used, SPIKE_LIMIT * max(keys)))
    top = max(keys) * HEADROOM / 100
    above = [(t, v) for index in (CSV["USED"], CSV["NEW"], CSV["AMAZON"])
             for t, v in series(product, index) if since <= t <= now and v / 100 > top]
    return top, above


def _sales_to_label(sold: list, span: float) -> list:
    """The latest, the highest and the lowest sale, those far enough apart to be read."""
    if not sold:
        return []
    picks = [sold[-1], max(sold, key=lambda s: s.price_cents),
             min(sold, key=lambda s: s.price_cents)]
    out: list = []
    for s in picks:
        if all(abs(s.time - o.time) > 0.04 * span for o in out):
            out.append(s)
    return out


def _rank(value: float, _pos: Any = None) -> str:
    """Rank ticks in plain numbers: 5k, 200k, 1M."""
    if value >= 1_000_000:
        return f"{value / 1_000_000:g}M"
    if value >= 1_000:
        return f"{value / 1_000:g}k"
    return f"{value:g}"


def render(product: dict, a: DealAnalysis, *, days: int = 365, fmt: str = "svg",
           full_range: bool = False) -> bytes:
    """The chart as SVG or PNG bytes. `full_range`: the price axis shows every price (by
    default spikes above what matters are clipped, marked and counted)."""
    import textwrap

    import matplotlib
    from matplotlib import dates as mdates
    from matplotlib import ticker
    from matplotlib.figure import Figure

    if fmt not in FORMATS:
        raise ValueError(f"format must be svg or png, got {fmt!r}")
    now, since = a.now, a.now - days * DAY_MIN
    # Fixed margins, sized for the widest labels ("$1,234" left, "1M" ranks, the offers
    # axis right) and the legends above each plot (outside the data): the constrained
    # layout measured every text twice and took half of each chart's time (issue 24).
    fig = Figure(figsize=(10, 6.4), dpi=100)
    fig.subplots_adjust(left=0.115, right=0.93, top=0.87, bottom=0.07, hspace=0.22)
    prices, below = fig.subplots(2, 1, sharex=True, height_ratios=[3, 1.3])
    fig.suptitle(textwrap.shorten(f"{a.asin}  {a.row.get('title') or ''}", width=95,
                                  placeholder=" …"), fontsize=11, x=0.01, y=0.985,
                 ha="left")

    for index, label, color in ((CSV["USED"], "used (lowest)", "#1f77b4"),
                                (CSV["NEW"], "new (lowest)", "#7f7f7f"),
                                (CSV["AMAZON"], "Amazon", "#ff7f0e")):
        xs, ys = _steps(product, index, since, now)
        if xs:
            prices.step(xs, ys, where="post", label=label, color=color,
                        linewidth=1.6 if index == CSV["USED"] else 1.0)
    sold = [s for s in a.history.used if since <= s.time <= now] if a.history else []
    if sold:
        prices.scatter([_when(s.time) for s in sold], [s.price_cents / 100 for s in sold],
                       marker="v", color="#2ca02c", zorder=5, s=28,
                       label=f"inferred used sale ({len(sold)})")
        for s in _sales_to_label(sold, now - since):
            prices.annotate(money(s.price_cents), (_when(s.time), s.price_cents / 100),
                            textcoords="offset points", xytext=(0, 6), ha="center",
                            fontsize=7, color="#2ca02c")
    row = a.row
    if row.get("list_at_low_cents") and row.get("list_at_high_cents"):
        prices.axhspan(row["list_at_low_cents"] / 100, row["list_at_high_cents"] / 100,
                       color="#2ca02c", alpha=0.12, linewidth=0,
                       # two dollar signs would read as matplotlib math: escaped
                       label=f"likely {money(row['list_at_low_cents'])}\u2013"
                             f"{money(row['list_at_high_cents'])}".replace("$", r"\$"))
    lines: dict[int, list] = {}  # one line per price: "trough = buy now $45.74"
    for key, label, style, color in (("list_at_cents", "List at", "--", "#2ca02c"),
                                     ("trough_price_cents", "trough", ":", "#9467bd"),
                                     ("price_now_cents", "buy now", "-.", "#d62728")):
        if row.get(key):
            lines.setdefault(row[key], []).append((label, style, color))
    for cents, same in lines.items():
        prices.axhline(cents / 100, linestyle=same[0][1], color=same[0][2], linewidth=1.1,
                       label=f"{' = '.join(x[0] for x in same)} {money(cents)}")
    top, above = price_axis(product, a, since, now, full_range)
    if top is not None and above:
        prices.set_ylim(0, top)
        when = sorted({t for t, _ in above})
        prices.scatter([_when(t) for t in when], [top * 0.985] * len(when), marker="^",
                       s=14, color="#7f7f7f", zorder=6, clip_on=False)
        highest = max(v for _, v in above)
        prices.text(0.995, 0.955, f"{len(above)} price point{'s' if len(above) != 1 else ''} "
                    f"above {money(round(top * 100))} not shown (up to {money(highest)}; "
                    "--full-range shows them)".replace("$", r"\$"),
                    transform=prices.transAxes, ha="right", va="top", fontsize=7,
                    color="#555555")
    else:
        prices.set_ylim(bottom=0)
    prices.yaxis.set_major_formatter(ticker.FuncFormatter(_money))
    prices.set_ylabel(f"price ({symbol()})")
    prices.grid(True, alpha=0.3)
    if prices.get_legend_handles_labels()[0]:
        prices.legend(loc="lower left", bbox_to_anchor=(0, 1.0), fontsize=8, ncols=4,
                      frameon=False, borderaxespad=0.2)
    else:
        prices.text(0.5, 0.5, "no price history in these days", transform=prices.transAxes,
                    ha="center", va="center", color="#7f7f7f")

    xs, ys = _steps(product, CSV["SALES"], since, now, scale=1.0)
    if xs:
        below.step(xs, ys, where="post", color="#8c564b", linewidth=1.0, label="sales rank")
        if any(y > 0 for y in ys if not math.isnan(y)):
            below.set_yscale("log")
        below.invert_yaxis()  # a better rank is higher on the chart
        jumps = [e for e in a.sales.events if since <= e.time <= now and e.rank_after]
        if jumps:  # every inferred sale is a rank jump: marked where the rank jumped
            below.scatter([_when(e.time) for e in jumps], [e.rank_after for e in jumps],
                          marker="^", s=16, zorder=5, color="#2ca02c",
                          label=f"sale: rank jump ({len(jumps)})")
    below.set_ylabel("sales rank")
    if below.get_yscale() == "log":  # 200k, 500k, 1M: within one decade too
        below.yaxis.set_major_locator(ticker.LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    below.yaxis.set_major_formatter(ticker.FuncFormatter(_rank))
    below.grid(True, alpha=0.3)
    offers = below.twinx()
    xs, ys = _steps(product, CSV["COUNT_USED"], since, now, scale=1.0)
    if xs:
        offers.step(xs, ys, where="post", color="#17becf", linewidth=1.0,
                    label="used offers")
    offers.set_ylabel("used offers")
    offers.set_ylim(bottom=0)
    offers.yaxis.set_major_locator(ticker.MaxNLocator(integer=True, nbins=4))
    handles = below.get_legend_handles_labels()[0] + offers.get_legend_handles_labels()[0]
    if handles:
        below.legend(handles=handles, loc="lower left", bbox_to_anchor=(0, 1.0), fontsize=8,
                     ncols=3, frameon=False, borderaxespad=0.2)
    below.set_xlim(_when(since), _when(now))
    locator = mdates.AutoDateLocator(minticks=4, maxticks=10)
    below.xaxis.set_major_locator(locator)
    below.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    # fixed label places (align_ylabels measured every tick label of both axes: a fifth of
    # the chart's time), and no minor ticks on the log rank axis (dozens of unlabeled ticks)
    for axes in (prices, below):
        axes.yaxis.set_label_coords(-0.105, 0.5)
    below.yaxis.set_minor_locator(ticker.NullLocator())

    out = io.BytesIO()
    # Text stays text in the SVG (searchable, readable by tools); no creation date and fixed
    # ids, so the same data gives the same bytes.
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "arbitrage_cli"}):
        fig.savefig(out, format=fmt, metadata={"Date": None} if fmt == "svg" else {})
    return out.getvalue()


def _sampled(product: Any, index: int, since: int, now: int, buckets: int) -> list[float]:
    """The series' value at `buckets` evenly spaced times (NaN where there was none)."""
    points = series(product, index)
    out, j, value = [], 0, -1
    for k in range(buckets):
        t = since + (now - since) * k // max(buckets - 1, 1)
        while j < len(points) and points[j][0] <= t:
            value = points[j][1]
            j += 1
        out.append(value if value >= 0 else math.nan)
    return out


def sparkline(product: Any, index: int, now: int, *, days: int = 365, width: int = 40,
              invert: bool = False) -> str | None:
    """One line of block characters for the series over the last `days` (gaps as spaces);
    None when there is nothing to draw. `invert` for ranks, where lower is better."""
    from sparklines import sparklines

    values = _sampled(product, index, now - days * DAY_MIN, now, width)
    known = [v for v in values if not math.isnan(v)]
    if len(known) < 2:
        return None
    if invert:  # mirrored within its own range: the library shows negatives in reverse video
        top, bottom = max(known), min(known)
        values = [top + bottom - v for v in values]
    return sparklines([None if math.isnan(v) else v for v in values])[0]

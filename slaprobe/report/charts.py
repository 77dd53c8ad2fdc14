"""Static SVG charts for the HTML report: pure functions, numbers and label strings in, SVG text out.

Why matplotlib (SVG backend): it is the long-maintained standard plotting library of the Python
ecosystem, draws every chart the report needs (bars with a reference line, a cell heat map, a broken-bar
timeline, box plots from precomputed quantiles via ``Axes.bxp``) as vector paths with no JavaScript and
no network, and writes deterministic SVG (``svg.hashsalt``, no date). pygal was the lighter candidate,
but its SVGs lean on its own script for tooltips and its releases are sparse.

Text: ``svg.fonttype = 'none'`` keeps every label a real ``<text>`` element (selectable, searchable,
copyable into the annual report, checkable by tests) rendered by the page's embedded CJK font subset,
so one font serves page and charts. ``text_as_paths=True`` turns glyphs into outlines instead, for an
SVG used outside the page (it then needs no font at all, at the price of size). Either way matplotlib
lays text out with the metrics of the same font (``fonts.cjk_font``), so labels fit.

Nothing here uses pyplot or changes global matplotlib state beyond registering the CJK font file with
the font manager: figures are ``matplotlib.figure.Figure`` objects rendered inside ``rc_context``.

Every mark a chart draws (bar, cell, outage, box) carries an id ``<chart>-mark-<n>`` so a test or a
reader's tool can find them; ids are prefixed per chart so several SVGs can share one HTML document.
"""

from __future__ import annotations

import datetime as dt
import io
import itertools
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from html import escape

import matplotlib
from matplotlib.colors import BoundaryNorm, ListedColormap
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from slaprobe.report.fonts import cjk_font

# Okabe-Ito: distinguishable with the common colour-vision deficiencies and in greyscale print.
PALETTE: tuple[str, ...] = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442")
BELOW = "#D55E00"  # bars below target
TARGET = "#444444"
NO_DATA = "#E8E8E8"
WIDTH_IN = 7.0  # A4 text width is ~6.7 in; the page scales the SVG to its column


@dataclass(frozen=True, slots=True)
class Bar:
    label: str
    value: float | None  # percent; None = nothing judged (drawn as an empty slot, labelled)
    group: int = 0  # palette index (the carrier)


@dataclass(frozen=True, slots=True)
class Span:
    start: dt.datetime
    end: dt.datetime


@dataclass(frozen=True, slots=True)
class TimelineRow:
    label: str
    spans: tuple[Span, ...]
    group: int = 0


@dataclass(frozen=True, slots=True)
class Box:
    label: str
    p5: float
    p25: float
    p50: float
    p75: float
    p95: float
    group: int = 0


@contextmanager
def _style(text_as_paths: bool) -> Iterator[None]:
    family = cjk_font().family
    rc = {
        "svg.fonttype": "path" if text_as_paths else "none",
        "svg.hashsalt": "slaprobe",
        "font.family": [family, "DejaVu Sans"],
        "font.size": 8,
        "axes.titlesize": 9,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.axisbelow": True,
        "axes.grid": True,
        "grid.color": "#DDDDDD",
        "grid.linewidth": 0.5,
        "legend.frameon": False,
        "svg.image_inline": True,
    }
    with matplotlib.rc_context(rc):
        yield


_ID = re.compile(r'\bid="([^"]+)"')


def _finish(fig: Figure, name: str, title: str) -> str:
    """The figure as an SVG element for inline use: no XML prolog, ids prefixed, scalable, titled."""
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None, "Format": None, "Type": None})
    svg = buf.getvalue()
    svg = svg[svg.index("<svg") :]
    svg = re.sub(r"\s*<metadata>.*?</metadata>", "", svg, flags=re.S)
    ids = set(_ID.findall(svg))
    for old in sorted(ids, key=len, reverse=True):
        new = f"{name}-{old}" if not old.startswith(f"{name}-mark-") else old
        svg = svg.replace(f'id="{old}"', f'id="{new}"').replace(f"#{old})", f"#{new})")
        svg = svg.replace(f'href="#{old}"', f'href="#{new}"')
    svg = re.sub(
        r'<svg ([^>]*?)width="([\d.]+)pt" height="([\d.]+)pt"',
        lambda m: (
            f'<svg {m.group(1)}class="chart-svg" data-chart="{name}" role="img" '
            f'aria-label="{escape(title)}" data-width-pt="{m.group(2)}" data-height-pt="{m.group(3)}"'
        ),
        svg,
        count=1,
    )
    svg = svg.replace(">", f"><title>{escape(title)}</title>", 1)
    return svg


def _mark(artist: object, name: str, n: int) -> None:
    artist.set_gid(f"{name}-mark-{n}")  # type: ignore[attr-defined]


def availability_bars(
    bars: Sequence[Bar],
    target: float,
    *,
    title: str,
    ylabel: str,
    target_label: str,
    no_data_label: str,
    legend: Sequence[str] = (),
    name: str = "bars",
    text_as_paths: bool = False,
) -> str:
    """Availability (percent) per group as vertical bars, a dashed target line, each bar labelled.

    The y axis starts just below the lowest value (availability lives between ~95 and 100 %, and a
    zero-based axis would make every bar look the same); the axis range is printed, so nothing is hidden.
    Bars below the target are drawn in the warning colour with the group colour as their edge.
    """
    values = [b.value for b in bars if b.value is not None]
    low = min([*values, target]) if values else target
    bottom = max(0.0, _nice_floor(low - max(0.2, (100 - low) * 0.15)))
    with _style(text_as_paths):
        fig = Figure(figsize=(WIDTH_IN, 2.9), layout="constrained")
        ax = fig.subplots()
        xs = range(len(bars))
        for i, b in enumerate(bars):
            color = PALETTE[b.group % len(PALETTE)]
            if b.value is None:
                ax.text(i, bottom, no_data_label, rotation=90, ha="center", va="bottom", color="#777777")
                continue
            below = b.value < target
            (patch,) = ax.bar(
                i,
                b.value - bottom,
                bottom=bottom,
                width=0.7,
                color=BELOW if below else color,
                edgecolor=color,
                linewidth=1.2 if below else 0,
            )
            _mark(patch, name, i)
            ax.text(
                i,
                b.value,
                _short(b.value),
                ha="center",
                va="bottom",
                fontsize=6,
                rotation=90 if len(bars) > 12 else 0,
            )
        ax.axhline(target, color=TARGET, linestyle="--", linewidth=1)
        ax.set_xticks(
            list(xs),
            [b.label for b in bars],
            rotation=45 if len(bars) > 8 else 0,
            ha="right" if len(bars) > 8 else "center",
        )
        ax.set_ylim(bottom, 100.0 + (100.0 - bottom) * 0.12)
        ax.set_ylabel(ylabel)
        ax.set_title(title, loc="left")
        ax.grid(axis="x", visible=False)
        handles = [matplotlib.lines.Line2D([], [], color=TARGET, linestyle="--", label=target_label)]
        handles += [Patch(color=PALETTE[i % len(PALETTE)], label=t) for i, t in enumerate(legend)]
        fig.legend(handles=handles, loc="outside upper right", ncols=len(handles), fontsize=7)
        return _finish(fig, name, title)


def _nice_floor(x: float) -> float:
    for step in (0.1, 0.5, 1.0, 5.0, 10.0):
        if 100 - x <= step * 10:
            return step * int(x / step)
    return 10.0 * int(x / 10)


def _short(value: float) -> str:
    """Bar label: two decimals truncated (never rounded up across a target); the tables are exact."""
    whole = int(value * 100)
    return f"{whole // 100}.{whole % 100:02d}"


# The heat map's colour bands (percent): at/above target is green; then steps down to below 95 %.
def heat_bounds(target: float) -> list[float]:
    steps = [0.0, 95.0, 99.0, 99.5, target, 100.0001]
    return sorted({s for s in steps if s <= target or s > 100})


HEAT_COLORS: tuple[str, ...] = ("#B2182B", "#EF8A62", "#FDDBC7", "#F7F7A1", "#1A9850")


def availability_heatmap(
    rows: Sequence[str],
    days: Sequence[dt.date],
    values: Sequence[Sequence[float | None]],
    target: float,
    *,
    title: str,
    no_data_label: str,
    band_labels: Sequence[str] | None = None,
    name: str = "heatmap",
    text_as_paths: bool = False,
) -> str:
    """Rows (regions) × local days; each cell coloured by that day's availability band.

    Discrete bands, not a continuous scale: a reader must see "below target" at a glance, and 99.2 vs
    99.4 matters less than which side of 99.5 / 99.9 a day fell on. Grey = nothing judged that day.
    """
    import numpy as np

    bounds = heat_bounds(target)
    colors = list(HEAT_COLORS[-(len(bounds) - 1) :])
    cmap = ListedColormap(colors).with_extremes(bad=NO_DATA)
    norm = BoundaryNorm(bounds, cmap.N)
    data = np.ma.masked_invalid(
        np.array([[np.nan if v is None else v for v in r] for r in values], dtype=float)
    )
    height = 0.9 + 0.19 * max(len(rows), 1)
    with _style(text_as_paths):
        fig = Figure(figsize=(WIDTH_IN, height), layout="constrained")
        ax = fig.subplots()
        mesh = ax.pcolormesh(
            np.arange(len(days) + 1),
            np.arange(len(rows) + 1),
            data,
            cmap=cmap,
            norm=norm,
            edgecolors="white",
            linewidth=0.4,
        )
        _mark(mesh, name, 0)
        ax.set_xticks([i + 0.5 for i in range(len(days))], [str(d.day) for d in days], fontsize=6)
        ax.set_yticks([i + 0.5 for i in range(len(rows))], list(rows), fontsize=7)
        ax.invert_yaxis()
        ax.grid(False)
        for side in ("left", "bottom"):
            ax.spines[side].set_visible(False)
        ax.tick_params(length=0)
        ax.set_title(title, loc="left")
        labels = band_labels or [f"[{lo:g}, {hi:g})" for lo, hi in itertools.pairwise(bounds)]
        handles = [Patch(color=c, label=lab) for c, lab in zip(colors, labels, strict=False)]
        handles.append(Patch(color=NO_DATA, label=no_data_label))
        fig.legend(handles=handles, loc="outside lower center", ncols=len(handles), fontsize=6.5)
        return _finish(fig, name, title)


def outage_timeline(
    rows: Sequence[TimelineRow],
    start: dt.datetime,
    end: dt.datetime,
    *,
    title: str,
    legend: Sequence[str] = (),
    name: str = "timeline",
    text_as_paths: bool = False,
) -> str:
    """One row per terminal, each outage a bar from its start to its end (local time), across the month."""
    import matplotlib.dates as mdates

    height = 0.9 + 0.17 * max(len(rows), 1)
    with _style(text_as_paths):
        fig = Figure(figsize=(WIDTH_IN, height), layout="constrained")
        ax = fig.subplots()
        n = 0
        for y, row in enumerate(rows):
            color = PALETTE[row.group % len(PALETTE)]
            for span in row.spans:
                left = mdates.date2num(span.start)
                width = max(mdates.date2num(span.end) - left, 0.02)  # ~30 min: keep short outages visible
                (patch,) = ax.barh(y, width, left=left, height=0.6, color=color)
                _mark(patch, name, n)
                n += 1
        ax.set_xlim(mdates.date2num(start), mdates.date2num(end))
        ax.xaxis.set_major_locator(mdates.DayLocator(interval=2, tz=start.tzinfo))
        ax.xaxis.set_major_formatter(mdates.DateFormatter("%d", tz=start.tzinfo))
        ax.set_yticks(list(range(len(rows))), [r.label for r in rows], fontsize=6.5)
        ax.set_ylim(len(rows) - 0.5, -0.5)
        ax.grid(axis="y", visible=False)
        ax.set_title(title, loc="left")
        if legend:
            handles = [Patch(color=PALETTE[i % len(PALETTE)], label=t) for i, t in enumerate(legend)]
            fig.legend(handles=handles, loc="outside lower center", ncols=len(handles), fontsize=7)
        return _finish(fig, name, title)


def distribution_boxes(
    boxes: Sequence[Box],
    *,
    title: str,
    xlabel: str,
    whisker_label: str,
    log: bool = False,
    name: str = "boxes",
    text_as_paths: bool = False,
) -> str:
    """Horizontal box plots from precomputed quantiles: box p25–p75, line p50, whiskers p5–p95 (no fliers:
    the quantiles come from histograms, not from the individual probes)."""
    stats = [
        {
            "label": b.label,
            "whislo": b.p5,
            "q1": b.p25,
            "med": b.p50,
            "q3": b.p75,
            "whishi": b.p95,
            "fliers": [],
        }
        for b in boxes
    ]
    with _style(text_as_paths):
        fig = Figure(figsize=(WIDTH_IN / 2 - 0.05, 0.9 + 0.35 * max(len(boxes), 1)), layout="constrained")
        ax = fig.subplots()
        if stats:
            art = ax.bxp(
                stats,
                orientation="horizontal",
                patch_artist=True,
                widths=0.55,
                medianprops={"color": "black"},
            )
            for i, (patch, b) in enumerate(zip(art["boxes"], boxes, strict=True)):
                patch.set_facecolor(PALETTE[b.group % len(PALETTE)])
                patch.set_alpha(0.8)
                _mark(patch, name, i)
            ax.invert_yaxis()
        if log:
            ax.set_xscale("log")
        ax.set_xlabel(xlabel)
        ax.set_title(title, loc="left")
        ax.grid(axis="y", visible=False)
        ax.annotate(
            whisker_label,
            (0, 0),
            xycoords="figure fraction",
            xytext=(2, 2),
            textcoords="offset points",
            fontsize=6,
            color="#666666",
        )
        return _finish(fig, name, title)


def loss_bins_chart(
    groups: Sequence[tuple[str, Sequence[int], int]],
    bin_labels: Sequence[str],
    *,
    title: str,
    xlabel: str,
    name: str = "loss",
    text_as_paths: bool = False,
) -> str:
    """Per group (carrier), the share of probes in each loss bin, as one 100 % stacked horizontal bar.

    Box plots do not suit loss: almost every probe loses nothing, so every quantile is 0. The bins show
    how the rare lossy probes split between "a packet or two" and "nothing came back".
    """
    colors = ("#1A9850", "#A6D96A", "#FEE08B", "#FDAE61", "#F46D43", "#D73027", "#7F0000")
    with _style(text_as_paths):
        fig = Figure(figsize=(WIDTH_IN, 1.1 + 0.3 * max(len(groups), 1)), layout="constrained")
        ax = fig.subplots()
        n = 0
        for y, (_label, counts, _g) in enumerate(groups):
            total = sum(counts) or 1
            left = 0.0
            for k, c in enumerate(counts):
                share = 100.0 * c / total
                if c:
                    (patch,) = ax.barh(y, share, left=left, height=0.55, color=colors[k % len(colors)])
                    _mark(patch, name, n)
                    n += 1
                left += share
        ax.set_yticks(list(range(len(groups))), [g[0] for g in groups])
        ax.set_ylim(len(groups) - 0.5, -0.5)
        ax.set_xlim(0, 100)
        ax.set_xlabel(xlabel)
        ax.grid(axis="y", visible=False)
        ax.set_title(title, loc="left")
        handles = [Patch(color=colors[k % len(colors)], label=lab) for k, lab in enumerate(bin_labels)]
        fig.legend(handles=handles, loc="outside right center", ncols=1, fontsize=6.5)
        return _finish(fig, name, title)


def monthly_lines(
    months: Sequence[str],
    series: Sequence[tuple[str, Sequence[float | None], int]],
    target: float,
    *,
    title: str,
    ylabel: str,
    target_label: str,
    name: str = "months",
    text_as_paths: bool = False,
) -> str:
    """Availability per month, one line per carrier (gaps where a month had nothing judged)."""
    values = [v for _, vs, _ in series for v in vs if v is not None]
    low = min([*values, target]) if values else target
    bottom = max(0.0, _nice_floor(low - max(0.2, (100 - low) * 0.15)))
    with _style(text_as_paths):
        fig = Figure(figsize=(WIDTH_IN, 2.8), layout="constrained")
        ax = fig.subplots()
        for n, (label, vs, group) in enumerate(series):
            xs = [i for i, v in enumerate(vs) if v is not None]
            ys = [v for v in vs if v is not None]
            color = "#222222" if group < 0 else PALETTE[group % len(PALETTE)]  # -1: the province
            (line,) = ax.plot(xs, ys, marker="o", markersize=3, color=color, label=label)
            _mark(line, name, n)
        ax.axhline(target, color=TARGET, linestyle="--", linewidth=1, label=target_label)
        ax.set_xticks(list(range(len(months))), list(months))
        ax.set_ylim(bottom, 100.0 + (100.0 - bottom) * 0.08)
        ax.set_ylabel(ylabel)
        ax.set_title(title, loc="left")
        ax.legend(loc="lower left", ncols=len(series) + 1, fontsize=7)
        return _finish(fig, name, title)


def coverage_bars(
    groups: Sequence[tuple[str, int, int]],
    *,
    title: str,
    planned_label: str,
    open_label: str,
    name: str = "coverage",
    text_as_paths: bool = False,
) -> str:
    """Planned vs open terminals per level group, side by side."""
    with _style(text_as_paths):
        fig = Figure(figsize=(WIDTH_IN, 2.4), layout="constrained")
        ax = fig.subplots()
        n = 0
        for i, (_label, planned, opened) in enumerate(groups):
            for dx, v, color in ((-0.18, planned, "#BBBBBB"), (0.18, opened, PALETTE[0])):
                (patch,) = ax.bar(i + dx, v, width=0.36, color=color)
                _mark(patch, name, n)
                n += 1
                ax.text(i + dx, v, str(v), ha="center", va="bottom", fontsize=6)
        ax.set_xticks(list(range(len(groups))), [g[0] for g in groups])
        ax.set_title(title, loc="left")
        ax.grid(axis="x", visible=False)
        ax.legend(
            handles=[Patch(color="#BBBBBB", label=planned_label), Patch(color=PALETTE[0], label=open_label)],
            loc="upper right",
        )
        return _finish(fig, name, title)

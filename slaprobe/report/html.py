"""The HTML report: one self-contained file (inline CSS, inline SVG charts, embedded font subset, no
script, no network) that reads on screen and prints to A4.

Why no template engine: the page is a handful of sections generated from values; Python functions with
``html.escape`` on every interpolated string are as readable as a Jinja template here and keep the
dependency list short. Every figure comes from the view (``report.view``) and is formatted by the same
rules as the other formats: availability rounded once to 4 decimals (``aggregate.availability_pct``),
durations in hours with 2 decimals, money as the reconciliation JSON states it. Elements holding a
figure carry ``data-figure`` / ``data-key`` so a test can compare the page with the JSON report.
"""

from __future__ import annotations

import datetime as dt
import itertools
import time
from collections.abc import Sequence
from html import escape

from slaprobe import __version__
from slaprobe.report import charts
from slaprobe.report.availability_json import measured_pct
from slaprobe.report.fonts import EMBEDDED_FAMILY, font_face_css
from slaprobe.report.i18n_html import label
from slaprobe.report.money_table import Document, Table
from slaprobe.report.view import LOSS_BIN_NAMES, MonthView, month_days
from slaprobe.sla.aggregate import availability_pct, counted_s, sufficient
from slaprobe.sla.types import GroupAvailability, Outage

TIMELINE_ROWS = 25  # terminals drawn on the outage timeline
OUTAGE_ROWS = 300  # outages listed in the page's table (all of them are in JSON / CSV)

CSS = """
:root{--ink:#1b1b1b;--muted:#5f5f5f;--rule:#d6d6d6;--bad:#b2182b;--good:#1a7f37;--band:#f4f6f8}
*{box-sizing:border-box}
html{font-family:'@FAMILY@',sans-serif;color:var(--ink);font-size:10.5pt;line-height:1.45;
 -webkit-print-color-adjust:exact;print-color-adjust:exact}
body{margin:0 auto;max-width:210mm;padding:12mm 12mm 16mm}
h1{font-size:17pt;margin:0 0 2mm}
h2{font-size:13pt;margin:8mm 0 2mm;padding-bottom:1mm;border-bottom:1px solid var(--rule);break-after:avoid}
h3{font-size:11pt;margin:5mm 0 1.5mm;break-after:avoid}
p{margin:1.5mm 0}
.sub{color:var(--muted);font-size:9pt}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(55mm,1fr));gap:3mm;margin:3mm 0}
.card{border:1px solid var(--rule);border-radius:2mm;padding:2.5mm 3mm;break-inside:avoid;background:#fff}
.card h3{margin:0 0 1mm;font-size:10.5pt}
.big{font-size:20pt;font-weight:700;line-height:1.1}
.big.bad{color:var(--bad)}.big.good{color:var(--good)}
.card dl{display:grid;grid-template-columns:auto auto;gap:.3mm 3mm;margin:1.5mm 0 0;font-size:9pt}
.card dt{color:var(--muted)}.card dd{margin:0;text-align:right;font-variant-numeric:tabular-nums}
figure{margin:3mm 0;break-inside:avoid}
figure svg{width:100%;height:auto;display:block}
figure svg text{font-family:'@FAMILY@',sans-serif!important}
figcaption{color:var(--muted);font-size:8.5pt}
.pair{display:grid;grid-template-columns:1fr 1fr;gap:3mm}
table{border-collapse:collapse;width:100%;margin:2mm 0 3mm;font-size:8.5pt}
caption{text-align:left;font-weight:700;padding:1mm 0}
th,td{border-bottom:1px solid var(--rule);padding:.8mm 1.5mm;text-align:left;vertical-align:top}
th{background:var(--band);font-weight:700}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
tr{break-inside:avoid}
table.pivot{font-size:7.5pt}
table.pivot td:first-child{white-space:nowrap}
table.pivot th,table.pivot td{padding:.8mm .8mm}
thead{display:table-header-group}
.bad{color:var(--bad)}
.notes{font-size:8.5pt;color:var(--muted);padding-left:5mm}
footer{margin-top:8mm;color:var(--muted);font-size:8pt;border-top:1px solid var(--rule);padding-top:2mm}
@page{size:A4;margin:14mm 12mm 14mm}
@media print{
 html{font-size:9.5pt}
 body{max-width:none;padding:0}
 h2{break-before:auto}
 section{break-inside:auto}
 table{break-inside:avoid}
 caption{break-after:avoid}
 .cards{grid-template-columns:repeat(3,1fr)}
 a{color:inherit;text-decoration:none}
}
""".replace("@FAMILY@", EMBEDDED_FAMILY)


# -------------------------------------------------------------------------------------------- format


def pct_of(available_s: int, unavailable_s: int) -> str | None:
    """Availability as every report prints it (``aggregate.availability_pct``: exact ratio, rounded
    once, half-even, to 4 decimals); None when nothing was judged."""
    value = availability_pct(available_s, available_s + unavailable_s)
    return None if value is None else str(value)


def group_pct(g: GroupAvailability) -> str | None:
    return pct_of(g.available_s, g.unavailable_s)


def hours(seconds: int) -> str:
    """Seconds as hours with two decimals, as the text and CSV reports print durations."""
    return f"{seconds / 3600:.2f}"


def duration(seconds: int, lang: str) -> str:
    return label("hours", lang, h=hours(seconds))


def at(ns: int, tz: dt.tzinfo) -> dt.datetime:
    """Local time of an ns instant, to the second (whole seconds: a float of ns would round)."""
    return dt.datetime.fromtimestamp(ns // 1_000_000_000, tz)


def local(ns: int, tz: dt.tzinfo, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return at(ns, tz).strftime(fmt)


def esc(value: object) -> str:
    return escape(str(value), quote=True)


def _fig(key: str, value: str, text: str | None = None) -> str:
    """An element showing one figure; ``data-value`` holds it as the JSON report states it."""
    shown = value if text is None else text
    return f'<span data-figure="{esc(key)}" data-value="{esc(value)}">{esc(shown)}</span>'


def _table(
    caption: str,
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    numeric: set[int] | frozenset[int] = frozenset(),
    attrs: Sequence[str] | None = None,
) -> str:
    """An HTML table; cells are escaped here (pass plain strings)."""
    head = "".join(f"<th{' class=n' if i in numeric else ''}>{esc(h)}</th>" for i, h in enumerate(headers))
    body = []
    for r, row in enumerate(rows):
        extra = f" {attrs[r]}" if attrs else ""
        cells = "".join(f"<td{' class=n' if i in numeric else ''}>{esc(c)}</td>" for i, c in enumerate(row))
        body.append(f"<tr{extra}>{cells}</tr>")
    if not rows:
        body.append(f'<tr><td colspan="{len(headers)}">-</td></tr>')
    return (
        f"<table><caption>{esc(caption)}</caption><thead><tr>{head}</tr></thead>"
        f"<tbody>{''.join(body)}</tbody></table>"
    )


def document_html(doc: Document, data_doc: str = "") -> str:
    """A money / evaluation ``Document`` (report.money_table) as HTML tables: the same cell strings the
    text, CSV and Markdown forms print, so the figures cannot differ between formats."""
    parts = []
    for i, t in enumerate(doc.tables):
        parts.append(_doc_table(t, f"{data_doc}-{i}" if data_doc else ""))
    if doc.notes:
        parts.append('<ul class="notes">' + "".join(f"<li>{esc(n)}</li>" for n in doc.notes) + "</ul>")
    return "\n".join(parts)


def _doc_table(t: Table, data_table: str) -> str:
    html = _table(t.title, t.headers, t.rows, t.numeric)
    return html.replace("<table>", f'<table data-table="{esc(data_table)}">', 1) if data_table else html


def figure(svg: str, caption: str = "") -> str:
    cap = f"<figcaption>{esc(caption)}</figcaption>" if caption else ""
    return f"<figure>{svg}{cap}</figure>"


# ---------------------------------------------------------------------------------------------- page


def page(title: str, lang: str, body: str) -> str:
    """The whole document: the font subset is made from the characters the body actually contains."""
    fonts = font_face_css(title + body)
    return (
        f'<!DOCTYPE html>\n<html lang="{"zh-CN" if lang == "zh" else "en"}">\n'
        '<head>\n<meta charset="utf-8">\n'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f'<meta name="generator" content="slaprobe {esc(__version__)}">\n'
        f"<title>{esc(title)}</title>\n<style>\n{fonts}\n{CSS}</style>\n</head>\n<body>\n{body}\n</body>\n</html>\n"
    )


def coverage(view: MonthView, g: GroupAvailability) -> tuple[float | None, bool]:
    """A group's measured share (percent, as the JSON prints it) and whether it reaches the minimum."""
    judged = g.available_s + g.unavailable_s
    counted = counted_s(int(g.extra.get("in_service_s") or 0), g.maintenance_s)
    return measured_pct(judged, counted), sufficient(judged, counted, view.min_measured_share)


def _card(view: MonthView, g: GroupAvailability, lang: str, key: str) -> str:
    L = lambda k, **kw: label(k, lang, **kw)  # noqa: E731
    value = group_pct(g)
    target = float(view.target_percent)
    share, enough = coverage(view, g)
    cls = "big" if value is None or not enough else ("big good" if float(value) >= target else "big bad")
    shown = L("no_data") if value is None else f"{value}%"
    rows = [
        (L("terminals"), _fig(f"{key}:terminals", str(g.terminals))),
        (L("outages"), _fig(f"{key}:outages", str(g.outages))),
        (L("below_target"), _fig(f"{key}:below_target", str(g.below_target))),
        (
            L("measured_share"),
            _fig(
                f"{key}:measured_pct",
                "" if share is None else str(share),
                "-" if share is None else f"{share}%",
            ),
        ),
        (
            L("insufficient_data"),
            _fig(f"{key}:insufficient_data", str(int(g.extra.get("insufficient_data") or 0))),
        ),
        (
            L("unavailable"),
            _fig(f"{key}:unavailable_s", str(g.unavailable_s), duration(g.unavailable_s, lang)),
        ),
        (L("unknown"), _fig(f"{key}:unknown_s", str(g.unknown_s), duration(g.unknown_s, lang))),
        (
            L("maintenance"),
            _fig(f"{key}:maintenance_s", str(g.maintenance_s), duration(g.maintenance_s, lang)),
        ),
    ]
    if g.worst_terminal:
        worst = pct_of_value(g.worst_availability)
        rows.append((L("worst"), esc(f"{g.worst_terminal} ({worst})")))
    carrier = key.split(":", 1)[1]
    if carrier in view.money_figures:
        gross, deducted, net = view.money_figures[carrier]
        rows += [
            (L("gross"), _fig(f"{key}:gross", gross)),
            (L("deducted"), _fig(f"{key}:deducted", deducted)),
            (L("net"), _fig(f"{key}:net", net)),
        ]
    dl = "".join(f"<dt>{esc(k)}</dt><dd>{v}</dd>" for k, v in rows)
    name = L("province") if g.dimension == "province" else view.name(g.key)
    return (
        f'<div class="card" data-card="{esc(key)}"><h3>{esc(name)}</h3>'
        f'<div class="{cls}">{_fig(f"{key}:availability", value or "", shown)}</div>'
        f'<div class="sub">{esc(L("availability"))} · {esc(L("target"))} '
        f"{esc(view.target_percent_text)}%</div>"
        f"<dl>{dl}</dl></div>"
    )


def pct_of_value(value: float | None) -> str:
    """The engine's worst-terminal figure as the text report prints it; '-' if none."""
    return "-" if value is None else f"{value:.4f}%"


def render_month(view: MonthView, lang: str = "zh") -> str:
    """The monthly report page (see the module doc); ``lang`` is "zh" or "en"."""
    L = lambda k, **kw: label(k, lang, **kw)  # noqa: E731
    cidx = {g.key: i for i, g in enumerate(view.carriers)}  # palette index per carrier
    title = L("month.title", period=view.period)
    gen = local(view.generated_ns if view.generated_ns is not None else time.time_ns(), view.tz)
    days = month_days(view.start_ns, view.end_ns, view.tz)
    tz_name = view.rule.timezone
    out = [
        f"<header><h1>{esc(title)}</h1>",
        f'<p class="sub">{esc(L("subtitle", first=days[0], last=days[-1], tz=tz_name, generated=gen))}</p>',
    ]
    if view.source:
        out.append(f'<p class="sub">{esc(L("source", source=view.source))}</p>')
    share, enough = coverage(view, view.province)
    short = int(view.province.extra.get("insufficient_data") or 0)
    if not enough or short:
        text = L(
            "coverage_warning",
            share="-" if share is None else share,
            minimum=round(100 * view.min_measured_share, 4),
            n=short,
            total=view.province.terminals,
        )
        out.append(f'<p class="bad" data-warning="coverage"><strong>{esc(text)}</strong></p>')
    out.append("</header>")
    # headline
    cards = [_card(view, view.province, lang, "province:all")]
    cards += [_card(view, g, lang, f"carrier:{g.key}") for g in view.carriers]
    out += [
        f'<section id="headline"><h2>{esc(L("headline"))}</h2><div class="cards">',
        *cards,
        "</div></section>",
    ]
    out.append(_rule_section(view, lang))
    out.append(_regions_section(view, lang, cidx))
    out.append(_heatmap_section(view, lang, days, cidx))
    out.append(_outage_section(view, lang, cidx))
    out.append(_quality_section(view, lang, cidx))
    out.append(f'<section id="money"><h2>{esc(L("money.title"))}</h2>')
    out.append(
        document_html(view.money, "money") if view.money is not None else f"<p>{esc(L('money.none'))}</p>"
    )
    out.append("</section>")
    out.append(f"<footer>{esc(L('footer', version=__version__))}</footer>")
    return page(title, lang, "\n".join(out))


def _rule_section(view: MonthView, lang: str) -> str:
    L = lambda k, **kw: label(k, lang, **kw)  # noqa: E731
    r = view.rule
    p = view.province
    interval = f"{r.interval_s // 60} min" if r.interval_s % 60 == 0 else f"{r.interval_s} s"
    if lang == "zh":
        interval = f"{r.interval_s // 60} 分钟" if r.interval_s % 60 == 0 else f"{r.interval_s} 秒"
    in_service = int(p.extra.get("in_service_s") or 0)
    # the JSON's excluded.not_judged_pct: in service but not judged (unknown + maintenance)
    not_judged = availability_pct(in_service - (p.available_s + p.unavailable_s), in_service)
    share = "-" if not_judged is None else f"{not_judged}%"
    threshold = f"{r.threshold * 100:g}"
    parts = [
        f'<section id="rule"><h2>{esc(L("rule.title"))}</h2>',
        "<p>"
        + esc(L("rule.body", interval=interval, threshold=threshold, n=r.consecutive, preset=r.preset))
        + "</p>",
        f"<p>{esc(L('rule.unknown', unknown=duration(p.unknown_s, lang), share=share))}</p>",
        f"<p>{esc(L('rule.maintenance', maintenance=duration(p.maintenance_s, lang)))}</p>",
    ]
    if view.exclusions:
        rows = [
            (local(x.start_ns, view.tz), local(x.end_ns, view.tz), view.name(x.scope), x.reason)
            for x in view.exclusions
        ]
        parts.append(_table(L("rule.exclusions"), [L("start"), L("end"), L("scope"), L("reason")], rows))
    else:
        parts.append(f"<p>{esc(L('rule.no_exclusions'))}</p>")
    parts.append(f"<p class=sub>{esc(L('rule.rounding'))}</p></section>")
    return "\n".join(parts)


def _regions_section(view: MonthView, lang: str, cidx: dict[str, int]) -> str:
    L = lambda k, **kw: label(k, lang, **kw)  # noqa: E731
    target = float(view.target_percent)
    regions = _region_order(view, cidx)
    bars = [
        charts.Bar(
            view.name(g.key),
            None if g.availability is None else g.availability,
            cidx.get(view.region_carrier.get(g.key, ""), 0),
        )
        for g in regions
    ]
    svg = charts.availability_bars(
        bars,
        target,
        title=L("regions.chart"),
        ylabel=L("availability") + " (%)",
        target_label=L("target_line", v=view.target_percent_text),
        no_data_label=L("no_data"),
        legend=[view.name(c) for c in cidx],
        name="regions",
    )
    rows, attrs = [], []
    for g in regions:
        value = group_pct(g)
        rows.append(
            (
                view.name(g.key),
                view.name(view.region_carrier.get(g.key, "")),
                str(g.terminals),
                "-" if value is None else value + "%",
                duration(g.unavailable_s, lang),
                duration(g.unknown_s, lang),
                str(g.outages),
                str(g.below_target),
            )
        )
        attrs.append(f'data-key="region:{esc(g.key)}"')
    heads = [L(k) for k in ("region", "carrier", "terminals", "availability", "unavailable", "unknown")]
    heads += [L("outages"), L("below_target")]
    table = _table(L("regions.table"), heads, rows, {2, 3, 4, 5, 6, 7}, attrs)
    return f'<section id="regions"><h2>{esc(L("regions.title"))}</h2>{figure(svg)}{table}</section>'


def _region_order(view: MonthView, cidx: dict[str, int]) -> list[GroupAvailability]:
    """The view's region order (the inventory's), grouped by the carrier serving each region."""
    return sorted(view.regions, key=lambda g: cidx.get(view.region_carrier.get(g.key, ""), len(cidx)))


def _heatmap_section(view: MonthView, lang: str, days: list[dt.date], cidx: dict[str, int]) -> str:
    L = lambda k, **kw: label(k, lang, **kw)  # noqa: E731
    groups = {c.group for c in view.daily}
    order = [g.key for g in _region_order(view, cidx) if g.key in groups]
    order += sorted(groups - set(order))
    cells = {(c.group, c.day): c for c in view.daily}
    values = []
    for g in order:
        row = []
        for d in days:
            c = cells.get((g, d))
            a = None if c is None else c.availability
            row.append(None if a is None else float(a))
        values.append(row)
    target = float(view.target_percent)
    bounds = charts.heat_bounds(target)
    band_labels = []
    for lo, hi in itertools.pairwise(bounds):
        if lo == 0:
            band_labels.append(L("band.below", v=f"{hi:g}"))
        elif hi > 100:
            band_labels.append(L("band.target", v=f"{lo:g}"))
        else:
            band_labels.append(L("band.range", lo=f"{lo:g}", hi=f"{hi:g}"))
    svg = charts.availability_heatmap(
        [view.name(g) for g in order],
        days,
        values,
        target,
        title=L("heatmap.chart"),
        no_data_label=L("no_data"),
        band_labels=band_labels,
        name="heatmap",
    )
    return (
        f'<section id="heatmap"><h2>{esc(L("heatmap.title"))}</h2>{figure(svg, L("heatmap.note"))}</section>'
    )


def _outage_section(view: MonthView, lang: str, cidx: dict[str, int]) -> str:
    L = lambda k, **kw: label(k, lang, **kw)  # noqa: E731
    parts = [f'<section id="outages"><h2>{esc(L("timeline.title"))}</h2>']
    if not view.outages:
        parts.append(f"<p>{esc(L('timeline.none'))}</p></section>")
        return "\n".join(parts)
    per_terminal: dict[str, list[Outage]] = {}
    for o in view.outages:
        per_terminal.setdefault(o.terminal, []).append(o)
    ranked = sorted(per_terminal.items(), key=lambda kv: (-sum(o.duration_s for o in kv[1]), kv[0]))
    shown = ranked[:TIMELINE_ROWS]
    rows = [
        charts.TimelineRow(
            f"{tid} {view.name(os[0].region)}",
            tuple(
                charts.Span(
                    at(o.start_ns, view.tz),
                    at(o.end_ns, view.tz),
                )
                for o in os
            ),
            cidx.get(os[0].carrier, 0),
        )
        for tid, os in shown
    ]
    svg = charts.outage_timeline(
        rows,
        at(view.start_ns, view.tz),
        at(view.end_ns, view.tz),
        title=L("timeline.chart"),
        legend=[view.name(c) for c in cidx],
        name="timeline",
    )
    note = L("timeline.note", shown=len(shown), total=len(view.outages), terminals=len(per_terminal))
    parts.append(figure(svg, note))
    ordered = sorted(view.outages, key=lambda o: (o.start_ns, o.terminal))
    listed = ordered[:OUTAGE_ROWS]
    table_rows = [
        (
            o.terminal,
            view.name(o.carrier),
            view.name(o.region),
            local(o.start_ns, view.tz),
            local(o.end_ns, view.tz),
            duration(o.duration_s, lang),
        )
        for o in listed
    ]
    attrs = [f'data-outage="{esc(o.terminal)}@{o.start_ns}" data-duration-s="{o.duration_s}"' for o in listed]
    heads = [L(k) for k in ("terminal", "carrier", "region", "start", "end", "duration")]
    parts.append(_table(L("outages.table"), heads, table_rows, {5}, attrs))
    if len(ordered) > OUTAGE_ROWS:
        parts.append(f"<p class=sub>{esc(L('outages.more', n=len(ordered) - OUTAGE_ROWS))}</p>")
    parts.append("</section>")
    return "\n".join(parts)


def _num(x: float) -> str:
    return f"{x:.2f}"


def _quality_section(view: MonthView, lang: str, cidx: dict[str, int]) -> str:
    L = lambda k, **kw: label(k, lang, **kw)  # noqa: E731
    parts = [f'<section id="quality"><h2>{esc(L("quality.title"))}</h2>']
    qs = [q for q in view.quality if q.probes > 0]
    if not qs:
        parts.append(f"<p>{esc(L('quality.none'))}</p></section>")
        return "\n".join(parts)
    figs = []
    for metric, key in (("rtt_ms", "quality.rtt"), ("jitter_ms", "quality.jitter")):
        boxes = []
        for q in qs:
            d = getattr(q, metric)
            if d is not None:
                boxes.append(
                    charts.Box(view.name(q.carrier), d.p5, d.p25, d.p50, d.p75, d.p95, cidx.get(q.carrier, 0))
                )
        if boxes:
            figs.append(
                figure(
                    charts.distribution_boxes(
                        boxes,
                        title=L(key),
                        xlabel="ms",
                        whisker_label=L("quality.whiskers"),
                        name=metric.replace("_", "-"),
                    )
                )
            )
    loss_svg = charts.loss_bins_chart(
        [(view.name(q.carrier), q.loss_bins, cidx.get(q.carrier, 0)) for q in qs],
        LOSS_BIN_NAMES,
        title=L("quality.loss"),
        xlabel=L("quality.loss_axis"),
        name="loss",
    )
    parts.append('<div class="pair">' + "".join(figs) + "</div>")
    parts.append(figure(loss_svg, L("quality.note")))
    rows = []
    for q in qs:
        for metric, key in (("rtt_ms", "quality.rtt"), ("jitter_ms", "quality.jitter")):
            d = getattr(q, metric)
            if d is None:
                continue
            rows.append(
                (
                    view.name(q.carrier),
                    L(key),
                    str(d.count),
                    *(_num(x) for x in (d.p5, d.p25, d.p50, d.p75, d.p95, d.p99)),
                )
            )
    heads = [L("carrier"), L("metric"), L("probes"), "p5", "p25", "p50", "p75", "p95", "p99"]
    parts.append(_table(L("quality.table"), heads, rows, set(range(2, 9))))
    loss_rows = []
    for q in qs:
        total = sum(q.loss_bins)
        lossy = total - q.loss_bins[0]
        loss = "-" if q.sent == 0 else f"{round(100.0 * q.lost / q.sent, 4)}%"  # as kpi.figures() rounds
        loss_rows.append((view.name(q.carrier), str(q.sent), loss, str(total), str(lossy)))
    heads = [L("carrier"), L("packets"), L("loss_pct"), L("terminals"), L("lossy")]
    parts.append(_table(L("quality.loss"), heads, loss_rows, {1, 2, 3, 4}))
    parts.append("</section>")
    return "\n".join(parts)


def render_document(doc: Document, lang: str = "zh") -> str:
    """Any money / evaluation ``Document`` as a page of its own (``slaprobe reconcile --format html``)."""
    body = (
        f"<header><h1>{esc(doc.title)}</h1></header>\n{document_html(doc, 'doc')}\n"
        f"<footer>{esc(label('footer', lang, version=__version__))}</footer>"
    )
    return page(doc.title, lang, body)

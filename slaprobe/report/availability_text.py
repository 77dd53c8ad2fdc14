"""The availability report as an aligned text table, CSV or Markdown, in Chinese or English.

All three share the same sections built from the JSON form (``availability_json.report_dict``), so
every format prints the same figures with the same rounding: the rule, the province summary, carriers,
regions, levels, tiers, terminals (lowest availability first), outages, excluded time and warnings.
CSV puts each section under a one-cell ``# section`` row and adds the per-interval outage evidence, the
part a carrier checks line by line.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from slaprobe.report.availability_json import coverage_dict, report_dict
from slaprobe.report.i18n import label, level_name
from slaprobe.report.xlsx import Fmt, Formatted, Sheet, csv_text
from slaprobe.sla.engine import MonthReport


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    headers: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]  # str cells; typed sections: numbers too (see ``_Typed``)


def _num(value: Any, digits: int | None = None) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "1" if value else "0"
    if digits is not None:
        return f"{value:.{digits}f}"
    return str(value)


def _hours(seconds: int | float | None) -> str:
    return "-" if seconds is None else f"{seconds / 3600:.2f}"


def _minutes(seconds: int | float | None) -> str:
    return "-" if seconds is None else f"{seconds / 60:.1f}"


class _Text:
    """Cells as the text formats print them (the same strings in table, CSV and Markdown)."""

    num = staticmethod(_num)
    hours = staticmethod(_hours)
    minutes = staticmethod(_minutes)

    @staticmethod
    def pct(value: float | None) -> Any:
        return _num(value, 4)

    @staticmethod
    def count(value: int) -> Any:
        return str(value)


class _Typed:
    """Cells as numbers for the spreadsheet (``xlsx_sheets``): the JSON's values, unrounded, with a
    number format; a percentage becomes a ratio (99.95 -> 0.9995 shown as 99.9500 %); missing is "-"."""

    @staticmethod
    def num(value: Any, digits: int | None = None) -> Any:
        return "-" if value is None else value

    @staticmethod
    def hours(seconds: int | float | None) -> Any:
        return "-" if seconds is None else Formatted(seconds / 3600, Fmt.NUMBER2)

    @staticmethod
    def minutes(seconds: int | float | None) -> Any:
        return "-" if seconds is None else Formatted(seconds / 60, Fmt.NUMBER1)

    @staticmethod
    def pct(value: float | None) -> Any:
        return "-" if value is None else Formatted(Decimal(str(value)) / 100, Fmt.PERCENT4)

    @staticmethod
    def count(value: int) -> Any:
        return value


_Q = ("loss_pct", "rtt_p50_ms", "rtt_p95_ms", "jitter_p95_ms", "mos", "y1541_class0_pct")


def _group_rows(
    groups: Sequence[dict[str, Any]], lang: str, dimension: str, C: type[_Text] | type[_Typed] = _Text
) -> tuple[tuple[Any, ...], ...]:
    rows = []
    for g in groups:
        key = g["key"]
        if dimension == "level":
            key = level_name(key, lang)
        elif dimension == "province":
            key = label("province", lang)
        rows.append(
            (
                key,
                C.count(g["terminals"]),
                C.pct(g["availability"]),
                C.hours(g["downtime_s"]),
                C.count(g["outages"]),
                C.minutes(g["mttr_s"]),
                C.hours(g["mtbf_s"]),
                C.hours(g["unknown_s"]),
                C.hours(g["maintenance_s"]),
                C.pct(g["measured_pct"]),
                C.count(g["below_target"]),
                C.count(g["insufficient_data"]),
                g["worst_terminal"] or "-",
                C.pct(g["worst_availability"]),
                *(C.num(g["quality"][k]) for k in _Q),
            )
        )
    return tuple(rows)


def sections(report: MonthReport, lang: str, *, evidence: bool = False, typed: bool = False) -> list[Section]:
    """The report's sections; ``typed``: cells as numbers for the spreadsheet (see ``_Typed``)."""
    d = report_dict(report)
    C: type[_Text] | type[_Typed] = _Typed if typed else _Text
    L = lambda key, **kw: label(key, lang, **kw)  # noqa: E731
    group_headers = (
        L("key"),
        L("terminals"),
        L("availability"),
        L("downtime_h"),
        L("outages"),
        L("mttr_min"),
        L("mtbf_h"),
        L("unknown_h"),
        L("maintenance_h"),
        L("measured_pct"),
        L("below_target"),
        L("insufficient_data"),
        L("worst"),
        L("worst_availability"),
        *(L(k) for k in _Q),
    )
    out = [
        Section("summary", L("summary"), group_headers, _group_rows([d["province"]], lang, "province", C)),
    ]
    for dimension, plural in (
        ("carrier", "carriers"),
        ("region", "regions"),
        ("level", "levels"),
        ("tier", "tiers"),
    ):
        out.append(
            Section(plural, L(f"by_{dimension}"), group_headers, _group_rows(d[plural], lang, dimension, C))
        )

    terms = sorted(
        d["terminals"],
        key=lambda t: (
            t["availability"] is None,
            t["availability"] if t["availability"] is not None else 0,
            t["terminal"],
        ),
    )
    out.append(
        Section(
            "terminals",
            L("terminals_section"),
            (
                L("terminal"),
                L("name"),
                L("carrier"),
                L("region"),
                L("level"),
                L("tier"),
                L("availability"),
                L("downtime_min"),
                L("outages"),
                L("unknown_h"),
                L("maintenance_h"),
                L("in_service_h"),
                L("measured_pct"),
                L("hli"),
                L("chli"),
                L("below_target"),
                *(L(k) for k in _Q),
            ),
            tuple(
                (
                    t["terminal"],
                    t["name"],
                    t["carrier"],
                    t["region"],
                    level_name(t["level"], lang),
                    t["tier"],
                    C.pct(t["availability"]),
                    C.minutes(t["unavailable_s"]),
                    C.count(t["outages"]),
                    C.hours(t["unknown_s"]),
                    C.hours(t["maintenance_s"]),
                    C.hours(t["in_service_s"]),
                    C.pct(t["measured_pct"]),
                    C.count(t["high_loss_intervals"]),
                    C.count(t["consecutive_high_loss"]),
                    L(f"status.{t['target_status']}"),
                    *(C.num(t["quality"][k]) for k in _Q),
                )
                for t in terms
            ),
        )
    )
    out.append(
        Section(
            "outages",
            L("outages_section"),
            (
                L("start"),
                L("end"),
                L("duration_min"),
                L("in_month_min"),
                L("terminal"),
                L("carrier"),
                L("region"),
                L("truncated"),
            ),
            tuple(
                (
                    o["start"],
                    o["end"],
                    C.minutes(o["duration_s"]),
                    C.minutes(o["period_s"]),
                    o["terminal"],
                    o["carrier"],
                    o["region"],
                    L("yes") if o["truncated"] else "",
                )
                for o in d["outages"]
            ),
        )
    )
    ex = d["excluded"]
    cov = d["coverage"]
    ex_rows = [
        (L("measured_total"), C.hours(ex["judged_s"])),
        (L("measured_share"), C.pct(cov["measured_pct"])),
        (L("min_measured_share"), C.pct(cov["min_measured_pct"])),
        (L("maintenance_total"), C.hours(ex["maintenance_s"])),
        (L("unknown_total"), C.hours(ex["unknown_s"])),
    ]
    ex_rows += [(L("mass_events", vantage=v), C.count(n)) for v, n in ex["mass_event_intervals"].items()]
    out.append(Section("excluded", L("excluded_section"), ("", "h"), tuple(ex_rows)))
    if evidence:
        out.append(
            Section(
                "evidence",
                L("evidence_section"),
                (L("terminal"), L("start"), L("vantage"), L("sent"), L("received"), L("loss"), L("note")),
                tuple(
                    (
                        o["terminal"],
                        e["start"],
                        e["vantage"],
                        C.count(e["sent"]),
                        C.count(e["received"]),
                        C.num(e["loss"]),
                        L(f"note.{e['note']}"),
                    )
                    for o in d["outages"]
                    for e in o["evidence"]
                ),
            )
        )
    if d["warnings"]:
        out.append(Section("warnings", L("warnings_section"), ("",), tuple((w,) for w in d["warnings"])))
    return out


def _header_lines(report: MonthReport, lang: str) -> list[str]:
    lines = [label("title", lang, month=report.period.label, tz=report.period.timezone)]
    cov = coverage_dict(report)
    if cov["warning"]:
        lines.append(
            label(
                "coverage_warning",
                lang,
                share="-" if cov["measured_pct"] is None else _num(cov["measured_pct"], 4),
                minimum=_num(cov["min_measured_pct"]),
                n=cov["terminals_insufficient"],
                total=report.province.terminals,
            )
        )
    lines.append(f"{label('rule', lang)}: {report.rule.describe()}")
    if report.filters:
        lines.append(
            f"{label('filters', lang)}: " + ", ".join(f"{k}={v}" for k, v in sorted(report.filters.items()))
        )
    if report.targets or report.default_target is not None:
        parts = [f"{k} {v}%" for k, v in sorted(report.targets.items())]
        if report.default_target is not None:
            parts.append(f"* {report.default_target}%")
        lines.append(f"{label('targets', lang)}: " + ", ".join(parts))
    return lines


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _pad(text: str, width: int, right: bool) -> str:
    fill = " " * (width - _width(text))
    return fill + text if right else text + fill


def _looks_numeric(text: str) -> bool:
    return text.replace(".", "", 1).replace("-", "", 1).isdigit() or text == "-"


def render_table(report: MonthReport, lang: str = "zh") -> str:
    out = _header_lines(report, lang)
    for s in sections(report, lang):
        out.append("")
        out.append(s.title)
        if not s.rows:
            out.append("  " + label("no_outages" if s.key == "outages" else "none", lang))
            continue
        widths = [max(_width(h), *(_width(r[i]) for r in s.rows)) for i, h in enumerate(s.headers)]
        numeric = [all(_looks_numeric(r[i]) for r in s.rows) for i in range(len(s.headers))]
        out.append(
            "  ".join(_pad(h, w, n) for h, w, n in zip(s.headers, widths, numeric, strict=True)).rstrip()
        )
        for r in s.rows:
            out.append("  ".join(_pad(c, w, n) for c, w, n in zip(r, widths, numeric, strict=True)).rstrip())
    return "\n".join(out) + "\n"


def render_markdown(report: MonthReport, lang: str = "zh") -> str:
    head = _header_lines(report, lang)
    out = [f"# {head[0]}", ""] + [f"- {line}" for line in head[1:]]

    def cell(text: str) -> str:
        return text.replace("|", "\\|")

    for s in sections(report, lang):
        out += ["", f"## {s.title}", ""]
        if not s.rows:
            out.append(label("no_outages" if s.key == "outages" else "none", lang))
            continue
        out.append("| " + " | ".join(cell(h) for h in s.headers) + " |")
        out.append("|" + "|".join("---" for _ in s.headers) + "|")
        out += ["| " + " | ".join(cell(c) for c in r) + " |" for r in s.rows]
    return "\n".join(out) + "\n"


def render_csv(report: MonthReport, lang: str = "zh") -> str:
    """Every section under a ``# key: title`` row; starts with a UTF-8 BOM (``xlsx.csv_text``)."""
    rows: list[Sequence[Any]] = [[f"# {line}"] for line in _header_lines(report, lang)]
    for s in sections(report, lang, evidence=True):
        rows += [[], [f"# {s.key}: {s.title}"], s.headers, *s.rows]
    return csv_text(rows)


def xlsx_sheets(report: MonthReport, lang: str = "zh") -> list[Sheet]:
    """One sheet per section (summary, each group dimension, terminals, outages, excluded time,
    evidence, warnings), numbers as numbers; the header lines (title, rule, filters) on a first sheet."""
    head = Sheet(
        label("sheet.report", lang),
        [label("report_info", lang)],
        [[line] for line in _header_lines(report, lang)],
    )
    short = {"terminals": "sheet.terminals", "evidence": "sheet.evidence"}  # titles too long for a tab

    def name(s: Section) -> str:
        return label(short[s.key], lang) if s.key in short else s.title

    typed = sections(report, lang, evidence=True, typed=True)
    return [head, *(Sheet(name(s), s.headers, s.rows) for s in typed)]


def render(report: MonthReport, fmt: str = "table", lang: str = "zh") -> str:
    """Any format by name: table, csv, json, markdown."""
    from slaprobe.report.availability_json import render_json

    renderers = {"table": render_table, "csv": render_csv, "markdown": render_markdown}
    if fmt == "json":
        return render_json(report)
    if fmt not in renderers:
        raise ValueError(f"report format {fmt!r}: choose table, csv, json or markdown")
    return renderers[fmt](report, lang)

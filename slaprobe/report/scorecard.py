"""Renderers of the evaluation scorecard: text tables (table / CSV / Markdown), JSON and spreadsheet sheets.

Every format shows the same figures: points truncated to two decimals (2.9992 prints 2.99, never 3.00),
percentages truncated like the rest of the evaluation, missing figures as 缺失 / missing with no points.
The spreadsheet stores the same truncated numbers as numbers (``report/xlsx.py``), so a cell can be
checked against the JSON.
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_DOWN, Decimal
from fractions import Fraction
from typing import Any

from slaprobe.report.i18n_eval import label
from slaprobe.report.money_table import Table, table
from slaprobe.report.reconcile import truncate_percent
from slaprobe.report.xlsx import Fmt, Formatted, Sheet
from slaprobe.sla.scorecard import Scorecard, ScoreLine, Unit
from slaprobe.sla.scorecard_frame import PARTS

CENT = Decimal("0.01")


def points(value: Fraction | Decimal) -> Decimal:
    """Points cut (not rounded) to two decimals."""
    exact = Fraction(value)
    return (Decimal(exact.numerator) / Decimal(exact.denominator)).quantize(CENT, rounding=ROUND_DOWN)


def _figure(line: ScoreLine, value: Fraction | Decimal | dt.date | None, places: int) -> str | None:
    """A target or actual as JSON text: percent truncated to ``places``, money as is, date ISO."""
    if value is None:
        return None
    if isinstance(value, dt.date):
        return value.isoformat()
    if line.unit is Unit.PERCENT:
        return truncate_percent(Fraction(value), places)
    return str(value)


def _shown(line: ScoreLine, value: Fraction | Decimal | dt.date | None, lang: str) -> str:
    text = _figure(line, value, 2)
    if text is None:
        return label("missing", lang)
    return text + "%" if line.unit is Unit.PERCENT else text


def _target(line: ScoreLine, lang: str) -> str:
    if line.target is None:
        return "-"
    return ("≥ " if line.at_least else "≤ ") + _shown(line, line.target, lang)


def _points_text(line: ScoreLine, lang: str) -> str:
    return label("missing", lang) if line.points is None else str(points(line.points))


def scorecard_tables(sc: Scorecard, lang: str = "zh") -> tuple[Table, ...]:
    """The part scores with the grade, then every indicator."""
    part_rows: list[tuple[object, ...]] = [
        (p.part.name.get(lang), p.weight, points(p.points), p.missing) for p in sc.parts
    ]
    part_rows.append((label("sc.total", lang), sc.weight, points(sc.total), sc.missing))
    part_rows.append((label("sc.whole", lang), "", sc.whole, ""))
    part_rows.append((label("sc.grade", lang), "", sc.grade.name.get(lang), ""))
    part_rows.append((label("sc.complete", lang), "", label("yes" if sc.complete else "no", lang), ""))
    parts = table(
        label("sc.parts", lang),
        [label(k, lang) for k in ("sc.part", "sc.weight", "sc.points", "sc.missing_points")],
        part_rows,
        (1, 2, 3),
    )
    names = {p.code: p.name.get(lang) for p in PARTS}
    rows = [
        (
            names[ln.indicator.part],
            ln.indicator.group.get(lang),
            ln.indicator.name.get(lang),
            ln.weight,
            _target(ln, lang),
            "-" if ln.unit is Unit.NONE else _shown(ln, ln.actual, lang),
            _points_text(ln, lang),
            label(f"status.{ln.status.value}", lang),
            label(f"source.{ln.source}", lang),
            ln.basis.get(lang),
        )
        for ln in sc.lines
    ]
    heads = ("sc.part", "sc.group", "sc.indicator", "sc.weight", "sc.target", "sc.actual", "sc.points")
    heads += ("sc.status", "sc.source", "sc.basis")
    return parts, table(label("sc.title", lang), [label(k, lang) for k in heads], rows, (3, 5, 6))


def scorecard_notes(sc: Scorecard, lang: str, inputs_source: str) -> tuple[str, ...]:
    notes = [label("note.sc_rule", lang), label("note.sc_weights", lang)]
    missing = [ln for ln in sc.lines if ln.points is None and ln.weight > 0]
    if missing:
        notes.append(label("note.sc_missing", lang, n=len(missing), points=sc.missing))
    notes.append(
        label("note.sc_inputs", lang, source=inputs_source)
        if inputs_source
        else label("note.sc_no_inputs", lang)
    )
    notes.append(label("note.satisfaction", lang))
    return tuple(notes)


def scorecard_json(sc: Scorecard) -> dict[str, Any]:
    def line(ln: ScoreLine) -> dict[str, Any]:
        ind = ln.indicator
        return {
            "code": ind.code,
            "part": ind.part,
            "group": {"zh": ind.group.zh, "en": ind.group.en},
            "name": {"zh": ind.name.zh, "en": ind.name.en},
            "kind": ind.kind.value,
            "weight": str(ln.weight),
            "unit": ln.unit.value,
            "target": _figure(ln, ln.target, 6),
            "at_least": ln.at_least,
            "actual": _figure(ln, ln.actual, 6),
            "points": None if ln.points is None else str(points(ln.points)),
            "status": ln.status.value,
            "source": ln.source or None,
            "basis": {"zh": ln.basis.zh, "en": ln.basis.en},
            "seed_score": None if ind.seed_score is None else str(ind.seed_score),
        }

    return {
        "rule": label("note.sc_rule", "en"),
        "weight": str(sc.weight),
        "total": str(points(sc.total)),
        "whole": sc.whole,
        "grade": sc.grade.name.en,
        "grade_zh": sc.grade.name.zh,
        "complete": sc.complete,
        "missing_points": str(sc.missing),
        "parts": [
            {
                "part": p.part.code,
                "weight": str(p.weight),
                "points": str(points(p.points)),
                "missing_points": str(p.missing),
            }
            for p in sc.parts
        ],
        "indicators": [line(ln) for ln in sc.lines],
    }


def _cell(ln: ScoreLine, value: Fraction | Decimal | dt.date | None, lang: str) -> object:
    if value is None:
        return "-" if ln.unit is Unit.NONE else label("missing", lang)
    if isinstance(value, dt.date):
        return value
    if ln.unit is Unit.PERCENT:
        return Formatted(Fraction(value) / 100, Fmt.PERCENT)
    return Formatted(Decimal(value), Fmt.MONEY)


def scorecard_sheets(sc: Scorecard, lang: str = "zh") -> list[Sheet]:
    """The part scores and every indicator as two sheets, numbers as numbers."""
    two = Fmt.NUMBER2
    part_rows: list[list[object]] = [
        [p.part.name.get(lang), p.weight, points(p.points), p.missing] for p in sc.parts
    ]
    part_rows.append([label("sc.total", lang), sc.weight, points(sc.total), sc.missing])
    part_rows.append([label("sc.whole", lang), None, sc.whole, None])
    part_rows.append([label("sc.grade", lang), None, sc.grade.name.get(lang), None])
    part_rows.append([label("sc.complete", lang), None, label("yes" if sc.complete else "no", lang), None])
    heads = [label(k, lang) for k in ("sc.part", "sc.weight", "sc.points", "sc.missing_points")]
    parts = Sheet(label("sheet.parts", lang), heads, part_rows, {1: two, 2: two, 3: two})
    names = {p.code: p.name.get(lang) for p in PARTS}
    rows = [
        [
            ln.indicator.code,
            names[ln.indicator.part],
            ln.indicator.group.get(lang),
            ln.indicator.name.get(lang),
            ln.weight,
            None if ln.target is None else ("≥" if ln.at_least else "≤"),
            _cell(ln, ln.target, lang),
            "-" if ln.unit is Unit.NONE else _cell(ln, ln.actual, lang),
            label("missing", lang) if ln.points is None else points(ln.points),
            label(f"status.{ln.status.value}", lang),
            label(f"source.{ln.source}", lang),
            ln.basis.get(lang),
        ]
        for ln in sc.lines
    ]
    keys = ("sc.code", "sc.part", "sc.group", "sc.indicator", "sc.weight", "", "sc.target", "sc.actual")
    keys += ("sc.points", "sc.status", "sc.source", "sc.basis")
    headers = [label(k, lang) if k else "" for k in keys]
    lines = Sheet(label("sheet.scorecard", lang), headers, rows, {4: two, 8: two})
    return [parts, lines]

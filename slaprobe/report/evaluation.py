"""Renderers for ``slaprobe evaluation`` (and ``report --year Y --evaluation``): the output indicators
slaprobe measures and, with a scorecard, every indicator of the evaluation with its score and the grade.

Laid out like the province's performance evaluation (指标 / 指标值 / 实际完成值 / 是否达标). Percentages
are truncated to two decimals, never rounded up: 89.996 % prints as 89.99 %, not as a met 90.00 %.
The cost line names any amount beyond the budget, so the verdict is read beside the money it rests on.
"""

from __future__ import annotations

import json
from decimal import Decimal
from fractions import Fraction
from typing import Any

from slaprobe.report import i18n_eval
from slaprobe.report.i18n_money import group_name, label, level_name
from slaprobe.report.money_table import Document, render, table
from slaprobe.report.reconcile import truncate_percent
from slaprobe.report.scorecard import scorecard_json, scorecard_notes, scorecard_tables
from slaprobe.sla.evaluation import AvailabilityLine, CoverageLine, Evaluation
from slaprobe.sla.scorecard import Scorecard
from slaprobe.terminal import Level


def _pct(value: Fraction | None) -> str:
    return "-" if value is None else truncate_percent(value, 2) + "%"


def render_evaluation(
    ev: Evaluation,
    fmt: str = "table",
    lang: str = "zh",
    scorecard: Scorecard | None = None,
    inputs_source: str = "",
) -> str:
    if fmt == "json":
        return json.dumps(evaluation_json(ev, scorecard), ensure_ascii=False, indent=2) + "\n"
    return render(evaluation_document(ev, lang, scorecard, inputs_source), fmt)


def over_budget(ev: Evaluation) -> Decimal | None:
    """How much the year's fee (or what was paid, if more) exceeds the budget; None when within it."""
    spent = max((x for x in (ev.paid, ev.year_net) if x is not None), default=None)
    if ev.budget is None or spent is None or spent <= ev.budget:
        return None
    return spent - ev.budget


def evaluation_document(
    ev: Evaluation, lang: str = "zh", scorecard: Scorecard | None = None, inputs_source: str = ""
) -> Document:
    def L(key: str, **kw: object) -> str:
        return label(key, lang, **kw)

    def verdict(met: bool | None) -> str:
        return L("na") if met is None else L("yes") if met else L("no")

    def status(value: str) -> str:
        return {"met": L("yes"), "not_met": L("no"), "insufficient_data": L("insufficient")}.get(
            value, L("na")
        )

    cov_target = f"≥ {ev.coverage_total.target}%"
    rows: list[tuple[object, ...]] = [
        (L("ind.coverage"), cov_target, _pct(ev.coverage_total.rate), verdict(ev.coverage_met)),
        (
            L("ind.availability"),
            f"≥ {ev.availability.target}%",
            _pct(ev.availability.rate),
            status(ev.availability.status),
        ),
        (L("ind.open"), "-", ev.open_terminals, L("na")),
    ]
    if ev.budget is not None and ev.paid is not None:
        actual = ev.paid if ev.year_net is None else L("cost_actual", paid=ev.paid, net=ev.year_net)
        over = over_budget(ev)
        if over is not None:
            actual = (
                f"{actual}{'；' if lang == 'zh' else '; '}{i18n_eval.label('over_budget', lang, amount=over)}"
            )
        rows.append((L("ind.cost"), f"≤ {ev.budget}", actual, status(ev.cost_status)))
    indicators = table(L("eval.indicators"), [L("indicator"), L("target"), L("actual"), L("met")], rows, (2,))

    def coverage_row(c: CoverageLine) -> tuple[object, ...]:
        name = group_name(c.group, lang, c.label.get(lang))
        levels = (
            "、".join(level_name(lv, lang) for lv in c.levels)
            if lang == "zh"
            else ", ".join(level_name(lv, lang) for lv in c.levels)
        )
        source = L("from_plan") if c.planned_from_plan else L("from_inventory")
        return (name, levels, c.planned, c.open, _pct(c.rate), source, verdict(c.met))

    coverage = table(
        L("eval.coverage", as_of=ev.as_of),
        [L(k) for k in ("level_group", "by_level", "planned", "open", "rate", "planned_from", "met")],
        [*(coverage_row(c) for c in ev.coverage), coverage_row(ev.coverage_total)],
        (2, 3, 4),
    )
    names = {c.group: group_name(c.group, lang, c.label.get(lang)) for c in ev.coverage}

    def avail_row(a: AvailabilityLine) -> tuple[object, ...]:
        hours = (a.measured_s // 3600, a.unknown_s // 3600)
        share = _pct(a.measured_share)
        return (names.get(a.key, L("total")), a.terminals, *hours, share, _pct(a.rate), status(a.status))

    availability = table(
        L("eval.availability_by_group"),
        [L(k) for k in ("level_group", "terminals", "measured", "unknown", "measured_share")]
        + [L("availability"), L("met")],
        [*(avail_row(a) for a in ev.availability_by_group), avail_row(ev.availability)],
        (1, 2, 3, 4, 5),
    )
    open_rows = [(L("by_carrier"), carrier, n) for carrier, n in ev.open_by_carrier.items()]
    open_rows += [(L("by_level"), level_name(Level(lv), lang), n) for lv, n in ev.open_by_level.items()]
    open_rows.append((L("total"), "", ev.open_terminals))
    opened = table(L("eval.open", as_of=ev.as_of), ["", "", L("open")], open_rows, (2,))
    months = ", ".join(str(m) for m in ev.months) or "-"
    notes = (
        L("note.eval_months", n=len(ev.months), year=ev.year, months=months),
        L("note.eval_definitions"),
        L(
            "note.eval_measured",
            share=_pct(ev.availability.measured_share),
            minimum=ev.availability.min_measured_percent,
        ),
    )
    tables = (indicators, coverage, availability, opened)
    if scorecard is None:
        return Document(
            L("eval.title", year=ev.year), tables, (*notes, i18n_eval.label("note.satisfaction", lang))
        )
    notes += scorecard_notes(scorecard, lang, inputs_source)
    title = i18n_eval.label("sc.doc_title", lang, year=ev.year)
    return Document(title, (*scorecard_tables(scorecard, lang), *tables), notes)


def evaluation_json(ev: Evaluation, scorecard: Scorecard | None = None) -> dict[str, Any]:
    def frac(x: Fraction | None) -> str | None:
        return None if x is None else truncate_percent(x, 6)

    def coverage(c: CoverageLine) -> dict[str, Any]:
        return {
            "group": c.group,
            "levels": [lv.value for lv in c.levels],
            "planned": c.planned,
            "open": c.open,
            "planned_from": "plan" if c.planned_from_plan else "inventory",
            "rate_percent": frac(c.rate),
            "in_target": c.in_target,
            "met": c.met,
        }

    def avail(a: AvailabilityLine) -> dict[str, Any]:
        return {
            "key": a.key,
            "terminals": a.terminals,
            "available_s": a.available_s,
            "unavailable_s": a.unavailable_s,
            "unknown_s": a.unknown_s,
            "maintenance_s": a.maintenance_s,
            "rate_percent": frac(a.rate),
            "met": a.met,
            "counted_s": a.counted_s,
            "measured_percent": frac(a.measured_share),
            "min_measured_percent": str(a.min_measured_percent),
            "status": a.status,
        }

    return {
        "year": ev.year,
        "as_of": ev.as_of.isoformat(),
        "months": [str(m) for m in ev.months],
        "coverage": {
            "target_percent": str(ev.coverage_total.target),
            "met": ev.coverage_met,
            "total": coverage(ev.coverage_total),
            "groups": [coverage(c) for c in ev.coverage],
        },
        "availability": {
            "target_percent": str(ev.availability.target),
            **avail(ev.availability),
            "groups": [avail(a) for a in ev.availability_by_group],
        },
        "open_terminals": {
            "total": ev.open_terminals,
            "by_carrier": dict(ev.open_by_carrier),
            "by_level": dict(ev.open_by_level),
        },
        "cost": {
            "budget": None if ev.budget is None else str(ev.budget),
            "paid": None if ev.paid is None else str(ev.paid),
            "within_budget": ev.within_budget,
            "year_gross": None if ev.year_gross is None else str(ev.year_gross),
            "year_net": None if ev.year_net is None else str(ev.year_net),
            "over_budget": None if (over := over_budget(ev)) is None else str(over),
            "status": ev.cost_status,
        },
        **({} if scorecard is None else {"scorecard": scorecard_json(scorecard)}),
    }

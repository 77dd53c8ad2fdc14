"""``slaprobe evaluation --format xlsx``: the evaluation as a workbook, one sheet per section.

Sheets: part scores and grade, every indicator (the scorecard), the measured output indicators,
coverage by level, link availability by level, open terminals, notes. Numbers are stored as numbers
(percentages as ratios with a % format, truncated as in every other format; amounts with two decimals),
so the workbook holds the JSON's figures cell for cell.
"""

from __future__ import annotations

from fractions import Fraction

from slaprobe.report.evaluation import evaluation_document, over_budget
from slaprobe.report.i18n_eval import label as eval_label
from slaprobe.report.i18n_money import group_name, label, level_name
from slaprobe.report.scorecard import scorecard_sheets
from slaprobe.report.xlsx import Fmt, Formatted, Sheet
from slaprobe.sla.evaluation import AvailabilityLine, CoverageLine, Evaluation
from slaprobe.sla.scorecard import Scorecard
from slaprobe.terminal import Level


def _ratio(percent: Fraction | None) -> object:
    return "-" if percent is None else Formatted(percent / 100, Fmt.PERCENT)


def evaluation_sheets(
    ev: Evaluation, lang: str = "zh", scorecard: Scorecard | None = None, inputs_source: str = ""
) -> list[Sheet]:
    def L(key: str, **kw: object) -> str:
        return label(key, lang, **kw)

    def verdict(met: bool | None) -> str:
        return L("na") if met is None else L("yes") if met else L("no")

    def status(value: str) -> str:
        return {"met": L("yes"), "not_met": L("no"), "insufficient_data": L("insufficient")}.get(
            value, L("na")
        )

    cov_pct = Fraction(ev.coverage_total.target)
    indicators: list[list[object]] = [
        [
            L("ind.coverage"),
            "≥",
            _ratio(cov_pct),
            _ratio(ev.coverage_total.rate),
            verdict(ev.coverage_met),
            "",
        ],
        [
            L("ind.availability"),
            "≥",
            _ratio(Fraction(ev.availability.target)),
            _ratio(ev.availability.rate),
            status(ev.availability.status),
            "",
        ],
        [L("ind.open"), None, None, ev.open_terminals, L("na"), ""],
    ]
    if ev.budget is not None and ev.paid is not None:
        over = over_budget(ev)
        note = "" if over is None else eval_label("over_budget", lang, amount=over)
        actual = ev.paid if ev.year_net is None else max(ev.paid, ev.year_net)
        indicators.append([L("ind.cost"), "≤", ev.budget, actual, status(ev.cost_status), note])
    heads = [L("indicator"), "", L("target"), L("actual"), L("met"), eval_label("sc.basis", lang)]
    sheets = [] if scorecard is None else scorecard_sheets(scorecard, lang)
    sheets.append(Sheet(eval_label("sheet.indicators", lang), heads, indicators))

    def coverage_row(c: CoverageLine) -> list[object]:
        levels = ("、" if lang == "zh" else ", ").join(level_name(lv, lang) for lv in c.levels)
        source = L("from_plan") if c.planned_from_plan else L("from_inventory")
        name = group_name(c.group, lang, c.label.get(lang))
        return [name, levels, c.planned, c.open, _ratio(c.rate), source, verdict(c.met)]

    heads = [L(k) for k in ("level_group", "by_level", "planned", "open", "rate", "planned_from", "met")]
    rows = [*(coverage_row(c) for c in ev.coverage), coverage_row(ev.coverage_total)]
    sheets.append(Sheet(eval_label("sheet.coverage", lang), heads, rows))
    names = {c.group: group_name(c.group, lang, c.label.get(lang)) for c in ev.coverage}

    def avail_row(a: AvailabilityLine) -> list[object]:
        hours = [Formatted(Fraction(s, 3600), Fmt.NUMBER2) for s in (a.measured_s, a.unknown_s)]
        share, rate = _ratio(a.measured_share), _ratio(a.rate)
        return [names.get(a.key, L("total")), a.terminals, *hours, share, rate, status(a.status)]

    heads = [L(k) for k in ("level_group", "terminals", "measured", "unknown", "measured_share")]
    rows = [*(avail_row(a) for a in ev.availability_by_group), avail_row(ev.availability)]
    sheets.append(Sheet(eval_label("sheet.availability", lang), [*heads, L("availability"), L("met")], rows))
    open_rows: list[list[object]] = [[L("by_carrier"), k, n] for k, n in ev.open_by_carrier.items()]
    open_rows += [[L("by_level"), level_name(Level(lv), lang), n] for lv, n in ev.open_by_level.items()]
    open_rows.append([L("total"), "", ev.open_terminals])
    sheets.append(Sheet(eval_label("sheet.open", lang), ["", "", L("open")], open_rows))
    notes = evaluation_document(ev, lang, scorecard, inputs_source).notes
    sheets.append(
        Sheet(eval_label("sheet.notes", lang), [eval_label("sheet.notes", lang)], [[n] for n in notes])
    )
    return sheets

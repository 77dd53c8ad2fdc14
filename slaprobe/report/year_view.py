"""The year's HTML report (``slaprobe evaluation --year Y --format html``): monthly availability per carrier,
the evaluation's indicators and coverage, and the year's reconciliation when all twelve months are there.

Inputs are the money commands' (contract, inventory, the availability hand-over file written by
``slaprobe report --availability-out``), so the page shows the same figures as ``slaprobe evaluation``
and ``slaprobe reconcile`` in their other formats: the tables are their documents, the monthly series
are sums of the same per-terminal seconds.
"""

from __future__ import annotations

import time
from fractions import Fraction

from slaprobe.report.evaluation import evaluation_document
from slaprobe.report.i18n_html import carrier_name
from slaprobe.report.i18n_money import group_name
from slaprobe.report.money_table import Document
from slaprobe.report.province import province_document
from slaprobe.report.reconcile import reconciliation_document
from slaprobe.report.view import MonthSeries, YearView
from slaprobe.settle import MoneyInputs, evaluation_result
from slaprobe.sla.periods import Period
from slaprobe.sla.province import reconcile_book
from slaprobe.sla.reconcile import ReconcileError, reconcile
from slaprobe.sla.year_end import YearEndError


def year_view(inputs: MoneyInputs, year: int, lang: str, inputs_file: str | None = None) -> YearView:
    """``inputs_file``: the evaluation inputs (``--inputs``) for the scorecard on the page."""
    c = inputs.contract
    ev, scorecard, source = evaluation_result(inputs, year, inputs_file)  # checks the year
    terminals = inputs.inventory.terminals
    carrier_of = {t.id: t.carrier for t in terminals}
    months = [m for m in Period.year(year).months if m in inputs.availability]
    sums: dict[str, dict[str, list[int]]] = {"province": {}}
    for m in months:
        for tid, ta in inputs.availability[m].items():
            for key in ("province", carrier_of.get(tid, "?")):
                acc = sums.setdefault(key, {}).setdefault(str(m), [0, 0])
                acc[0] += ta.available_s
                acc[1] += ta.unavailable_s
    order = ["province", *sorted(k for k in sums if k != "province")]
    series = tuple(
        MonthSeries(k, tuple((m, a, u) for m, (a, u) in sorted(sums[k].items()))) for k in order if sums[k]
    )
    coverage = tuple((group_name(g.group, lang, g.label.get(lang)), g.planned, g.open) for g in ev.coverage)
    money: Document | None = None
    try:
        whole, billed = Period.year(year), inputs.billed_terminals
        if inputs.contracts.single:
            money = reconciliation_document(reconcile(c, billed, inputs.availability, whole), lang)
        else:  # signed contracts: the province view with each carrier's balance, then each contract
            prov = reconcile_book(inputs.contracts, inputs.billed_terminals, inputs.availability, whole)
            money = province_document(prov, lang)
    except (ReconcileError, YearEndError):
        money = None  # months missing: the page says so instead of settling a partial year
    names = {"province": "全省" if lang == "zh" else "Province"}
    for key in order[1:]:
        short = carrier_name(key, lang)
        if short == key and key in c.carriers:
            short = c.carriers[key].label.get(lang, key)
        names[key] = short
    targets = [Fraction(t.availability_target) for t in c.tiers.values()]
    return YearView(
        year=year,
        target_percent=max(targets)
        if targets
        else Fraction(Fraction(c.evaluation.availability_target_percent)),
        series=series,
        evaluation=evaluation_document(ev, lang, scorecard, source),
        coverage=coverage,
        money=money,
        names=names,
        generated_ns=time.time_ns(),
    )

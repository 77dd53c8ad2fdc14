"""Wiring of the money commands: load the contract, inventory, monthly availability and invoice, run the
pure settlement / evaluation, render. The CLI calls these; tests call them too.

Monthly availability is computed from the store by the SLA engine (``sla_report.monthly_availability``),
or read from a JSON-lines hand-over file (``slaprobe.sla.availability_file``, written by
``report --availability-out``) so a settled figure can be re-run from exactly what was handed over.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from slaprobe.configload import ConfigError
from slaprobe.inventory import Inventory, load_inventory
from slaprobe.report.evaluation import render_evaluation
from slaprobe.report.reconcile import render_reconciliation, unmeasured_warning
from slaprobe.sla.availability_file import read_availability
from slaprobe.sla.contract_config import Contract, load_contract
from slaprobe.sla.evaluation import Evaluation, evaluate
from slaprobe.sla.evaluation_inputs import EvaluationInputs, load_evaluation_inputs
from slaprobe.sla.invoice import load_invoice
from slaprobe.sla.periods import Month, Period
from slaprobe.sla.reconcile import MonthlyAvailability, ReconcileError, check_invoice, reconcile
from slaprobe.sla.scorecard import Scorecard, build_scorecard

__all__ = [
    "MoneyInputs",
    "NoDataError",
    "Period",
    "ReconcileError",
    "evaluation_report",
    "evaluation_result",
    "load_inputs",
    "no_data_months",
    "reconcile_report",
]


class NoDataError(Exception):
    """Months to settle in which no terminal has a judged second (the CLI exits 1)."""


@dataclass(frozen=True)
class MoneyInputs:
    contract: Contract
    inventory: Inventory
    availability: MonthlyAvailability
    availability_source: str = ""
    timezone: str = "Asia/Shanghai"  # local time of outage starts in deduction reasons (config sla.timezone)


def load_inputs(
    contract: str | Path,
    inventory: str | Path,
    availability: str | Path | MonthlyAvailability,
    timezone: str = "Asia/Shanghai",
    availability_source: str = "",
) -> MoneyInputs:
    """Load the contract, the inventory and the availability (a hand-over file, or months computed from
    the store); each file raises ConfigError naming itself and every problem."""
    if isinstance(availability, str | Path):
        availability_source = str(availability)
        availability = read_availability(availability)
    return MoneyInputs(
        load_contract(contract), load_inventory(inventory), availability, availability_source, timezone
    )


def no_data_months(inputs: MoneyInputs, period: Period) -> list[str]:
    """Months from January to the period's end that are present, had terminals in service, and hold no
    judged second at all (a missing month is ``reconcile``'s own error; a month nobody was in service
    owes nothing)."""

    def in_service(m: Month) -> bool:
        first, last = m.first_day, m.last_day
        return any(
            t.in_service_from <= last and (t.in_service_to is None or t.in_service_to >= first)
            for t in inputs.inventory
        )

    return [
        str(m)
        for m in period.year_to_date().months
        if m in inputs.availability
        and in_service(m)
        and not any(ta.measured_s for ta in inputs.availability[m].values())
    ]


def check_data(inputs: MoneyInputs, period: Period) -> None:
    """Raise NoDataError naming the months of ``period``'s year to date that nobody measured."""
    empty = no_data_months(inputs, period)
    if empty:
        raise NoDataError(
            f"{', '.join(empty)}: no availability can be judged from {inputs.availability_source} (no "
            "judged interval of any terminal). Pass --allow-empty to settle these months as unmeasured "
            "(the contract's 'unmeasured' setting decides how)."
        )


def reconcile_report(
    inputs: MoneyInputs,
    period: Period,
    invoice: str | Path | None = None,
    fmt: str = "table",
    lang: str = "zh",
    warnings: list[str] | None = None,
) -> str:
    """The settlement of ``period`` (and, with ``invoice``, every discrepancy of that bill), rendered.
    A warning about terminal-months below the contract's measured minimum is appended to ``warnings``."""
    terminals = inputs.inventory.terminals
    try:
        rec = reconcile(inputs.contract, terminals, inputs.availability, period)
    except ReconcileError as exc:
        files = f"{inputs.contract.source}, {inputs.inventory.source}, {inputs.availability_source}"
        raise ReconcileError(f"{files}: {exc}") from exc
    warning = unmeasured_warning(rec)
    if warning and warnings is not None:
        warnings.append(warning)
    found = None
    source = ""
    if invoice is not None:
        bill = load_invoice(invoice)
        found = check_invoice(rec, bill, terminals, inputs.availability)
        source = bill.source
    return render_reconciliation(rec, fmt, lang, found, source, ZoneInfo(inputs.timezone))


def evaluation_result(
    inputs: MoneyInputs, year: int, inputs_file: str | Path | None = None
) -> tuple[Evaluation, Scorecard, str]:
    """The year's measured indicators, every indicator scored (``--inputs`` figures and review scores;
    without a file, whatever slaprobe cannot measure is missing), and the inputs file's name."""
    c = inputs.contract
    if year != c.year:
        raise ValueError(f"{c.source}: the contract (and its evaluation plan) is for {c.year}, not {year}")
    given = load_evaluation_inputs(inputs_file) if inputs_file is not None else None
    if given is not None:
        problems = []
        if given.year != year:
            problems.append(f"year: {given.year}, but the evaluation is for {year}")
        budget = c.payments.budget
        if given.funds.budget is not None and budget is not None and given.funds.budget != budget:
            problems.append(
                f"funds.budget: {given.funds.budget} differs from {c.source} payments.budget {budget}"
            )
        if problems:
            raise ConfigError(given.source, problems)
    ev = evaluate(
        c.evaluation,
        inputs.inventory.terminals,
        inputs.availability,
        year,
        c.payments,
        year_fees(inputs, year),
    )
    scorecard = build_scorecard(ev, given or EvaluationInputs(year=year))
    return ev, scorecard, "" if given is None else given.source


def evaluation_report(
    inputs: MoneyInputs,
    year: int,
    fmt: str = "table",
    lang: str = "zh",
    inputs_file: str | Path | None = None,
) -> str:
    """The year's evaluation (measured output indicators and the whole scorecard), rendered."""
    ev, scorecard, source = evaluation_result(inputs, year, inputs_file)
    return render_evaluation(ev, fmt, lang, scorecard, source)


def year_fees(inputs: MoneyInputs, year: int) -> tuple[Decimal, Decimal] | None:
    """The year's (gross, net) fee as ``reconcile --year`` settles it, months not supplied settled as
    unmeasured (the contract's treatment); None when the inventory cannot be priced."""
    months = {m: inputs.availability.get(m, {}) for m in Period.year(year).months}
    try:
        rec = reconcile(inputs.contract, inputs.inventory.terminals, months, Period.year(year))
    except ReconcileError:
        return None
    return rec.total.gross, rec.total.net

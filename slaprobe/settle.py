"""Wiring of the money commands: load the contract, inventory, monthly availability and invoice, run the
pure settlement / evaluation, render. The CLI calls these; tests call them too.

Monthly availability is computed from the store by the SLA engine (``sla_report.monthly_availability``),
or read from a JSON-lines hand-over file (``slaprobe.sla.availability_file``, written by
``report --availability-out``) so a settled figure can be re-run from exactly what was handed over.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from slaprobe.configload import ConfigError
from slaprobe.inventory import Inventory, load_inventory
from slaprobe.inventory_history import apply_history, load_history
from slaprobe.report.evaluation import render_evaluation
from slaprobe.report.reconcile import unmeasured_warning
from slaprobe.sla.availability_file import read_availability
from slaprobe.sla.contract_book import ContractBook, load_book
from slaprobe.sla.contract_config import Contract
from slaprobe.sla.evaluation import Evaluation, evaluate
from slaprobe.sla.evaluation_inputs import EvaluationInputs, load_evaluation_inputs
from slaprobe.sla.invoice import Invoice, load_invoice
from slaprobe.sla.periods import Month, Period
from slaprobe.sla.province import ProvinceReconciliation, reconcile_book
from slaprobe.sla.reconcile import (
    Discrepancy,
    MonthlyAvailability,
    ReconcileError,
    check_invoice,
)
from slaprobe.sla.scorecard import Scorecard, build_scorecard
from slaprobe.sla.year_end import YearEndError
from slaprobe.statement import InputRecord, availability_digest, file_digest
from slaprobe.terminal import Terminal

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
    contract: Contract  # the province-level contract (the whole file when it is one contract)
    inventory: Inventory
    availability: MonthlyAvailability
    availability_source: str = ""
    timezone: str = "Asia/Shanghai"  # local time of outage starts in deduction reasons (config sla.timezone)
    book: ContractBook | None = None  # the signed contracts (None: ``contract`` alone)
    history: Sequence[Terminal] | None = None  # the inventory's records sliced by its dated history
    records: tuple[InputRecord, ...] = field(default=())  # sha256 of every input, for settled statements

    @property
    def contracts(self) -> ContractBook:
        return self.book or ContractBook(self.contract, (self.contract,), self.contract.source)

    @property
    def billed_terminals(self) -> Sequence[Terminal]:
        return self.inventory.terminals if self.history is None else self.history


def load_inputs(
    contract: str | Path,
    inventory: str | Path,
    availability: str | Path | MonthlyAvailability,
    timezone: str = "Asia/Shanghai",
    availability_source: str = "",
    history: str | Path | None = None,
    maintenance: str | Path | None = None,
) -> MoneyInputs:
    """Load the contract(s), the inventory (and its dated history) and the availability (a hand-over
    file, or months computed from the store); each file raises ConfigError naming itself and every
    problem. The sha256 of every input is recorded for settled statements."""
    records = [
        InputRecord("contract", str(contract), file_digest(contract)),
        InputRecord("inventory", str(inventory), file_digest(inventory)),
    ]
    if isinstance(availability, str | Path):
        availability_source = str(availability)
        records.append(InputRecord("availability", availability_source, file_digest(availability)))
        availability = read_availability(availability)
    else:
        records.append(InputRecord("availability", availability_source, availability_digest(availability)))
    if maintenance is not None:
        records.append(InputRecord("maintenance", str(maintenance), file_digest(maintenance)))
    book = load_book(contract)
    inv = load_inventory(inventory)
    sliced = None
    if history is not None:
        records.append(InputRecord("inventory_history", str(history), file_digest(history)))
        sliced = apply_history(inv.terminals, load_history(history, inv))
    return MoneyInputs(
        book.province, inv, availability, availability_source, timezone, book, sliced, tuple(records)
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


@dataclass(frozen=True)
class Statement:
    """A period settled: the province's reconciliation and, with an invoice, its discrepancies per
    signed contract."""

    rec: ProvinceReconciliation
    found: dict[str, Sequence[Discrepancy]] | None = None
    invoice_source: str = ""
    tolerance: Decimal | None = None


def settle_statement(
    inputs: MoneyInputs,
    period: Period,
    invoice: str | Path | None = None,
    warnings: list[str] | None = None,
    tolerance: Decimal | None = None,
) -> Statement:
    """Settle ``period`` under every signed contract (and check ``invoice`` against the contract that
    bills its carriers). A warning about terminal-months below a contract's measured minimum is
    appended to ``warnings``."""
    try:
        rec = reconcile_book(inputs.contracts, inputs.billed_terminals, inputs.availability, period)
    except (ReconcileError, YearEndError) as exc:
        files = f"{inputs.contract.source}, {inputs.inventory.source}, {inputs.availability_source}"
        raise ReconcileError(f"{files}: {exc}") from exc
    for part in rec.parts:
        warning = unmeasured_warning(part)
        if warning and warnings is not None:
            warnings.append(warning if len(rec.parts) == 1 else f"[{part.contract.id}] {warning}")
    if invoice is None:
        return Statement(rec)
    bill = load_invoice(invoice)
    found = {p.contract.id: () for p in rec.parts}
    for part in _parts_billed(rec, bill):
        found[part.contract.id] = check_invoice(
            part, bill, inputs.billed_terminals, inputs.availability, tolerance
        )
    return Statement(rec, found, f"{bill.source}; {tolerance_rule(tolerance)}", tolerance)


def tolerance_rule(tolerance: Decimal | None) -> str:
    """The stated invoice tolerance, as the statement prints it."""
    if tolerance is not None:
        return f"amounts within {tolerance} are rounding differences"
    return "tolerance: half a quantum per terminal summed in a row (terminal rows exact)"


def _parts_billed(rec: ProvinceReconciliation, bill: Invoice) -> list:  # type: ignore[type-arg]
    """The one signed contract whose carriers the bill names (a bill spanning contracts is refused)."""
    carriers = set(bill.carriers)
    parts = [p for p in rec.parts if carriers & set(p.contract.carriers)]
    if len(parts) > 1:
        ids = ", ".join(p.contract.id for p in parts)
        raise ReconcileError(f"{bill.source}: the bill names carriers of several contracts ({ids}): split it")
    return parts or [rec.parts[0]]


def render_statement(st: Statement, fmt: str, lang: str, timezone: str = "Asia/Shanghai") -> str | bytes:
    from slaprobe.report.province import province_json, render_province

    tz = ZoneInfo(timezone)
    if fmt == "json" and st.found is not None:
        import json

        doc = province_json(st.rec, st.found, lang, tz)
        doc["invoice_tolerance"] = {
            "stated": None if st.tolerance is None else str(st.tolerance),
            "rule": tolerance_rule(st.tolerance),
        }
        return json.dumps(doc, ensure_ascii=False, indent=2) + "\n"
    if fmt == "xlsx":
        from slaprobe.report.reconcile_xlsx import reconcile_xlsx

        return reconcile_xlsx(province_json(st.rec, st.found, lang, tz), lang)
    return render_province(st.rec, fmt, lang, st.found, st.invoice_source, tz)


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
    out = render_statement(settle_statement(inputs, period, invoice, warnings), fmt, lang, inputs.timezone)
    assert isinstance(out, str), "xlsx is bytes: use render_statement"
    return out


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
        rec = reconcile_book(inputs.contracts, inputs.billed_terminals, months, Period.year(year))
    except (ReconcileError, YearEndError):
        return None
    return rec.total.gross, rec.total.net


def check_settled(
    st: Statement,
    inputs: MoneyInputs,
    invoice: str | Path | None,
    directory: str | Path,
    settle: bool,
    by: str,
) -> str | None:
    """Compare ``st`` with its period's settled statement in ``directory`` (DriftError on any difference);
    with ``settle``, write the statement when there is none yet. Returns a line for stderr, or None."""
    from slaprobe.report.province import province_json
    from slaprobe.statement import (
        DriftError,
        drift,
        read_statement,
        statement_path,
        write_statement,
    )

    records = list(inputs.records)
    if invoice:
        records.append(InputRecord("invoice", str(invoice), file_digest(invoice)))
    _check_earlier(st.rec.period, inputs, directory)
    path = statement_path(directory, st.rec.period.label)
    doc = province_json(st.rec, None, fees=False)
    if path.exists():
        settled = read_statement(path)
        found = drift(settled, records, doc)
        if found:
            who, when = settled.get("settled_by") or "?", settled.get("settled_at")
            raise DriftError(
                f"{path}: {st.rec.period} was settled by {who} at {when} and has drifted since "
                "(no new figure is given; settle again only after moving the statement away):\n  "
                + "\n  ".join(found)
            )
        return f"{path}: {st.rec.period} is settled; inputs and figures unchanged" if settle else None
    if not settle:
        return None
    write_statement(path, st.rec.period.label, records, doc, by)
    return f"{path}: {st.rec.period} settled by {by or '?'}"


def _check_earlier(period: Period, inputs: MoneyInputs, directory: str | Path) -> None:
    """Earlier settled periods of the same year must still give their settled figures: a later period's
    balance is year to date, so an edit that moves a settled quarter would otherwise be absorbed
    silently by the next one. Their inputs may have grown since (more months, new terminals), so only
    the figures are compared."""
    from slaprobe.report.province import province_json
    from slaprobe.statement import DriftError, figure_drift, read_statement

    folder = Path(directory)
    if not folder.is_dir():
        return
    for path in sorted(folder.glob(f"{period.first.year:04d}*.json")):
        try:
            earlier = Period.parse(path.stem)
        except ValueError:
            continue
        if earlier.first.year != period.first.year or earlier.last >= period.last:
            continue
        settled = read_statement(path)
        rec = reconcile_book(inputs.contracts, inputs.billed_terminals, inputs.availability, earlier)
        found = figure_drift(settled, province_json(rec, None, fees=False))
        if found:
            who, when = settled.get("settled_by") or "?", settled.get("settled_at")
            raise DriftError(
                f"{path}: {earlier}, settled by {who} at {when}, no longer gives its settled figures with "
                f"these inputs, and {period} builds on it (no new figure is given):\n  " + "\n  ".join(found)
            )

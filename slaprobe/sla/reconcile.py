"""Quarter and year settlement per carrier, and the check of a carrier's invoice against it.

Settlement model (the 2022 contract; see config/contract.example.yaml)
----------------------------------------------------------------------
The province pays installments during the year (2022: 10,602,900 / 5,000,000 / 5,397,100 CNY in
Q1–Q3). At year end, "以我局年末公布的全省开通终端服务数量所对应的服务单价为标准，核算全年服务费用总价":
the year's total is computed at the unit price that the year-end province-wide open count selects, and
the last payment settles the difference. So a reconciliation always works year-to-date:

    balance due (as of the period's end) = net fee, January .. period end − installments paid so far

Positive: owed to the carrier(s). Negative: paid in advance of the service measured so far. For Q4 (or
the year) it is the year-end settlement. The period's own months are shown separately (gross, each
deduction with its reason, net) so a quarter can be checked on its own.

The year's months are computed once; both views are sums of the same CarrierMonth values, so a year
equals the sum of its quarters exactly.

Unmeasured time is never settled silently: ``CarrierSettlement.unmeasured()`` gives, per carrier, the
terminal-months below the contract's measured minimum (settled by ``unmeasured.treatment``) and those
above it that still had unmeasured time (paid as measured), each with its terminal-days and amount.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from slaprobe.sla.contract import (
    ZERO,
    CarrierMonth,
    Deduction,
    DeductionKind,
    TerminalMonthCharge,
    inventory_problems,
    join_incidents,
    round_money,
    settle_month,
)
from slaprobe.sla.contract_config import Contract, Installment, UnmeasuredTreatment, YearEndRule
from slaprobe.sla.invoice import Invoice, InvoiceLine
from slaprobe.sla.periods import Month, Period
from slaprobe.sla.types import TerminalAvailability
from slaprobe.sla.year_end import apply_year_end
from slaprobe.terminal import Terminal

MonthlyAvailability = Mapping[Month, Mapping[str, TerminalAvailability]]


class ReconcileError(ValueError):
    """The inputs cannot be settled (inventory rows the contract cannot price, missing months)."""


class _Summed:
    """gross / deducted / net of a whole as exact sums over its parts (months or carriers)."""

    __slots__ = ()

    def _parts(self) -> Sequence[CarrierMonth | CarrierSettlement]:
        raise NotImplementedError

    @property
    def gross(self) -> Fraction:
        return sum((p.gross for p in self._parts()), ZERO)

    @property
    def deducted(self) -> Fraction:
        return sum((p.deducted for p in self._parts()), ZERO)

    @property
    def net(self) -> Fraction:
        return self.gross - self.deducted


@dataclass(frozen=True, slots=True)
class Amounts:
    """Payable figures of a carrier (or a sum of carriers) for a period.

    The rounding rule applied to what is paid: a carrier's gross fee and its deductions for the period are
    each rounded ONCE from their exact values; net = gross − deductions, exactly, so the printed figures
    always add up; province totals add the carriers' figures. Balances subtract exact installments.
    """

    gross: Decimal = Decimal(0)
    deducted: Decimal = Decimal(0)

    @property
    def net(self) -> Decimal:
        return self.gross - self.deducted

    def __add__(self, other: Amounts) -> Amounts:
        return Amounts(self.gross + other.gross, self.deducted + other.deducted)


@dataclass(frozen=True, slots=True)
class TierLine:
    carrier: str
    tier: str
    terminals: int  # distinct terminals billed for at least one day of the period
    terminal_days: int
    unit_prices: tuple[Decimal, ...]  # the band prices used (one unless the band changed in the period)
    gross: Fraction
    deducted: Fraction  # terminal-level deductions (after the terminal cap, before the carrier cap)


WITHIN_MINIMUM = "within_minimum"  # UnmeasuredLine.treatment of months that reached the minimum


@dataclass(frozen=True, slots=True)
class UnmeasuredLine:
    """The statement's line for unmeasured time of one carrier (and one way it was settled).

    ``treatment`` is the contract's treatment for the terminal-months below its measured minimum, or
    ``within_minimum`` for months that reached it but still had unmeasured time (settled on their
    measurements, the unmeasured remainder paid). ``amount``: for ``pay`` and ``within_minimum`` the
    fee share paid for unmeasured time (fee × unmeasured share); for ``withhold`` the amount withheld;
    for ``count_unavailable`` the availability deductions of those months (before caps).
    """

    carrier: str
    treatment: str
    terminal_months: int
    terminal_days: int  # billable days of those terminal-months
    unmeasured_days: Fraction  # Σ billable days × unmeasured share
    amount: Fraction


@dataclass(frozen=True, slots=True)
class CarrierSettlement(_Summed):
    carrier: str
    months: tuple[CarrierMonth, ...]

    def _parts(self) -> Sequence[CarrierMonth]:
        return self.months

    @property
    def deductions(self) -> tuple[Deduction, ...]:
        return tuple(d for m in self.months for d in m.deductions)

    @property
    def charges(self) -> tuple[TerminalMonthCharge, ...]:
        return tuple(c for m in self.months for c in m.charges)

    @property
    def terminal_days(self) -> int:
        return sum(c.days for c in self.charges)

    @property
    def unjudged(self) -> tuple[TerminalMonthCharge, ...]:
        """Terminal-months with no measured interval: billed, but no availability deduction possible."""
        return tuple(c for c in self.charges if c.availability is None)

    def unmeasured(self, treatment: UnmeasuredTreatment) -> tuple[UnmeasuredLine, ...]:
        """Below-minimum months (settled by ``treatment``) and within-minimum months with gaps."""
        below = [c for c in self.charges if c.insufficient]
        within = [c for c in self.charges if not c.insufficient and c.unmeasured > 0]
        out = []
        for name, charges in ((treatment.value, below), (WITHIN_MINIMUM, within)):
            if not charges:
                continue
            if name == UnmeasuredTreatment.WITHHOLD.value:
                amount = sum((c.withheld for c in charges), ZERO)
            elif name == UnmeasuredTreatment.COUNT_UNAVAILABLE.value:
                amount = sum(
                    (
                        d.amount
                        for c in charges
                        for d in c.deductions
                        if d.kind is DeductionKind.UNMEASURED_UNAVAILABLE
                    ),
                    ZERO,
                )
            else:
                amount = sum((c.fee * c.unmeasured for c in charges), ZERO)
            out.append(
                UnmeasuredLine(
                    self.carrier,
                    name,
                    len(charges),
                    sum(c.days for c in charges),
                    sum((c.days * c.unmeasured for c in charges), ZERO),
                    amount,
                )
            )
        return tuple(out)

    def tiers(self) -> tuple[TierLine, ...]:
        acc: dict[str, list[TerminalMonthCharge]] = {}
        for c in self.charges:
            acc.setdefault(c.tier, []).append(c)
        return tuple(
            TierLine(
                self.carrier,
                tier,
                len({c.terminal for c in cs}),
                sum(c.days for c in cs),
                tuple(sorted({c.unit_price for c in cs})),
                sum((c.fee for c in cs), ZERO),
                sum((c.deducted for c in cs), ZERO),
            )
            for tier, cs in sorted(acc.items())
        )

    def gross_of(self, terminal: str) -> Fraction:
        return sum((c.fee for c in self.charges if c.terminal == terminal), ZERO)

    def days_of(self, terminal: str) -> int:
        return sum(c.days for c in self.charges if c.terminal == terminal)


@dataclass(frozen=True, slots=True)
class Reconciliation(_Summed):
    contract: Contract
    period: Period
    carriers: tuple[CarrierSettlement, ...]  # the period's own months
    year_to_date: tuple[CarrierSettlement, ...]  # January .. the period's last month
    installments_to_date: tuple[Installment, ...]  # paid in a quarter ending on or before the period end
    installments_later: tuple[Installment, ...]  # recorded, but paid after the period end

    def money(self, value: Fraction | Decimal) -> Decimal:
        """A detail figure as reported: the exact value rounded once by the contract's rule."""
        return round_money(Fraction(value), self.contract.rounding)

    def amounts(self, settlement: CarrierSettlement) -> Amounts:
        """A carrier's payable figures for the settlement's months, rounded so that periods add up.

        Gross and deductions are rounded once as year-to-date figures; a period's figure is
        round(January .. its last month) − round(January .. the month before its first), so the four
        quarters (or twelve months) of a year sum exactly to the year's figure. Net = gross − deductions.
        """
        if not settlement.months:
            return Amounts()
        first, last = settlement.months[0].month, settlement.months[-1].month
        ytd = next((c for c in self.year_to_date if c.carrier == settlement.carrier), settlement)
        upto = [m for m in ytd.months if m.month <= last]
        before = [m for m in ytd.months if m.month < first]

        def cum(months: Sequence[CarrierMonth], attr: str) -> Decimal:
            return self.money(sum((getattr(m, attr) for m in months), ZERO))

        return Amounts(
            cum(upto, "gross") - cum(before, "gross"), cum(upto, "deducted") - cum(before, "deducted")
        )

    @property
    def total(self) -> Amounts:
        """The province's figures for the period: the sum of the carriers' payable figures."""
        return sum((self.amounts(c) for c in self.carriers), Amounts())

    @property
    def total_year_to_date(self) -> Amounts:
        return sum((self.amounts(c) for c in self.year_to_date), Amounts())

    def carrier(self, carrier: str) -> CarrierSettlement:
        return next(c for c in self.carriers if c.carrier == carrier)

    def _parts(self) -> Sequence[CarrierSettlement]:
        return self.carriers

    @property
    def paid_to_date(self) -> Decimal:
        """Paid in cash quarters up to the period end, for service in the contract year."""
        return sum((i.for_year(self.contract.year) for i in self.installments_to_date), Decimal(0))

    @property
    def paid_later(self) -> Decimal:
        """Recorded as paid after the period end (e.g. Q4 settled in 2023), for the contract year."""
        return sum((i.for_year(self.contract.year) for i in self.installments_later), Decimal(0))

    @property
    def balance_due(self) -> Decimal:
        """Year-to-date net fee − installments paid to date."""
        return self.total_year_to_date.net - self.paid_to_date

    @property
    def outstanding(self) -> Decimal:
        """The balance once the payments recorded after the period end are counted too."""
        return self.balance_due - self.paid_later

    @property
    def balance_treatment(self) -> str:
        """``due`` (owed to the carrier or nothing), else the contract's negative-balance setting."""
        return "due" if self.balance_due >= 0 else self.contract.payments.negative_balance.value

    @property
    def budget_remaining(self) -> Decimal | None:
        budget = self.contract.payments.budget
        return None if budget is None else budget - self.paid_to_date

    def carrier_paid_to_date(self, carrier: str) -> Decimal | None:
        """A carrier's share of the installments: known when every one of them is split by carrier, or
        when the contract has this one carrier (a contract signed with it alone)."""
        year = self.contract.year
        if len(self.contract.carriers) == 1 and carrier in self.contract.carriers:
            return self.paid_to_date
        if any(not i.by_carrier for i in self.installments_to_date if i.for_year(year)):
            return None
        return sum((i.carrier_share(carrier, year) for i in self.installments_to_date), Decimal(0))

    def carrier_balance_due(self, carrier: str) -> Decimal | None:
        paid = self.carrier_paid_to_date(carrier)
        if paid is None:
            return None
        ytd = next(c for c in self.year_to_date if c.carrier == carrier)
        return self.amounts(ytd).net - paid

    @property
    def price_basis(self) -> tuple[tuple[Month, dt.date, int], ...]:
        """Per month of the period: the count day and the province-wide open count that chose the price."""
        first = self.carriers[0].months if self.carriers else ()
        return tuple((m.month, m.count_day, m.open_terminals) for m in first)


def reconcile(
    contract: Contract,
    terminals: Sequence[Terminal],
    availability: MonthlyAvailability,
    period: Period,
    count_terminals: Sequence[Terminal] | None = None,
) -> Reconciliation:
    """Settle ``period`` (a quarter, a month or the year) of the contract's year.

    ``availability`` must hold every month from January to the period's end (the balance is
    year-to-date); a month with no data must be passed as an empty mapping, so a forgotten month is an
    error rather than a year without deductions. ``terminals`` are the records this contract bills
    (history slices allowed); ``count_terminals`` the province's, whose open count selects the price
    band (default: ``terminals``).
    """
    if period.first.year != contract.year or period.last.year != contract.year:
        raise ReconcileError(f"period {period} is outside the contract year {contract.year}")
    problems = inventory_problems(contract, terminals)
    if problems:
        raise ReconcileError("inventory rows the contract cannot settle:\n  " + "\n  ".join(problems))
    ytd = period.year_to_date()
    missing = [str(m) for m in ytd.months if m not in availability]
    if missing:
        raise ReconcileError(f"no availability given for {', '.join(missing)} (needed from January on)")
    incidents = join_incidents(ytd.months, availability)
    everyone = terminals if count_terminals is None else count_terminals
    months = {
        m: settle_month(contract, terminals, m, availability[m], incidents, everyone) for m in ytd.months
    }
    if contract.year_end.rule is YearEndRule.COUNT_ON_DAY and Month(contract.year, 12) in ytd:
        months = apply_year_end(contract, months, terminals, everyone)

    def settlements(p: Period) -> tuple[CarrierSettlement, ...]:
        return tuple(
            CarrierSettlement(carrier, tuple(months[m][carrier] for m in p.months if carrier in months[m]))
            for carrier in contract.carriers
        )

    mine = [i for i in contract.payments.installments if i.for_year(contract.year)]
    to_date = [i for i in mine if i.period.last <= period.last]
    later = [i for i in mine if i.period.last > period.last]
    return Reconciliation(
        contract, period, settlements(period), settlements(ytd), tuple(to_date), tuple(later)
    )


class DiscrepancyKind(enum.StrEnum):
    NOT_IN_INVENTORY = "not_in_inventory"  # billed terminal id unknown to the inventory
    DUPLICATE = "duplicate"  # the same terminal billed on two rows
    WRONG_CARRIER = "wrong_carrier"  # billed by a carrier that does not carry it
    UNKNOWN_CARRIER = "unknown_carrier"  # a carrier the contract does not know
    TIER_MISMATCH = "tier_mismatch"  # billed at another tier than the inventory's
    OUTSIDE_PERIOD = "outside_period"  # billed dates outside the reconciled period
    BILLED_BEFORE_OPENING = "billed_before_opening"
    BILLED_AFTER_RETIREMENT = "billed_after_retirement"
    NEVER_ANSWERED = "never_answered"  # probed in the period, not one available interval
    NOT_MEASURED = "not_measured"  # no measured interval at all: we cannot confirm the service
    DAYS_MISMATCH = "days_mismatch"
    COUNT_MISMATCH = "count_mismatch"
    AMOUNT_MISMATCH = "amount_mismatch"
    ROUNDING_DIFFERENCE = "rounding_difference"  # an amount off by no more than the tolerance: not an error
    NOT_BILLED = "not_billed"  # in service, but missing from a bill that lists terminals


@dataclass(frozen=True, slots=True)
class Discrepancy:
    kind: DiscrepancyKind
    line: int | None  # invoice line number, None for NOT_BILLED
    carrier: str
    terminal: str | None = None
    tier: str | None = None
    billed: str = ""
    expected: str = ""
    difference: Decimal | None = None  # billed − expected, for amounts


def invoice_tolerance(rec: Reconciliation, terminals: int, stated: Decimal | None) -> Decimal:
    """How far a billed amount may be from ours before it is a mismatch.

    ``stated`` (``reconcile --tolerance``) when given; else half a quantum per terminal summed in the
    row: a bill that rounds each terminal's fee to the cent and adds them can be that far from our total
    rounded once (0 for a terminal row: each terminal is rounded once on both sides).
    """
    if stated is not None:
        return stated
    return rec.contract.rounding.quantum * terminals / 2


@dataclass(frozen=True, slots=True)
class BillingTotals:
    """Per carrier: the sums of over-billing (billed > ours), under-billing and rounding differences,
    from the finest rows the bill has (terminal rows, else tier rows, else the carrier total)."""

    carrier: str
    overbilled: Decimal
    underbilled: Decimal  # negative or zero
    rounding: Decimal


def billing_totals(found: Sequence[Discrepancy]) -> tuple[BillingTotals, ...]:
    amounts = [
        d
        for d in found
        if d.difference is not None
        and d.kind in (DiscrepancyKind.AMOUNT_MISMATCH, DiscrepancyKind.ROUNDING_DIFFERENCE)
    ]
    out = []
    for carrier in dict.fromkeys(d.carrier for d in amounts):
        mine = [d for d in amounts if d.carrier == carrier]
        level = min(0 if d.terminal else 1 if d.tier else 2 for d in mine)
        rows = [d for d in mine if (0 if d.terminal else 1 if d.tier else 2) == level]
        mism = [d.difference or Decimal(0) for d in rows if d.kind is DiscrepancyKind.AMOUNT_MISMATCH]
        rnd = [d.difference or Decimal(0) for d in rows if d.kind is DiscrepancyKind.ROUNDING_DIFFERENCE]
        out.append(
            BillingTotals(
                carrier,
                sum((x for x in mism if x > 0), Decimal(0)),
                sum((x for x in mism if x < 0), Decimal(0)),
                sum(rnd, Decimal(0)),
            )
        )
    return tuple(out)


def check_invoice(
    rec: Reconciliation,
    invoice: Invoice,
    terminals: Sequence[Terminal],
    availability: MonthlyAvailability,
    tolerance: Decimal | None = None,
) -> tuple[Discrepancy, ...]:
    """Every way the bill differs from the settlement of ``rec.period``.

    Amounts are compared with the gross fee (before deductions) rounded by the contract's rule: a bill
    is right to the quantum or it is listed. "Never answered" means the terminal was probed in the
    period and not a single interval met the availability criterion (the engine's per-interval loss
    threshold): the carrier billed a service nobody could reach.
    """
    by_id = {t.id: t for t in terminals}
    settled = {c.carrier: c for c in rec.carriers}
    out: list[Discrepancy] = []
    first_line: dict[str, int] = {}
    for row in invoice.lines:
        if row.kind == "terminal":
            out += _check_terminal_row(rec, row, by_id, settled, availability, first_line, tolerance)
        elif row.carrier not in settled:
            out.append(Discrepancy(DiscrepancyKind.UNKNOWN_CARRIER, row.line, row.carrier, tier=row.tier))
        elif row.kind == "tier":
            out += _check_tier_row(rec, row, settled[row.carrier], tolerance)
        else:
            cs = settled[row.carrier]
            allowed = invoice_tolerance(rec, len({c.terminal for c in cs.charges}), tolerance)
            _compare_amount(out, row, row.amount, rec.money(cs.gross), allowed)
    listed = {row.carrier for row in invoice.lines if row.kind == "terminal"}
    for carrier in sorted(listed & settled.keys()):
        days: dict[str, int] = {}
        for c in settled[carrier].charges:
            days[c.terminal] = days.get(c.terminal, 0) + c.days
        for tid in sorted(days.keys() - first_line.keys()):
            out.append(
                Discrepancy(
                    DiscrepancyKind.NOT_BILLED, None, carrier, tid, by_id[tid].tier, "", f"{days[tid]} d"
                )
            )
    return tuple(out)


def _check_terminal_row(
    rec: Reconciliation,
    row: InvoiceLine,
    by_id: Mapping[str, Terminal],
    settled: Mapping[str, CarrierSettlement],
    availability: MonthlyAvailability,
    first_line: dict[str, int],
    tolerance: Decimal | None = None,
) -> list[Discrepancy]:
    tid = row.terminal or ""
    kinds = DiscrepancyKind

    def found(
        kind: DiscrepancyKind, billed: object = "", expected: object = "", tier: str | None = None
    ) -> None:
        out.append(
            Discrepancy(kind, row.line, row.carrier, tid, tier or row.tier, str(billed), str(expected))
        )

    out: list[Discrepancy] = []
    if tid in first_line:
        found(kinds.DUPLICATE, f"line {row.line}", f"once (first on line {first_line[tid]})")
        return out
    first_line[tid] = row.line
    t = by_id.get(tid)
    if t is None:
        found(kinds.NOT_IN_INVENTORY)
        return out
    if row.carrier != t.carrier:
        found(kinds.WRONG_CARRIER, row.carrier, t.carrier, t.tier)
    if row.tier is not None and row.tier != t.tier:
        found(kinds.TIER_MISMATCH, row.tier, t.tier)
    period = rec.period
    if row.billed_from is not None or row.billed_to is not None:  # a dated row bills its span
        span_from, span_to = row.billed_from or period.first_day, row.billed_to or period.last_day
        if span_from < period.first_day or span_to > period.last_day:
            found(
                kinds.OUTSIDE_PERIOD,
                f"{span_from}..{span_to}",
                f"{period.first_day}..{period.last_day}",
                t.tier,
            )
        if span_from < t.in_service_from:
            found(kinds.BILLED_BEFORE_OPENING, span_from, t.in_service_from, t.tier)
        if t.in_service_to is not None and span_to > t.in_service_to:
            found(kinds.BILLED_AFTER_RETIREMENT, span_to, t.in_service_to, t.tier)
    else:  # an undated row claims service in the period; too many days show as days/amount mismatches
        if t.in_service_from > period.last_day:
            found(kinds.BILLED_BEFORE_OPENING, period, t.in_service_from, t.tier)
        if t.in_service_to is not None and t.in_service_to < period.first_day:
            found(kinds.BILLED_AFTER_RETIREMENT, period, t.in_service_to, t.tier)
    own = settled.get(t.carrier)
    days = own.days_of(tid) if own is not None else 0
    if days > 0:
        seen = [availability[m].get(tid) for m in period.months if m in availability]
        measured = sum(ta.measured_s for ta in seen if ta is not None)
        if measured == 0:
            found(kinds.NOT_MEASURED, tier=t.tier)
        elif sum(ta.available_s for ta in seen if ta is not None) == 0:
            found(kinds.NEVER_ANSWERED, "", f"{measured} s probed, 0 s available", t.tier)
    if row.terminal_days is not None and row.terminal_days != days:
        found(kinds.DAYS_MISMATCH, row.terminal_days, days, t.tier)
    if row.amount is not None and own is not None:
        exact_fee = rec.money(own.gross_of(tid))
        _compare_amount(out, row, row.amount, exact_fee, invoice_tolerance(rec, 0, tolerance))
    return out


def _check_tier_row(
    rec: Reconciliation, row: InvoiceLine, settlement: CarrierSettlement, tolerance: Decimal | None = None
) -> list[Discrepancy]:
    line = next((x for x in settlement.tiers() if x.tier == row.tier), None)
    count, days, gross = (line.terminals, line.terminal_days, line.gross) if line else (0, 0, ZERO)
    out: list[Discrepancy] = []
    _compare(out, DiscrepancyKind.COUNT_MISMATCH, row, row.count, count)
    _compare(out, DiscrepancyKind.DAYS_MISMATCH, row, row.terminal_days, days)
    allowed = invoice_tolerance(rec, count, tolerance)
    _compare_amount(out, row, row.amount, rec.money(gross), allowed)
    return out


def _compare_amount(
    out: list[Discrepancy], row: InvoiceLine, billed: Decimal | None, expected: Decimal, allowed: Decimal
) -> None:
    """A billed amount: equal, a rounding difference within ``allowed``, or a mismatch."""
    if billed is None or billed == expected:
        return
    diff = billed - expected
    kind = DiscrepancyKind.ROUNDING_DIFFERENCE if abs(diff) <= allowed else DiscrepancyKind.AMOUNT_MISMATCH
    out.append(
        Discrepancy(kind, row.line, row.carrier, row.terminal, row.tier, str(billed), str(expected), diff)
    )


def _compare(
    out: list[Discrepancy], kind: DiscrepancyKind, row: InvoiceLine, billed: object, expected: object
) -> None:
    """A tier or carrier-total row's figure, when the bill states it, must equal ours."""
    if billed is not None and billed != expected:
        out.append(Discrepancy(kind, row.line, row.carrier, None, row.tier, str(billed), str(expected)))

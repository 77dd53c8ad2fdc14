"""Quarter and year settlement per carrier (the check of a carrier's invoice: ``invoice_check``, re-exported).

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
from slaprobe.sla.invoice_check import (  # the bill check: its own module, names re-exported here
    BillingTotals,
    Discrepancy,
    DiscrepancyKind,
    billing_totals,
    check_invoice,
    invoice_tolerance,
)
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


__all__ = [
    "Amounts",
    "BillingTotals",
    "CarrierSettlement",
    "Discrepancy",
    "DiscrepancyKind",
    "MonthlyAvailability",
    "ReconcileError",
    "Reconciliation",
    "TierLine",
    "UnmeasuredLine",
    "billing_totals",
    "check_invoice",
    "invoice_tolerance",
    "reconcile",
]

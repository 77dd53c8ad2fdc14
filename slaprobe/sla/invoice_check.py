"""A carrier's bill checked against the settlement: every way it differs, and what that adds up to.

Split from ``reconcile`` (which settles) because checking a bill is its own job with its own rules:
terminal rows must match our per-terminal figure exactly; tier and carrier-total rows may differ by
the stated tolerance (``reconcile --tolerance``, else half a quantum per terminal summed in the row),
shown as a rounding-difference line, never as a mismatch; over- and under-billing are summed per
carrier from the finest rows the bill has. ``slaprobe.sla.reconcile`` re-exports these names.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from slaprobe.sla.contract import ZERO
from slaprobe.sla.invoice import Invoice, InvoiceLine
from slaprobe.terminal import Terminal

if TYPE_CHECKING:
    from slaprobe.sla.reconcile import CarrierSettlement, MonthlyAvailability, Reconciliation


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

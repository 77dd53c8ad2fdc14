"""The province's settlement: every signed contract settled on its own terminals, then added up.

Each signed contract (``contract_book``) is reconciled with its own price list, rules, installments and
budget, on the terminal records it covers, while the volume band is still chosen by the province-wide
open count (the tender priced the province, not one carrier). The province view adds the contracts'
rounded figures, so a carrier's balance and the province's total are sums of printed numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from slaprobe.sla.contract_book import ContractBook
from slaprobe.sla.contract_config import Contract
from slaprobe.sla.periods import Period
from slaprobe.sla.reconcile import Amounts, MonthlyAvailability, ReconcileError, Reconciliation, reconcile
from slaprobe.terminal import Terminal


@dataclass(frozen=True)
class ProvinceReconciliation:
    book: ContractBook
    period: Period
    parts: tuple[Reconciliation, ...]  # one per signed contract, in the file's order

    @property
    def province(self) -> Contract:
        return self.book.province

    @property
    def total(self) -> Amounts:
        return sum((r.total for r in self.parts), Amounts())

    @property
    def total_year_to_date(self) -> Amounts:
        return sum((r.total_year_to_date for r in self.parts), Amounts())

    @property
    def paid_to_date(self) -> Decimal:
        return sum((r.paid_to_date for r in self.parts), Decimal(0))

    @property
    def paid_later(self) -> Decimal:
        return sum((r.paid_later for r in self.parts), Decimal(0))

    @property
    def balance_due(self) -> Decimal:
        return self.total_year_to_date.net - self.paid_to_date

    @property
    def budget(self) -> Decimal | None:
        return self.province.payments.budget

    @property
    def budget_remaining(self) -> Decimal | None:
        return None if self.budget is None else self.budget - self.paid_to_date

    @property
    def carriers(self) -> tuple[str, ...]:
        return tuple(self.province.carriers)

    def carrier_amounts(self, carrier: str, year_to_date: bool = False) -> Amounts:
        out = Amounts()
        for r in self.parts:
            for cs in r.year_to_date if year_to_date else r.carriers:
                if cs.carrier == carrier:
                    out += r.amounts(cs)
        return out

    def carrier_paid_to_date(self, carrier: str) -> Decimal | None:
        """Sum over the contracts that bill this carrier; None if any of them cannot say."""
        total = Decimal(0)
        for r in self.parts:
            if carrier not in r.contract.carriers:
                continue
            paid = r.carrier_paid_to_date(carrier)
            if paid is None:
                return None
            total += paid
        return total

    def carrier_balance_due(self, carrier: str) -> Decimal | None:
        paid = self.carrier_paid_to_date(carrier)
        return None if paid is None else self.carrier_amounts(carrier, True).net - paid


def reconcile_book(
    book: ContractBook, terminals: Sequence[Terminal], availability: MonthlyAvailability, period: Period
) -> ProvinceReconciliation:
    """Settle ``period`` under every signed contract; terminals no contract covers are an error."""
    if book.single:
        rec = reconcile(book.province, terminals, availability, period)
        return ProvinceReconciliation(book, period, (rec,))
    mine, problems = book.split(terminals)
    unknown = [t for t in terminals if t.carrier not in book.province.carriers]
    problems += [f"terminal {t.id}: carrier {t.carrier!r} is not in the contract" for t in unknown]
    if problems:
        raise ReconcileError("inventory rows the contracts cannot settle:\n  " + "\n  ".join(problems))
    parts = tuple(reconcile(c, mine[c.id], availability, period, terminals) for c in book.contracts)
    return ProvinceReconciliation(book, period, parts)

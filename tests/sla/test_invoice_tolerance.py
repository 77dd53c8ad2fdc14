"""Invoice amounts: a bill rounded per terminal is not "0.01 off"; real over- and under-billing is summed.

By hand (tests/sla/money_data.SMALL, gold 1,000.00 per month below 10 open terminals): seven telecom
gold terminals opened on 2022-01-03 are billed January for 29 of 31 days: 1000 x 29/31 = 935.483870...,
rounded per terminal 935.48; seven of them: the carrier adds 7 x 935.48 = 6,548.36, we round the exact
total once: 7000 x 29/31 = 6,548.387096... -> 6,548.39. Difference -0.03, within the default tolerance
of half a cent per terminal summed (7 x 0.005 = 0.035): a rounding difference, not a mismatch.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from slaprobe.sla.invoice import parse_invoice
from slaprobe.sla.periods import Month, Period
from slaprobe.sla.reconcile import DiscrepancyKind, billing_totals, check_invoice, reconcile
from tests.sla.money_data import small_contract, term

JAN = Period.month(Month(2022, 1))
TERMINALS = [term(f"T0{i}", start=dt.date(2022, 1, 3)) for i in range(1, 8)]
REC = reconcile(small_contract(), TERMINALS, {Month(2022, 1): {}}, JAN)


def _check(
    text: str, tolerance: Decimal | None = None
) -> list[tuple[DiscrepancyKind, str | None, Decimal | None]]:
    found = check_invoice(REC, parse_invoice(text, "bill.csv"), TERMINALS, {Month(2022, 1): {}}, tolerance)
    return [(d.kind, d.terminal, d.difference) for d in found if d.kind is not DiscrepancyKind.NOT_MEASURED]


def test_per_terminal_rounding_is_a_rounding_difference_not_a_mismatch() -> None:
    assert REC.money(REC.carrier("telecom").gross) == Decimal("6548.39")
    assert _check("carrier,amount\ntelecom,6548.36\n") == [
        (DiscrepancyKind.ROUNDING_DIFFERENCE, None, Decimal("-0.03"))
    ]
    # a stated tolerance replaces the default: 0.01 makes the same 0.03 a mismatch
    assert _check("carrier,amount\ntelecom,6548.36\n", Decimal("0.01")) == [
        (DiscrepancyKind.AMOUNT_MISMATCH, None, Decimal("-0.03"))
    ]


def test_terminal_rows_rounded_per_terminal_match_exactly_and_totals_add_up() -> None:
    rows = [f"telecom,T0{i},935.48" for i in range(1, 8)]
    rows[0] = "telecom,T01,936.48"  # 1.00 over-billed
    rows[1] = "telecom,T02,935.00"  # 0.48 under-billed
    found = check_invoice(
        REC, parse_invoice("carrier,terminal,amount\n" + "\n".join(rows) + "\n", "bill.csv"), TERMINALS,
        {Month(2022, 1): {}},
    )  # fmt: skip
    amounts = [(d.kind, d.terminal, d.difference) for d in found if d.difference is not None]
    assert amounts == [
        (DiscrepancyKind.AMOUNT_MISMATCH, "T01", Decimal("1.00")),
        (DiscrepancyKind.AMOUNT_MISMATCH, "T02", Decimal("-0.48")),
    ]
    (totals,) = billing_totals(found)
    assert (totals.carrier, totals.overbilled, totals.underbilled, totals.rounding) == (
        "telecom", Decimal("1.00"), Decimal("-0.48"), Decimal(0),
    )  # fmt: skip

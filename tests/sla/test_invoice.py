"""Invoice cells parse only what finance means: plain decimals and ASCII whole numbers (issue #11)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from slaprobe.sla.invoice import InvoiceError, parse_invoice

HEADER = "carrier,tier,count,terminal_days,amount\n"


@pytest.mark.parametrize(
    ("cells", "message"),
    [
        (
            "telecom,premium,3,,1_8_0000.00",
            "amount: expected a plain decimal such as 12345.67, got '1_8_0000.00'",
        ),
        ("telecom,premium,3,,1e5", "amount: expected a plain decimal"),
        ("telecom,premium,3,,NaN", "amount: expected a plain decimal"),
        ("telecom,premium,3,,١٢٣", "amount: expected a plain decimal"),
        ("telecom,premium,3,, 12.", "amount: expected a plain decimal"),
        ("telecom,premium,3,²,100.00", "terminal_days: expected a whole number ≥ 0, got '²'"),
        ("telecom,premium,³,,100.00", "count: expected a whole number ≥ 0, got '³'"),
    ],
)
def test_non_plain_numbers_are_rejected_naming_the_line(cells: str, message: str) -> None:
    with pytest.raises(InvoiceError) as info:
        parse_invoice(HEADER + cells + "\n", "bill.csv")
    text = str(info.value)
    assert "bill.csv" in text and "line 2" in text and message in text


@pytest.mark.parametrize(
    ("cell", "value"), [("180000.00", Decimal("180000.00")), ("-0.50", Decimal("-0.50")), ("+7", Decimal(7))]
)
def test_plain_decimals_parse_exactly(cell: str, value: Decimal) -> None:
    assert parse_invoice(f"{HEADER}telecom,premium,3,,{cell}\n").lines[0].amount == value

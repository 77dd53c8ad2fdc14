"""Reconciliation renderers: the same settled figures in every format and both languages."""

from __future__ import annotations

import json
from fractions import Fraction

import pytest

from slaprobe.report.money_table import Document, display_width, render_text, table
from slaprobe.report.reconcile import render_reconciliation, truncate_percent
from slaprobe.report.xlsx import csv_rows
from slaprobe.sla.invoice import parse_invoice
from slaprobe.sla.periods import Period
from slaprobe.sla.reconcile import check_invoice, reconcile
from tests.sla.test_reconcile import BAD_Q1, CONTRACT, TERMINALS, scenario


@pytest.fixture(scope="module")
def q1():  # type: ignore[no-untyped-def]
    return reconcile(CONTRACT, TERMINALS, scenario(), Period.parse("2022Q1"))


@pytest.mark.parametrize(
    ("value", "places", "text"),
    [
        (Fraction(99899999, 10**6), 4, "99.8999"),  # just below 99.9: never shown as 99.9000
        (Fraction(90), 2, "90.00"),
        (Fraction(89996, 1000), 2, "89.99"),
        (Fraction(-1, 3), 2, "-0.33"),
        (Fraction(7, 2), 0, "3"),
    ],
)
def test_truncate_percent(value: Fraction, places: int, text: str) -> None:
    assert truncate_percent(value, places) == text


def test_text_english(q1) -> None:  # type: ignore[no-untyped-def]
    out = render_reconciliation(q1, "table", "en")
    total = next(line for line in out.splitlines() if line.strip().startswith("Total"))
    # terminals, terminal-days, gross, deductions, net, unjudged, net ytd, paid, balance (hand-computed)
    assert total.split()[1:] == [
        "10",
        "834",
        "19460.00",
        "1003.50",
        "18456.50",
        "1",
        "18456.50",
        "10000.00",
        "8456.50",
    ]
    assert "availability 99.5000 % in [99.0, 99.9) -> 10 % of the month's fee 1000.00" in out
    assert "outage from 2022-02-01 00:00, 5 h 00 min > 4 h -> 50.00" in out
    assert "capped at 20 % of the carrier's gross fee for the month 1240.00" in out
    assert "rounded to 0.01 (half up) as year-to-date figures" in out and "net = gross - deductions" in out


def test_text_chinese(q1) -> None:  # type: ignore[no-untyped-def]
    out = render_reconciliation(q1, "table", "zh")
    for text in (
        "按运营商结算",
        "应付余额",
        "可用性 99.5000%，处于 [99.0, 99.5) 区间".replace("99.5)", "99.9)"),
        "四舍五入",
    ):
        assert text in out
    assert "8456.50" in out and "Settlement" not in out


def test_csv_blocks_parse(q1) -> None:  # type: ignore[no-untyped-def]
    text = render_reconciliation(q1, "csv", "en")
    assert text.startswith("\ufeff") and not text.startswith("\ufeff\ufeff")  # Excel on Chinese Windows
    rows = csv_rows(text)
    start = rows.index(["# Settlement by carrier"])
    header, tel, uni, total = rows[start + 1 : start + 5]
    assert header[0] == "Carrier" and total[0] == "Total"
    assert (tel[3], tel[4], tel[5], tel[9]) == ("15950.00", "740.00", "15210.00", "7210.00")
    assert (uni[3], uni[4], uni[5], uni[9]) == ("3510.00", "263.50", "3246.50", "1246.50")
    ded = rows.index(["# Deductions and their reasons"])
    assert rows[ded + 1][-1] == "Amount" and rows[ded + 2][-1] == "100.00"


def test_markdown(q1) -> None:  # type: ignore[no-untyped-def]
    out = render_reconciliation(q1, "markdown", "en")
    assert out.startswith("# Reconciliation 2022Q1")
    assert "| Total | 10 | 834 | 19460.00 | 1003.50 | 18456.50 | 1 | 18456.50 | 10000.00 | 8456.50 |" in out


def test_json_with_discrepancies(q1) -> None:  # type: ignore[no-untyped-def]
    found = check_invoice(q1, parse_invoice(BAD_Q1), TERMINALS, scenario())
    data = json.loads(render_reconciliation(q1, "json", "en", found))
    assert (data["gross"], data["deducted"], data["net"], data["balance_due"]) == (
        "19460.00",
        "1003.50",
        "18456.50",
        "8456.50",
    )
    tel = data["carriers"][0]
    assert tel["carrier"] == "telecom" and tel["balance_due"] == "7210.00"
    assert [d["kind"] for d in tel["deductions"]] == [
        "availability",
        "availability",
        "incident",
        "availability",
        "incident",
        "terminal_cap",
    ]
    assert tel["deductions"][2]["outage"]["duration_s"] == 18000
    assert tel["tiers"][0]["unit_prices"] == ["900.00", "1000.00"]
    assert {d["kind"] for d in data["discrepancies"]} >= {"not_in_inventory", "duplicate", "not_billed"}


def test_cjk_columns_line_up() -> None:
    doc = Document("t", (table("x", ["名称", "n"], [["中国电信", "1"], ["ab", "22"]], [1]),))
    lines = render_text(doc).splitlines()[-3:]
    assert len({display_width(line) for line in lines}) == 1  # right edges align despite wide characters

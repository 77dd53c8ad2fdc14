"""Quarter and year settlement of a 10-terminal contract, computed by hand, and the 2022 example.

Scenario (contract tests/sla/money_data.SMALL, price band counted at each month's end):
  T01..T05 telecom gold since 2021; T06 telecom gold opened 2022-02-15;
  T07..T09 unicom basic since 2021; T10 unicom basic retired 2022-03-10 (last day in service).
  Open at month end: Jan 9 -> gold 1000; Feb 10 -> gold 900; Mar 9 (T10 gone) -> 1000; Apr..Dec 9 -> 1000.
  Basic is 310 whatever the count.

Gross, Q1:
  telecom Jan 5 x 1000 = 5000; Feb 5 x 900 + 900 x 14/28 = 4950; Mar 6 x 1000 = 6000 -> 15950
  unicom  Jan 4 x 310 = 1240;  Feb 1240;  Mar 3 x 310 + 310 x 10/31 = 1030         -> 3510
Deductions, Q1:
  Jan T01 99.5 % -> 10 % of 1000 = 100
      T07, T08 80 % -> basic [0, 90) 50 % of 310 = 155 each = 310 > unicom cap 20 % of 1240 = 248 -> 248
  Feb T02 5 h down of 28 d = 99.256 % -> 10 % of 900 = 90, + 5 h outage 50 -> 140
      T09 exactly 99.0 % -> basic [99.0, 99.5) 5 % of 310 = 15.50
  Mar T03 90 % -> 60 % of 1000 = 600, + 74.4 h outage 30 % = 300 -> 900 > terminal cap 50 % -> 500
      T10 exactly 99.5 % = the basic target -> nothing
  telecom 100 + 140 + 500 = 740 -> net 15210; unicom 248 + 15.50 = 263.50 -> net 3246.50
  province gross 19460, deductions 1003.50, net 18456.50
Apr..Dec (no measurement): telecom 6 x 1000 x 9 = 54000; unicom 3 x 310 x 9 = 8370.
Year: gross 69950 + 11880 = 81830; deductions 1003.50; net 80826.50.
Payments: Q1 10000 (8000 telecom / 2000 unicom), Q2 8000 (6000/2000), Q3 8000 (6000/2000), and the
year-end settlement recorded as paid in 2023Q1. Budget 90000.
"""

from __future__ import annotations

import calendar
import csv
import datetime as dt
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest

from slaprobe.inventory import load_inventory
from slaprobe.sla.contract_config import load_contract
from slaprobe.sla.invoice import parse_invoice
from slaprobe.sla.periods import Month, Period
from slaprobe.sla.reconcile import DiscrepancyKind, ReconcileError, check_invoice, reconcile
from tests.sla.money_data import avail, small_contract, term

JAN, FEB, MAR = Month(2022, 1), Month(2022, 2), Month(2022, 3)
H = 3600
FULL = (1000, 0)

TERMINALS = [
    *(term(f"T0{i}") for i in range(1, 6)),
    term("T06", start=dt.date(2022, 2, 15)),
    *(term(f"T0{i}", "unicom", "basic") for i in range(7, 10)),
    term("T10", "unicom", "basic", end=dt.date(2022, 3, 10)),
]

PAYMENTS: dict[str, Any] = {
    "budget": "90000.00",
    "installments": [
        {
            "quarter": "2022Q1",
            "amount": "10000.00",
            "by_carrier": {"telecom": "8000.00", "unicom": "2000.00"},
        },
        {"quarter": "2022Q2", "amount": "8000.00", "by_carrier": {"telecom": "6000.00", "unicom": "2000.00"}},
        {"quarter": "2022Q3", "amount": "8000.00", "by_carrier": {"telecom": "6000.00", "unicom": "2000.00"}},
        {
            "quarter": "2023Q1",
            "amount": "54826.50",
            "by_carrier": {"telecom": "50000.00", "unicom": "4826.50"},
        },
    ],
}
CONTRACT = small_contract(payments=PAYMENTS)


def scenario() -> dict[Month, dict]:
    special = {
        (JAN, "T01"): (995, 5, ()),
        (JAN, "T07"): (8, 2, ()),
        (JAN, "T08"): (8, 2, ()),
        (FEB, "T02"): (2419200 - 5 * H, 5 * H, ((0, 5 * H),)),
        (FEB, "T09"): (990, 10, ()),
        (MAR, "T03"): (9, 1, ((0, 267840),)),
        (MAR, "T10"): (995, 5, ()),
    }
    data: dict[Month, dict] = {m: {} for m in Period.year(2022).months}
    for m in (JAN, FEB, MAR):
        for t in TERMINALS:
            if t.id == "T06" and m != MAR:
                continue  # Feb: in service, nothing measured (unjudged); Jan: not open yet
            a, u, o = special.get((m, t.id), (*FULL, ()))
            data[m][t.id] = avail(t.id, m, a, u, o)
    return data


def test_q1_per_carrier_by_hand() -> None:
    rec = reconcile(CONTRACT, TERMINALS, scenario(), Period.parse("2022Q1"))
    tel, uni = rec.carrier("telecom"), rec.carrier("unicom")
    assert (tel.gross, tel.deducted, tel.net) == (15950, 740, 15210)
    assert (uni.gross, uni.deducted, uni.net) == (3510, Fraction("263.5"), Fraction("3246.5"))
    assert [m.deducted for m in tel.months] == [100, 140, 500]
    assert [m.deducted for m in uni.months] == [248, Fraction("15.5"), 0]
    assert uni.months[0].cap is not None and uni.months[0].cap.amount == -62
    total = rec.total
    assert (total.gross, total.deducted, total.net) == (
        Decimal("19460.00"),
        Decimal("1003.50"),
        Decimal("18456.50"),
    )
    # Tiers: gold days 5 x 90 + (14 + 31) = 495 at prices 900 and 1000; basic 3 x 90 + (31 + 28 + 10) = 339.
    [gold] = tel.tiers()
    assert (gold.tier, gold.terminals, gold.terminal_days, gold.unit_prices, gold.gross) == (
        "gold",
        6,
        495,
        (Decimal("900.00"), Decimal("1000.00")),
        15950,
    )
    [basic] = uni.tiers()
    assert (basic.terminals, basic.terminal_days, basic.gross) == (4, 339, 3510)
    assert [(c.terminal, str(c.month)) for c in tel.unjudged] == [("T06", "2022-02")]
    assert uni.unjudged == ()
    assert rec.price_basis == (
        (JAN, dt.date(2022, 1, 31), 9),
        (FEB, dt.date(2022, 2, 28), 10),
        (MAR, dt.date(2022, 3, 31), 9),
    )


def test_q1_reasons_are_listed() -> None:
    rec = reconcile(CONTRACT, TERMINALS, scenario(), Period.parse("2022Q1"))
    lines = [(d.kind.value, d.terminal, str(d.month), d.amount) for d in rec.carrier("telecom").deductions]
    assert lines == [
        ("availability", "T01", "2022-01", 100),
        ("availability", "T02", "2022-02", 90),
        ("incident", "T02", "2022-02", 50),
        ("availability", "T03", "2022-03", 600),
        ("incident", "T03", "2022-03", 300),
        ("terminal_cap", "T03", "2022-03", -400),
    ]
    inc = rec.carrier("telecom").deductions[2]
    assert inc.incident is not None and inc.incident.duration_s == 5 * H and inc.rule.longer_than_hours == 4  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("period", "net_ytd", "paid", "balance", "tel_balance", "uni_balance", "later"),
    [
        # 18456.50 - 10000 ; telecom 15210 - 8000 ; unicom 3246.50 - 2000
        ("2022Q1", "18456.50", "10000.00", "8456.50", "7210.00", "1246.50", 3),
        # + Apr..Jun 18000 + 2790 -> 39246.50 - 18000 ; telecom 33210 - 14000 ; unicom 6036.50 - 4000
        ("2022Q2", "39246.50", "18000.00", "21246.50", "19210.00", "2036.50", 2),
        # the year: 80826.50 - 26000 ; telecom 69210 - 20000 ; unicom 11616.50 - 6000
        ("2022", "80826.50", "26000.00", "54826.50", "49210.00", "5616.50", 1),
        ("2022Q4", "80826.50", "26000.00", "54826.50", "49210.00", "5616.50", 1),
    ],
)
def test_installments_and_balance(period, net_ytd, paid, balance, tel_balance, uni_balance, later) -> None:  # type: ignore[no-untyped-def]
    rec = reconcile(CONTRACT, TERMINALS, scenario(), Period.parse(period))
    assert rec.total_year_to_date.net == Decimal(net_ytd)
    assert rec.paid_to_date == Decimal(paid)
    assert rec.balance_due == Decimal(balance)
    assert rec.carrier_balance_due("telecom") == Decimal(tel_balance)
    assert rec.carrier_balance_due("unicom") == Decimal(uni_balance)
    assert len(rec.installments_later) == later
    assert rec.budget_remaining == Decimal("90000.00") - Decimal(paid)


def test_year_is_exactly_the_sum_of_its_quarters() -> None:
    data = scenario()
    year = reconcile(CONTRACT, TERMINALS, data, Period.year(2022))
    quarters = [reconcile(CONTRACT, TERMINALS, data, Period.quarter(2022, q)) for q in range(1, 5)]
    assert year.gross == sum(q.gross for q in quarters) == 81830
    assert year.net == sum(q.net for q in quarters) == Fraction("80826.5")


def test_year_end_count_prices_the_whole_year() -> None:
    # Count on 2022-12-31 = 9 -> gold 1000 in February too: 5 x 1000 + 1000 x 14/28 = 5500;
    # Q1 telecom gross 5000 + 5500 + 6000 = 16500; T02's February: 10 % of 1000 + 50 = 150.
    c = small_contract(payments=PAYMENTS, volume_count_on="year_end")
    tel = reconcile(c, TERMINALS, scenario(), Period.parse("2022Q1")).carrier("telecom")
    assert [m.gross for m in tel.months] == [5000, 5500, 6000]
    assert [m.deducted for m in tel.months] == [100, 150, 500]


def test_rounded_once_from_the_exact_sum() -> None:
    # Three terminals opened 22 March (10 of 31 days) at 100.00: each 1000/31 = 32.258..., which would
    # round to 32.26 (3 x 32.26 = 96.78); the exact gross 3000/31 = 96.774... is reported as 96.77.
    # T0 is at 99 % -> 10 % of 1000/31 = 100/31 = 3.2258... -> deductions 3.23. Net = 96.77 - 3.23
    # = 93.54 (rounding the exact net 2900/31 = 93.548... on its own would print 93.55, and the three
    # printed figures would not add up).
    tiers = {"gold": {"availability_target": "99.9", "monthly_price": [{"from_open": 0, "price": "100.00"}]}}
    c = small_contract(tiers=tiers, volume_count_on="year_end")
    ts = [term(f"T{i}", start=dt.date(2022, 3, 22)) for i in range(3)]
    data = {m: {} for m in Period.year(2022).months}
    data[MAR] = {"T0": avail("T0", MAR, 99, 1)}
    rec = reconcile(c, ts, data, Period.month(MAR))
    a = rec.amounts(rec.carrier("telecom"))
    assert (a.gross, a.deducted, a.net) == (Decimal("96.77"), Decimal("3.23"), Decimal("93.54"))
    assert rec.total == a and rec.balance_due == Decimal("93.54")
    assert rec.money(rec.carrier("telecom").gross_of("T0")) == Decimal("32.26")  # a detail line


def test_missing_month_and_unpriceable_rows_are_errors() -> None:
    data = scenario()
    del data[FEB]
    with pytest.raises(ReconcileError, match="2022-02"):
        reconcile(CONTRACT, TERMINALS, data, Period.parse("2022Q1"))
    with pytest.raises(ReconcileError, match=r"T99: tier 'platinum' has no price"):
        reconcile(CONTRACT, [*TERMINALS, term("T99", tier="platinum")], scenario(), Period.parse("2022Q1"))
    with pytest.raises(ReconcileError, match="outside the contract year"):
        reconcile(CONTRACT, TERMINALS, scenario(), Period.parse("2023Q1"))


# --------------------------------------------------------------------------- invoices

GOOD_Q1 = """carrier,terminal,tier,terminal_days,amount
telecom,T01,gold,90,2900.00
telecom,T02,gold,90,2900.00
telecom,T03,gold,90,2900.00
telecom,T04,gold,90,2900.00
telecom,T05,gold,90,2900.00
telecom,T06,gold,45,1450.00
unicom,T07,basic,90,930.00
unicom,T08,basic,90,930.00
unicom,T09,basic,90,930.00
unicom,T10,basic,69,720.00
unicom,,basic,339,3510.00
telecom,,,,15950.00
"""


def test_a_correct_invoice_has_no_discrepancy() -> None:
    # T01 = 1000 + 900 + 1000; T06 = 900 x 14/28 + 1000; T10 = 310 + 310 + 310 x 10/31 = 720.
    rec = reconcile(CONTRACT, TERMINALS, scenario(), Period.parse("2022Q1"))
    assert check_invoice(rec, parse_invoice(GOOD_Q1), TERMINALS, scenario()) == ()


BAD_Q1 = """carrier,terminal,tier,count,terminal_days,billed_from,billed_to,amount
telecom,T01,gold,,90,,,3000.00
telecom,T02,gold,,,,,2900.00
telecom,T99,gold,,,,,1000.00
telecom,T06,gold,,59,2022-02-01,2022-03-31,
telecom,T07,basic,,,,,
telecom,T02,gold,,,,,
telecom,T04,basic,,,,,
telecom,T05,gold,,,2022-01-01,2022-04-30,
telecom,T11,gold,,,,,
unicom,T10,basic,,,,2022-03-31,
unicom,T09,basic,,,,,
unicom,,basic,5,340,,,3600.00
telecom,,,,,,,16000.00
mobile,,basic,1,,,,
"""


def test_every_discrepancy_kind_is_detected() -> None:
    data = scenario()
    for m in (JAN, FEB, MAR):  # T09 probed all quarter, never available; T06 never measured
        data[m]["T09"] = avail("T09", m, 0, 1000)
    del data[MAR]["T06"]
    terminals = [*TERMINALS, term("T11", start=dt.date(2022, 5, 1))]  # opens after Q1
    rec = reconcile(CONTRACT, terminals, data, Period.parse("2022Q1"))
    bill = parse_invoice(BAD_Q1)
    found = [
        (d.kind, d.line, d.terminal, d.billed, d.expected) for d in check_invoice(rec, bill, terminals, data)
    ]
    k = DiscrepancyKind
    assert found == [
        (k.AMOUNT_MISMATCH, 2, "T01", "3000.00", "2900.00"),
        (k.NOT_IN_INVENTORY, 4, "T99", "", ""),
        (k.BILLED_BEFORE_OPENING, 5, "T06", "2022-02-01", "2022-02-15"),
        (k.NOT_MEASURED, 5, "T06", "", ""),
        (k.DAYS_MISMATCH, 5, "T06", "59", "45"),
        (k.WRONG_CARRIER, 6, "T07", "telecom", "unicom"),
        (k.DUPLICATE, 7, "T02", "line 7", "once (first on line 3)"),
        (k.TIER_MISMATCH, 8, "T04", "basic", "gold"),
        (k.OUTSIDE_PERIOD, 9, "T05", "2022-01-01..2022-04-30", "2022-01-01..2022-03-31"),
        (k.BILLED_BEFORE_OPENING, 10, "T11", "2022Q1", "2022-05-01"),
        (k.BILLED_AFTER_RETIREMENT, 11, "T10", "2022-03-31", "2022-03-10"),
        (k.NEVER_ANSWERED, 12, "T09", "", "3000 s probed, 0 s available"),
        (k.COUNT_MISMATCH, 13, None, "5", "4"),
        (k.DAYS_MISMATCH, 13, None, "340", "339"),
        (k.AMOUNT_MISMATCH, 13, None, "3600.00", "3510.00"),
        (k.AMOUNT_MISMATCH, 14, None, "16000.00", "15950.00"),
        (k.UNKNOWN_CARRIER, 15, None, "", ""),
        (k.NOT_BILLED, None, "T03", "", "90 d"),
        (k.NOT_BILLED, None, "T08", "", "90 d"),
    ]
    # the table covers every kind (a rounding difference is not an error: tests/sla/test_invoice_tolerance.py)
    assert set(k) - {k.ROUNDING_DIFFERENCE} == {d[0] for d in found}


# --------------------------------------------------------------------------- the 2022 example


def test_2022_example_installments_and_year_end_price() -> None:
    contract = load_contract("config/contract.example.yaml")
    inventory = load_inventory("config/terminals.example.csv")
    assert [(i.quarter, i.amount) for i in contract.payments.installments] == [
        ("2022Q1", Decimal("10602900.00")),
        ("2022Q2", Decimal("5000000.00")),
        ("2022Q3", Decimal("5397100.00")),
    ]
    empty = {m: {} for m in Period.year(2022).months}
    paid = {"2022Q1": "10602900.00", "2022Q2": "15602900.00", "2022Q3": "21000000.00", "2022": "21000000.00"}
    for label, total in paid.items():
        assert reconcile(contract, inventory.terminals, empty, Period.parse(label)).paid_to_date == Decimal(
            total
        )
    year = reconcile(contract, inventory.terminals, empty, Period.year(2022))
    assert year.budget_remaining == 0
    # By hand, from the CSV and the contract's numbers (no slaprobe helper): on 2022-12-31 all 1,820
    # terminals are open (>= 1500 band), so every month is priced premium 3000 / standard 1500 / basic
    # 910, January included (only 1,224 were open on 1 January). Nobody retires. Open before 2022: telecom 60
    # premium + 171 standard + 381 basic = 12 x 783,210 = 9,398,520; unicom 209 standard + 401 basic =
    # 12 x 678,410 = 8,140,920. Each of the 598 basic terminals opened on day d of month m in 2022 adds
    # 910 x ((12 - m) + (days(m) - d + 1) / days(m)) (its opening day counts).
    assert {b[2] for b in year.price_basis} == {1820}
    prices = {"premium": 3000, "standard": 1500, "basic": 910}
    expected = {"telecom": Fraction(0), "unicom": Fraction(0)}
    opened_in_2022 = 0
    with open("config/terminals.example.csv", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            assert row["in_service_to"] == ""
            y, m, d = (int(x) for x in row["in_service_from"].split("-"))
            months = Fraction(12)
            if y == 2022:
                opened_in_2022 += 1
                n = calendar.monthrange(2022, m)[1]
                months = (12 - m) + Fraction(n - d + 1, n)
            expected[row["carrier"]] += prices[row["tier"]] * months
    assert opened_in_2022 == 598
    assert year.gross == sum(expected.values())

    def cents_half_up(v: Fraction) -> Decimal:
        return Decimal(int(v * 100 + Fraction(1, 2))) / 100  # positive amounts

    carriers = {c: cents_half_up(v) for c, v in expected.items()}
    assert carriers == {"telecom": Decimal("11078656.15"), "unicom": Decimal("9926930.38")}
    # nothing measured: no deduction; each carrier's gross rounded once, then added
    assert year.balance_due == sum(carriers.values()) - Decimal("21000000.00") == Decimal("5586.53")
    jan = year.carrier("telecom").months[0]
    assert {c.unit_price for c in jan.charges if c.tier == "premium"} == {Decimal("3000.00")}

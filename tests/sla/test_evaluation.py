"""The evaluation's output indicators on a hand-counted inventory, and on the 2022 example."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from fractions import Fraction

import pytest

from slaprobe.inventory import load_inventory
from slaprobe.sla.contract_config import CoverageGroup, EvaluationPlan, Installment, Payments, load_contract
from slaprobe.sla.evaluation import evaluate
from slaprobe.sla.periods import Month
from slaprobe.terminal import Level
from tests.sla.money_data import avail, term

OPEN = dt.date(2021, 3, 1)
LATE = dt.date(2023, 1, 5)  # planned, opens after the evaluated year

# province: 9 open (plan says 10); city: 17 open + 1 opening in 2023 (plan says 20);
# township: no planned count -> 5 inventory rows, 4 open; village: 3 rows, 3 open, not judged.
TERMINALS = [
    *(
        term(f"P{i}", level=Level.PROVINCE_DEPT if i > 1 else Level.PROVINCE, start=OPEN)
        for i in range(1, 10)
    ),
    *(term(f"C{i}", "unicom", level=Level.CITY_DEPT, start=OPEN) for i in range(1, 18)),
    term("C18", "unicom", level=Level.CITY_DEPT, start=LATE),
    *(term(f"W{i}", level=Level.TOWNSHIP, start=OPEN) for i in range(1, 5)),
    term("W5", level=Level.TOWNSHIP, start=dt.date(2023, 2, 1)),
    *(term(f"V{i}", "unicom", level=Level.VILLAGE, start=OPEN) for i in range(1, 4)),
]
PLAN = EvaluationPlan(
    min_measured_percent=Decimal(0),  # these tables check the arithmetic; the minimum has its own tests
    groups=(
        CoverageGroup("province", (Level.PROVINCE, Level.PROVINCE_DEPT), planned=10),
        CoverageGroup("city", (Level.CITY, Level.CITY_DEPT), planned=20),
        CoverageGroup("township", (Level.TOWNSHIP,)),
        CoverageGroup("village", (Level.VILLAGE,), in_target=False),
    ),
)


def test_coverage_by_level_by_hand() -> None:
    ev = evaluate(PLAN, TERMINALS, {}, 2022)
    got = [(c.group, c.planned, c.open, c.rate, c.met, c.planned_from_plan) for c in ev.coverage]
    assert got == [
        ("province", 10, 9, Fraction(90), True, True),  # exactly 90 %: meets "≥ 90 %"
        ("city", 20, 17, Fraction(85), False, True),
        ("township", 5, 4, Fraction(80), False, False),  # planned = inventory rows, one opens in 2023
        ("village", 3, 3, Fraction(100), None, False),  # reported, not judged
    ]
    total = ev.coverage_total
    assert (total.planned, total.open, total.rate) == (35, 30, Fraction(600, 7))  # 85.71 %
    assert ev.coverage_met is False
    assert ev.open_terminals == 33  # 9 + 17 + 4 + 3
    assert ev.open_by_carrier == {"telecom": 13, "unicom": 20}
    assert ev.open_by_level == {
        "province": 1,
        "province_dept": 8,
        "city_dept": 17,
        "township": 4,
        "village": 3,
    }
    assert ev.as_of == dt.date(2022, 12, 31)


def test_as_of_moves_the_count() -> None:
    # On 2021-02-28 nothing had opened yet.
    plan = EvaluationPlan(as_of=dt.date(2021, 2, 28), groups=PLAN.groups)
    ev = evaluate(plan, TERMINALS, {}, 2022)
    assert ev.open_terminals == 0 and [c.open for c in ev.coverage] == [0, 0, 0, 0]


JAN, FEB, DEC = Month(2022, 1), Month(2022, 2), Month(2022, 12)


@pytest.mark.parametrize(
    ("data", "rate", "met", "unknown_s", "terminals"),
    [
        ({JAN: {"P1": avail("P1", JAN, 900, 100)}}, Fraction(90), True, 0, 1),  # exactly the 90 % target
        ({JAN: {"P1": avail("P1", JAN, 899, 101)}}, Fraction(899, 10), False, 0, 1),
        # interval-weighted: (900 + 9900) / (1000 + 10000) = 98.18 %, not the mean of 90 and 99
        (
            {
                JAN: {"P1": avail("P1", JAN, 900, 100)},
                FEB: {"C1": avail("C1", FEB, 9900, 100, unknown_s=500)},
            },
            Fraction(10800 * 100, 11000),
            True,
            500,
            2,
        ),
        # unknown and maintenance time is outside the denominator; an all-unknown month judges nothing
        ({DEC: {"V1": avail("V1", DEC, 0, 0, unknown_s=1000, maintenance_s=60)}}, None, None, 1000, 0),
        ({}, None, None, 0, 0),
    ],
)
def test_link_availability(data, rate, met, unknown_s, terminals) -> None:  # type: ignore[no-untyped-def]
    ev = evaluate(PLAN, TERMINALS, data, 2022)
    a = ev.availability
    assert (a.rate, a.met, a.unknown_s, a.terminals) == (rate, met, unknown_s, terminals)
    assert ev.months == tuple(sorted(data)) and ev.complete is False


def test_availability_by_group_and_months_outside_the_year_ignored() -> None:
    data = {
        JAN: {"P1": avail("P1", JAN, 900, 100), "C1": avail("C1", JAN, 50, 50)},
        Month(2021, 12): {"P1": avail("P1", Month(2021, 12), 0, 1000)},
    }
    data[JAN]["ZZ"] = avail("ZZ", JAN, 0, 5000)  # not in the inventory: not part of the network
    ev = evaluate(PLAN, TERMINALS, data, 2022)
    by = {a.key: a.rate for a in ev.availability_by_group}
    assert by == {"province": Fraction(90), "city": Fraction(50), "township": None, "village": None}
    assert ev.availability.rate == Fraction(950 * 100, 1100)


# Two township terminals open from 2022-12-01: the year counts 2 x 31 days = 5,356,800 s of them.
X = [term("X1", start=dt.date(2022, 12, 1)), term("X2", start=dt.date(2022, 12, 1))]
MONTH_S = 31 * 86400  # 2,678,400
X1_90 = avail("X1", DEC, MONTH_S * 9 // 10, 0, unknown_s=MONTH_S // 10)  # 90 % of its month measured
X2_ALL = avail("X2", DEC, MONTH_S, 0)
HALF = {DEC: {"X1": X1_90}}  # X2 not supplied: in service, unmeasured
MOST = {DEC: {"X1": X1_90, "X2": X2_ALL}}


@pytest.mark.parametrize(
    ("data", "share", "status", "met"),
    [
        # 2,410,560 / 5,356,800 = 45 %: all judged time available, yet never "met"
        (HALF, Fraction(45), "insufficient_data", None),
        # (2,410,560 + 2,678,400) / 5,356,800 = 95 % >= 90 %: 100 % available -> met
        (MOST, Fraction(95), "met", True),
        ({}, Fraction(0), "insufficient_data", None),
    ],
)
def test_availability_is_met_only_with_enough_measured_time(data, share, status, met) -> None:  # type: ignore[no-untyped-def]
    ev = evaluate(EvaluationPlan(), X, data, 2022)  # default minimum: 90 %
    a = ev.availability
    assert (a.counted_s, a.measured_share, a.status, a.met) == (2 * MONTH_S, share, status, met)
    assert a.rate == (None if not data else Fraction(100))


PAY = Payments(
    Decimal("100.00"),
    (
        Installment("2022Q1", Decimal("60.00")),
        Installment("2022Q3", Decimal("40.00")),
        Installment("2023Q1", Decimal("5.00")),
    ),
)


@pytest.mark.parametrize(
    ("data", "fees", "status", "within"),
    [
        # paying no more than the budget proves nothing about the year's cost: no fee, no verdict
        (MOST, None, "n/a", None),
        # even the gross fee (no deduction at all) fits the budget: met, measured or not
        ({}, ("100.00", "100.00"), "met", True),
        # the gross exceeds the budget; only deductions justified by measurements could bring it down
        (HALF, ("120.00", "95.00"), "insufficient_data", None),
        (MOST, ("120.00", "95.00"), "met", True),
        (MOST, ("120.00", "100.01"), "not_met", False),
    ],
)
def test_cost_indicator(data, fees, status, within) -> None:  # type: ignore[no-untyped-def]
    fee = None if fees is None else (Decimal(fees[0]), Decimal(fees[1]))
    ev = evaluate(EvaluationPlan(), X, data, 2022, PAY, fee)
    assert (ev.budget, ev.paid) == (Decimal("100.00"), Decimal("100.00"))
    assert (ev.cost_status, ev.within_budget) == (status, within)
    assert evaluate(PLAN, TERMINALS, {}, 2022).within_budget is None


def test_paying_beyond_the_budget_is_never_met() -> None:
    over = Payments(Decimal("90.00"), PAY.installments)
    ev = evaluate(EvaluationPlan(), X, MOST, 2022, over, (Decimal("80.00"), Decimal("80.00")))
    assert (ev.cost_status, ev.within_budget) == ("not_met", False)


def test_2022_example_matches_the_report_coverage() -> None:
    # 截至2022年底，省、市县、乡镇政府终端覆盖率达到100%; 1,820 service points open.
    contract = load_contract("config/contract.example.yaml")
    inv = load_inventory("config/terminals.example.csv")
    ev = evaluate(contract.evaluation, inv.terminals, {}, 2022, contract.payments)
    assert [(c.group, c.planned, c.open, c.rate) for c in ev.coverage] == [
        ("province", 60, 60, 100),
        ("city", 380, 380, 100),
        ("township", 210, 210, 100),
        ("village", 1170, 1170, 100),
    ]
    assert ev.coverage_met is True and ev.open_terminals == 1820
    # Paid exactly the budget, but nothing was measured and the year's gross fee exceeds the budget
    # (1,820 terminals at the year-end price): not "未超预算 是" — insufficient data.
    assert ev.paid == ev.budget == Decimal("21000000.00") and ev.within_budget is None
    gross = Decimal("21000000.01")  # any gross above the budget; the net of an unmeasured year is the gross
    ev = evaluate(contract.evaluation, inv.terminals, {}, 2022, contract.payments, (gross, gross))
    assert (ev.cost_status, ev.availability.status) == ("insufficient_data", "insufficient_data")

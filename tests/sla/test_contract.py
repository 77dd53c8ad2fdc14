"""One terminal-month and one carrier-month of money: every rule against hand-computed figures.

The contract is tests/sla/money_data.SMALL: gold 1000.00 (900.00 from 10 open terminals), basic 310.00;
bands (gold) [99.0, 99.9) 10 %, [95, 99) 25 %, [0, 95) 60 %; incidents > 4 h 50.00, > 24 h 30 %;
caps 50 % per terminal-month, 20 % per carrier-month.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slaprobe.sla.contract import (
    DeductionKind,
    billable_days,
    charge_terminal_month,
    deduction_band,
    incident_rule,
    join_incidents,
    price_band,
    round_money,
    settle_month,
)
from slaprobe.sla.contract_config import Rounding, RoundingMode
from slaprobe.sla.periods import Month
from tests.sla.money_data import avail, small_contract, term

MAR = Month(2022, 3)  # 31 days = 2,678,400 s
FEB = Month(2022, 2)  # 28 days = 2,419,200 s
H = 3600

C = small_contract()


@pytest.mark.parametrize(
    ("value", "quantum", "mode", "expected"),
    [
        (Fraction(1, 200), "0.01", RoundingMode.HALF_UP, "0.01"),  # 0.005: tie, away from zero
        (Fraction(1, 200), "0.01", RoundingMode.HALF_EVEN, "0.00"),  # tie to even (0)
        (Fraction(3, 200), "0.01", RoundingMode.HALF_EVEN, "0.02"),  # 0.015: tie to even (2)
        (Fraction(1, 200), "0.01", RoundingMode.DOWN, "0.00"),
        (Fraction(-1, 200), "0.01", RoundingMode.HALF_UP, "-0.01"),  # symmetric for negative balances
        (Fraction(-1, 200), "0.01", RoundingMode.DOWN, "0.00"),
        (Fraction(17000, 31), "0.01", RoundingMode.HALF_UP, "548.39"),  # 548.3870967...
        (Fraction(2, 3), "0.01", RoundingMode.HALF_UP, "0.67"),
        (Fraction(2, 3), "0.01", RoundingMode.DOWN, "0.66"),
        (Fraction(5, 2), "1", RoundingMode.HALF_UP, "3"),
        (Fraction(5, 2), "1", RoundingMode.HALF_EVEN, "2"),
        (Fraction(10**12) + Fraction(1, 3), "0.01", RoundingMode.HALF_UP, "1000000000000.33"),
    ],
)
def test_round_money(value: Fraction, quantum: str, mode: RoundingMode, expected: str) -> None:
    got = round_money(value, Rounding(Decimal(quantum), mode))
    assert got == Decimal(expected) and str(got) == expected  # value and exponent (two decimals)


@pytest.mark.parametrize(
    ("start", "end", "month", "days"),
    [
        (dt.date(2021, 1, 1), None, MAR, 31),
        (dt.date(2022, 3, 15), None, MAR, 17),  # 15..31 inclusive
        (dt.date(2022, 3, 31), None, MAR, 1),  # opening day counts
        (dt.date(2022, 4, 1), None, MAR, 0),  # opens after the month
        (dt.date(2021, 1, 1), dt.date(2022, 3, 10), MAR, 10),  # retirement day counts
        (dt.date(2021, 1, 1), dt.date(2022, 3, 1), MAR, 1),
        (dt.date(2021, 1, 1), dt.date(2022, 2, 28), MAR, 0),
        (dt.date(2022, 3, 5), dt.date(2022, 3, 6), MAR, 2),
        (dt.date(2021, 1, 1), None, FEB, 28),
        (dt.date(2021, 1, 1), None, Month(2024, 2), 29),  # leap year
    ],
)
def test_billable_days(start: dt.date, end: dt.date | None, month: Month, days: int) -> None:
    assert billable_days(term("T1", start=start, end=end), month) == days


@pytest.mark.parametrize(
    ("open_terminals", "price"), [(0, "1000.00"), (9, "1000.00"), (10, "900.00"), (11, "900.00")]
)
def test_price_band_boundary(open_terminals: int, price: str) -> None:
    assert price_band(C.tier("gold").monthly_price, open_terminals).price == Decimal(price)


@pytest.mark.parametrize(
    ("availability", "percent"),
    [
        (Fraction(100), None),
        (Fraction(999, 10), None),  # exactly the 99.9 target: met, no deduction
        (Fraction(999, 10) - Fraction(1, 10**9), "10"),  # a hair below
        (Fraction(99), "10"),  # exactly at a band's lower edge: that band
        (Fraction(99) - Fraction(1, 10**9), "25"),
        (Fraction(95), "25"),
        (Fraction(9499, 100), "60"),
        (Fraction(0), "60"),
    ],
)
def test_deduction_band_boundaries(availability: Fraction, percent: str | None) -> None:
    band = deduction_band(C.deduction_bands("gold"), availability)
    assert (band.percent if band else None) == (Decimal(percent) if percent else None)


@pytest.mark.parametrize(
    ("duration_s", "rule"),
    [(4 * H - 1, None), (4 * H, None), (4 * H + 1, "4"), (24 * H, "4"), (24 * H + 1, "24"), (400 * H, "24")],
)
def test_incident_rule_strictly_longer(duration_s: int, rule: str | None) -> None:
    got = incident_rule(C.incident_rules("gold"), duration_s)
    assert (got.longer_than_hours if got else None) == (Decimal(rule) if rule else None)


# (case, terminal start, open count, availability: (available_s, unavailable_s, outages) or None,
#  expected fee, expected deduction lines [(kind, amount)], expected total deducted). March: 31 days.
# The rules read only the seconds and outage durations given, so a case need not be a whole month.
CHARGES = [
    # full month at the 900 band; 995/1000 = 99.5 % -> 10 % of 900 = 90
    ("band", dt.date(2021, 1, 1), 12, (995, 5, ()), "900", [("availability", "90")], "90"),
    # opened 15 March: 17/31 of 900 = 15300/31; 98 % -> 25 % of it = 3825/31
    ("prorated", dt.date(2022, 3, 15), 12, (98, 2, ()), "15300/31", [("availability", "3825/31")], "3825/31"),
    # 9 open -> 1000 band; 5 h down in 31 days = 99.328 % -> 10 % = 100; the 5 h outage costs 50.00
    (
        "incident",
        dt.date(2021, 1, 1),
        9,
        (2678400 - 5 * H, 5 * H, ((0, 5 * H),)),
        "1000",
        [("availability", "100"), ("incident", "50")],
        "150",
    ),
    # exactly 4 h down: 99.46 % -> 100, but 4 h is not longer than 4 h: no incident line
    (
        "incident at threshold",
        dt.date(2021, 1, 1),
        9,
        (2678400 - 4 * H, 4 * H, ((0, 4 * H),)),
        "1000",
        [("availability", "100")],
        "100",
    ),
    # 94 % -> 60 % of 900 = 540; a 25 h outage -> 30 % = 270; 810 > cap 50 % = 450 -> cap line -360
    (
        "terminal cap",
        dt.date(2021, 1, 1),
        12,
        (94, 6, ((0, 25 * H),)),
        "900",
        [("availability", "540"), ("incident", "270"), ("terminal_cap", "-360")],
        "450",
    ),
    # opened on the 31st: fee 900/31; 100 s of 18,100 available -> 60 % = 540/31; the fixed 50.00
    # exceeds the fee; total 540/31 + 1550/31 = 2090/31 capped at half the fee 450/31 -> line -1640/31
    (
        "fixed amount over fee",
        dt.date(2022, 3, 31),
        12,
        (100, 5 * H, ((0, 5 * H),)),
        "900/31",
        [("availability", "540/31"), ("incident", "50"), ("terminal_cap", "-1640/31")],
        "450/31",
    ),
    # nothing measured: no availability deduction, reported as unjudged (availability None)
    ("unjudged", dt.date(2021, 1, 1), 12, None, "900", [], "0"),
    # an exact 99.9 % month: 999 available, 1 unavailable -> no deduction
    ("at target", dt.date(2021, 1, 1), 12, (999, 1, ()), "900", [], "0"),
]


@pytest.mark.parametrize(
    ("case", "start", "n_open", "seen", "fee", "lines", "total"), CHARGES, ids=[c[0] for c in CHARGES]
)
def test_charge_terminal_month(case, start, n_open, seen, fee, lines, total) -> None:  # type: ignore[no-untyped-def]
    t = term("T1", start=start)
    ta = avail("T1", MAR, seen[0], seen[1], seen[2]) if seen else None
    incidents = join_incidents([MAR], {MAR: {"T1": ta}} if ta else {}).get("T1", [])
    charge = charge_terminal_month(C, t, MAR, n_open, ta, incidents)
    assert charge is not None
    assert charge.fee == Fraction(fee)
    assert [(d.kind.value, d.amount) for d in charge.deductions] == [(k, Fraction(a)) for k, a in lines]
    assert charge.deducted == Fraction(total)
    assert charge.net == Fraction(fee) - Fraction(total)
    assert (charge.availability is None) == (seen is None)


@pytest.mark.parametrize(
    ("available_s", "unknown_s", "judged"),
    [
        # in service 1000 s, maintenance 200 s -> 800 s count; 50 % of it = 400 s must be measured
        (390, 400, True),  # measured 390 + 10 = 400 s: exactly enough; 97.5 % -> 25 % of 900 = 225
        (389, 401, False),  # 399 s measured: unjudged, no availability deduction
    ],
)
def test_min_measured_percent(available_s: int, unknown_s: int, judged: bool) -> None:
    c = small_contract(min_measured_percent="50")
    ta = avail("T1", MAR, available_s, 10, unknown_s=unknown_s, maintenance_s=200)
    charge = charge_terminal_month(c, term("T1"), MAR, 12, ta)
    assert charge is not None
    assert (charge.availability is not None) == judged
    assert charge.deducted == (225 if judged else 0)


def test_not_in_service_has_no_charge() -> None:
    assert charge_terminal_month(C, term("T1", start=dt.date(2022, 4, 1)), MAR, 12, None) is None


def test_outage_across_month_boundary_is_one_incident_charged_where_it_began() -> None:
    # 3 h to the end of January + 2 h from the start of February = 5 h > 4 h: 50.00, once, in January.
    jan, feb = Month(2022, 1), Month(2022, 2)
    data = {
        jan: {"T1": avail("T1", jan, 2678400 - 3 * H, 3 * H, ((-1, 3 * H),))},
        feb: {"T1": avail("T1", feb, 2419200 - 2 * H, 2 * H, ((0, 2 * H),))},
    }
    incidents = join_incidents([jan, feb], data)["T1"]
    assert [(i.month, i.duration_s, i.parts) for i in incidents] == [(jan, 5 * H, 2)]
    t = term("T1")
    jan_c = charge_terminal_month(C, t, jan, 12, data[jan]["T1"], incidents)
    feb_c = charge_terminal_month(C, t, feb, 12, data[feb]["T1"], incidents)
    # Availability: Jan 1 - 3h/31d = 99.596 % -> 10 % of 900 = 90; Feb 1 - 2h/28d = 99.702 % -> 90.
    assert [d.kind for d in jan_c.deductions] == [DeductionKind.AVAILABILITY, DeductionKind.INCIDENT]
    assert jan_c.deducted == 90 + 50
    assert [d.kind for d in feb_c.deductions] == [DeductionKind.AVAILABILITY]
    assert feb_c.deducted == 90


def test_outage_not_touching_the_boundary_stays_two_incidents() -> None:
    # February's piece starts 1 s after the period start: not a continuation; 3 h and 2 h, both ≤ 4 h.
    jan, feb = Month(2022, 1), Month(2022, 2)
    data = {
        jan: {"T1": avail("T1", jan, 100, 3 * H, ((-1, 3 * H),))},
        feb: {"T1": avail("T1", feb, 100, 2 * H, ((1, 2 * H),))},
    }
    incidents = join_incidents([jan, feb], data)["T1"]
    assert [(i.month, i.duration_s) for i in incidents] == [(jan, 3 * H), (feb, 2 * H)]
    assert incident_rule(C.incident_rules("gold"), 3 * H) is None


def test_carrier_cap_per_month() -> None:
    # Three gold terminals at 90 % -> 60 % of 1000 (9 open -> 1000 band) = 600, each capped at 500:
    # 1500 in total > carrier cap 20 % of 3000 = 600 -> carrier cap line -900; net 2400.
    ts = [term(f"T{i}") for i in range(1, 4)] + [
        term(f"T{i}", carrier="unicom", tier="basic") for i in range(4, 10)
    ]
    data = {f"T{i}": avail(f"T{i}", MAR, 9, 1) for i in range(1, 4)}
    months = settle_month(C, ts, MAR, data)
    tel = months["telecom"]
    assert tel.open_terminals == 9 and tel.count_day == dt.date(2022, 3, 31)
    assert tel.gross == 3000
    assert [c.deducted for c in tel.charges] == [500, 500, 500]
    assert tel.cap is not None and tel.cap.kind is DeductionKind.CARRIER_CAP and tel.cap.amount == -900
    assert tel.deducted == 600 and tel.net == 2400
    uni = months["unicom"]  # six basic terminals, nothing measured: 6 x 310, no deduction, no cap
    assert uni.gross == 1860 and uni.deducted == 0 and uni.cap is None


def test_carrier_cap_exactly_reached_adds_no_line() -> None:
    # Two gold terminals, 900 band impossible (2 open): 1000 each; one at 94 % -> 600 capped 500;
    # carrier cap 20 % of 2000 = 400 < 500 -> cap line -100. With cap 25 %: 500 = 500 -> no line.
    ts = [term("T1"), term("T2")]
    data = {"T1": avail("T1", MAR, 94, 6)}
    assert settle_month(C, ts, MAR, data)["telecom"].cap.amount == -100  # type: ignore[union-attr]
    c25 = small_contract(caps={"terminal_month_percent": "50", "carrier_month_percent": "25"})
    m = settle_month(c25, ts, MAR, data)["telecom"]
    assert m.cap is None and m.deducted == 500


def test_volume_count_on_fixed_date() -> None:
    # Count on 2022-01-01: T1 and T2 open (T3 opens later) -> 2 < 10 -> 1000 band whatever March holds.
    c = small_contract(volume_count_on="2022-01-01")
    ts = [term("T1"), term("T2"), term("T3", start=dt.date(2022, 2, 1))]
    m = settle_month(c, ts, MAR, {})["telecom"]
    assert m.count_day == dt.date(2022, 1, 1) and m.open_terminals == 2
    assert m.gross == 3000


# --------------------------------------------------------------------------- property: caps hold

outage_st = st.tuples(st.integers(0, 1000), st.integers(1, 40 * H))
terminal_st = st.tuples(
    st.sampled_from(["telecom", "unicom"]),
    st.sampled_from(["gold", "basic"]),
    st.integers(1, 31),  # opening day in March
    st.one_of(st.none(), st.tuples(st.integers(0, 2678400), st.integers(0, 2678400))),
    st.lists(outage_st, max_size=3),
)


@settings(max_examples=150, deadline=None)
@given(
    terminals=st.lists(terminal_st, min_size=1, max_size=6),
    terminal_cap=st.integers(0, 100),
    carrier_cap=st.integers(0, 100),
    fixed=st.integers(0, 5000),
)
def test_deductions_never_negative_never_above_caps(terminals, terminal_cap, carrier_cap, fixed) -> None:  # type: ignore[no-untyped-def]
    c = small_contract(
        caps={"terminal_month_percent": str(terminal_cap), "carrier_month_percent": str(carrier_cap)},
        incidents=[
            {"longer_than_hours": "1", "amount": f"{fixed}.00"},
            {"longer_than_hours": "6", "percent": "100"},
        ],
    )
    ts, data = [], {}
    for i, (carrier, tier, day, seen, outages) in enumerate(terminals):
        tid = f"T{i}"
        ts.append(term(tid, carrier, tier, start=dt.date(2022, 3, day)))
        if seen is not None:
            data[tid] = avail(tid, MAR, seen[0], seen[1], tuple(outages))
    months = settle_month(c, ts, MAR, data, join_incidents([MAR], {MAR: data}))
    for m in months.values():
        assert 0 <= m.deducted <= m.gross * carrier_cap / 100
        assert m.net >= 0
        for ch in m.charges:
            assert 0 <= ch.deducted <= ch.fee * terminal_cap / 100
            assert all(d.amount > 0 for d in ch.deductions if d.kind is not DeductionKind.TERMINAL_CAP)

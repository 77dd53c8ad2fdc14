"""Unmeasured terminal-time in the money: each contract treatment, computed by hand (issue #10 item 5).

Contract tests/sla/money_data.SMALL: gold 1000 (900 from 10 open), basic 310; bands gold [99, 99.9) 10 %,
[95, 99) 25 %, [0, 95) 60 %; basic [99, 99.5) 5 %, [90, 99) 20 %, [0, 90) 50 %; incidents > 4 h 50.00,
> 24 h 30 %; caps 50 % per terminal-month, 20 % per carrier-month. Minimum measured share: 90 % (default).
"""

from __future__ import annotations

import datetime as dt
import json
from fractions import Fraction

import pytest

from slaprobe.configload import ConfigError
from slaprobe.report.reconcile import render_reconciliation, unmeasured_warning
from slaprobe.sla.contract import charge_terminal_month, join_incidents, settle_month
from slaprobe.sla.periods import Month, Period
from slaprobe.sla.reconcile import reconcile
from tests.sla.money_data import avail, small_contract, term

MAR = Month(2022, 3)
H = 3600
TREATMENTS = ("pay", "withhold", "count_unavailable")


def _contract(treatment: str, **extra: object):  # type: ignore[no-untyped-def]
    return small_contract(unmeasured={"treatment": treatment, **extra})


CHARGES = [
    # (case, treatment, (available, unavailable, unknown) or None, outages, [(kind, amount)], net)
    # 800 of 1000 s measured (80 % < 90 %): pay -> nothing withheld or deducted
    ("80 % pay", "pay", (800, 0, 200), (), [], "900"),
    # withhold 900 x 200 / 1000 = 180
    ("80 % withhold", "withhold", (800, 0, 200), (), [("unmeasured_withheld", "180")], "720"),
    # counted unavailable: 800 / 1000 = 80 % -> [0, 95) 60 % = 540 > cap 450 -> -90
    (
        "80 % count",
        "count_unavailable",
        (800, 0, 200),
        (),
        [("unmeasured_unavailable", "540"), ("terminal_cap", "-90")],
        "450",
    ),
    ("none pay", "pay", None, (), [], "900"),
    ("none withhold", "withhold", None, (), [("unmeasured_withheld", "900")], "0"),
    (
        "none count",
        "count_unavailable",
        None,
        (),
        [("unmeasured_unavailable", "540"), ("terminal_cap", "-90")],
        "450",
    ),
    # exactly 90 % measured (890 + 10 of 1000): settled on measurements, 890 / 900 = 98.89 % -> 25 %
    ("90 % withhold", "withhold", (890, 10, 100), (), [("availability", "225")], "675"),
    # 28 % measured, a 5 h outage: incident 50 + withheld 900 x 72 % = 648 -> net 202
    (
        "incident + withhold",
        "withhold",
        (10000, 5 * H, 72000),
        ((0, 5 * H),),
        [("incident", "50"), ("unmeasured_withheld", "648")],
        "202",
    ),
    # 3 % measured, a 25 h outage: incident 30 % = 270; withheld 97 % = 873 limited to 900 - 270 = 630
    (
        "withheld never beyond the fee",
        "withhold",
        (0, 25 * H, 2_910_000),
        ((0, 25 * H),),
        [("incident", "270"), ("unmeasured_withheld", "630")],
        "0",
    ),
]


@pytest.mark.parametrize(
    ("case", "treatment", "seen", "outages", "lines", "net"), CHARGES, ids=[c[0] for c in CHARGES]
)
def test_charge_by_treatment(case, treatment, seen, outages, lines, net) -> None:  # type: ignore[no-untyped-def]
    c = _contract(treatment)
    ta = None if seen is None else avail("T1", MAR, seen[0], seen[1], outages, unknown_s=seen[2])
    incidents = join_incidents([MAR], {MAR: {"T1": ta}}).get("T1", []) if ta else []
    charge = charge_terminal_month(c, term("T1"), MAR, 12, ta, incidents)
    assert charge is not None and charge.fee == 900
    assert [(d.kind.value, d.amount) for d in charge.deductions] == [(k, Fraction(a)) for k, a in lines]
    assert charge.net == Fraction(net)


def test_withheld_is_outside_the_carrier_cap() -> None:
    # Two open terminals (< 10): gold 1000 each. T1 nothing measured: 1000 withheld. T2 fully measured
    # at 80 % -> 60 % = 600, capped at 500 per terminal. Carrier: gross 2000, cap 20 % = 400 < 500 ->
    # cap line -100; deducted 400 + 1000 withheld = 1400, net 600.
    c = _contract("withhold")
    month = settle_month(c, [term("T1"), term("T2")], MAR, {"T2": avail("T2", MAR, 800, 200)})["telecom"]
    assert month.gross == 2000 and month.cap is not None and month.cap.amount == -100
    assert month.deducted == 1400 and month.net == 600


# Reconciliation of March 2022, three telecom terminals opened 2022-03-01 (open at month end: 3 -> gold
# 1000; basic 310), every one in service all 31 days:
#   T1 basic  850 of 1000 s measured, all available (85 %: below the minimum)
#   T2 gold   nothing measured
#   T3 gold   890 available, 10 unavailable, 100 unknown (90 %: enough) -> 98.89 % -> 25 % = 250
# Gross 310 + 1000 + 1000 = 2310; carrier cap 20 % = 462.
#   pay:      deductions 250 -> net 2060; below minimum: 2 months, 62 days, unmeasured 31 x 0.15 + 31
#             = 35.65 days, paid for it 310 x 0.15 + 1000 = 1046.50
#   withhold: withheld 46.50 + 1000, plus 250 -> 1296.50, net 1013.50; the line: 1046.50
#   count:    T1 85 % -> basic 50 % = 155 (= its cap); T2 0 % -> 60 % = 600 -> cap 500; T3 250;
#             905 > 462 -> carrier cap; net 2310 - 462 = 1848; the line: 155 + 600 = 755.00
#   within the minimum, every treatment: T3, 1 month, 31 days, 3.10 unmeasured days, 100.00 paid.
OPEN = dt.date(2022, 3, 1)
TERMS = [term("T1", tier="basic", start=OPEN), term("T2", start=OPEN), term("T3", start=OPEN)]
DATA = {m: {} for m in Period.year(2022).months}
DATA[MAR] = {"T1": avail("T1", MAR, 850, 0, unknown_s=150), "T3": avail("T3", MAR, 890, 10, unknown_s=100)}


@pytest.mark.parametrize(
    ("treatment", "deducted", "net", "line_amount"),
    [("pay", "250.00", "2060.00", "1046.50"), ("withhold", "1296.50", "1013.50", "1046.50"),
     ("count_unavailable", "462.00", "1848.00", "755.00")],
)  # fmt: skip
def test_statement_shows_unmeasured_time(treatment: str, deducted: str, net: str, line_amount: str) -> None:
    rec = reconcile(_contract(treatment), TERMS, DATA, Period.month(MAR))
    doc = json.loads(render_reconciliation(rec, "json"))
    tel = doc["carriers"][0]
    assert (tel["gross"], tel["deducted"], tel["net"]) == ("2310.00", deducted, net)
    assert tel["unmeasured"] == [
        {"settled_as": treatment, "terminal_months": 2, "terminal_days": 62,
         "unmeasured_terminal_days": "35.65", "amount": line_amount},
        {"settled_as": "within_minimum", "terminal_months": 1, "terminal_days": 31,
         "unmeasured_terminal_days": "3.10", "amount": "100.00"},
    ]  # fmt: skip
    assert doc["unmeasured_rule"] == {"treatment": treatment, "min_measured_percent": "90"}
    for lang, needle in (("en", "Unmeasured time (minimum measured share 90 % per terminal-month)"),
                         ("zh", "未测量时长（每终端月最低测量覆盖率 90%）")):  # fmt: skip
        for fmt in ("table", "csv", "markdown", "html"):
            out = render_reconciliation(rec, fmt, lang)
            assert needle in out and line_amount in out, (fmt, lang)
    warning = unmeasured_warning(rec)
    assert (
        warning is not None and "2 terminal-month(s) (62 terminal-days)" in warning and line_amount in warning
    )


def test_minimum_is_configurable_and_given_once() -> None:
    # at 80 % minimum T1 (85 %) is settled on its measurements: 100 % available, nothing deducted
    rec = reconcile(
        _contract("withhold", min_measured_percent="80"),
        TERMS,
        DATA,
        Period.month(MAR),
    )
    assert rec.amounts(rec.carrier("telecom")).deducted == 1250  # T2 withheld 1000 + T3 250
    assert small_contract(min_measured_percent="50").measured_minimum == 50  # the old spelling still works
    with pytest.raises(ConfigError, match="min_measured_percent: given twice"):
        small_contract(min_measured_percent="50", unmeasured={"min_measured_percent": "60"})
    with pytest.raises(ConfigError, match=r"unmeasured\.treatment"):
        small_contract(unmeasured={"treatment": "ignore"})

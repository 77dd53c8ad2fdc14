"""The contract file: the example loads; each kind of mistake is reported with file, key path, problem."""

from __future__ import annotations

import copy
import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from slaprobe.configload import ConfigError
from slaprobe.sla.contract_config import load_contract, parse_contract
from slaprobe.sla.invoice import InvoiceError, load_invoice, parse_invoice
from slaprobe.sla.periods import Month, Period
from slaprobe.terminal import Level
from tests.sla.money_data import SMALL


def test_example_contract_loads() -> None:
    c = load_contract("config/contract.example.yaml")
    assert c.year == 2022 and set(c.carriers) == {"telecom", "unicom"}
    assert set(c.tiers) == {"premium", "standard", "basic"}
    assert c.payments.budget == Decimal("21000000.00")
    assert sum(i.amount for i in c.payments.installments) == Decimal("21000000.00")
    assert c.tier("premium").availability_target == Decimal("99.9")
    assert c.deduction_bands("premium") == c.deductions  # contract-wide table
    assert c.deduction_bands("basic")[0].below_percent == Decimal("99.5")  # its own table
    assert c.volume_count_day(Month(2022, 1)) == dt.date(2022, 12, 31)
    assert [g.id for g in c.evaluation.groups] == ["province", "city", "township", "village"]
    assert c.evaluation.groups[0].levels == (Level.PROVINCE, Level.PROVINCE_DEPT)
    assert c.source == "config/contract.example.yaml"
    assert (c.unmeasured.treatment.value, c.measured_minimum) == ("pay", Decimal(90))
    assert c.evaluation.min_measured_percent == Decimal(90)


def _with(path: str, value: Any) -> dict[str, Any]:
    """SMALL with one key replaced; path like 'tiers.gold.monthly_price'."""
    data = copy.deepcopy(SMALL)
    node = data
    *parents, last = path.split(".")
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node[key]
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return data


BAD = [
    # (mutation path, new value, expected fragment of the message)
    (
        "tiers.gold.monthly_price",
        [{"from_open": 0, "price": 1000.5}],
        "tiers.gold.monthly_price[0].price: money must be written as a string",
    ),
    (
        "tiers.gold.monthly_price",
        [{"from_open": 5, "price": "1000"}],
        "tiers.gold.monthly_price[0].from_open: the first band must start at 0",
    ),
    (
        "tiers.gold.monthly_price",
        [{"from_open": 0, "price": "1000"}, {"from_open": 0, "price": "900"}],
        "tiers.gold.monthly_price[1].from_open: bands must be in increasing order",
    ),
    (
        "tiers.gold.availability_target",
        99.9,
        "tiers.gold.availability_target: money must be written as a string",
    ),
    ("tiers.gold.availability_target", "101", "tiers.gold.availability_target: must be in (0, 100]"),
    ("tiers.gold.colour", "red", "tiers.gold.colour: unknown key"),
    (
        "deductions",
        [{"from": "99.0", "below": "99.9", "percent": "10"}, {"from": "0", "below": "98.0", "percent": "25"}],
        "deductions[1].below: must equal the previous band's 'from' (99.0)",  # a gap [98, 99)
    ),
    (
        "deductions",
        [{"from": "99.0", "below": "99.9", "percent": "10"}, {"from": "0", "below": "99.5", "percent": "25"}],
        "deductions[1].below: must equal the previous band's 'from' (99.0)",  # an overlap
    ),
    (
        "deductions",
        [{"from": "90", "below": "99.9", "percent": "10"}],
        "deductions[0].from: the lowest band must start at 0",
    ),
    (
        "deductions",
        [{"from": "99.0", "below": "99.9", "percent": "30"}, {"from": "0", "below": "99.0", "percent": "20"}],
        "deductions[1].percent: a lower availability band must not cost less",
    ),
    (
        "deductions",
        [{"from": "0", "below": "99.9", "percent": "120"}],
        "deductions[0].percent: must be in [0, 100]",
    ),
    (
        "tiers.basic.deductions",
        [{"from": "0", "below": "99.9", "percent": "10"}],
        "tiers.basic.deductions[0].below: 99.9 is above the tier's target 99.5",
    ),
    (
        "incidents",
        [{"longer_than_hours": "4", "amount": "1", "percent": "2"}],
        "incidents[0]: give exactly one of 'amount' or 'percent'",
    ),
    (
        "incidents",
        [{"longer_than_hours": "4", "amount": "1"}, {"longer_than_hours": "4", "amount": "2"}],
        "incidents[1].longer_than_hours: 4 is listed twice",
    ),
    ("caps", {"terminal_month_percent": "150"}, "caps.terminal_month_percent: must be in [0, 100]"),
    ("min_measured_percent", "-5", "min_measured_percent: must be in [0, 100]"),
    ("unmeasured", {"min_measured_percent": "101"}, "unmeasured.min_measured_percent: must be in [0, 100]"),
    ("unmeasured", {"treatment": "free"}, "unmeasured.treatment:"),
    ("volume_count_on", "quarter_end", "volume_count_on: expected year_end, month_end or a date"),
    (
        "payments",
        {
            "installments": [
                {"quarter": "2022Q1", "amount": "10.00", "by_carrier": {"telecom": "4.00", "unicom": "5.00"}}
            ]
        },
        "payments.installments[0].by_carrier: the split adds up to 9.00, not the amount 10.00",
    ),
    (
        "payments",
        {"installments": [{"quarter": "2022-03", "amount": "1"}]},
        "payments.installments[0].quarter: expected a quarter",
    ),
    (
        "payments",
        {"installments": [{"quarter": "2022Q1", "amount": "1", "by_carrier": {"mobile": "1"}}]},
        "payments.installments[0].by_carrier.mobile: unknown carrier",
    ),
    (
        "evaluation",
        {"groups": [{"id": "a", "levels": ["city"]}, {"id": "b", "levels": ["city"]}]},
        "evaluation.groups[1].levels: 'city' is already in 'a'",
    ),
    (
        "evaluation",
        {"groups": [{"id": "a", "levels": ["county"]}]},
        "evaluation.groups[0].levels[0]: expected one of",
    ),
]


@pytest.mark.parametrize(("path", "value", "message"), BAD, ids=[b[2].split(":")[0] for b in BAD])
def test_bad_contract_is_reported_with_key_path(path: str, value: Any, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_contract(_with(path, value), "bad.yaml")
    assert info.value.source == "bad.yaml"
    assert any(message in p for p in info.value.problems), info.value.problems
    assert f"bad.yaml: {message}" in str(info.value)


def test_all_problems_at_once(tmp_path: Path) -> None:
    data = _with("caps", {"terminal_month_percent": "150", "carrier_month_percent": "-1"})
    data["volume_count_on"] = "never"
    f = tmp_path / "c.yaml"
    import yaml

    f.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_contract(f)
    assert len(info.value.problems) == 3 and str(f) in str(info.value)


@pytest.mark.parametrize(
    ("text", "label", "months"),
    [
        ("2022Q4", "2022Q4", ("2022-10", "2022-12")),
        ("2022", "2022", ("2022-01", "2022-12")),
        ("2022-02", "2022-02", ("2022-02", "2022-02")),
    ],
)
def test_period_parse(text: str, label: str, months: tuple[str, str]) -> None:
    p = Period.parse(text)
    assert (p.label, str(p.first), str(p.last)) == (label, *months)


def test_period_parse_rejects() -> None:
    with pytest.raises(ValueError, match="not a period"):
        Period.parse("2022Q5")


@pytest.mark.parametrize(
    ("csv_text", "message"),
    [
        ("carrier,terminal,price\ntelecom,T1,1\n", "line 1: unknown column(s) price"),
        ("terminal,amount\nT1,1\n", "line 1: the 'carrier' column is required"),
        ("carrier,terminal,amount\ntelecom,T1,1,234.00\n", "line 2: more cells than columns"),
        ("carrier,terminal,amount\ntelecom,T1,¥12\n", "line 2: amount: expected a plain decimal"),
        ("carrier,terminal,amount\ntelecom,T1,1e3\n", "line 2: amount: expected a plain decimal"),
        ("carrier,tier,count\ntelecom,gold,-3\n", "line 2: count: expected a whole number"),
        ("carrier,terminal,billed_from\ntelecom,T1,2022-13-01\n", "line 2: billed_from: expected a date"),
        (
            "carrier,terminal,billed_from,billed_to\ntelecom,T1,2022-03-02,2022-03-01\n",
            "billed_to: 2022-03-01 is before",
        ),
        ("carrier,terminal,count\ntelecom,T1,2\n", "count: a terminal row bills one terminal"),
        ("carrier,tier\ntelecom,gold\n", "a tier row needs count, terminal_days or amount"),
        ("carrier,amount\ntelecom,\n", "must carry the carrier's total amount"),
    ],
)
def test_bad_invoice_rows(csv_text: str, message: str) -> None:
    with pytest.raises(InvoiceError) as info:
        parse_invoice(csv_text, "bill.csv")
    assert message in str(info.value) and "bill.csv" in str(info.value)


def test_invoice_file_with_bom_and_blank_lines(tmp_path: Path) -> None:
    f = tmp_path / "bill.csv"
    f.write_text("\ufeffcarrier,terminal,amount\ntelecom,T1,12.30\n,,\nunicom,,99\n", encoding="utf-8")
    bill = load_invoice(f)
    assert [(x.line, x.kind, x.amount) for x in bill.lines] == [
        (2, "terminal", Decimal("12.30")),
        (4, "carrier", Decimal(99)),
    ]
    assert bill.carriers == ("telecom", "unicom")

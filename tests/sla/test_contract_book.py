"""Signed contracts per carrier ("统招分签"), dated price versions and the inventory's dated history.

Figures by hand from tests/sla/money_data.SMALL (gold 1,000 per month below 10 open terminals, basic 310).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from slaprobe.configload import ConfigError
from slaprobe.inventory import load_inventory
from slaprobe.inventory_history import Change, apply_history
from slaprobe.sla.contract_book import load_book, parse_book
from slaprobe.sla.periods import Month, Period
from slaprobe.sla.province import reconcile_book
from slaprobe.sla.reconcile import ReconcileError
from tests.sla.money_data import SMALL, term

Q1 = Period.parse("2022Q1")
EMPTY_Q1 = {Month(2022, m): {} for m in (1, 2, 3)}


def _inst(quarter: str, amount: str) -> dict[str, str]:
    return {"quarter": quarter, "amount": amount}


def book_data(**top: Any) -> dict[str, Any]:
    """Two contracts signed separately: telecom at the tender's prices, unicom with its own basic price."""
    return {
        **SMALL,
        "payments": {"budget": "5000.00", "installments": [_inst("2022Q1", "3000.00")]},
        "contracts": {
            "tel": {"carriers": ["telecom"],
                    "payments": {"budget": "4000.00", "installments": [_inst("2022Q1", "2500.00")]}},
            "uni": {"carriers": ["unicom"], "tiers": {**SMALL["tiers"], "basic": {
                        **SMALL["tiers"]["basic"], "monthly_price": [{"from_open": 0, "price": "300.00"}]}},
                    "payments": {"budget": "1000.00", "installments": [_inst("2022Q1", "500.00")]}},
        },
        **top,
    }  # fmt: skip


def test_the_seed_figures_in_the_example_contract() -> None:
    book = load_book("config/contract.example.yaml")
    p = book.province.payments
    assert p.budget == Decimal("21000000.00")  # "2022年项目批复预算为2100万元"
    # "2022年前三季度每季度分别支付1060.29万、500万元和539.71万元"
    seed = [Decimal("10602900.00"), Decimal("5000000.00"), Decimal("5397100.00")]
    assert [i.amount for i in p.installments] == seed
    assert [c.id for c in book.contracts] == ["telecom", "unicom"]
    for q in range(3):  # the signed contracts' installments add up to the seed's, quarter by quarter
        assert sum(c.payments.installments[q].amount for c in book.contracts) == p.installments[q].amount
    inv = load_inventory("config/terminals.example.csv")
    assert len(inv.open_on(dt.date(2022, 12, 31))) == 1820  # "合计1820个服务点位"
    assert len(inv.open_on(dt.date(2022, 1, 1))) == 1224  # the example's comment once said 1,222:
    assert sum(t.in_service_from < dt.date(2022, 1, 1) for t in inv) == 1222  # that is "before 2022"
    text = Path("config/contract.example.yaml").read_text(encoding="utf-8")
    assert "1,224 open on 2022-01-01" in text and "1,222 open on" not in text


def test_two_carriers_paid_separately() -> None:
    book = parse_book(book_data(), "book.yaml")
    terminals = [term("T01"), term("T02"), term("T07", "unicom", "basic")]
    rec = reconcile_book(book, terminals, EMPTY_Q1, Q1)
    # tel: 2 gold x 1000 x 3 months = 6000 - 2500 paid = 3500; uni: 1 basic x 300 x 3 = 900 - 500 = 400
    assert rec.carrier_amounts("telecom").net == Decimal("6000.00")
    assert rec.carrier_amounts("unicom").net == Decimal("900.00")
    assert rec.carrier_balance_due("telecom") == Decimal("3500.00")
    assert rec.carrier_balance_due("unicom") == Decimal("400.00")
    assert rec.balance_due == Decimal("3900.00")  # 6900 - 3000
    assert rec.budget_remaining == Decimal("2000.00")  # 5000 - 3000


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"payments": {"budget": "5000.00", "installments": [_inst("2022Q1", "3100.00")]}},
         "installments paid in 2022Q1 add up to 3000.00 over the contracts, "
         "but the province's payments list 3100.00"),
        ({"payments": {"budget": "6000.00"}},
         "the contracts' budgets add up to 5000.00, not the province's payments.budget 6000.00"),
    ],
)  # fmt: skip
def test_province_figures_must_be_the_sum_of_the_contracts(change: dict, problem: str) -> None:
    with pytest.raises(ConfigError, match="book.yaml: contracts: " + problem.replace("(", r"\(")):
        parse_book(book_data(**change), "book.yaml")


def test_errors_name_the_contract_and_key() -> None:
    data = book_data()
    data["contracts"]["uni"]["carriers"] = ["mobile"]
    data["contracts"]["tel"]["caps"] = {"terminal_month_percent": "150"}
    with pytest.raises(ConfigError) as err:
        parse_book(data, "book.yaml")
    assert err.value.problems == [
        "contracts.tel: caps.terminal_month_percent: must be in [0, 100], got 150",
        "contracts.uni.carriers: mobile not among the top-level carriers",
    ]


def test_a_terminal_no_contract_covers_is_an_error() -> None:
    data = book_data()
    data["contracts"]["tel"]["regions"] = ["r2"]
    with pytest.raises(
        ReconcileError, match="terminal T01: no signed contract covers carrier 'telecom' in region 'r1'"
    ):
        reconcile_book(parse_book(data, "book.yaml"), [term("T01")], EMPTY_Q1, Q1)


def test_price_change_mid_quarter_splits_the_month() -> None:
    version = {"effective_from": "2022-02-15", "tiers": {"gold": {
        "availability_target": "99.9", "monthly_price": [{"from_open": 0, "price": "1200.00"}]}}}  # fmt: skip
    book = parse_book({**SMALL, "versions": [version]}, "v.yaml")
    rec = reconcile_book(book, [term("T01")], EMPTY_Q1, Q1).parts[0]
    # Jan 1000; Feb 1000 x 14/28 + 1200 x 14/28 = 500 + 600 = 1100; Mar 1200 -> 3300
    assert rec.total.gross == Decimal("3300.00")
    feb = [(c.version, c.days, c.unit_price, c.fee) for c in rec.carrier("telecom").months[1].charges]
    assert feb == [("base", 14, Decimal("1000.00"), 500), ("2022-02-15", 14, Decimal("1200.00"), 600)]


def test_inventory_history_moves_a_terminal_mid_month() -> None:
    # T01 gold (1000) until 2022-03-10, basic (310) with unicom from 2022-03-11: March telecom 1000 x
    # 10/31, unicom 310 x 21/31 = 210.00; closed 2022-02-01..2022-02-28 (not billed in February)
    changes = [
        Change(2, "T01", dt.date(2022, 2, 1), status="closed"),
        Change(3, "T01", dt.date(2022, 3, 1), status="open"),
        Change(4, "T01", dt.date(2022, 3, 11), tier="basic", carrier="unicom"),
    ]
    sliced = apply_history([term("T01")], changes)
    assert [(t.in_service_from, t.in_service_to, t.carrier) for t in sliced] == [
        (dt.date(2021, 1, 1), dt.date(2022, 1, 31), "telecom"),
        (dt.date(2022, 3, 1), dt.date(2022, 3, 10), "telecom"),
        (dt.date(2022, 3, 11), None, "unicom"),
    ]
    rec = reconcile_book(parse_book(book_data(), "book.yaml"), sliced, EMPTY_Q1, Q1)
    # telecom: Jan 1000 + Mar 1000 x 10/31 = 1322.580645 -> 1322.58
    # unicom (its own basic price 300): 300 x 21/31 = 203.225806 -> 203.23
    assert rec.carrier_amounts("telecom").gross == Decimal("1322.58")
    assert rec.carrier_amounts("unicom").gross == Decimal("203.23")
    march = [(c.carrier, c.tier, c.first_day, c.last_day, c.days) for p in rec.parts
             for c in p.carriers[0].months[2].charges]  # fmt: skip
    assert march == [
        ("telecom", "gold", dt.date(2022, 3, 1), dt.date(2022, 3, 10), 10),
        ("unicom", "basic", dt.date(2022, 3, 11), dt.date(2022, 3, 31), 21),
    ]


def test_payments_in_cash_years_attributed_to_service_periods() -> None:
    # telecom's Q1 cash of 2,500 includes 1,000 of 2021's settlement (1,500 is for 2022Q1); the rest of
    # its Q1 (6,000 net: 2 gold x 1000 x 3) is paid in 2022Q2 cash: 4,500, after the period's end.
    data = book_data()
    data["payments"] = {}
    data["contracts"]["tel"]["payments"] = {"installments": [
        {"quarter": "2022Q1", "amount": "2500.00", "service": {"2021": "1000.00", "2022Q1": "1500.00"}},
        {"quarter": "2022Q2", "amount": "4500.00", "service": {"2022Q1": "4500.00"}},
    ]}  # fmt: skip
    data["contracts"]["uni"]["payments"] = {"installments": [_inst("2022Q1", "500.00")]}
    book = parse_book(data, "book.yaml")
    terminals = [term("T01"), term("T02"), term("T07", "unicom", "basic")]
    rec = reconcile_book(book, terminals, EMPTY_Q1, Q1)
    # telecom 6000 net, 1500 of the Q1 cash is for 2022; the 2022Q2 payment is recorded after the period
    assert rec.carrier_balance_due("telecom") == Decimal("4500.00")  # 6000 - 1500
    (tel,) = [p for p in rec.parts if p.contract.id == "tel"]
    assert (tel.paid_to_date, tel.paid_later, tel.outstanding) == (Decimal("1500.00"), Decimal("4500.00"), 0)
    uni = next(p for p in rec.parts if p.contract.id == "uni")
    assert uni.balance_due == Decimal("400.00")  # 900 - 500
    bad = book_data()
    bad["contracts"]["tel"]["payments"]["installments"][0]["service"] = {"2022Q1": "2000.00"}
    with pytest.raises(
        ConfigError, match=r"installments\[0\].service: the parts add up to 2000.00, not the amount"
    ):
        parse_book(bad, "book.yaml")


def test_negative_balance_follows_the_contract_setting() -> None:
    # unicom paid 500 for 900 of service in Q1 -> +400; pay it 1,500 instead: -600, refunded or offset
    for setting in ("refund", "offset"):
        data = book_data()
        data["payments"] = {}
        data["contracts"]["uni"]["payments"] = {"installments": [_inst("2022Q1", "1500.00")],
                                                "negative_balance": setting}  # fmt: skip
        rec = reconcile_book(parse_book(data, "book.yaml"), [term("T07", "unicom", "basic")], EMPTY_Q1, Q1)
        uni = next(p for p in rec.parts if p.contract.id == "uni")
        assert (uni.balance_due, uni.balance_treatment) == (Decimal("-600.00"), setting)


def test_one_carrier_signed_by_two_signers_adds_up_per_carrier() -> None:
    # telecom signed separately for r1 (2 gold) and r2 (1 gold): 6,000 - 2,500 and 3,000 - 500
    data = book_data()
    data["contracts"] = {
        "tel-r1": {"carriers": ["telecom"], "regions": ["r1"], "signer": {"zh": "甲市"},
                   "payments": {"budget": "4000.00", "installments": [_inst("2022Q1", "2500.00")]}},
        "tel-r2": {"carriers": ["telecom"], "regions": ["r2"], "signer": {"zh": "乙市"},
                   "payments": {"budget": "1000.00", "installments": [_inst("2022Q1", "500.00")]}},
    }  # fmt: skip
    terminals = [term("T01"), term("T02"), term("T03", region="r2")]
    rec = reconcile_book(parse_book(data, "book.yaml"), terminals, EMPTY_Q1, Q1)
    assert [(p.contract.id, p.balance_due) for p in rec.parts] == [
        ("tel-r1", Decimal("3500.00")),
        ("tel-r2", Decimal("2500.00")),
    ]
    assert rec.carrier_amounts("telecom").net == Decimal("9000.00")
    assert rec.carrier_balance_due("telecom") == Decimal("6000.00")  # 9000 - 3000

"""The 2022 example under both readings of the seed's year-end rule, and quarters that add up to the year.

By hand, from config/terminals.example.csv and the example contract's numbers (no slaprobe helper):
1,820 terminals open on 2022-12-31 (the seed: "合计1820个服务点位") -> the >= 1500 band: premium 3,000,
standard 1,500, basic 910 per month. Tiers: telecom 60 premium, 171 standard, 664 basic; unicom 209
standard, 716 basic (380 standard and 1,380 basic in all).

count_on_day (year-end count x annual price):
  telecom 12 x (60 x 3000 + 171 x 1500 + 664 x 910) = 12 x 1,040,740 = 12,488,880.00
  unicom  12 x (209 x 1500 + 716 x 910)              = 12 x   965,060 = 11,580,720.00
  province 24,069,600.00; paid 21,000,000.00 -> Q4 balance 3,069,600.00
day_prorated (tests/sla/test_reconcile.py derives these by hand): telecom 11,078,656.15, unicom
  9,926,930.38, province 21,005,586.53 -> Q4 balance 5,586.53.
Per carrier the example's (assumed) split of the installments: telecom 5,600,000 + 2,600,000 +
2,800,000 = 11,000,000; unicom 5,002,900 + 2,400,000 + 2,597,100 = 10,000,000.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest

from slaprobe.inventory import load_inventory
from slaprobe.sla.contract_book import load_book, with_contracts
from slaprobe.sla.contract_config import YearEnd, YearEndRule
from slaprobe.sla.periods import Period
from slaprobe.sla.province import reconcile_book
from slaprobe.sla.year_end import YearEndError

EMPTY = {m: {} for m in Period.year(2022).months}
BOOK = load_book("config/contract.example.yaml")
INVENTORY = load_inventory("config/terminals.example.csv")
COUNT = YearEnd(YearEndRule.COUNT_ON_DAY, published_count=1820)

TELECOM_COUNT = 12 * (60 * 3000 + 171 * 1500 + 664 * 910)
UNICOM_COUNT = 12 * (209 * 1500 + 716 * 910)


@pytest.mark.parametrize(
    ("year_end", "telecom", "unicom", "q4_balance"),
    [
        (YearEnd(), Decimal("11078656.15"), Decimal("9926930.38"), Decimal("5586.53")),
        (COUNT, Decimal(TELECOM_COUNT), Decimal(UNICOM_COUNT), Decimal("3069600.00")),
    ],
    ids=["day_prorated", "count_on_day"],
)
def test_2022_settlement_per_carrier(
    year_end: YearEnd, telecom: Decimal, unicom: Decimal, q4_balance: Decimal
):
    assert TELECOM_COUNT + UNICOM_COUNT == 24_069_600
    book = with_contracts(BOOK, year_end=year_end)
    q4 = reconcile_book(book, INVENTORY.terminals, EMPTY, Period.parse("2022Q4"))
    assert q4.carrier_amounts("telecom", True).net == telecom
    assert q4.carrier_amounts("unicom", True).net == unicom
    assert q4.paid_to_date == Decimal("21000000.00")  # the seed's 10,602,900 + 5,000,000 + 5,397,100
    assert q4.balance_due == q4_balance == telecom + unicom - Decimal("21000000.00")
    assert q4.carrier_balance_due("telecom") == telecom - Decimal("11000000.00")
    assert q4.carrier_balance_due("unicom") == unicom - Decimal("10000000.00")


@pytest.mark.parametrize("year_end", [YearEnd(), COUNT], ids=["day_prorated", "count_on_day"])
def test_quarters_sum_exactly_to_the_year(year_end: YearEnd) -> None:
    # before: each quarter was rounded on its own: 4,595,254.51 + 5,012,322.62 + 5,478,174.12 +
    # 5,919,835.27 = 21,005,586.52 against the year's .53. Now each period = round(YTD) - round(YTD before).
    book = with_contracts(BOOK, year_end=year_end)
    year = reconcile_book(book, INVENTORY.terminals, EMPTY, Period.year(2022))
    quarters = [
        reconcile_book(book, INVENTORY.terminals, EMPTY, Period.quarter(2022, q)) for q in (1, 2, 3, 4)
    ]
    for carrier in ("telecom", "unicom"):
        assert sum(q.carrier_amounts(carrier).net for q in quarters) == year.carrier_amounts(carrier).net
    assert sum(q.total.net for q in quarters) == year.total.net
    assert year.total.net == (Decimal("21005586.53") if year_end.rule is YearEndRule.DAY_PRORATED
                              else Decimal("24069600.00"))  # fmt: skip


def test_count_on_day_adjustment_is_listed_per_terminal() -> None:
    book = with_contracts(BOOK, year_end=COUNT)
    year = reconcile_book(book, INVENTORY.terminals, EMPTY, Period.year(2022))
    (telecom,) = [p for p in year.parts if p.contract.id == "telecom"]
    dec = telecom.carrier("telecom").months[-1]
    assert len(dec.year_end) == 895  # every telecom terminal: 60 + 171 + 664
    full_year = next(y for y in dec.year_end if y.terminal == "T00001")  # open since 2020, premium
    assert (full_year.annual, full_year.amount) == (36000, 0)  # 12 x 3000, already billed by day


def test_published_count_must_match_the_inventory() -> None:
    book = with_contracts(BOOK, year_end=dataclasses.replace(COUNT, published_count=1819))
    with pytest.raises(
        YearEndError,
        match=r"published_count is 1819, but the inventory has 1820 terminals open on 2022-12-31",
    ):
        reconcile_book(book, INVENTORY.terminals, EMPTY, Period.year(2022))

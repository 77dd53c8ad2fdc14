"""The inventory's dated history file: every bad row named at once; good rows slice a terminal."""

from __future__ import annotations

import datetime as dt

import pytest

from slaprobe.inventory import Inventory
from slaprobe.inventory_history import HistoryError, apply_history, parse_history
from tests.sla.money_data import term

INVENTORY = Inventory(
    (term("T01", tier="basic"), term("T02", end=dt.date(2022, 6, 30))),
    tiers=("gold", "basic"),
    source="inv.csv",
)


def test_every_bad_row_is_named() -> None:
    text = (
        "terminal,effective_from,tier,carrier,status\n"
        "T09,2022-03-01,basic,,\n"  # row 2
        "T01,2022-13-01,,,\n"  # row 3
        "T01,2020-01-01,premium,,\n"  # row 4
        "T02,2022-07-01,,mobile,paused\n"  # row 5
        "T01,2022-05-01,,,\n"  # row 6
    )
    with pytest.raises(HistoryError) as err:
        parse_history(text, INVENTORY, "hist.csv")
    assert err.value.problems == [
        "row 2: terminal 'T09' is not in the inventory inv.csv",
        "row 3: effective_from '2022-13-01' is not a date YYYY-MM-DD",
        "row 4: effective_from 2020-01-01 must be after T01's in_service_from 2021-01-01",
        "row 4: tier 'premium' is unknown (known: gold, basic)",
        "row 5: effective_from 2022-07-01 must be after T02's in_service_from 2021-01-01 and not after its "
        "in_service_to 2022-06-30",
        "row 5: carrier 'mobile' is unknown (known: telecom, unicom)",
        "row 5: status 'paused' must be open, closed or empty",
        "row 6: changes nothing (give tier, carrier or status)",
    ]


def test_a_tier_change_slices_the_terminal() -> None:
    changes = parse_history("terminal,effective_from,tier\nT01,2022-05-15,gold\n", INVENTORY, "hist.csv")
    sliced = apply_history(INVENTORY.terminals, changes)
    assert [(t.id, t.tier, t.in_service_from, t.in_service_to) for t in sliced] == [
        ("T01", "basic", dt.date(2021, 1, 1), dt.date(2022, 5, 14)),
        ("T01", "gold", dt.date(2022, 5, 15), None),
        ("T02", "gold", dt.date(2021, 1, 1), dt.date(2022, 6, 30)),
    ]

"""Measured share in every figure, and "insufficient data" instead of "met" (issue #10 item 5).

One scenario day (tests/sla/scenario.py, 1,440 one-minute intervals, n = 5), four terminals, target
99.9 % for the tier, minimum measured share 0.9 (the default):

  T1 telecom  every minute good                          judged 1440  share 100 %      -> met
  T2 telecom  144 minutes not sent ('?')                 judged 1296  share 90 % exact -> met (100 %)
  T3 unicom   145 minutes not sent                       judged 1295  share 89.93 %    -> insufficient
  T4 unicom   a 10-minute total outage, else good        judged 1440  99.3055 %        -> below

Province: judged 1440 + 1296 + 1295 + 1440 = 5471 of 5760 minutes = 94.98263 % -> 94.9826 (truncated);
telecom 2736 / 2880 = 95 %; unicom 2735 / 2880 = 94.96527 % -> 94.9652.
"""

from __future__ import annotations

import json

import pytest

from slaprobe.report.availability_json import render_json
from slaprobe.report.availability_text import render
from slaprobe.sla.engine import MonthReport, report_month
from slaprobe.sla.rule import rule_from
from tests.sla.scenario import PERIOD, build, terminal

TERMINALS = [
    terminal("T1"),
    terminal("T2"),
    terminal("T3", carrier="unicom", region="sanya"),
    terminal("T4", carrier="unicom", region="sanya"),
]
EVENTS = {
    "T1": {"v1": []},
    "T2": {"v1": [(600, "?" * 144)]},
    "T3": {"v1": [(600, "?" * 145)]},
    "T4": {"v1": [(300, "X" * 10)]},
}


def _report(min_share: float = 0.9) -> MonthReport:
    store = build(EVENTS)
    return report_month(
        store,
        TERMINALS,
        rule_from("mef10.3"),
        PERIOD,
        targets={"standard": 99.9},
        min_measured_share=min_share,
    )


@pytest.fixture(scope="module")
def doc() -> dict:
    return json.loads(render_json(_report()))


def test_terminal_share_and_status(doc: dict) -> None:
    got = {
        t["terminal"]: (t["judged_s"], t["measured_pct"], t["target_status"], t["below_target"])
        for t in doc["terminals"]
    }
    assert got == {
        "T1": (86400, 100.0, "met", False),
        "T2": (1296 * 60, 90.0, "met", False),
        "T3": (1295 * 60, 89.9305, "insufficient_data", None),  # 1295 / 1440 = 89.930555... %
        "T4": (86400, 100.0, "below", True),
    }


def test_groups_count_insufficient_apart_from_below(doc: dict) -> None:
    p = doc["province"]
    assert (p["judged_s"], p["measured_pct"], p["insufficient_data"], p["below_target"]) == (
        5471 * 60,
        94.9826,
        1,
        1,
    )
    carriers = {
        g["key"]: (g["measured_pct"], g["insufficient_data"], g["below_target"]) for g in doc["carriers"]
    }
    assert carriers == {"telecom": (95.0, 0, 0), "unicom": (94.9652, 1, 1)}
    assert doc["coverage"]["min_measured_pct"] == 90.0
    assert doc["coverage"]["sufficient"] is True  # the province reached 90 %, one terminal did not
    assert doc["coverage"]["terminals_insufficient"] == 1
    assert doc["coverage"]["warning"] in doc["warnings"]
    assert "1 of 4 terminals have insufficient data" in doc["coverage"]["warning"]


def test_a_higher_minimum_turns_met_into_insufficient() -> None:
    # 0.95: T2 (90 %) and T3 fall short; T4's outage month is fully measured and stays "below".
    doc = json.loads(render_json(_report(0.95)))
    status = {t["terminal"]: t["target_status"] for t in doc["terminals"]}
    assert status == {"T1": "met", "T2": "insufficient_data", "T3": "insufficient_data", "T4": "below"}
    assert doc["province"]["insufficient_data"] == 2 and doc["province"]["below_target"] == 1
    assert doc["coverage"]["sufficient"] is False  # 94.98 % < 95 %


@pytest.mark.parametrize(
    ("fmt", "lang", "needles"),
    [
        (
            "table",
            "zh",
            ("警告：测量覆盖率为在网时长的 94.9826%（最低要求 90.0%）", "数据不足", "测量覆盖 %"),
        ),
        (
            "table",
            "en",
            ("WARNING: measured share 94.9826 % of the in-service time", "insufficient data", "Measured %"),
        ),
        ("markdown", "en", ("| Insufficient data |", "Measured share %")),
        ("csv", "zh", ("数据不足", "测量覆盖率 %")),
    ],
)
def test_every_format_shows_share_and_insufficient_data(
    fmt: str, lang: str, needles: tuple[str, ...]
) -> None:
    out = render(_report(), fmt, lang)
    for needle in needles:
        assert needle in out, needle


def test_table_row_of_insufficient_terminal_never_says_met_or_below() -> None:
    out = render(_report(), "table", "en")
    row = next(line for line in out.splitlines() if line.startswith("T3"))
    assert "insufficient data" in row and "89.9305" in row
    t4 = next(line for line in out.splitlines() if line.startswith("T4"))
    assert " yes " in f"{t4} "


def test_html_cards_show_the_share_and_the_page_warns() -> None:
    from slaprobe.report.html import render_month
    from slaprobe.report.month_view import interval_states, month_view
    from slaprobe.sla.engine import gather_inputs

    def page_of(report: MonthReport) -> str:
        inputs = gather_inputs(build(EVENTS), TERMINALS, report.rule, PERIOD)
        states = interval_states(report, TERMINALS, inputs)
        return render_month(month_view(report, "en", states=states), "en")

    page = page_of(_report(0.95))
    assert 'data-warning="coverage"' in page and "measured share 94.9826 % of the in-service time" in page
    assert 'data-figure="carrier:telecom:measured_pct"' in page or "carrier:telecom:measured_pct" in page
    assert "95.0%" in page and "94.9652%" in page  # telecom, unicom shares as the JSON prints them
    quiet = page_of(_report(0.5))
    assert 'data-warning="coverage"' not in quiet  # every terminal at or above 50 %

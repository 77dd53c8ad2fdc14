"""Per-day cells from interval verdicts, loss bins and target text: hand-computed cases."""

from __future__ import annotations

import datetime as dt
from fractions import Fraction
from zoneinfo import ZoneInfo

import numpy as np

from slaprobe.report.view import DayCell, daily_cells, loss_bin, month_days, percent_text
from slaprobe.sla.types import IntervalState as S

TZ = ZoneInfo("Asia/Shanghai")
START = int(dt.datetime(2022, 3, 1, tzinfo=TZ).timestamp()) * 1_000_000_000  # local midnight


def test_daily_cells_sum_verdicts_per_local_day() -> None:
    # hourly intervals over two local days (the first 8 hours of a local day are the previous UTC day)
    a = np.full(48, S.AVAILABLE, dtype=np.int8)
    a[3:5] = S.UNAVAILABLE  # day 1: 2 h down
    a[30:40] = S.UNKNOWN  # day 2: 10 h unknown
    a[44] = S.MAINTENANCE  # day 2: 1 h maintenance
    b = np.full(48, S.NOT_IN_SERVICE, dtype=np.int8)
    b[24:] = S.AVAILABLE  # opens on day 2
    c = np.full(48, S.UNAVAILABLE, dtype=np.int8)  # another region, down throughout
    cells = daily_cells({"A": a, "B": b, "C": c}, {"A": "r1", "B": "r1", "C": "r2"}, START, 3600, TZ)
    h = 3600
    assert cells == (
        DayCell("r1", dt.date(2022, 3, 1), 22 * h, 2 * h, 0, 0),
        DayCell("r1", dt.date(2022, 3, 2), (13 + 24) * h, 0, 10 * h, 1 * h),
        DayCell("r2", dt.date(2022, 3, 1), 0, 24 * h, 0, 0),
        DayCell("r2", dt.date(2022, 3, 2), 0, 24 * h, 0, 0),
    )
    assert cells[0].availability == Fraction(22, 24) * 100
    assert cells[2].availability == 0


def test_a_day_with_nothing_in_service_has_no_cell_and_unjudged_has_no_availability() -> None:
    a = np.full(48, S.NOT_IN_SERVICE, dtype=np.int8)
    a[24:] = S.UNKNOWN
    cells = daily_cells({"A": a}, {"A": "r1"}, START, 3600, TZ)
    assert [c.day for c in cells] == [dt.date(2022, 3, 2)]
    assert cells[0].availability is None


def test_month_days_are_local() -> None:
    end = int(dt.datetime(2022, 4, 1, tzinfo=TZ).timestamp()) * 1_000_000_000
    days = month_days(START, end, TZ)
    assert days[0] == dt.date(2022, 3, 1) and days[-1] == dt.date(2022, 3, 31) and len(days) == 31


def test_loss_bins_compare_exactly() -> None:
    assert loss_bin(0, 1000) == 0
    assert loss_bin(1, 1001) == 1  # 0.0999 % < 0.1 %
    assert loss_bin(1, 1000) == 2  # exactly 0.1 % belongs to [0.1, 1)
    assert loss_bin(1, 100) == 3  # exactly 1 %
    assert loss_bin(5, 100) == 4  # exactly 5 %: the last bin
    assert loss_bin(100, 100) == 4


def test_percent_text() -> None:
    assert percent_text(Fraction(999, 10)) == "99.9"
    assert percent_text(Fraction(99)) == "99"
    assert percent_text(Fraction(99995, 1000)) == "99.995"

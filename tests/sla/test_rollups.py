"""``whole_days``: which days of hourly points are complete inside a window, and their hours (by hand)."""

from __future__ import annotations

import numpy as np

from slaprobe.sla.kpi import HOUR_NS
from slaprobe.sla.rollups import DAY_NS, whole_days

D0 = 19_000 * DAY_NS  # some UTC midnight


def test_whole_days_inside_a_cut_window() -> None:
    # window from 05:00 of day 0 (19 hours left that day) to 03:00 of day 2 (3 hours that day)
    start, end = D0 + 5 * HOUR_NS, D0 + 2 * DAY_NS + 3 * HOUR_NS
    days = np.array([D0, D0 + DAY_NS, D0 + 2 * DAY_NS, D0 + DAY_NS])
    counts = np.array([19, 23, 3, 24])  # day 1 appears twice: once missing an hour, once whole
    whole, row, hours = whole_days(days, counts, start, end)
    assert whole.tolist() == [True, False, True, True]
    assert row.tolist() == [0] * 19 + [2] * 3 + [3] * 24
    expected = (
        [D0 + h * HOUR_NS for h in range(5, 24)]
        + [D0 + 2 * DAY_NS + h * HOUR_NS for h in range(3)]
        + [D0 + DAY_NS + h * HOUR_NS for h in range(24)]
    )
    assert hours.tolist() == expected


def test_window_not_on_whole_hours_counts_the_hour_points_inside() -> None:
    # hourly points sit on whole hours: [05:30, 07:10) holds the points of 06:00 and 07:00
    start, end = D0 + 5 * HOUR_NS + HOUR_NS // 2, D0 + 7 * HOUR_NS + HOUR_NS // 6
    whole, row, hours = whole_days(np.array([D0, D0]), np.array([2, 1]), start, end)
    assert whole.tolist() == [True, False]
    assert row.tolist() == [0, 0]
    assert hours.tolist() == [D0 + 6 * HOUR_NS, D0 + 7 * HOUR_NS]


def test_no_days() -> None:
    whole, row, hours = whole_days(np.zeros(0), np.zeros(0), D0, D0 + DAY_NS)
    assert len(whole) == len(row) == len(hours) == 0

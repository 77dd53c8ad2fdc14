"""What the HTML report shows, as plain values: the page renders these and computes nothing itself.

Why a view rather than the engine's report value directly: a page needs a few things the month's figures
do not hold (per-day cells for the heat map, quality distributions, display names in the report's
language, the rule's parameters) and must not recompute any figure the JSON report states. The adapter
that fills a view from the SLA engine and the money side is the only place that knows both; the page
only lays values out, and tests can build views by hand.

Availability figures stay integer seconds (``GroupAvailability``), so the page prints exactly what the
JSON report prints: a percentage is made from the same two integers by the same truncating rule.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np

from slaprobe.report.money_table import Document
from slaprobe.sla.types import GroupAvailability, IntervalState, Outage

# Bins of the loss chart: terminals by their month's packet loss (lost / sent, percent). The first bin is
# exactly zero; the others are [lo, hi). Months are long, so even a bad link rarely loses whole percents.
LOSS_BIN_EDGES: tuple[float, ...] = (0.0, 0.1, 1.0, 5.0)
LOSS_BIN_NAMES: tuple[str, ...] = ("0", "(0, 0.1 %)", "[0.1, 1 %)", "[1, 5 %)", "≥ 5 %")


def loss_bin(lost: int, sent: int) -> int:
    """The LOSS_BIN_NAMES index of a terminal's month (exact integer comparison, no float edges)."""
    if lost <= 0:
        return 0
    for i, edge in enumerate(LOSS_BIN_EDGES[1:], 1):
        if Fraction(100 * lost, sent) < Fraction(str(edge)):
            return i
    return len(LOSS_BIN_EDGES)


@dataclass(frozen=True, slots=True)
class RuleView:
    """The availability rule as configured (the preset's values after overrides)."""

    preset: str
    interval_s: int
    threshold: float  # loss ratio C above which an interval is high-loss
    consecutive: int  # n: high-loss intervals in a row that start (and good ones that end) an outage
    timezone: str


@dataclass(frozen=True, slots=True)
class DayCell:
    """One group (a region) on one local calendar day: the heat map's cell."""

    group: str
    day: dt.date
    available_s: int
    unavailable_s: int
    unknown_s: int
    maintenance_s: int = 0

    @property
    def measured_s(self) -> int:
        return self.available_s + self.unavailable_s

    @property
    def availability(self) -> Fraction | None:
        """Exact percent, or None when nothing that day could be judged (shown as 'no data')."""
        return None if self.measured_s == 0 else Fraction(100 * self.available_s, self.measured_s)


@dataclass(frozen=True, slots=True)
class Distribution:
    """Quantiles of one quality metric (ms) for one carrier over the period's probes."""

    count: int
    p5: float
    p25: float
    p50: float
    p75: float
    p95: float
    p99: float


@dataclass(frozen=True, slots=True)
class CarrierQuality:
    """RTT and jitter distributions of one carrier's probes, and its terminals by month packet loss."""

    carrier: str
    probes: int  # measured probes (packets were sent)
    rtt_ms: Distribution | None
    jitter_ms: Distribution | None
    loss_bins: tuple[int, ...]  # terminal counts per LOSS_BIN_NAMES
    sent: int = 0
    lost: int = 0


@dataclass(frozen=True, slots=True)
class Exclusion:
    """A period excluded from the denominator (announced maintenance), as the config states it."""

    start_ns: int
    end_ns: int
    scope: str  # "all", a region, a carrier or a terminal id
    reason: str


@dataclass(frozen=True, slots=True)
class MonthView:
    """Everything the monthly HTML report shows. Names are display names in the report's language."""

    period: str  # "2022-03"
    start_ns: int
    end_ns: int
    tz: dt.tzinfo
    rule: RuleView
    target_percent: Fraction  # the line drawn on the charts (the headline target)
    province: GroupAvailability
    carriers: tuple[GroupAvailability, ...]
    regions: tuple[GroupAvailability, ...]
    daily: tuple[DayCell, ...] = ()
    outages: tuple[Outage, ...] = ()
    exclusions: tuple[Exclusion, ...] = ()
    quality: tuple[CarrierQuality, ...] = ()
    region_carrier: Mapping[str, str] = field(default_factory=dict)  # region -> carrier serving it
    names: Mapping[str, str] = field(default_factory=dict)  # carrier / region id -> display name
    money: Document | None = None  # the reconciliation of the month (report.reconcile), same language
    money_figures: Mapping[str, tuple[str, str, str]] = field(default_factory=dict)  # carrier -> gross,
    # deducted, net as the reconciliation JSON states them (strings: rounded once by the contract)
    generated_ns: int | None = None
    source: str = ""  # where the samples came from (journal path, InfluxDB URL)
    min_measured_share: float = 0.9  # below it a group's target is "insufficient data" (MonthReport's)

    def name(self, key: str) -> str:
        return self.names.get(key, key)

    @property
    def target_percent_text(self) -> str:
        return percent_text(self.target_percent)


def percent_text(value: Fraction) -> str:
    """A contract's target as written (99.9, not 999/10), truncated to 4 decimals, zeros stripped."""
    whole = int(value * 10_000)
    text = f"{whole // 10_000}.{whole % 10_000:04d}".rstrip("0").rstrip(".")
    return text


@dataclass(frozen=True, slots=True)
class MonthSeries:
    """One carrier's (or the province's) availability per month of a year: the year report's line."""

    key: str
    months: tuple[tuple[str, int, int], ...]  # ("2022-01", available_s, unavailable_s)


@dataclass(frozen=True, slots=True)
class YearView:
    """The year's evaluation report: monthly availability per carrier and the evaluation's tables."""

    year: int
    target_percent: Fraction
    series: tuple[MonthSeries, ...]
    evaluation: Document  # report.evaluation's document, in the report's language
    coverage: tuple[tuple[str, int, int], ...] = ()  # (group display name, planned, open)
    money: Document | None = None  # the year's reconciliation
    names: Mapping[str, str] = field(default_factory=dict)
    rule: RuleView | None = None
    generated_ns: int | None = None

    def name(self, key: str) -> str:
        return self.names.get(key, key)


def daily_cells(
    states: Mapping[str, np.ndarray],
    group_of: Mapping[str, str],
    start_ns: int,
    interval_s: int,
    tz: dt.tzinfo,
) -> tuple[DayCell, ...]:
    """Per group and local day, the seconds in each state, from the engine's per-interval verdicts.

    ``states[terminal]`` is the terminal's interval verdicts (``IntervalState`` values) from
    ``start_ns`` on, every ``interval_s``. An interval belongs to the local day its start falls in
    (intervals divide days, so none straddles midnight unless Δt does not divide 86,400 s). Summing the
    same verdicts the month was computed from, rather than re-running the engine day by day, keeps the
    cells consistent with the month: an outage's back-dating crosses midnight exactly as in the month.
    """
    acc: dict[tuple[str, dt.date], np.ndarray] = {}
    day_index_cache: dict[int, tuple[np.ndarray, list[dt.date]]] = {}
    for terminal, verdicts in states.items():
        group = group_of.get(terminal)
        if group is None:
            continue
        n = len(verdicts)
        if n not in day_index_cache:
            day_index_cache[n] = _day_index(n, start_ns, interval_s, tz)
        index, days = day_index_cache[n]
        counts = np.zeros((len(days), 5), dtype=np.int64)
        np.add.at(counts, (index, np.asarray(verdicts, dtype=np.int64)), 1)
        for i, day in enumerate(days):
            key = (group, day)
            if key in acc:
                acc[key] += counts[i]
            else:
                acc[key] = counts[i].copy()
    cells = []
    for (group, day), c in sorted(acc.items()):
        if c[IntervalState.NOT_IN_SERVICE] == c.sum():
            continue
        cells.append(
            DayCell(
                group,
                day,
                int(c[IntervalState.AVAILABLE]) * interval_s,
                int(c[IntervalState.UNAVAILABLE]) * interval_s,
                int(c[IntervalState.UNKNOWN]) * interval_s,
                int(c[IntervalState.MAINTENANCE]) * interval_s,
            )
        )
    return tuple(cells)


def _day_index(n: int, start_ns: int, interval_s: int, tz: dt.tzinfo) -> tuple[np.ndarray, list[dt.date]]:
    """For n intervals from ``start_ns``: each interval's local-day index, and the days in order."""
    index = np.empty(n, dtype=np.int64)
    days: list[dt.date] = []
    start_s = start_ns // 1_000_000_000
    for i in range(n):
        day = dt.datetime.fromtimestamp(start_s + i * interval_s, tz).date()
        if not days or days[-1] != day:
            days.append(day)
        index[i] = len(days) - 1
    return index, days


def month_days(start_ns: int, end_ns: int, tz: dt.tzinfo) -> list[dt.date]:
    """The local calendar days of [start, end)."""
    first = dt.datetime.fromtimestamp(start_ns // 1_000_000_000, tz).date()
    last = dt.datetime.fromtimestamp((end_ns - 1) // 1_000_000_000, tz).date()
    return [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]

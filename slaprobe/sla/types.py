"""Result types of the SLA engine: what availability, aggregation, money and reports exchange.

The engine's functions are pure; these frozen records are their outputs. Durations are integer seconds
(intervals are whole seconds), so sums are exact and a report renders identically from any store.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class IntervalState(enum.IntEnum):
    """Verdict of one Δt interval of one terminal (small ints so a month fits in a numpy int8 array)."""

    NOT_IN_SERVICE = 0  # before opening / after retirement: outside the denominator, not reported
    MAINTENANCE = 1  # announced window: excluded from the denominator, reported
    UNKNOWN = 2  # we were not looking (or could not tell): excluded, reported
    AVAILABLE = 3
    UNAVAILABLE = 4


@dataclass(frozen=True, slots=True)
class IntervalEvidence:
    """What one vantage saw of one interval of an outage: the numbers a carrier can check."""

    start_ns: int
    vantage: str
    sent: int
    received: int
    # "" = measured (sent/received are the pooled packet counts); otherwise why there are no counts:
    # "no_loss_recorded" (looked, nothing lost), "not_measured" (probes not sent), "too_few_probes"
    # (counts shown, fewer than rule.min_probes sent), "no_heartbeat",
    # "mass_event", "not_probed" (the vantage did not probe the terminal that hour)
    note: str = ""


@dataclass(frozen=True, slots=True)
class Outage:
    """One unavailable period (back-dated to the first high-loss interval of the run)."""

    terminal: str
    start_ns: int
    end_ns: int  # exclusive
    duration_s: int  # unavailable seconds inside [start, end): UNKNOWN gaps inside do not count
    carrier: str
    region: str
    evidence: tuple[IntervalEvidence, ...] = ()
    period_s: int = 0  # unavailable seconds inside the report period (the month's share of this outage)
    truncated: bool = False  # reaches the edge of the data window (lookaround): true start/end lie beyond
    # the judged data ends inside it (no decisive good run after it yet): still open as far as anyone knows;
    # ``end_ns`` is then the end of the last judged interval, not a recovery (``slaprobe outages`` marks it)
    ongoing: bool = False


@dataclass(frozen=True, slots=True)
class TerminalAvailability:
    """One terminal over one period (usually a calendar month, UTC+8 or as configured)."""

    terminal: str
    period_start_ns: int
    period_end_ns: int
    interval_s: int
    in_service_s: int  # seconds of the period the terminal was in service
    maintenance_s: int
    unknown_s: int
    available_s: int
    unavailable_s: int
    high_loss_intervals: int  # intervals with loss > C, whether or not they made an outage
    outages: tuple[Outage, ...] = ()
    consecutive_high_loss: int = 0  # MEF 10.3 CHLI count (rule.chli_run) in available time
    quality: dict[str, float | None] = field(default_factory=dict)  # KPIs (kpi.QUALITY_KEYS)

    @property
    def measured_s(self) -> int:
        """The denominator: in service, minus maintenance, minus unknown."""
        return self.available_s + self.unavailable_s

    @property
    def availability(self) -> float | None:
        """Percent in [0, 100], or None when nothing in the period could be judged."""
        if self.measured_s == 0:
            return None
        return 100.0 * self.available_s / self.measured_s


@dataclass(frozen=True, slots=True)
class GroupAvailability:
    """An interval-weighted aggregate (region, carrier, level, tier, province)."""

    dimension: str  # "province", "carrier", "region", "level", "tier"
    key: str
    terminals: int
    available_s: int
    unavailable_s: int
    unknown_s: int
    maintenance_s: int
    outages: int
    below_target: int
    worst_terminal: str | None
    worst_availability: float | None
    extra: dict[str, float | None] = field(default_factory=dict)  # KPIs: mttr_s, mtbf_s, rtt_p50_ms, ...

    @property
    def availability(self) -> float | None:
        measured = self.available_s + self.unavailable_s
        if measured == 0:
            return None
        return 100.0 * self.available_s / measured

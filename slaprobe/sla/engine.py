"""The SLA engine's top level: a month of store inputs -> a ``MonthReport`` value.

``compute_month`` is pure: inventory + rule + period + ``SlaInputs`` (+ maintenance windows, targets)
in, ``MonthReport`` out. ``report_month`` is the one impure convenience: it asks an ``SlaSource`` (the
journal or InfluxDB read path) for exactly the inputs ``compute_month`` needs, so both stores feed the
same function and give the same report.

**Reporting period.** The province bills by *local* calendar month, so a month is
``[local midnight of the 1st, local midnight of the next 1st)`` in the configured time zone (default
Asia/Shanghai, UTC+8: December 2022 is 2022-11-30T16:00Z .. 2022-12-31T16:00Z). Interval grids are
anchored at the Unix epoch; the period boundaries must fall on whole hours (every whole-hour time zone).
An outage crossing the boundary is clipped for the month's figures (``Outage.period_s``), while the
outage list shows its true start and end (looking ``rule.lookaround_s`` beyond the month).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from slaprobe.heap import release_free_memory
from slaprobe.model import NS_PER_S, ProbeKind
from slaprobe.sla.aggregate import (
    DEFAULT_MIN_MEASURED_SHARE,
    DIMENSIONS,
    QualityTable,
    aggregate,
    quality_table,
)
from slaprobe.sla.availability import evaluate_terminal, local_midnight_ns
from slaprobe.sla.inputs import SampleColumns, SlaInputs, SlaSource
from slaprobe.sla.intervals import Window, pooling_keys, prepare, presence_edge_keys
from slaprobe.sla.kpi import HOUR_NS
from slaprobe.sla.maintenance import MaintenanceWindow
from slaprobe.sla.rule import Rule
from slaprobe.sla.types import GroupAvailability, Outage, TerminalAvailability
from slaprobe.terminal import Terminal

DEFAULT_TIMEZONE = "Asia/Shanghai"
# nanosecond times are int64 (they overflow in 2262); a month report also reads a day on either side
MIN_YEAR, MAX_YEAR = 1971, 2200
HEARTBEAT_LEAD_NS = HOUR_NS  # heartbeats that start this long before the window can still cover it


class PeriodError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Period:
    label: str  # "2022-12", or "2022-12-01" for a day, or "start/end"
    start_ns: int
    end_ns: int
    timezone: str = DEFAULT_TIMEZONE

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def first_day(self) -> dt.date:
        return dt.datetime.fromtimestamp(self.start_ns / NS_PER_S, self.tz).date()

    @property
    def last_day(self) -> dt.date:
        return dt.datetime.fromtimestamp((self.end_ns - 1) / NS_PER_S, self.tz).date()


def month_period(month: str, timezone: str = DEFAULT_TIMEZONE) -> Period:
    """``YYYY-MM`` in ``timezone`` as a Period."""
    try:
        year, mon = (int(x) for x in month.split("-"))
        first = dt.date(year, mon, 1)
    except ValueError:
        raise PeriodError(f"--month {month!r}: expected YYYY-MM") from None
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise PeriodError(f"--month {month!r}: the year must be {MIN_YEAR}..{MAX_YEAR}")
    try:
        tz = ZoneInfo(timezone)
    except Exception:
        raise PeriodError(f"timezone {timezone!r}: unknown IANA time zone") from None
    nxt = dt.date(year + (mon == 12), mon % 12 + 1, 1)
    return Period(f"{first:%Y-%m}", local_midnight_ns(first, tz), local_midnight_ns(nxt, tz), timezone)


def day_period(day: dt.date, timezone: str = DEFAULT_TIMEZONE) -> Period:
    tz = ZoneInfo(timezone)
    nxt = day + dt.timedelta(days=1)
    return Period(day.isoformat(), local_midnight_ns(day, tz), local_midnight_ns(nxt, tz), timezone)


def window_for(rule: Rule, period: Period) -> Window:
    for name, value in (("start", period.start_ns), ("end", period.end_ns)):
        if value % HOUR_NS:
            raise PeriodError(
                f"period {period.label} {name} is not on a whole UTC hour (time zone {period.timezone}); "
                "hourly rollups need whole-hour offsets"
            )
    look = rule.lookaround_s * NS_PER_S
    start = period.start_ns - look
    count = (period.end_ns + look - start) // rule.interval_ns
    return Window(start, count, rule.interval_ns)


@dataclass(frozen=True, slots=True)
class MonthReport:
    """Everything a renderer, the money helper or the HTML report needs; no I/O handles inside."""

    period: Period
    rule: Rule
    terminals: tuple[Terminal, ...]  # those in service during the period, sorted by id
    results: tuple[TerminalAvailability, ...]  # same order as terminals
    groups: tuple[GroupAvailability, ...]  # DIMENSIONS order, keys sorted
    outages: tuple[Outage, ...]  # overlapping the period, sorted by start, terminal
    vantages: tuple[str, ...]
    mass_event_intervals: Mapping[str, int]  # vantage -> mass-event intervals inside the period
    targets: Mapping[str, float] = field(default_factory=dict)
    default_target: float | None = None
    warnings: tuple[str, ...] = ()
    filters: Mapping[str, str] = field(default_factory=dict)
    quality: QualityTable | None = field(default=None, repr=False, compare=False)
    min_measured_share: float = DEFAULT_MIN_MEASURED_SHARE  # below it no target is "met" (aggregate.py)

    def group(self, dimension: str, key: str) -> GroupAvailability | None:
        for g in self.groups:
            if g.dimension == dimension and g.key == key:
                return g
        return None

    @property
    def province(self) -> GroupAvailability:
        for g in self.groups:
            if g.dimension == "province":
                return g
        raise LookupError("report has no province aggregate")

    def result(self, terminal: str) -> TerminalAvailability | None:
        for r in self.results:
            if r.terminal == terminal:
                return r
        return None

    def filtered(self, carrier: str | None = None, region: str | None = None) -> MonthReport:
        """The same report restricted to one carrier and/or region, aggregates recomputed.

        Verdicts are not recomputed: mass events are judged over each vantage's whole target set, so a
        filtered report shows exactly the terminal figures of the full one.
        """
        if carrier is None and region is None:
            return self
        keep = [
            i
            for i, t in enumerate(self.terminals)
            if (carrier is None or t.carrier == carrier) and (region is None or t.region == region)
        ]
        terminals = tuple(self.terminals[i] for i in keep)
        results = tuple(self.results[i] for i in keep)
        assert self.quality is not None
        quality = QualityTable(
            {k: v[keep] for k, v in self.quality.scalars.items()},
            self.quality.rtt[keep],
            self.quality.jit[keep],
        )
        ids = {t.id for t in terminals}
        filters = dict(self.filters)
        if carrier is not None:
            filters["carrier"] = carrier
        if region is not None:
            filters["region"] = region
        return MonthReport(
            period=self.period,
            rule=self.rule,
            terminals=terminals,
            results=results,
            groups=aggregate(
                terminals,
                results,
                quality,
                self.targets,
                self.default_target,
                min_share=self.min_measured_share,
            ),
            outages=tuple(o for o in self.outages if o.terminal in ids),
            vantages=self.vantages,
            mass_event_intervals=self.mass_event_intervals,
            targets=self.targets,
            default_target=self.default_target,
            warnings=self.warnings,
            filters=filters,
            quality=quality,
            min_measured_share=self.min_measured_share,
        )


def _in_period(t: Terminal, period: Period) -> bool:
    if t.in_service_from > period.last_day:
        return False
    return t.in_service_to is None or t.in_service_to >= period.first_day


def compute_month(
    terminals: Sequence[Terminal],
    rule: Rule,
    period: Period,
    inputs: SlaInputs,
    maintenance: Sequence[MaintenanceWindow] = (),
    targets: Mapping[str, float] | None = None,
    default_target: float | None = None,
    *,
    evidence: bool = True,
    min_measured_share: float = DEFAULT_MIN_MEASURED_SHARE,
) -> MonthReport:
    """The pure engine: figures for every terminal in service during ``period``, and their aggregates."""
    window = window_for(rule, period)
    ordered = tuple(sorted(terminals, key=lambda t: t.id))
    ids = [t.id for t in ordered]
    if len(set(ids)) != len(ids):
        raise ValueError("inventory has duplicate terminal ids")
    prepared = prepare(rule, window, ordered, inputs)
    first = (period.start_ns - window.start_ns) // window.interval_ns
    end = (period.end_ns - window.start_ns) // window.interval_ns
    tz = period.tz
    chosen = [i for i, t in enumerate(ordered) if _in_period(t, period)]
    results: list[TerminalAvailability] = []
    for i in chosen:
        results.append(
            evaluate_terminal(prepared, i, tz, (first, end), maintenance, evidence=evidence).availability
        )
    in_service = tuple(ordered[i] for i in chosen)
    keep = [k for k, r in enumerate(results) if r.in_service_s > 0]
    in_service = tuple(in_service[k] for k in keep)
    results = [results[k] for k in keep]
    quality = quality_table(in_service, inputs.rollups)
    results = [_with_quality(r, quality, k) for k, r in enumerate(results)]
    outages = sorted((o for r in results for o in r.outages), key=lambda o: (o.start_ns, o.terminal))
    mass = {v: int(prepared.mass[vi, first:end].sum()) for vi, v in enumerate(prepared.vantages)}
    return MonthReport(
        period=period,
        rule=rule,
        terminals=in_service,
        results=tuple(results),
        groups=aggregate(
            in_service, results, quality, targets or {}, default_target, DIMENSIONS, min_measured_share
        ),
        outages=tuple(outages),
        vantages=prepared.vantages,
        mass_event_intervals=mass,
        targets=dict(targets or {}),
        default_target=default_target,
        warnings=tuple(prepared.warnings),
        quality=quality,
        min_measured_share=min_measured_share,
    )


def _with_quality(r: TerminalAvailability, quality: QualityTable, k: int) -> TerminalAvailability:
    from dataclasses import replace

    return replace(r, quality=quality.accumulator([k]).figures())


def rule_kinds(rule: Rule) -> tuple[ProbeKind, ...]:
    return rule.kinds or tuple(ProbeKind)


def gather_inputs(source: SlaSource, terminals: Sequence[Terminal], rule: Rule, period: Period) -> SlaInputs:
    """Ask a store for what ``compute_month`` needs (problem rows, rollups, heartbeats, pooled hours)."""
    window = window_for(rule, period)
    kinds = rule_kinds(rule)
    ids = sorted(t.id for t in terminals)
    # the three questions are independent: asked at once, a server store answers them on all its cores
    # while this process decodes (InfluxDB, 1,820 terminals: the phases one after the other left one
    # of two cores idle for seconds); the journal serialises them on its connection lock
    with ThreadPoolExecutor(max_workers=3) as pool:
        asked_problems = pool.submit(source.problem_samples, window.start_ns, window.end_ns, kinds)
        asked_rollups = pool.submit(
            source.rollups, window.start_ns, window.end_ns, kinds, ids, (period.start_ns, period.end_ns)
        )
        asked_heartbeats = pool.submit(
            source.sla_heartbeats, window.start_ns - HEARTBEAT_LEAD_NS, window.end_ns
        )
        problems, rollups = asked_problems.result(), asked_rollups.result()
        heartbeats = asked_heartbeats.result()
    keys = sorted(set(pooling_keys(rule, problems, rollups)) | set(presence_edge_keys(rollups)))
    details = source.hour_samples(keys, kinds) if keys else SampleColumns.empty()
    # the stores' reads (decoded days, concatenations, on several threads) leave freed pages resident,
    # under the engine's own arrays: return them first (at 20,000 terminals up to ~1 GB)
    release_free_memory()
    return SlaInputs(window.start_ns, window.end_ns, problems, rollups, heartbeats, details)


def report_month(
    source: SlaSource,
    terminals: Sequence[Terminal],
    rule: Rule,
    period: Period,
    maintenance: Sequence[MaintenanceWindow] = (),
    targets: Mapping[str, float] | None = None,
    default_target: float | None = None,
    **kwargs: Any,
) -> MonthReport:
    inputs = gather_inputs(source, terminals, rule, period)
    return compute_month(terminals, rule, period, inputs, maintenance, targets, default_target, **kwargs)

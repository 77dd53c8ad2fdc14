"""The availability report as JSON: a stable, documented contract (``"schema": "slaprobe.report/1"``).

Determinism: keys in the order below, lists in the order stated, no time of generation, no store name;
integers for every duration (seconds); percentages rounded once, half-even (``availability`` to 4
decimals from exact integers, KPIs as ``sla/kpi.py`` states). The same month read from the journal and
from InfluxDB therefore renders to the same bytes. ``null`` means "could not be judged", never 0.

Top level::

    schema        "slaprobe.report/1"
    month         "2022-12" (the period label)
    timezone      IANA zone the month is cut in (default "Asia/Shanghai")
    period        {start, end: ISO 8601 with offset; start_ns, end_ns: UTC ns; end exclusive}
    rule          the active availability rule (sla/rule.py Rule.to_dict)
    filters       {"carrier": .., "region": ..} when the report was restricted, else {}
    targets       {tier: percent}, plus "default" when a default target is set
    excluded      {in_service_s, maintenance_s, unknown_s, judged_s, not_judged_pct,
                   mass_event_intervals: {vantage: count}}  (province totals)
    province      group object (below)
    carriers, regions, levels, tiers   lists of group objects, sorted by key
    terminals     terminal objects sorted by terminal id
    outages       outage objects sorted by start, then terminal
    vantages      probe hosts seen, sorted
    warnings      strings (cycle longer than Δt, mass events ...)

Group object: ``key, terminals (in service in the period), availability (percent or null),
available_s, unavailable_s, unknown_s, maintenance_s, in_service_s, downtime_s (= unavailable_s),
outages, mttr_s, mtbf_s (null without outages), below_target, worst_terminal, worst_availability,
high_loss_intervals, consecutive_high_loss, quality``.

Terminal object: ``terminal, name, carrier, region, level, tier, availability, available_s,
unavailable_s, unknown_s, maintenance_s, in_service_s, high_loss_intervals, consecutive_high_loss,
outages (count), below_target (bool, or null without a target / without judged time), quality``.

Quality object: ``loss_pct, rtt_p50_ms, rtt_p95_ms, jitter_p95_ms, mos, y1541_class0_pct``.

Outage object: ``terminal, carrier, region, start, end (ISO), start_ns, end_ns, duration_s (whole
outage, UNKNOWN/maintenance gaps excluded), period_s (its seconds inside this month), truncated (true
when it reaches the edge of the data looked at: the true start/end lie further out), evidence``:
a list of ``{start, vantage, sent, received, loss, note}`` per interval and vantage, sorted by time then
vantage; ``note`` is "" for measured counts or one of no_loss_recorded, not_measured, too_few_probes,
no_heartbeat, mass_event, not_probed (then ``sent``/``received`` are 0 and ``loss`` is null, except
too_few_probes which keeps the counts).
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from slaprobe.model import NS_PER_S
from slaprobe.sla.aggregate import availability_pct, below
from slaprobe.sla.engine import MonthReport
from slaprobe.sla.kpi import QUALITY_KEYS
from slaprobe.sla.types import GroupAvailability, Outage, TerminalAvailability

SCHEMA = "slaprobe.report/1"
_PLURAL = {"carrier": "carriers", "region": "regions", "level": "levels", "tier": "tiers"}


def iso(ns: int, report: MonthReport) -> str:
    seconds, rest = divmod(ns, NS_PER_S)
    moment = dt.datetime.fromtimestamp(seconds, report.period.tz)
    if rest:
        moment = moment.replace(microsecond=rest // 1000)
    return moment.isoformat()


def _pct(available_s: int, measured_s: int) -> float | None:
    value = availability_pct(available_s, measured_s)
    return None if value is None else float(value)


def _quality(q: dict[str, float | None]) -> dict[str, float | None]:
    return {k: q.get(k) for k in QUALITY_KEYS}


def group_dict(g: GroupAvailability) -> dict[str, Any]:
    e = g.extra
    return {
        "key": g.key,
        "terminals": g.terminals,
        "availability": _pct(g.available_s, g.available_s + g.unavailable_s),
        "available_s": g.available_s,
        "unavailable_s": g.unavailable_s,
        "unknown_s": g.unknown_s,
        "maintenance_s": g.maintenance_s,
        "in_service_s": int(e.get("in_service_s") or 0),
        "downtime_s": g.unavailable_s,
        "outages": g.outages,
        "mttr_s": e.get("mttr_s"),
        "mtbf_s": e.get("mtbf_s"),
        "below_target": g.below_target,
        "worst_terminal": g.worst_terminal,
        "worst_availability": g.worst_availability,
        "high_loss_intervals": int(e.get("high_loss_intervals") or 0),
        "consecutive_high_loss": int(e.get("consecutive_high_loss") or 0),
        "quality": _quality(e),
    }


def terminal_dict(report: MonthReport, index: int) -> dict[str, Any]:
    t, r = report.terminals[index], report.results[index]
    target = report.targets.get(t.tier, report.default_target)
    below_target = None
    if target is not None and r.measured_s:
        below_target = below(r.available_s, r.measured_s, target)
    return {
        "terminal": t.id,
        "name": t.name,
        "carrier": t.carrier,
        "region": t.region,
        "level": t.level.value,
        "tier": t.tier,
        "availability": _pct(r.available_s, r.measured_s),
        "available_s": r.available_s,
        "unavailable_s": r.unavailable_s,
        "unknown_s": r.unknown_s,
        "maintenance_s": r.maintenance_s,
        "in_service_s": r.in_service_s,
        "high_loss_intervals": r.high_loss_intervals,
        "consecutive_high_loss": r.consecutive_high_loss,
        "outages": len(r.outages),
        "below_target": below_target,
        "quality": _quality(r.quality),
    }


def outage_dict(report: MonthReport, o: Outage) -> dict[str, Any]:
    return {
        "terminal": o.terminal,
        "carrier": o.carrier,
        "region": o.region,
        "start": iso(o.start_ns, report),
        "end": iso(o.end_ns, report),
        "start_ns": o.start_ns,
        "end_ns": o.end_ns,
        "duration_s": o.duration_s,
        "period_s": o.period_s,
        "truncated": o.truncated,
        "evidence": [
            {
                "start": iso(e.start_ns, report),
                "vantage": e.vantage,
                "sent": e.sent,
                "received": e.received,
                "loss": round(1 - e.received / e.sent, 4)
                if e.sent and e.note in ("", "too_few_probes")
                else None,
                "note": e.note,
            }
            for e in o.evidence
        ],
    }


def excluded_dict(report: MonthReport) -> dict[str, Any]:
    p = report.province
    judged = p.available_s + p.unavailable_s
    in_service = int(p.extra.get("in_service_s") or 0)
    return {
        "in_service_s": in_service,
        "maintenance_s": p.maintenance_s,
        "unknown_s": p.unknown_s,
        "judged_s": judged,
        "not_judged_pct": _pct(in_service - judged, in_service),
        "mass_event_intervals": {
            v: report.mass_event_intervals[v] for v in sorted(report.mass_event_intervals)
        },
    }


def report_dict(report: MonthReport) -> dict[str, Any]:
    targets: dict[str, Any] = {k: report.targets[k] for k in sorted(report.targets)}
    if report.default_target is not None:
        targets["default"] = report.default_target
    out: dict[str, Any] = {
        "schema": SCHEMA,
        "month": report.period.label,
        "timezone": report.period.timezone,
        "period": {
            "start": iso(report.period.start_ns, report),
            "end": iso(report.period.end_ns, report),
            "start_ns": report.period.start_ns,
            "end_ns": report.period.end_ns,
        },
        "rule": report.rule.to_dict(),
        "filters": dict(sorted(report.filters.items())),
        "targets": targets,
        "excluded": excluded_dict(report),
        "province": group_dict(report.province),
    }
    for dimension, plural in _PLURAL.items():
        out[plural] = [group_dict(g) for g in report.groups if g.dimension == dimension]
    out["terminals"] = [terminal_dict(report, i) for i in range(len(report.terminals))]
    out["outages"] = [outage_dict(report, o) for o in report.outages]
    out["vantages"] = list(report.vantages)
    out["warnings"] = list(report.warnings)
    return out


def render_json(report: MonthReport) -> str:
    """Compact UTF-8 JSON, one line (the C encoder: a month of outages is megabytes), plus a newline."""
    return json.dumps(report_dict(report), ensure_ascii=False, separators=(",", ":")) + "\n"


def terminal_month_results(report: MonthReport) -> dict[str, TerminalAvailability]:
    """The per-terminal figures keyed by id: what the money side's availability hand-over needs."""
    return {r.terminal: r for r in report.results}

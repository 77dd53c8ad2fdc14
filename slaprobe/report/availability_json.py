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
    warnings      strings (cycle longer than Δt, mass events, measured share below the minimum ...)
    coverage      (added in slaprobe.report/1, after "warnings") how much of the month was judged:
                  {min_measured_pct: the configured minimum (sla.min_measured_share) in percent,
                   measured_pct: province judged / (in service - maintenance), percent truncated to 4
                   decimals (null when nothing counts), sufficient: measured_pct >= min (exact),
                   terminals_insufficient: terminals below the minimum, warning: the text also printed
                   on stderr and in "warnings", or null}

Group object: ``key, terminals (in service in the period), availability (percent or null),
available_s, unavailable_s, unknown_s, maintenance_s, in_service_s, downtime_s (= unavailable_s),
outages, mttr_s, mtbf_s (null without outages), below_target (terminals with enough measured time and
availability below their target), worst_terminal, worst_availability, high_loss_intervals,
consecutive_high_loss, quality``; added: ``judged_s`` (available_s + unavailable_s), ``measured_pct``
(judged / (in service - maintenance), percent truncated to 4 decimals, null when nothing counts),
``insufficient_data`` (terminals whose measured share is below the minimum: neither met nor below).

Terminal object: ``terminal, name, carrier, region, level, tier, availability, available_s,
unavailable_s, unknown_s, maintenance_s, in_service_s, high_loss_intervals, consecutive_high_loss,
outages (count), below_target (bool, or null without a target / with insufficient data), quality``;
added: ``judged_s``, ``measured_pct`` (as for groups), ``target_status``: "met", "below",
"insufficient_data" (measured share below the minimum: never "met") or "no_target".

Quality object: ``loss_pct, rtt_p50_ms, rtt_p95_ms, jitter_p95_ms, mos, y1541_class0_pct``.

Outage object: ``terminal, carrier, region, start, end (ISO), start_ns, end_ns, duration_s (whole
outage, UNKNOWN/maintenance gaps excluded), period_s (its seconds inside this month), truncated (true
when it reaches the edge of the data looked at: the true start/end lie further out), evidence``:
a list of ``{start, vantage, sent, received, loss, note}`` per interval and vantage, sorted by time then
vantage; ``note`` is "" for measured counts or one of no_loss_recorded, not_measured, too_few_probes,
no_heartbeat, reference_failed, unstored, nothing_probed (a heartbeat existed but vouched for nothing:
the probe host's reference targets all failed / the store refused some of its samples / it probed
nothing), mass_event, not_probed (then ``sent``/``received`` are 0 and ``loss`` is null, except
too_few_probes which keeps the counts).
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import ROUND_DOWN, Decimal
from typing import Any

from slaprobe.model import NS_PER_S
from slaprobe.sla.aggregate import availability_pct, counted_s, sufficient, target_status
from slaprobe.sla.engine import MonthReport
from slaprobe.sla.kpi import QUALITY_KEYS
from slaprobe.sla.types import GroupAvailability, Outage

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


def measured_pct(judged: int, counted: int) -> float | None:
    """The measured share in percent, truncated (89.99999 % never prints as a sufficient 90.0000)."""
    if counted <= 0:
        return None
    value = Decimal(100 * judged) / Decimal(counted)
    return float(value.quantize(Decimal("0.0001"), rounding=ROUND_DOWN))


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
        "judged_s": g.available_s + g.unavailable_s,
        "measured_pct": measured_pct(g.available_s + g.unavailable_s, _counted(g)),
        "insufficient_data": int(e.get("insufficient_data") or 0),
    }


def _counted(g: GroupAvailability) -> int:
    return counted_s(int(g.extra.get("in_service_s") or 0), g.maintenance_s)


def terminal_dict(report: MonthReport, index: int) -> dict[str, Any]:
    t, r = report.terminals[index], report.results[index]
    target = report.targets.get(t.tier, report.default_target)
    counted = counted_s(r.in_service_s, r.maintenance_s)
    status = target_status(r.available_s, r.measured_s, counted, target, report.min_measured_share)
    below_target = {"met": False, "below": True}.get(status)
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
        "judged_s": r.measured_s,
        "measured_pct": measured_pct(r.measured_s, counted),
        "target_status": status,
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


def coverage_dict(report: MonthReport) -> dict[str, Any]:
    p = report.province
    judged, counted = p.available_s + p.unavailable_s, _counted(p)
    short = int(p.extra.get("insufficient_data") or 0)
    return {
        "min_measured_pct": round(100 * report.min_measured_share, 4),
        "measured_pct": measured_pct(judged, counted),
        "sufficient": sufficient(judged, counted, report.min_measured_share),
        "terminals_insufficient": short,
        "warning": coverage_warning(report),
    }


def coverage_warning(report: MonthReport) -> str | None:
    """The loud line for a month judged on too little of its time (None when the share is enough)."""
    p = report.province
    judged, counted = p.available_s + p.unavailable_s, _counted(p)
    if sufficient(judged, counted, report.min_measured_share) and not p.extra.get("insufficient_data"):
        return None
    share = measured_pct(judged, counted)
    short = int(p.extra.get("insufficient_data") or 0)
    return (
        f"WARNING {report.period.label}: measured share {'-' if share is None else share} % of the "
        f"in-service time (minimum {round(100 * report.min_measured_share, 4)} %); {short} of "
        f"{p.terminals} terminals have insufficient data: their targets are neither met nor missed"
    )


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
    coverage = coverage_dict(report)
    out["warnings"] = list(report.warnings) + ([coverage["warning"]] if coverage["warning"] else [])
    out["coverage"] = coverage
    return out


def render_json(report: MonthReport) -> str:
    """Compact UTF-8 JSON, one line (the C encoder: a month of outages is megabytes), plus a newline."""
    return json.dumps(report_dict(report), ensure_ascii=False, separators=(",", ":")) + "\n"

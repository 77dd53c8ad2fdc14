"""Renderers of ``slaprobe outages``: table, CSV, JSON (``slaprobe.outages/1``) and xlsx.

One row per outage, with what a carrier needs to check it: terminal, site, carrier, region, start and end
(UTC and local), unavailable seconds, status (``open`` or ``resolved``), the vantages that saw it, and the
evidence summarised (intervals with packet counts, packets sent and received over them, other notes). JSON
and the xlsx "evidence" sheet carry every interval of the evidence (per vantage: sent, received, note),
exactly as the month report's JSON does.

JSON fields per outage: terminal, name, carrier, region, level, tier, status, start, end (null when
open), start_ns, end_ns (null when open), last_judged (end of the last judged interval), start_local,
end_local, duration_s (judged unavailable seconds), vantages, sent, received, evidence [{start, vantage,
sent, received, loss, note}].
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from slaprobe.model import NS_PER_S
from slaprobe.outages import OutageList
from slaprobe.sla.types import Outage

SCHEMA = "slaprobe.outages/1"
_MEASURED = ("", "too_few_probes")  # evidence notes of intervals with packet counts
COLUMNS = (
    "terminal", "name", "carrier", "region", "level", "tier", "status", "start", "end", "start_local",
    "end_local", "duration_s", "vantages", "sent", "received", "evidence",
)  # fmt: skip


def _utc(ns: int | None) -> str | None:
    if ns is None:
        return None
    return dt.datetime.fromtimestamp(ns / NS_PER_S, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _local(ns: int | None, tz: ZoneInfo) -> str | None:
    if ns is None:
        return None
    return dt.datetime.fromtimestamp(ns / NS_PER_S, tz).isoformat(timespec="seconds")


def _summary(o: Outage) -> str:
    measured = [e for e in o.evidence if e.note in ("", "too_few_probes")]
    notes = Counter(e.note for e in o.evidence if e.note not in ("", "too_few_probes"))
    parts = [f"{len(measured)} interval(s) measured"]
    parts += [f"{n} {note}" for note, n in sorted(notes.items())]
    return ", ".join(parts)


def outage_record(lst: OutageList, o: Outage) -> dict[str, Any]:
    tz = ZoneInfo(lst.timezone)
    t = lst.terminals.get(o.terminal)
    end = None if o.ongoing else o.end_ns
    measured = [e for e in o.evidence if e.note in ("", "too_few_probes")]
    return {
        "terminal": o.terminal,
        "name": t.name if t else "",
        "carrier": o.carrier,
        "region": o.region,
        "level": str(t.level) if t else "",
        "tier": t.tier if t else "",
        "status": "open" if o.ongoing else "resolved",
        "start": _utc(o.start_ns),
        "end": _utc(end),
        "start_ns": o.start_ns,
        "end_ns": end,
        "last_judged": _utc(o.end_ns),
        "start_local": _local(o.start_ns, tz),
        "end_local": _local(end, tz),
        "duration_s": o.duration_s,
        "vantages": sorted({e.vantage for e in o.evidence}),
        "sent": sum(e.sent for e in measured),
        "received": sum(e.received for e in measured),
        "evidence_summary": _summary(o),
        "evidence": [
            {
                "start": _utc(e.start_ns),
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


def render_json(lst: OutageList) -> str:
    doc = {
        "schema": SCHEMA,
        "since": _utc(lst.since_ns),
        "until": _utc(lst.until_ns),
        "timezone": lst.timezone,
        "rule": lst.rule,
        "source": lst.source,
        "filters": lst.filters,
        "open": sum(1 for o in lst.outages if o.ongoing),
        "outages": [outage_record(lst, o) for o in lst.outages],
    }
    return json.dumps(doc, ensure_ascii=False, indent=2) + "\n"


def _flat(lst: OutageList) -> list[list[Any]]:
    rows = []
    for o in lst.outages:
        r = outage_record(lst, o)
        rows.append(
            [
                r["terminal"], r["name"], r["carrier"], r["region"], r["level"], r["tier"], r["status"],
                r["start"], r["end"] or "", r["start_local"], r["end_local"] or "", r["duration_s"],
                " ".join(r["vantages"]), r["sent"], r["received"], r["evidence_summary"],
            ]
        )  # fmt: skip
    return rows


def render_csv(lst: OutageList) -> str:
    from slaprobe.report.xlsx import csv_text

    return csv_text([list(COLUMNS), *_flat(lst)])


def render_table(lst: OutageList) -> str:
    head = (
        f"Outages {_utc(lst.since_ns)} .. {_utc(lst.until_ns)} ({lst.timezone}); rule {lst.rule}\n"
        f"source: {lst.source}"
        + (f"; filters: {', '.join(f'{k}={v}' for k, v in lst.filters.items())}" if lst.filters else "")
        + f"\n{len(lst.outages)} outage(s), {sum(1 for o in lst.outages if o.ongoing)} open\n"
    )
    if not lst.outages:
        return head
    cols = ("terminal", "carrier", "region", "status", "start", "end", "duration_s", "evidence")
    pick = [COLUMNS.index(c) for c in cols]
    rows = [[str(r[i]) for i in pick] for r in _flat(lst)]
    widths = [max(len(c), *(len(r[k]) for r in rows)) for k, c in enumerate(cols)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(cols, widths, strict=True))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in rows]
    return head + "\n".join(lines) + "\n"


def write_xlsx(lst: OutageList, out: str | Path) -> None:
    """Two sheets: the outages (one row each) and their evidence (one row per interval and vantage)."""
    from slaprobe.report.xlsx import Fmt, Sheet, write_workbook

    evidence = []
    for o in lst.outages:
        for e in outage_record(lst, o)["evidence"]:
            evidence.append([o.terminal, _utc(o.start_ns), e["start"], e["vantage"], e["sent"], e["received"],
                             e["loss"], e["note"]])  # fmt: skip
    notes = (f"rule: {lst.rule}", f"source: {lst.source}", f"times in UTC; local time zone {lst.timezone}")
    write_workbook(
        out,
        [
            Sheet("outages", list(COLUMNS), _flat(lst), {"duration_s": Fmt.INTEGER}, notes),
            Sheet(
                "evidence",
                ["terminal", "outage_start", "interval", "vantage", "sent", "received", "loss", "note"],
                evidence,
                {"loss": Fmt.PERCENT},
            ),
        ],
    )

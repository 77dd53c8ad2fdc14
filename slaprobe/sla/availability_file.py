"""Monthly availability as a JSON-lines file: the hand-over between the SLA engine and the money side.

One object per terminal-month with the ``TerminalAvailability`` fields money and evaluation read
(outages without their per-interval evidence), plus ``month`` ("2022-03"). A line with only ``month``
declares a month that was computed and had no terminal in it, so "computed, empty" differs from
"forgotten" (reconciliation refuses a year with a forgotten month).

It lets a year be settled from stored results (``slaprobe reconcile --availability FILE``) without
recomputing twelve months of samples, and lets a carrier re-run the settlement from the same figures.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from slaprobe.configload import ConfigError
from slaprobe.sla.periods import Month
from slaprobe.sla.reconcile import MonthlyAvailability
from slaprobe.sla.types import Outage, TerminalAvailability

_INT_FIELDS = (
    "period_start_ns",
    "period_end_ns",
    "interval_s",
    "in_service_s",
    "maintenance_s",
    "unknown_s",
    "available_s",
    "unavailable_s",
    "high_loss_intervals",
)


def availability_lines(data: MonthlyAvailability) -> Iterator[str]:
    for month in sorted(data):
        terminals = data[month]
        if not terminals:
            yield json.dumps({"month": str(month)})
        for tid in sorted(terminals):
            ta = terminals[tid]
            rec: dict[str, Any] = {"month": str(month), "terminal": ta.terminal}
            rec.update({k: getattr(ta, k) for k in _INT_FIELDS})
            rec["outages"] = [
                {
                    "start_ns": o.start_ns,
                    "end_ns": o.end_ns,
                    "duration_s": o.duration_s,
                    "carrier": o.carrier,
                    "region": o.region,
                }
                for o in ta.outages
            ]
            yield json.dumps(rec, ensure_ascii=False)


def write_availability(path: str | Path, data: MonthlyAvailability) -> None:
    with Path(path).open("w", encoding="utf-8") as f:
        for line in availability_lines(data):
            f.write(line + "\n")


def read_availability(path: str | Path) -> dict[Month, dict[str, TerminalAvailability]]:
    """Parse the file; raise ConfigError naming every bad line."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(str(p), [f"cannot read: {exc.strerror or exc}"]) from exc
    out: dict[Month, dict[str, TerminalAvailability]] = {}
    problems: list[str] = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
            month = Month.parse(str(rec["month"]))
            terminals = out.setdefault(month, {})
            if "terminal" not in rec:
                continue
            ta = _terminal_month(rec)
        except (ValueError, KeyError, TypeError) as exc:
            problems.append(f"line {number}: {type(exc).__name__}: {exc}")
            continue
        if ta.terminal in terminals:
            problems.append(f"line {number}: {ta.terminal} appears twice for {month}")
        terminals[ta.terminal] = ta
    if problems:
        raise ConfigError(str(p), problems)
    return out


def _terminal_month(rec: Mapping[str, Any]) -> TerminalAvailability:
    ints = {}
    for k in _INT_FIELDS:
        v = rec[k]
        if not isinstance(v, int) or isinstance(v, bool):
            raise TypeError(f"{k} must be an integer, got {v!r}")
        ints[k] = v
    outages = tuple(
        Outage(
            str(rec["terminal"]),
            int(o["start_ns"]),
            int(o["end_ns"]),
            int(o["duration_s"]),
            str(o.get("carrier", "")),
            str(o.get("region", "")),
        )
        for o in rec.get("outages", ())
    )
    return TerminalAvailability(str(rec["terminal"]), outages=outages, **ints)

"""Announced maintenance windows: loaded from YAML, applied to a terminal's intervals.

File format (times are local to the reporting time zone unless they carry an offset)::

    windows:
      - start: "2022-12-10 02:00"
        end: "2022-12-10 04:00"        # exclusive
        carriers: [telecom]            # any of terminals / regions / carriers / all: true
        regions: []
        terminals: []
        reason: core router upgrade

A window applies to a terminal when it names the terminal, its region or its carrier (or ``all: true``).
Every interval that *overlaps* a window is maintenance: the carrier announced the work, so the interval
in which it began or ended is not held against it. Maintenance is excluded from the denominator and
shown in the report; the availability rule skips it like UNKNOWN time.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import yaml

from slaprobe.configload import parse_yaml, yaml_problem
from slaprobe.model import NS_PER_S
from slaprobe.terminal import Terminal
from slaprobe.textio import TextEncodingError, read_text


class MaintenanceError(ValueError):
    """A maintenance file entry that cannot be used; names file, entry and key."""


@dataclass(frozen=True, slots=True)
class MaintenanceWindow:
    start_ns: int
    end_ns: int
    terminals: frozenset[str] = frozenset()
    regions: frozenset[str] = frozenset()
    carriers: frozenset[str] = frozenset()
    all: bool = False
    reason: str = ""

    def applies_to(self, t: Terminal) -> bool:
        return self.all or t.id in self.terminals or t.region in self.regions or t.carrier in self.carriers


_KEYS = {"start", "end", "terminals", "regions", "carriers", "all", "reason"}


def _when(value: Any, tz: ZoneInfo, where: str) -> int:
    if isinstance(value, dt.datetime):
        moment = value
    elif isinstance(value, dt.date):
        moment = dt.datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        try:
            moment = dt.datetime.fromisoformat(value.strip())
        except ValueError:
            raise MaintenanceError(f"{where}: {value!r} is not an ISO date-time") from None
    else:
        raise MaintenanceError(f"{where}: {value!r} is not a date-time")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz)
    return int(moment.timestamp()) * NS_PER_S + moment.microsecond * 1000


def _names(value: Any, where: str) -> frozenset[str]:
    if value is None:
        return frozenset()
    if isinstance(value, str | int):
        return frozenset({str(value)})
    if isinstance(value, list):
        return frozenset(str(v) for v in value)
    raise MaintenanceError(f"{where}: expected a list of names, got {value!r}")


def parse_windows(data: Any, tz: ZoneInfo, source: str = "<maintenance>") -> tuple[MaintenanceWindow, ...]:
    if data is None:
        return ()
    if not isinstance(data, dict) or set(data) - {"windows"}:
        raise MaintenanceError(f"{source}: expected a mapping with the single key 'windows'")
    entries = data.get("windows") or []
    if not isinstance(entries, list):
        raise MaintenanceError(f"{source}: 'windows' must be a list")
    out = []
    for i, entry in enumerate(entries):
        where = f"{source}: windows[{i}]"
        if not isinstance(entry, dict):
            raise MaintenanceError(f"{where}: expected a mapping")
        unknown = set(entry) - _KEYS
        if unknown:
            raise MaintenanceError(f"{where}: unknown key(s) {', '.join(sorted(map(str, unknown)))}")
        for key in ("start", "end"):
            if key not in entry:
                raise MaintenanceError(f"{where}: '{key}' is required")
        start = _when(entry["start"], tz, f"{where}.start")
        end = _when(entry["end"], tz, f"{where}.end")
        if end <= start:
            raise MaintenanceError(f"{where}: end must be after start")
        w = MaintenanceWindow(
            start_ns=start,
            end_ns=end,
            terminals=_names(entry.get("terminals"), f"{where}.terminals"),
            regions=_names(entry.get("regions"), f"{where}.regions"),
            carriers=_names(entry.get("carriers"), f"{where}.carriers"),
            all=bool(entry.get("all", False)),
            reason=str(entry.get("reason", "")),
        )
        if not (w.all or w.terminals or w.regions or w.carriers):
            raise MaintenanceError(f"{where}: names no terminals, regions or carriers (use all: true)")
        out.append(w)
    return tuple(out)


def load_maintenance(path: str | Path, tz: ZoneInfo) -> tuple[MaintenanceWindow, ...]:
    p = Path(path)
    try:
        data = parse_yaml(read_text(p))
    except OSError as exc:
        raise MaintenanceError(f"{p}: cannot read: {exc.strerror or exc}") from None
    except TextEncodingError as exc:
        raise MaintenanceError(str(exc)) from None
    except yaml.YAMLError as exc:
        raise MaintenanceError(f"{p}: {yaml_problem(exc)}") from None
    return parse_windows(data, tz, str(p))


def dump_windows(windows: Iterable[MaintenanceWindow], tz: ZoneInfo) -> str:
    """YAML text for windows (used by the synthetic month generator)."""
    entries = []
    for w in windows:
        entry: dict[str, Any] = {
            "start": dt.datetime.fromtimestamp(w.start_ns / NS_PER_S, tz).isoformat(),
            "end": dt.datetime.fromtimestamp(w.end_ns / NS_PER_S, tz).isoformat(),
        }
        for key in ("terminals", "regions", "carriers"):
            if getattr(w, key):
                entry[key] = sorted(getattr(w, key))
        if w.all:
            entry["all"] = True
        if w.reason:
            entry["reason"] = w.reason
        entries.append(entry)
    return yaml.safe_dump({"windows": entries}, allow_unicode=True, sort_keys=False)


def maintenance_mask(
    windows: Sequence[MaintenanceWindow], terminal: Terminal, start_ns: int, interval_ns: int, count: int
) -> np.ndarray:
    """Boolean mask over ``count`` intervals from ``start_ns``: True where a window overlaps."""
    mask = np.zeros(count, dtype=bool)
    for w in windows:
        if not w.applies_to(terminal):
            continue
        first = max(0, (w.start_ns - start_ns) // interval_ns)
        last = min(count, -(-(w.end_ns - start_ns) // interval_ns))  # ceil
        if last > first:
            mask[first:last] = True
    return mask

"""Announced maintenance windows as the alerting side sees them: suppression and Alertmanager silences.

The windows are the very file the month report uses (``sla.maintenance``), re-read when it changes, so
an operator adding a window tonight silences tonight's alerts without a restart, and the alert and the
report agree on what was announced.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from slaprobe.alerts.messages import ALERTNAMES
from slaprobe.live.events import EventKind
from slaprobe.sla.maintenance import MaintenanceError, MaintenanceWindow, load_maintenance

log = logging.getLogger(__name__)


class MaintenanceSource:
    """The windows of one file, re-loaded when its mtime changes; a broken file keeps the last good list."""

    def __init__(self, path: Path | None, tz: ZoneInfo) -> None:
        self.path = path
        self.tz = tz
        self._mtime: float | None = None
        self._windows: tuple[MaintenanceWindow, ...] = ()

    def windows(self) -> tuple[MaintenanceWindow, ...]:
        if self.path is None:
            return ()
        try:
            mtime = self.path.stat().st_mtime
        except OSError:
            return self._windows
        if mtime != self._mtime:
            self._mtime = mtime
            try:
                self._windows = load_maintenance(self.path, self.tz)
            except MaintenanceError as exc:
                log.error(
                    "alerts: maintenance file not (re)loaded, keeping %d windows: %s", len(self._windows), exc
                )
        return self._windows


def applies(w: MaintenanceWindow, labels: Mapping[str, str], key: str) -> bool:
    return (
        w.all
        or (labels.get("terminal") or key) in w.terminals
        or labels.get("region", "") in w.regions
        or labels.get("carrier", "") in w.carriers
    )


def in_maintenance(
    windows: tuple[MaintenanceWindow, ...], labels: Mapping[str, str], key: str, t_ns: int
) -> bool:
    return any(w.start_ns <= t_ns < w.end_ns and applies(w, labels, key) for w in windows)


def _regex(names: frozenset[str]) -> str:
    return "|".join(re.escape(n) for n in sorted(names))


def silence_specs(w: MaintenanceWindow) -> list[tuple[str, list[dict[str, Any]]]]:
    """The silences one window needs, each as (stable id, matchers).

    A window applies to a terminal named OR in a named region OR of a named carrier; Alertmanager's
    matchers are ANDed, so each named dimension becomes its own silence. Only terminal-outage alerts
    are silenced: a probe-host problem during the carrier's work is still ours to fix.
    """
    base = {
        "name": "alertname",
        "value": ALERTNAMES[EventKind.TERMINAL_OUTAGE],
        "isRegex": False,
        "isEqual": True,
    }
    dims = [("terminal", w.terminals), ("region", w.regions), ("carrier", w.carriers)]
    out: list[tuple[str, list[dict[str, Any]]]] = []
    if w.all:
        dims = [("all", frozenset({"*"}))]
    for label, names in dims:
        if not names:
            continue
        raw = f"{w.start_ns}|{w.end_ns}|{label}|{','.join(sorted(names))}"
        wid = hashlib.sha1(raw.encode()).hexdigest()[:16]
        matchers = [base]
        if label != "all":
            matchers = [base, {"name": label, "value": _regex(names), "isRegex": True, "isEqual": True}]
        out.append((wid, matchers))
    return out

"""Built-in event sinks: a log line per event, and a JSON-lines file, so live outages are observable
without Alertmanager (delivery to Alertmanager, webhooks and SMTP lives in its own modules).

Both follow the ``EventSink`` contract: ``publish`` returns at once and never raises. A file that cannot
be written is logged (with its path and the error) and the events it missed are counted, never lost
silently: they are still in the log line of the LogSink and in the tracker's state.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from slaprobe.live.events import LiveEvent
from slaprobe.model import NS_PER_S

log = logging.getLogger("slaprobe.live")


def iso(ns: int | None) -> str | None:
    if ns is None:
        return None
    return dt.datetime.fromtimestamp(ns / NS_PER_S, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def event_to_dict(event: LiveEvent) -> dict[str, Any]:
    """The JSON shape of an event (``live.events_file`` lines): times as UTC ISO and as ns."""
    return {
        "kind": event.kind.value,
        "status": "firing" if event.firing else "resolved",
        "key": event.key,
        "vantage": event.vantage,
        "start": iso(event.start_ns),
        "end": iso(event.end_ns),
        "start_ns": event.start_ns,
        "end_ns": event.end_ns,
        "at": iso(event.at_ns) if event.at_ns else None,
        "at_ns": event.at_ns,
        "labels": dict(event.labels),
        "evidence": dict(event.evidence),
        "summary": event.summary,
    }


class LogSink:
    """One INFO line per event, with the event's fields as structured extras (JSON logs carry them)."""

    def publish(self, events: Sequence[LiveEvent]) -> None:
        for event in events:
            try:
                fields = event_to_dict(event)
                extra = {
                    "event": fields["kind"],
                    "status": fields["status"],
                    "key": event.key,
                    "start": fields["start"],
                    "end": fields["end"],
                }
                log.info("live %s %s: %s", fields["kind"], fields["status"], event.summary, extra=extra)
            except Exception:  # a sink never raises into the daemon
                log.exception("live: cannot log an event")


class JsonLinesSink:
    """Appends each event as one JSON object per line to ``path`` (opened per batch: rotation-safe)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.written = 0
        self.failed = 0  # events that could not be written (logged with the cause)

    def publish(self, events: Sequence[LiveEvent]) -> None:
        if not events:
            return
        try:
            lines = "".join(json.dumps(event_to_dict(e), ensure_ascii=False) + "\n" for e in events)
            with self.path.open("a", encoding="utf-8") as fh:
                fh.write(lines)
            self.written += len(events)
        except Exception as exc:
            self.failed += len(events)
            log.error(
                "live.events_file %s: %d event(s) not written (%s: %s); %d missed in all",
                self.path, len(events), type(exc).__name__, exc, self.failed,
            )  # fmt: skip


def read_events(path: str | Path) -> list[dict[str, Any]]:
    """The events of a ``live.events_file`` (for tests and tools); a bad line names the file and line."""
    out = []
    p = Path(path)
    for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise ValueError(f"{p}:{n}: not a JSON event line: {exc}") from None
    return out

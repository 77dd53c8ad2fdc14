"""What the live outage tracker tells the outside world: one small value type and one sink protocol.

The tracker (``slaprobe/live/tracker.py``) decides; sinks (Alertmanager, webhook, SMTP, metrics) deliver.
Keeping the event a plain frozen value means a sink can queue it, persist it as JSON and retry it later
without holding any reference into the daemon, and the tracker never waits for a receiver.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable


class EventKind(enum.StrEnum):
    """Whose fault: a carrier's terminal link, or our own probe host (never reported as a carrier outage)."""

    TERMINAL_OUTAGE = "terminal_outage"
    PROBE_HOST = "probe_host"


@dataclass(frozen=True, slots=True)
class LiveEvent:
    """One state change: an outage (or probe-host problem) starts firing, or is resolved.

    ``key`` identifies the alert across its life: the terminal id for a terminal outage, the vantage for a
    probe-host problem. ``start_ns`` is back-dated exactly as the month report dates the outage (first
    high-loss interval of the run); ``end_ns`` is set on the resolved event (exclusive, like ``Outage``).
    ``labels`` carry terminal, carrier, region, level, tier, vantage (all str); ``evidence`` short
    human-readable facts (loss per interval, reference-target results, heartbeat gap) for the ticket.
    """

    kind: EventKind
    firing: bool
    key: str
    vantage: str
    start_ns: int
    end_ns: int | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    evidence: Mapping[str, str] = field(default_factory=dict)
    summary: str = ""
    at_ns: int = 0  # when the tracker decided (for latency figures)


@runtime_checkable
class EventSink(Protocol):
    """Receives events; must return at once (queue and deliver elsewhere) and never raise."""

    def publish(self, events: Sequence[LiveEvent]) -> None: ...

"""Feeding a live tracker the way the daemon does: each cycle's stored samples, then its heartbeat."""

from __future__ import annotations

from collections.abc import Sequence

from slaprobe.live.events import LiveEvent
from slaprobe.live.tracker import LiveTracker
from slaprobe.model import NS_PER_S, Heartbeat, Sample


def cycles(
    samples: Sequence[Sample], heartbeats: Sequence[Heartbeat]
) -> list[tuple[list[Sample], Heartbeat]]:
    """Split stored rows into the daemon's write order: per cycle (heartbeat), the samples of its
    vantage dated before the cycle's end that no earlier cycle took, then the heartbeat."""
    pending = sorted(samples, key=lambda s: s.time_ns)
    beats = sorted(heartbeats, key=lambda h: (h.time_ns + round(h.interval_s * NS_PER_S), h.vantage, h.group))
    out: list[tuple[list[Sample], Heartbeat]] = []
    taken = [False] * len(pending)
    pos: dict[str, int] = {}
    for hb in beats:
        end = hb.time_ns + round(hb.interval_s * NS_PER_S)
        batch = []
        k = pos.get(hb.vantage, 0)
        while k < len(pending) and pending[k].time_ns < end:
            if not taken[k] and pending[k].vantage == hb.vantage:
                taken[k] = True
                batch.append(pending[k])
            k += 1
        pos[hb.vantage] = k
        out.append((batch, hb))
    return out


def feed_all(
    tracker: LiveTracker, samples: Sequence[Sample], heartbeats: Sequence[Heartbeat]
) -> list[LiveEvent]:
    events: list[LiveEvent] = []
    for batch, hb in cycles(samples, heartbeats):
        events += tracker.feed(batch, hb, now_ns=hb.time_ns + round(hb.interval_s * NS_PER_S))
    return events

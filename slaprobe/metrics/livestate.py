"""The live up/down state of each terminal as the tracker decided it, kept for ``/metrics``.

It is one more :class:`~slaprobe.live.events.EventSink`: the tracker's events are the only place the
state changes, so the gauge and the alerts cannot disagree. A terminal with an open outage is down
since the outage's (back-dated) start; one whose outage resolved is up since its end; any other
terminal is up since the tracker first judged an interval. While a probe-host problem of a vantage is
open, that vantage cannot vouch for anything: every terminal's state is *unknown* (NaN), as the report
counts those intervals UNKNOWN. Before the first judged interval nothing is known and no state is
exported at all.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from slaprobe.live.events import EventKind, LiveEvent


@dataclass(frozen=True, slots=True)
class TerminalState:
    up: float  # 1.0, 0.0 or NaN (unknown)
    since_ns: int | None


class LiveState:
    def __init__(self, judged: Callable[[], int | None]) -> None:
        """``judged()``: when the tracker judged its first interval (ns), None while it has not."""
        self._judged = judged
        self._down: dict[str, int] = {}  # terminal -> outage start
        self._up_since: dict[str, int] = {}  # terminal -> end of its last outage
        self._hosts: dict[str, int] = {}  # vantage -> probe-host problem start
        self._lock = threading.Lock()

    def publish(self, events: Sequence[LiveEvent]) -> None:
        with self._lock:
            for e in events:
                if e.kind is EventKind.PROBE_HOST:
                    if e.firing:
                        self._hosts[e.key] = e.start_ns
                    else:
                        self._hosts.pop(e.key, None)
                elif e.firing:
                    self._down[e.key] = e.start_ns
                    self._up_since.pop(e.key, None)
                else:
                    self._down.pop(e.key, None)
                    self._up_since[e.key] = e.end_ns or e.at_ns

    def state(self, terminal: str) -> TerminalState | None:
        """None while nothing is judged yet."""
        first = self._judged()
        if first is None and not self._down:
            return None
        with self._lock:
            if self._hosts:
                return TerminalState(float("nan"), min(self._hosts.values()))
            if terminal in self._down:
                return TerminalState(0.0, self._down[terminal])
            return TerminalState(1.0, self._up_since.get(terminal, first))

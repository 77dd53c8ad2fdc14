"""One terminal's unavailable state, advanced one judged interval at a time with the engine's hysteresis.

The month report decides states with ``sla.availability.hysteresis`` over a terminal's whole judged
sequence. Live, the sequence arrives one interval at a time, so a terminal keeps only what can still
change a decision: its state, the open outage (first and last unavailable interval, count), and the
current run of verdicts that *oppose* the state (shorter than n, else the state would have flipped).
Each step asks ``hysteresis`` itself about ``[n × state] + pending run + new verdict``: the n leading
copies of the state stand for the decisive run that set it, so the answer is the one the whole month's
sequence gives (a run shorter than n keeps the state; a run of n flips it, back-dated to the run's
first interval). Only judged intervals are fed: UNKNOWN and maintenance intervals never reach a run,
so they neither extend nor break it, as in the report.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from slaprobe.sla.availability import hysteresis


class Change(enum.Enum):
    ENTERED = "entered"  # the state became unavailable (back-dated to ``since``)
    LEFT = "left"  # the outage ``since`` .. ``last_down`` (inclusive) is over


@dataclass(slots=True)
class Pending:
    interval: int  # absolute interval index (time_ns // interval_ns)
    high: bool
    note: str = ""  # evidence of the interval ("probe-1 0/5"), kept for the event


@dataclass(slots=True)
class TerminalRun:
    """What survives between intervals (and daemon restarts) for one terminal."""

    down: bool = False
    since: int | None = None  # first interval of the open outage
    last_down: int | None = None  # last judged interval of the open outage
    down_count: int = 0  # judged unavailable intervals of the open outage so far (settled ones)
    pending: list[Pending] = field(default_factory=list)  # the run opposing the state (< n long)
    opening: list[Pending] = field(default_factory=list)  # the run that opened the outage (evidence)

    @property
    def trivial(self) -> bool:
        return not self.down and not self.pending

    def to_dict(self) -> dict[str, Any]:
        return {
            "down": self.down,
            "since": self.since,
            "last_down": self.last_down,
            "down_count": self.down_count,
            "pending": [[p.interval, p.high, p.note] for p in self.pending],
            "opening": [[p.interval, p.high, p.note] for p in self.opening],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TerminalRun:
        return cls(
            down=bool(data["down"]),
            since=data.get("since"),
            last_down=data.get("last_down"),
            down_count=int(data.get("down_count", 0)),
            pending=[Pending(int(i), bool(h), str(n)) for i, h, n in data.get("pending", [])],
            opening=[Pending(int(i), bool(h), str(n)) for i, h, n in data.get("opening", [])],
        )


@dataclass(frozen=True, slots=True)
class Settled:
    """A state change: ``ENTERED`` (``first`` = back-dated start) or ``LEFT`` (``first``..``last`` was
    the outage, ``count`` its judged unavailable intervals, ``run`` the decisive good run)."""

    change: Change
    first: int
    last: int
    count: int
    run: tuple[Pending, ...]


def advance(run: TerminalRun, interval: int, high: bool, n: int, note: str = "") -> Settled | None:
    """Feed one judged interval (in time order); returns the state change it decides, if any."""
    if not high and not run.down and not run.pending:
        return None  # available, nothing pending, a low-loss interval: nothing can change (the common case)
    prefix = n if run.down else 0
    seq = [run.down] * prefix + [p.high for p in run.pending] + [high]
    unavailable = hysteresis(np.array(seq, dtype=bool), n)
    now_down = bool(unavailable[-1])
    step = Pending(interval, high, note)
    if now_down == run.down:
        if high == run.down:  # the opposing run (if any) was too short: it keeps the state
            if run.down:
                run.down_count += len(run.pending) + 1
                run.last_down = interval
            run.pending = []
        else:
            run.pending.append(step)
        return None
    # the state flips at the start of its last segment (hysteresis back-dates it there)
    changed = np.flatnonzero(unavailable[1:] != unavailable[:-1]) + 1
    k = int(changed[-1]) if len(changed) else 0
    run_steps = ([*run.pending, step])[k - prefix :]
    run.pending = []
    if now_down:
        run.down, run.since, run.last_down = True, run_steps[0].interval, interval
        run.down_count = len(run_steps)
        run.opening = run_steps
        return Settled(Change.ENTERED, run_steps[0].interval, interval, len(run_steps), tuple(run_steps))
    assert run.since is not None and run.last_down is not None
    out = Settled(Change.LEFT, run.since, run.last_down, run.down_count, tuple(run_steps))
    run.down, run.since, run.last_down, run.down_count, run.opening = False, None, None, 0, []
    return out

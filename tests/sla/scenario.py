"""A tiny language for hand-written SLA scenarios: what each vantage saw of each terminal, minute by minute.

A scenario covers one local day (2022-12-05, Asia/Shanghai) plus one hour of lookaround on each side.
Everything is "good" (5 echoes sent, 5 answered, a healthy heartbeat) unless an event says otherwise.
Heartbeats and unsent samples come from the daemon's own builders (``scheduler.cycle_heartbeat``,
``scheduler.not_measured_sample``), so heartbeats are named ``"default/<kind>"`` exactly as it writes them.
Events are ``(minute, text)``: ``minute`` counts from the day's local midnight (negative = the evening
before, >= 1440 = the next morning), one character per minute:

    .  good: 5 sent, 5 received            X  total loss: 5 sent, 0 received
    x  4 of 5 lost (0.8 > C)               c  3 of 4 lost (exactly C = 0.75: not high)
    p  1 of 5 lost (0.2)                   1  1 sent, 0 received
    ?  not sent (not_scheduled)            n  no sample at all (heartbeat present)
    _  the vantage is down: no sample and no heartbeat (affects every terminal of the vantage)
    u  heartbeat with failed reference targets; the sample is total loss

Expected values in the tests are hand-computed from these strings.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Iterable, Mapping, Sequence

from slaprobe.model import NS_PER_S, Heartbeat, ProbeKind, Sample
from slaprobe.scheduler import CycleStats, cycle_heartbeat, not_measured_sample
from slaprobe.sla.engine import Period, day_period
from slaprobe.store.memory import MemoryStore
from slaprobe.terminal import Level, Terminal

DAY = dt.date(2022, 12, 5)
PERIOD: Period = day_period(DAY)
MIN_NS = 60 * NS_PER_S
FIRST_MIN, LAST_MIN = -60, 1440 + 60  # the data window (one hour of lookaround on each side)

_COUNTS = {
    ".": (5, 5),
    "X": (5, 0),
    "x": (5, 1),
    "c": (4, 1),
    "p": (5, 4),
    "1": (1, 0),
    "u": (5, 0),
}


def terminal(
    tid: str = "T1",
    carrier: str = "telecom",
    region: str = "haikou",
    level: Level = Level.CITY,
    tier: str = "standard",
    opened: dt.date = dt.date(2021, 1, 1),
    retired: dt.date | None = None,
    group: str = "default",
) -> Terminal:
    n = int("".join(c for c in tid if c.isdigit()) or 1)
    return Terminal(
        tid, f"{tid} site", ipaddress.ip_address(f"198.18.{n // 250}.{n % 250 + 1}"), carrier, region,
        level, tier, opened, retired, group=group,
    )  # fmt: skip


def at(minute: int) -> int:
    """UTC ns of a scenario minute."""
    return PERIOD.start_ns + minute * MIN_NS


def timeline(events: Iterable[tuple[int, str]]) -> dict[int, str]:
    out: dict[int, str] = {}
    for start, text in events:
        for i, ch in enumerate(text):
            out[start + i] = ch
    return out


def build(
    terminals: Mapping[str, Mapping[str, Sequence[tuple[int, str]]]],
    vantages: Sequence[str] = ("v1",),
    vantage_events: Mapping[str, Sequence[tuple[int, str]]] | None = None,
    *,
    cycle_s: int = 60,
    kind: ProbeKind = ProbeKind.ICMP,
    first_min: int = FIRST_MIN,
    last_min: int = LAST_MIN,
) -> MemoryStore:
    """``terminals[tid][vantage]`` = events; ``vantage_events[v]`` = events of the probe host itself."""
    host = {v: timeline((vantage_events or {}).get(v, ())) for v in vantages}
    samples: list[Sample] = []
    beats: list[Heartbeat] = []
    step = cycle_s * NS_PER_S
    for v in vantages:
        t_ns = at(first_min)
        while t_ns < at(last_min):
            minute = (t_ns - at(0)) // MIN_NS
            ch = host[v].get(minute, ".")
            if ch != "_":
                stats = CycleStats(due=1, probed=1, reference_ok=0 if ch == "u" else 1, reference_total=1)
                beats.append(
                    cycle_heartbeat(
                        vantage=v,
                        group="default",
                        kind=kind,
                        interval_s=float(cycle_s),
                        start_ns=t_ns,
                        stats=stats,
                        duration_s=1.0,
                    )
                )
            t_ns += step
    for tid, per_vantage in terminals.items():
        for v in vantages:
            line = timeline(per_vantage.get(v, ()))
            t_ns, end, zero = at(first_min), at(last_min), at(0)
            while t_ns < end:
                minute = (t_ns - zero) // MIN_NS
                ch = line.get(minute, ".")
                if host[v].get(minute) == "_" or ch == "n":
                    t_ns += step
                    continue
                when = t_ns + 1_500_000_000  # the probe goes out 1.5 s into the slot
                if ch == "?":
                    samples.append(not_measured_sample(when, tid, v, kind))
                else:
                    sent, received = _COUNTS[ch]
                    rtt = 20.0 if received else None
                    samples.append(
                        Sample(when, tid, v, kind, sent, received, rtt_avg_ms=rtt, jitter_ms=rtt and 1.0)
                    )
                t_ns += step
    return MemoryStore(samples, beats)

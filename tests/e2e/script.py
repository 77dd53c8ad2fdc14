"""The e2e scenario's script: who is impaired how and when, and what a correct report must then say.

Everything a test asserts is derived here from the script and the wall-clock times the test recorded
(daemon ready, signals sent), never from the SLA engine's output.

Scaled down from production: probe cycles of ``CYCLE_S`` (5 s), Δt = ``DT`` (10 s), n = ``N`` (2), C the
preset's 0.75. Times are relative to ``B``, the first Δt boundary at least ``LEAD_S`` after the daemon said
READY (so the first cycle has run before anything is scripted)::

    B+10 .. B+70   full outage of OUT (2 terminals) and MAINT (1 terminal)     60 s = 6 Δt (qualifies: n = 2)
    B+30 .. B+60   maintenance window for MAINT only                           30 s
    B+42.5         SIGHUP: REMOVED leaves the inventory, ADDED joins, RETAG moves region
    B+92.5         SIGTERM (mid-cycle); the daemon is down for GAP_S
    B+132.5        restarted; SIGTERM at B+162.5
    whole run      LOSSY (2): 30 % loss each way of the echo; ABSENT (2): never answer

Edges are put on the Δt grid, so a correct engine reproduces them exactly; the tests still allow one Δt
at each edge, as the brief asks.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from zoneinfo import ZoneInfo

from slaprobe import sample_network
from slaprobe.terminal import Terminal

CYCLE_S = 5.0
DT = 10
N = 2
LEAD_S = 5.0
OUTAGE = (10.0, 70.0)  # relative to B
MAINTENANCE = (30.0, 60.0)
SIGHUP_AT = 42.5
STOP_AT = 92.5
GAP_S = 40.0
RESTART_AT = STOP_AT + GAP_S
END_AT = RESTART_AT + 30.0
LOSSY_LOSS = 0.3  # the lab's forward loss: each echo is lost with this probability
HEARTBEAT_GRACE_S = 5.0  # rule.heartbeat_grace_s: a heartbeat covers [start, start + cycle + grace)


@dataclass(frozen=True)
class Cast:
    """The terminals by role. ``first`` is the inventory before SIGHUP, ``second`` after."""

    out: tuple[str, ...]
    maint: str
    lossy: tuple[str, ...]
    absent: tuple[str, ...]
    removed: str
    added: str
    retag: str
    retag_region: tuple[str, str]  # (before, after)
    first: tuple[Terminal, ...]
    second: tuple[Terminal, ...]

    @property
    def healthy(self) -> tuple[str, ...]:
        special = {*self.out, self.maint, *self.lossy, *self.absent, self.removed, self.added, self.retag}
        return tuple(t.id for t in self.second if t.id not in special)

    @property
    def all_terminals(self) -> tuple[Terminal, ...]:
        seen = {t.id: t for t in self.first}
        seen.update({t.id: t for t in self.second})
        return tuple(seen.values())


def choose_timezone(now: dt.datetime, run_s: float) -> str:
    """The product's zone (Asia/Shanghai) unless the run would cross its local month boundary, or the
    local month differs from the UTC one (the daemon decides in-service on dates); then UTC."""
    for name in ("Asia/Shanghai", "UTC"):
        tz = ZoneInfo(name)
        a = (now - dt.timedelta(minutes=1)).astimezone(tz)
        b = (now + dt.timedelta(seconds=run_s + 300)).astimezone(tz)
        u = now.astimezone(dt.UTC)
        if (a.year, a.month) == (b.year, b.month) == (u.year, u.month):
            return name
    raise AssertionError("no time zone keeps the run inside one month (cannot happen for a short run)")


def cast(month_start: dt.date, n: int = 30) -> Cast:
    """``n`` terminals spread over the province (every 60th of the example network), all in service from
    the first day of the reported month, all in the default scheduling group."""
    pool = sample_network.generate(1820)
    picked = [replace(t, in_service_from=month_start, group="default") for t in pool[::60][: n + 1]]
    first, extra = picked[:n], picked[n]
    ids = [t.id for t in first]
    out, maint = (ids[1], ids[5]), ids[9]
    lossy, absent = (ids[3], ids[12]), (ids[7], ids[15])
    removed, retag = ids[20], ids[24]
    by_id = {t.id: t for t in first}
    old_region = by_id[retag].region
    carrier = by_id[retag].carrier
    new_region = next(r[0] for r in sample_network.REGIONS if r[0] != old_region and r[3] == carrier)
    second = [t for t in first if t.id != removed]
    second = [replace(t, region=new_region) if t.id == retag else t for t in second] + [extra]
    return Cast(
        out=out,
        maint=maint,
        lossy=lossy,
        absent=absent,
        removed=removed,
        added=extra.id,
        retag=retag,
        retag_region=(old_region, new_region),
        first=tuple(first),
        second=tuple(second),
    )


def boundary_after(t: float, step: float) -> float:
    return math.floor(t / step) * step + step


@dataclass(frozen=True)
class Run:
    """One daemon run as the test lived it: READY at ``ready``, SIGTERM at ``stopped`` (wall clock, s)."""

    ready: float
    stopped: float

    @property
    def first_cycle(self) -> float:
        return boundary_after(self.ready, CYCLE_S)

    @property
    def last_cycle(self) -> float:
        return math.floor(self.stopped / CYCLE_S) * CYCLE_S

    def judged(self, since: float | None = None) -> tuple[int, int]:
        """[first, end) of the Δt intervals a correct engine judges: wholly inside the span its heartbeats
        cover, from the first cycle (or ``since``, a later first cycle) to the last cycle + cycle + grace."""
        start = max(self.first_cycle, since or 0.0)
        first = math.ceil(start / DT) * DT
        end = math.floor((self.last_cycle + CYCLE_S + HEARTBEAT_GRACE_S) / DT) * DT
        return int(first), int(end)


def judged_seconds(runs: Sequence[Run], since: float | None = None) -> int:
    total = 0
    for r in runs:
        a, b = r.judged(since)
        total += max(0, b - a)
    return total

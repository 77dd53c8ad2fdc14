"""The live outage tracker: the month report's availability rule, run as the daemon stores each cycle.

**Same rule, same code.** The tracker is fed exactly what the daemon stored: each batch of samples the
store accepted, then the cycle's heartbeat (a cycle whose samples the store refused carries ``unstored``
in its heartbeat, which therefore vouches for nothing, as in the engine). Once an interval is *closed*
(every cycle that could still write into it has written its heartbeat), the tracker asks the report's
own functions about it: ``engine.gather_inputs`` over an in-memory store of the last hours
(``buffer.CycleBuffer``, the same ``SlaSource`` questions the journal answers), ``intervals.prepare`` and
``intervals.terminal_verdicts`` (heartbeat coverage and trust, presence, pooling, min_probes, mass events,
quorum over vantages), then ``availability.in_service_mask`` and ``maintenance.maintenance_mask``. The
judged verdicts go through ``availability.hysteresis`` one at a time (``runs.py``). UNKNOWN intervals
never reach a run. So a live outage starts and ends where the month report will say it did.

**Closed.** Per vantage, an interval ``[s, s + Δt)`` is closed when every cycle of a counted kind has
written a heartbeat whose cycle ends at or after ``s + Δt`` (heartbeats are written after their cycle's
samples, and later cycles only write later samples). A cycle that stopped reporting (removed by a
reload, hung) stops holding others back once it lags the vantage's newest cycle by ``stale_s`` or two of
its own intervals; its intervals are then UNKNOWN, as in the report. With several vantages, an interval
is judged when all vantages still reporting have closed it.

**Probe host, not carrier.** A closed interval in which a vantage could not vouch for a scheduling group
it probes (no heartbeat, reference targets failed, samples refused by the store, nothing probed) or saw a
mass event is a ``PROBE_HOST`` event keyed by the vantage, firing at its first such interval and resolved
at the first clean one. Those intervals are UNKNOWN for the terminals, never a terminal outage.

**Starting is not a probe-host problem.** An interval that starts before this process's first cycle of a
scheduling group lacks that group's heartbeats only because the daemon was not running yet (``starting``
intervals; a group first probed later than the others, a group added by a reload, the interval the first
cycle starts inside). An alert for them would page at every start and resolve a minute later, and
operators would learn to ignore the one alert that says the measurement itself is blind. So: a first
start (no saved state) announces nothing for them; after a restart from saved state they are the restart
gap, a real blind spot of known bounds, announced once as a probe-host event that is already over (firing
and resolved together: start = first UNKNOWN interval, end = first interval the new process covers),
or not at all if it is shorter than ``restart_grace_s`` (default two Δt: a routine restart that misses a
cycle pages nobody, a crash loop or a reboot is on record). Heartbeats that stop while the daemon runs
still fire as above. The month report counts every one of these intervals UNKNOWN either way:
only what is *announced* differs.

The tracker is pure: no clock, no I/O. Its state (``to_dict``/``from_dict``) is small (open outages and
pending runs) and the daemon persists it after each cycle, so a restart continues the runs; the restart
gap is UNKNOWN, exactly what the report sees there.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from slaprobe.live.buffer import CycleBuffer
from slaprobe.live.events import EventKind, LiveEvent
from slaprobe.live.runs import Change, Pending, Settled, TerminalRun, advance
from slaprobe.model import NS_PER_S, Heartbeat, Sample, split_cycle
from slaprobe.sla.availability import in_service_mask
from slaprobe.sla.engine import Period, gather_inputs, rule_kinds, window_for
from slaprobe.sla.inputs import DISTRUST_REASONS
from slaprobe.sla.intervals import Prepared, VantageView, prepare, terminal_verdicts
from slaprobe.sla.kpi import HOUR_NS
from slaprobe.sla.maintenance import MaintenanceWindow, maintenance_mask
from slaprobe.sla.rule import Rule
from slaprobe.terminal import Terminal

STATE_FORMAT = "slaprobe.live/1"


class StateError(ValueError):
    """A persisted tracker state that does not fit this rule or format (the caller starts afresh)."""


@dataclass(slots=True)
class HostState:
    """One vantage: its cycles' progress and its open probe-host problem."""

    cycles: dict[str, tuple[int, int]] = field(default_factory=dict)  # name -> (end_ns, interval_ns)
    since: int | None = None  # first interval of the open probe-host problem
    last: int | None = None
    reasons: dict[str, int] = field(default_factory=dict)  # reason -> intervals, of the open problem
    # the restart gap seen so far (first, last interval, reasons), announced once the new process covers an
    # interval; saved, so a second restart inside the gap still announces all of it
    gap: tuple[int, int, dict[str, int]] | None = None
    # not saved: this process only
    began: dict[str, int] = field(default_factory=dict)  # scheduling group -> its first cycle's start (ns)
    resumed: bool = False  # restored from a saved state, and no interval of this process judged yet

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "cycles": {k: list(v) for k, v in self.cycles.items()},
            "since": self.since,
            "last": self.last,
            "reasons": self.reasons,
        }
        if self.gap is not None:
            out["gap"] = [self.gap[0], self.gap[1], self.gap[2]]
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> HostState:
        cycles = {str(k): (int(v[0]), int(v[1])) for k, v in data.get("cycles", {}).items()}
        reasons = {str(k): int(v) for k, v in data.get("reasons", {}).items()}
        gap = data.get("gap")
        saved_gap = None
        if gap is not None:
            saved_gap = (int(gap[0]), int(gap[1]), {str(k): int(v) for k, v in gap[2].items()})
        return cls(cycles, data.get("since"), data.get("last"), reasons, saved_gap, resumed=True)


def _iso(ns: int) -> str:
    return dt.datetime.fromtimestamp(ns / NS_PER_S, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class LiveTracker:
    """Feed with :meth:`add_samples` (each stored batch) and :meth:`add_heartbeat` (each stored
    heartbeat, which returns the events the newly closed intervals decide)."""

    def __init__(
        self,
        rule: Rule,
        terminals: Iterable[Terminal],
        *,
        timezone: str = "Asia/Shanghai",
        maintenance: Sequence[MaintenanceWindow] = (),
        stale_s: float = 600.0,
        restart_grace_s: float | None = None,
    ) -> None:
        """``restart_grace_s``: a restart gap shorter than this is not announced (None: two Δt)."""
        self.rule = rule
        self._rule0 = replace(rule, lookaround_s=0)  # the window is the tracker's own, not a month's
        self.timezone = timezone
        self.tz = ZoneInfo(timezone)
        self.maintenance = tuple(maintenance)
        self.stale_ns = round(stale_s * NS_PER_S)
        grace = 2 * rule.interval_s if restart_grace_s is None else restart_grace_s
        self.restart_grace_ns = round(grace * NS_PER_S)
        self.kinds = rule_kinds(rule)
        self.terminals: tuple[Terminal, ...] = ()
        self.buffer = CycleBuffer((), self.kinds)
        self.set_terminals(terminals)
        self.runs: dict[str, TerminalRun] = {}
        self.hosts: dict[str, HostState] = {}
        self.next_interval: int | None = None  # first interval not judged yet
        self.judged_intervals = 0  # closed intervals judged since start (for tests and metrics)

    # ------------------------------------------------------------------ inventory and cycles
    def set_terminals(self, terminals: Iterable[Terminal]) -> list[LiveEvent]:
        """The inventory (again, after a reload). Open outages of terminals that left it are resolved."""
        self.terminals = tuple(sorted(terminals, key=lambda t: t.id))
        self._by_id = {t.id: t for t in self.terminals}
        self.buffer.set_terminals(self._by_id)
        gone = [tid for tid in getattr(self, "runs", {}) if tid not in self._by_id]
        events = []
        for tid in gone:
            run = self.runs.pop(tid)
            if run.down and run.since is not None and run.last_down is not None:
                events.append(
                    LiveEvent(
                        kind=EventKind.TERMINAL_OUTAGE,
                        firing=False,
                        key=tid,
                        vantage="",
                        start_ns=self._ns(run.since),
                        end_ns=self._ns(run.last_down + 1),
                        labels={"terminal": tid},
                        summary=f"terminal {tid} left the inventory while unavailable",
                    )
                )
        return events

    def expect_cycles(self, vantage: str, names: Iterable[str], since_ns: int) -> None:
        """Cycles a vantage will run (the daemon's specs): until each reports, it holds intervals open
        (its samples may still come), unless it never reports within ``stale_s``."""
        host = self.hosts.setdefault(vantage, HostState())
        for name in names:
            if self._counted(name) and name not in host.cycles:
                host.cycles[name] = (since_ns, 0)

    # ------------------------------------------------------------------ feeding
    def add_samples(self, samples: Sequence[Sample]) -> None:
        """A batch the store accepted (a refused batch is not fed: the report never sees it)."""
        self.buffer.add_samples(samples)

    def add_heartbeat(self, hb: Heartbeat, now_ns: int = 0) -> list[LiveEvent]:
        """A heartbeat the store accepted; judges the intervals it closes and returns their events."""
        self.buffer.add_heartbeat(hb)
        host = self.hosts.setdefault(hb.vantage, HostState())
        if self._counted(hb.group):
            interval_ns = round(hb.interval_s * NS_PER_S)
            old = host.cycles.get(hb.group, (0, 0))[0]
            host.cycles[hb.group] = (max(old, hb.time_ns + interval_ns), interval_ns)
            base = split_cycle(hb.group)[0]
            host.began[base] = min(host.began.get(base, hb.time_ns), hb.time_ns)
        if self.next_interval is None:  # the first interval that starts once probing started
            self.next_interval = -(-hb.time_ns // self.rule.interval_ns)
        return self._advance(now_ns)

    def feed(self, samples: Sequence[Sample], heartbeat: Heartbeat, now_ns: int = 0) -> list[LiveEvent]:
        """One cycle as the daemon stores it: its samples, then its heartbeat."""
        self.add_samples(samples)
        return self.add_heartbeat(heartbeat, now_ns)

    # ------------------------------------------------------------------ queries
    def open_events(self) -> list[LiveEvent]:
        """The firing events of every open outage and probe-host problem (for a restarted sink)."""
        out = [
            self._terminal_event(tid, True, run.since, None, run.opening, 0)
            for tid, run in sorted(self.runs.items())
            if run.down and run.since is not None
        ]
        out += [self._host_firing(v, h, 0) for v, h in sorted(self.hosts.items()) if h.since is not None]
        return out

    def state_of(self, terminal: str) -> tuple[bool, int | None]:
        """(unavailable?, outage start ns) of a terminal as far as judged."""
        run = self.runs.get(terminal)
        if run is None or not run.down or run.since is None:
            return False, None
        return True, self._ns(run.since)

    # ------------------------------------------------------------------ closing
    def _counted(self, cycle: str) -> bool:
        kind = split_cycle(cycle)[1]
        return kind is None or self.rule.counts_kind(kind)

    def _frontier(self) -> int | None:
        """End (ns) of the time every still-reporting cycle of every still-reporting vantage has written."""
        ends: dict[str, int] = {}
        for vantage, host in self.hosts.items():
            if not host.cycles:
                continue
            newest = max(end for end, _ in host.cycles.values())
            live = [
                end
                for end, interval in host.cycles.values()
                if newest - end <= max(self.stale_ns, 2 * interval)
            ]
            ends[vantage] = min(live)
        if not ends:
            return None
        newest = max(ends.values())
        return min(end for end in ends.values() if newest - end <= self.stale_ns)

    def _advance(self, now_ns: int) -> list[LiveEvent]:
        frontier = self._frontier()
        if frontier is None or self.next_interval is None:
            return []
        upto = frontier // self.rule.interval_ns
        events: list[LiveEvent] = []
        while self.next_interval < upto:
            a = self.next_interval
            hour_end = ((a * self.rule.interval_ns) // HOUR_NS + 1) * HOUR_NS
            b = min(upto, hour_end // self.rule.interval_ns)
            events += self._judge(a, b, now_ns)
            self.next_interval = b
        keep = self._keep_from()
        self.buffer.prune(keep, keep - HOUR_NS)
        return events

    def _keep_from(self) -> int:
        """Rows the next window can still reach: samples from the next interval's hour, heartbeats from
        the hour before (they may start early: ``engine.HEARTBEAT_LEAD_NS``)."""
        assert self.next_interval is not None
        start = self.next_interval * self.rule.interval_ns
        return start - start % HOUR_NS

    # ------------------------------------------------------------------ judging
    def _judge(self, a: int, b: int, now_ns: int) -> list[LiveEvent]:
        """Judge closed intervals [a, b) (absolute indices, inside one UTC hour)."""
        interval_ns = self.rule.interval_ns
        hour = a * interval_ns - (a * interval_ns) % HOUR_NS
        # One UTC hour: every verdict of the engine is local to its interval or its hour (coverage, mass
        # events, pooling, presence). The hour before matters only for a presence edge at this hour's
        # start, and a daemon writes a sample (answered, lost or not_scheduled) for every due terminal in
        # every cycle it runs, so a terminal probed before the hour has its first sample of the hour in the
        # hour's first covered interval: the edge trims nothing the report would judge.
        period = Period("live", hour, hour + HOUR_NS, self.timezone)
        window = window_for(self._rule0, period)
        first = (a * interval_ns - window.start_ns) // interval_ns
        last = first + (b - a)
        self.judged_intervals += b - a
        inputs = gather_inputs(self.buffer, self.terminals, self._rule0, period)
        p = prepare(self._rule0, window, self.terminals, inputs)
        events: list[LiveEvent] = []
        high_by_vantage = {v: [0] * (b - a) for v in p.vantages}
        for ti in self._worth_judging(p, first, last):
            term = p.terminals[ti]
            verdicts = terminal_verdicts(p, ti)
            service = in_service_mask(term, self.tz, window.start_ns, interval_ns, window.count)
            maint = maintenance_mask(self.maintenance, term, window.start_ns, interval_ns, window.count)
            for view in verdicts.views:
                counts = high_by_vantage[view.vantage]
                for k, h in enumerate(view.high[first:last].tolist()):
                    counts[k] += h
            judged = service & ~maint & verdicts.judged
            for i in range(first, last):
                if not judged[i]:
                    continue
                run = self.runs.get(term.id)
                if run is None:
                    run = self.runs[term.id] = TerminalRun()
                high = bool(verdicts.high[i])
                settled = advance(
                    run, a + i - first, high, self.rule.consecutive, _note(verdicts.views, i, high)
                )
                if settled is not None:
                    events.append(self._settled_event(term.id, settled, now_ns))
                if run.trivial:
                    del self.runs[term.id]
        events += self._judge_hosts(p, first, last, a, high_by_vantage, now_ns)
        return events

    def _worth_judging(self, p: Prepared, first: int, last: int) -> list[int]:
        """Terminals whose verdicts in [first, last) can change their run: those with a run in progress
        (unavailable, or a pending run) and those with high-loss rows there. Every other terminal is
        available with nothing pending, and an interval without a high-loss row is never high-loss
        (``terminal_verdicts`` sets ``high`` only where ``p_high``), so judging it would change nothing.
        """
        rows = (p.p_iv >= first) & (p.p_iv < last) & p.p_high
        chosen = set(np.unique(p.p_t[rows]).tolist())
        index = {t.id: i for i, t in enumerate(p.terminals)}
        chosen |= {index[tid] for tid in self.runs if tid in index}
        return sorted(chosen)

    def _judge_hosts(
        self, p: Prepared, first: int, last: int, a: int, high_by: dict[str, list[int]], now_ns: int
    ) -> list[LiveEvent]:
        events: list[LiveEvent] = []
        groups = {t.group for t in self.terminals}
        for vantage, host in sorted(self.hosts.items()):
            vi = p.vantages.index(vantage) if vantage in p.vantages else -1
            mine = sorted({split_cycle(n)[0] for n in host.cycles} & groups)
            for i in range(first, last):
                iv = a + i - first
                reasons, starting = [], []
                for group in mine:
                    cov = p.coverage.get((vi, group))
                    if cov is None or not cov[i]:
                        blind = p.blind.get((vi, group))
                        code = int(blind[i]) if blind is not None else 0
                        why = DISTRUST_REASONS[code] or "no_heartbeat"
                        (starting if self._starting(host, group, iv) else reasons).append(why)
                if vi >= 0 and p.mass[vi, i]:
                    reasons.append(f"mass_event ({high_by.get(vantage, [0] * (last - first))[i - first]})")
                if starting and not reasons and host.since is None:
                    if host.resumed:  # the restart gap: announced once it is over (_end_of_gap)
                        self._extend_gap(host, iv, starting)
                    continue  # a first start: nobody was looking yet, nothing to announce
                events += self._end_of_gap(vantage, host, now_ns)
                reasons += starting  # inside an open problem: it goes on (already announced)
                if reasons:
                    if host.since is None:
                        host.since, host.reasons = iv, {}
                    host.last = iv
                    for r in sorted(set(reasons)):
                        key = r.split(" ")[0]
                        host.reasons[key] = host.reasons.get(key, 0) + 1
                    if host.since == iv:
                        events.append(self._host_firing(vantage, host, now_ns, detail=", ".join(reasons)))
                elif host.since is not None:
                    events.append(self._host_resolved(vantage, host, iv, now_ns))
                    host.since, host.last, host.reasons = None, None, {}
        return events

    def _starting(self, host: HostState, group: str, iv: int) -> bool:
        """Does interval ``iv`` start before this process probed ``group`` (its first cycle's start; for a
        group not probed yet, the host's first cycle in this process)? Then its missing heartbeats say
        the daemon was not running, not that the probe host failed while it ran."""
        began = host.began.get(group, min(host.began.values(), default=None))
        return began is not None and iv * self.rule.interval_ns < began

    @staticmethod
    def _extend_gap(host: HostState, iv: int, reasons: list[str]) -> None:
        first, _, counts = host.gap if host.gap is not None else (iv, iv, {})
        for r in sorted(set(reasons)):
            counts[r] = counts.get(r, 0) + 1
        host.gap = (first, iv, counts)

    def _end_of_gap(self, vantage: str, host: HostState, now_ns: int) -> list[LiveEvent]:
        """The first interval this process covers: the restart gap before it is over. Announce it once,
        already resolved (firing and resolved together, so no alert is left firing), unless it is
        shorter than ``restart_grace_s``."""
        gap, host.gap, host.resumed = host.gap, None, False
        if gap is None:
            return []
        first, last, counts = gap
        if (last + 1 - first) * self.rule.interval_ns < self.restart_grace_ns:
            return []
        start, end = self._ns(first), self._ns(last + 1)
        why = ", ".join(f"{r} x{c}" for r, c in sorted(counts.items()))
        evidence = {"reasons": why, "intervals": str(last + 1 - first), "cause": "daemon not running"}
        summary = (
            f"probe host {vantage} was not probing {_iso(start)} .. {_iso(end)} (daemon stopped or "
            f"restarting; {last + 1 - first} intervals UNKNOWN, not a carrier outage): probing again"
        )
        firing = LiveEvent(
            kind=EventKind.PROBE_HOST,
            firing=True,
            key=vantage,
            vantage=vantage,
            start_ns=start,
            labels={"vantage": vantage},
            evidence=evidence,
            summary=summary,
            at_ns=now_ns,
        )
        return [firing, replace(firing, firing=False, end_ns=end)]

    # ------------------------------------------------------------------ events
    def _ns(self, interval: int) -> int:
        return interval * self.rule.interval_ns

    def _labels(self, tid: str, vantage: str) -> dict[str, str]:
        t = self._by_id.get(tid)
        if t is None:
            return {"terminal": tid, "vantage": vantage}
        return {
            "terminal": t.id,
            "carrier": t.carrier,
            "region": t.region,
            "level": str(t.level),
            "tier": t.tier,
            "vantage": vantage,
        }

    def _settled_event(self, tid: str, s: Settled, now_ns: int) -> LiveEvent:
        if s.change is Change.ENTERED:
            return self._terminal_event(tid, True, s.first, None, list(s.run), now_ns)
        return self._terminal_event(tid, False, s.first, s.last + 1, list(s.run), now_ns, s.count)

    def _terminal_event(
        self,
        tid: str,
        firing: bool,
        first: int | None,
        end: int | None,
        run: list[Pending],
        now_ns: int,
        count: int = 0,
    ) -> LiveEvent:
        assert first is not None
        vantage = ",".join(sorted(self.hosts))
        dt_s = self.rule.interval_s
        evidence = {
            "rule": self.rule.describe(),
            "decisive_run": "; ".join(f"{_iso(self._ns(p.interval))} {p.note}" for p in run),
        }
        if firing:
            summary = f"{tid} unavailable since {_iso(self._ns(first))} ({len(run)} high-loss intervals)"
        else:
            evidence["unavailable_s"] = str(count * dt_s)
            assert end is not None
            summary = f"{tid} available again from {_iso(self._ns(run[0].interval))}; outage " + (
                f"{_iso(self._ns(first))} .. {_iso(self._ns(end))}, {count * dt_s} s unavailable"
            )
        return LiveEvent(
            kind=EventKind.TERMINAL_OUTAGE,
            firing=firing,
            key=tid,
            vantage=vantage,
            start_ns=self._ns(first),
            end_ns=None if end is None else self._ns(end),
            labels=self._labels(tid, vantage),
            evidence=evidence,
            summary=summary,
            at_ns=now_ns,
        )

    def _host_firing(self, vantage: str, host: HostState, now_ns: int, detail: str = "") -> LiveEvent:
        assert host.since is not None
        why = detail or ", ".join(sorted(host.reasons))
        return LiveEvent(
            kind=EventKind.PROBE_HOST,
            firing=True,
            key=vantage,
            vantage=vantage,
            start_ns=self._ns(host.since),
            labels={"vantage": vantage},
            evidence={"reasons": why},
            summary=f"probe host {vantage} cannot vouch for its terminals since "
            f"{_iso(self._ns(host.since))}: {why} (UNKNOWN, not a carrier outage)",
            at_ns=now_ns,
        )

    def _host_resolved(self, vantage: str, host: HostState, end: int, now_ns: int) -> LiveEvent:
        assert host.since is not None and host.last is not None
        why = ", ".join(f"{r} x{c}" for r, c in sorted(host.reasons.items()))
        return LiveEvent(
            kind=EventKind.PROBE_HOST,
            firing=False,
            key=vantage,
            vantage=vantage,
            start_ns=self._ns(host.since),
            end_ns=self._ns(host.last + 1),
            labels={"vantage": vantage},
            evidence={"reasons": why, "intervals": str(host.last + 1 - host.since)},
            summary=f"probe host {vantage} vouches again from {_iso(self._ns(end))} "
            f"(UNKNOWN {_iso(self._ns(host.since))} .. {_iso(self._ns(host.last + 1))}: {why})",
            at_ns=now_ns,
        )

    # ------------------------------------------------------------------ persistence
    def to_dict(self) -> dict[str, Any]:
        """JSON-ready state: what a restarted daemon needs to continue the runs (no samples)."""
        return {
            "format": STATE_FORMAT,
            "rule": self.rule.to_dict(),
            "next_interval": self.next_interval,
            "hosts": {v: h.to_dict() for v, h in sorted(self.hosts.items())},
            "runs": {tid: r.to_dict() for tid, r in sorted(self.runs.items()) if not r.trivial},
        }

    def load(self, data: dict[str, Any]) -> None:
        """Continue from :meth:`to_dict` output; raises :class:`StateError` when it does not fit."""
        if not isinstance(data, dict) or data.get("format") != STATE_FORMAT:
            raise StateError(f"not a {STATE_FORMAT} state")
        if data.get("rule") != self.rule.to_dict():
            raise StateError("the SLA rule changed since the state was saved: runs start afresh")
        try:
            self.next_interval = data.get("next_interval")
            self.hosts = {str(v): HostState.from_dict(h) for v, h in data.get("hosts", {}).items()}
            self.runs = {
                str(tid): TerminalRun.from_dict(r)
                for tid, r in data.get("runs", {}).items()
                if tid in self._by_id
            }
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
            raise StateError(f"malformed state: {exc}") from None


def _note(views: list[VantageView], i: int, high: bool) -> str:
    """What the vantages saw of interval ``i``, as short as a ticket line can be."""
    parts = []
    for view in views:
        if not view.known[i]:
            continue
        rows = (view.p_iv == i).nonzero()[0]
        if len(rows):
            k = int(rows[0])
            parts.append(f"{view.vantage} {int(view.p_recv[k])}/{int(view.p_sent[k])}")
        else:
            parts.append(f"{view.vantage} no loss")
    return ("HIGH " if high else "ok ") + ", ".join(parts)

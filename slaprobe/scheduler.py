"""When each terminal is probed: cycles, even spreading over slots, overrun detection, heartbeats.

APScheduler owns *when a cycle starts* (one interval job per scheduling group and probe kind, aligned to
the wall clock, so cycles of different hosts line up and a restart does not shift them). Within a cycle
this module spreads the targets' start times evenly over ``spread × interval`` in ``slot_ms`` steps, so
the send rate is flat instead of a burst at the top of the minute. It knows nothing about packets: it
hands targets to a probe engine and collects Samples.

A target whose slot cannot be served before the cycle ends (the loop is overloaded, the host was
suspended, or the daemon is stopping) is *skipped*: it gets a ``not_scheduled`` Sample (sent = 0) dated at
the slot it was due in, never a loss. Each finished cycle writes a Heartbeat, after its samples, so a
heartbeat in the store proves its samples are there too; a batch the store refused is counted in the
heartbeat's ``unstored`` (and logged), so that heartbeat vouches for nothing.

Which targets are due is decided at each cycle's start (``CycleSpec.in_service``), so a terminal that
opens while the daemon runs is probed from its first cycle in service, without a reload.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from slaprobe.model import NS_PER_S, Heartbeat, Outcome, ProbeKind, Sample, cycle_name
from slaprobe.probes.base import ProbeEngine, ProbeTarget

log = logging.getLogger(__name__)

SampleSink = Callable[[Sequence[Sample]], None]
HeartbeatSink = Callable[[Heartbeat], None]
# (terminal id, cycle start in UTC ns) -> whether the terminal is in service then (the SLA engine's rule)
ServiceTest = Callable[[str, int], bool]


def _slots(interval_s: float, spread: float, slot_s: float) -> int:
    return max(int(max(interval_s * spread, slot_s) / slot_s), 1)


def spread_offsets(n: int, interval_s: float, spread: float, slot_s: float) -> list[float]:
    """Start offsets (s) for n targets: evenly over spread × interval, rounded down to whole slots.

    Rounding to slots keeps the number of timer wake-ups bounded (one per slot, not one per target)
    while no slot gets more than ``slot_capacity`` targets, so the rate stays flat within one slot.
    """
    slots = _slots(interval_s, spread, slot_s)
    return [math.floor(i * slots / n) * slot_s for i in range(n)]


def slot_capacity(n: int, interval_s: float, spread: float, slot_s: float) -> int:
    """Most targets any one slot holds (ceil of n / slots)."""
    return max(math.ceil(n / _slots(interval_s, spread, slot_s)), 1)


@dataclass(frozen=True, slots=True)
class CycleSpec:
    """A scheduling group × probe kind: the unit APScheduler starts every interval."""

    group: str
    kind: ProbeKind
    interval_s: float
    targets: tuple[ProbeTarget, ...]
    references: tuple[ProbeTarget, ...] = ()
    # None: every target is always due. The daemon passes the SLA engine's in-service rule, so targets
    # include terminals still to open (or to retire) and each cycle probes those in service at its start.
    in_service: ServiceTest | None = None

    @property
    def name(self) -> str:
        """The cycle's key: also the ``group`` field of its heartbeats (:func:`model.cycle_name`)."""
        return cycle_name(self.group, self.kind)

    def due_at(self, start_ns: int) -> tuple[ProbeTarget, ...]:
        """The targets the cycle starting at ``start_ns`` probes (and counts in its heartbeat's ``due``)."""
        if self.in_service is None:
            return self.targets
        return tuple(t for t in self.targets if self.in_service(t.terminal, start_ns))


@dataclass
class CycleStats:
    due: int = 0
    probed: int = 0
    late: int = 0
    skipped: int = 0
    reference_ok: int = 0
    reference_total: int = 0
    unstored: int = 0  # samples the sink failed to store (counted, logged with the cause)
    lateness_s: list[float] = field(default_factory=list)


def not_measured_sample(
    time_ns: int, terminal: str, vantage: str, kind: ProbeKind, error: Outcome = Outcome.NOT_SCHEDULED
) -> Sample:
    """The record of a probe that was *not* sent (skipped slot, engine failure): never a loss.

    Shared by the daemon and every synthetic producer (``lab month``), so both write the same shape.
    ``time_ns`` is the slot the probe was due in, so the SLA engine marks that very interval unknown.
    """
    return Sample(
        time_ns=time_ns, terminal=terminal, vantage=vantage, kind=kind, sent=0, received=0, error=error
    )


def cycle_heartbeat(
    *,
    vantage: str,
    group: str,
    kind: ProbeKind,
    interval_s: float,
    start_ns: int,
    stats: CycleStats,
    duration_s: float,
) -> Heartbeat:
    """The heartbeat of one finished cycle, as the daemon writes it (and ``lab month`` must too)."""
    return Heartbeat(
        time_ns=start_ns,
        vantage=vantage,
        group=cycle_name(group, kind),
        interval_s=interval_s,
        due=stats.due,
        probed=stats.probed,
        late=stats.late,
        skipped=stats.skipped,
        duration_s=duration_s,
        reference_ok=stats.reference_ok,
        reference_total=stats.reference_total,
        unstored=stats.unstored,
    )


class CycleRunner:
    """Runs one cycle of one CycleSpec: dispatch by slot, collect, flush, heartbeat."""

    def __init__(
        self,
        *,
        vantage: str,
        engines: dict[ProbeKind, ProbeEngine],
        sink: SampleSink,
        heartbeat_sink: HeartbeatSink,
        spread: float = 0.9,
        slot_s: float = 0.1,
        late_tolerance_s: float = 1.0,
        flush_every_s: float = 1.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.vantage = vantage
        self.engines = engines
        self.sink = sink
        self.heartbeat_sink = heartbeat_sink
        self.spread = spread
        self.slot_s = slot_s
        self.late_tolerance_s = late_tolerance_s
        self.flush_every_s = flush_every_s
        self.clock = clock
        self.last_heartbeat: dict[str, Heartbeat] = {}
        self.last_lateness_s: dict[str, float] = {}  # worst start lateness of each cycle's last run (metrics)
        self.unstored = 0  # samples the sink refused, over the runner's life
        self.heartbeats_unstored = 0  # heartbeats the heartbeat sink refused

    async def run(
        self, spec: CycleSpec, start: float | None = None, stop: asyncio.Event | None = None
    ) -> Heartbeat:
        """Run the cycle that starts at ``start`` (wall-clock seconds; default now).

        ``stop`` (shutdown) ends dispatching early: targets not yet started are recorded as not
        measured, probes in flight finish and are stored, and the heartbeat says how many were skipped.
        """
        stop = stop or asyncio.Event()
        t0 = self.clock() if start is None else start
        end = t0 + spec.interval_s
        engine = self.engines[spec.kind]
        due = spec.due_at(int(t0 * NS_PER_S))
        targets = list(spec.references) + list(due)
        n_refs = len(spec.references)
        offsets = spread_offsets(len(targets), spec.interval_s, self.spread, self.slot_s)
        stats = CycleStats(due=len(due), reference_total=n_refs)
        pending: set[asyncio.Task[Sample]] = set()
        done: list[Sample] = []
        last_flush = self.clock()
        i = 0
        cap = slot_capacity(len(targets), spec.interval_s, self.spread, self.slot_s)
        while i < len(targets):
            slot_at = t0 + offsets[i]
            now = self.clock()
            if now >= end or stop.is_set():
                break
            if slot_at > now:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), slot_at - now)
                continue
            lateness = now - slot_at
            # Start this slot's targets (at most one slot's worth per wake-up, so catching up after a
            # stall never bursts: overdue slots go out at twice the nominal rate until on time again).
            started = 0
            while i < len(targets) and t0 + offsets[i] <= now and started < cap:
                task = asyncio.ensure_future(self._guarded(engine, spec.kind, targets[i]))
                task.add_done_callback(lambda t, acc=done: t.cancelled() or acc.append(t.result()))
                pending.add(task)
                if i >= n_refs:
                    stats.probed += 1
                    stats.lateness_s.append(lateness)
                    if lateness > self.late_tolerance_s:
                        stats.late += 1
                i += 1
                started += 1
            pending = {t for t in pending if not t.done()}
            if self.clock() - last_flush >= self.flush_every_s:
                last_flush = self.clock()
                self._flush(done, spec, stats, n_refs)
            if lateness > self.slot_s:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.slot_s / 2)
        skipped = targets[i:]
        if skipped:
            stats.skipped = sum(1 for k in range(i, len(targets)) if k >= n_refs)
            log.warning(
                "cycle %s: %s skipped %d of %d targets (recorded as not measured)",
                "stopped" if stop.is_set() else "overrun",
                spec.name,
                stats.skipped,
                stats.due,
            )
            # each at the slot it was due in: that interval, not the next one, is the one we did not see
            done.extend(
                not_measured_sample(int((t0 + offsets[k]) * NS_PER_S), t.terminal, self.vantage, spec.kind)
                for k, t in enumerate(skipped, start=i)
            )
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
        self._flush(done, spec, stats, n_refs)
        hb = cycle_heartbeat(
            vantage=self.vantage,
            group=spec.group,
            kind=spec.kind,
            interval_s=spec.interval_s,
            start_ns=int(t0 * NS_PER_S),
            stats=stats,
            duration_s=round(self.clock() - t0, 3),
        )
        try:
            self.heartbeat_sink(hb)
        except Exception as exc:  # never into APScheduler: the next cycle must still run
            self.heartbeats_unstored += 1
            log.error("cycle %s: heartbeat not stored (%s: %s)", spec.name, type(exc).__name__, exc)
        self.last_heartbeat[spec.name] = hb
        self.last_lateness_s[spec.name] = max(stats.lateness_s, default=0.0)
        return hb

    async def _guarded(self, engine: ProbeEngine, kind: ProbeKind, target: ProbeTarget) -> Sample:
        """An engine that raises has a bug, not a lossy link: record "not measured", log, carry on."""
        started = self.clock()
        try:
            return await engine.probe(target, self.vantage)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("probe engine %s failed on %s", kind.value, target.terminal)
            return not_measured_sample(
                int(started * NS_PER_S), target.terminal, self.vantage, kind, Outcome.SEND_ERROR
            )

    def _flush(self, done: list[Sample], spec: CycleSpec, stats: CycleStats, n_refs: int) -> None:
        if not done:
            return
        batch = list(done)
        done.clear()
        refs = {t.terminal for t in spec.references}
        stats.reference_ok += sum(1 for s in batch if s.terminal in refs and s.received > 0)
        try:
            self.sink(batch)
        except Exception as exc:
            # A full disk or an I/O error must not end the cycle, nor pass unnoticed: the heartbeat
            # carries the count (so it vouches for nothing) and the log names the cause.
            stats.unstored += len(batch)
            self.unstored += len(batch)
            log.error(
                "cycle %s: %d samples not stored (%s: %s)", spec.name, len(batch), type(exc).__name__, exc
            )

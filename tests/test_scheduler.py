"""The scheduler: even spread, every target once per cycle, overruns and stops recorded as not measured.

The engine here is a test double on purpose: these tests are about *when* probes start, so the engine
only records start times (packets are exercised by the probe and daemon tests on the lab).
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import sqlite3
import time
from collections import Counter

import pytest

from slaprobe.model import NS_PER_S, Heartbeat, Outcome, ProbeKind, Sample, cycle_name
from slaprobe.probes.base import ProbeTarget
from slaprobe.scheduler import CycleRunner, CycleSpec, spread_offsets


class RecordingEngine:
    """Answers every probe after ``duration`` seconds; optionally blocks the loop to simulate overload."""

    kind = ProbeKind.ICMP

    def __init__(self, duration: float = 0.01, block_s: float = 0.0, fail: set[str] | None = None) -> None:
        self.duration = duration
        self.block_s = block_s
        self.fail = fail or set()
        self.starts: list[tuple[str, float]] = []

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def probe(self, target: ProbeTarget, vantage: str) -> Sample:
        self.starts.append((target.terminal, time.time()))
        if self.block_s:
            time.sleep(self.block_s)  # an overloaded loop: nothing else runs meanwhile
        if target.terminal in self.fail:
            raise RuntimeError("engine bug")
        await asyncio.sleep(self.duration)
        return Sample(time.time_ns(), target.terminal, vantage, ProbeKind.ICMP, sent=5, received=5)


def _targets(n: int) -> tuple[ProbeTarget, ...]:
    base = ipaddress.ip_address("198.18.0.1")
    return tuple(ProbeTarget(f"T{i:05d}", base + i) for i in range(n))


def _runner(engine: RecordingEngine, events: list, **kw) -> CycleRunner:
    return CycleRunner(
        vantage="v1",
        engines={ProbeKind.ICMP: engine},
        sink=lambda batch: events.append(("samples", list(batch))),
        heartbeat_sink=lambda hb: events.append(("heartbeat", hb)),
        **kw,
    )


@pytest.mark.parametrize(("n", "interval"), [(1820, 60.0), (20_000, 60.0), (7, 30.0), (100_000, 300.0)])
def test_spread_is_flat(n: int, interval: float) -> None:
    offsets = spread_offsets(n, interval, 0.9, 0.1)
    assert len(offsets) == n and offsets == sorted(offsets)
    assert offsets[0] == 0.0 and offsets[-1] < interval * 0.9
    per_second = Counter(int(o) for o in offsets)
    mean = n / (interval * 0.9)
    assert max(per_second.values()) <= max(2 * mean, 1), (max(per_second.values()), mean)


def test_every_target_once_spread_over_the_cycle_then_heartbeat() -> None:
    engine = RecordingEngine()
    events: list = []
    runner = _runner(engine, events, spread=0.9, slot_s=0.05)
    t0 = time.time()
    hb: Heartbeat = asyncio.run(
        runner.run(CycleSpec("default", ProbeKind.ICMP, 2.0, _targets(200)), start=t0)
    )
    assert sorted(t for t, _ in engine.starts) == [f"T{i:05d}" for i in range(200)]
    starts = [s - t0 for _, s in engine.starts]
    assert max(starts) < 2.0 * 0.9 + 0.1
    halves = Counter(s < 0.9 for s in starts)
    assert abs(halves[True] - halves[False]) <= 20  # evenly spread, not bursted
    samples = [s for kind, batch in events if kind == "samples" for s in batch]
    assert len(samples) == 200 and all(s.error is Outcome.OK for s in samples)
    assert events[-1] == ("heartbeat", hb)  # after every sample of its cycle
    assert (hb.due, hb.probed, hb.skipped, hb.late) == (200, 200, 0, 0)


def _skipped_in_own_slot(skipped: list[Sample], t0: float, slot_of: dict[str, float], slot_s: float) -> None:
    """Each skipped sample is dated at the slot its target was due in (hand-computed ``slot_of``), so
    the SLA engine marks that interval unknown, not the one after the cycle."""
    for s in skipped:
        due = t0 + slot_of[s.terminal]
        assert due - 1e-6 <= s.time_ns / NS_PER_S < due + slot_s + 1e-6, (
            s.terminal,
            s.time_ns / NS_PER_S - t0,
        )


def test_overrun_records_not_measured_never_loss() -> None:
    engine = RecordingEngine(block_s=0.05)  # 100 targets x 50 ms of blocked loop > 1 s cycle
    events: list = []
    runner = _runner(engine, events, spread=0.5, slot_s=0.01, late_tolerance_s=0.1)
    t0 = time.time()
    hb = asyncio.run(runner.run(CycleSpec("default", ProbeKind.ICMP, 1.0, _targets(100)), start=t0))
    samples = [s for kind, batch in events if kind == "samples" for s in batch]
    skipped = [s for s in samples if s.error is Outcome.NOT_SCHEDULED]
    assert len(samples) == 100
    assert hb.skipped == len(skipped) > 0
    assert hb.probed + hb.skipped == hb.due == 100
    assert hb.late > 0
    assert all(s.sent == 0 and s.loss is None and not s.measured for s in skipped)
    assert hb.group == cycle_name("default", ProbeKind.ICMP) == "default/icmp"
    assert hb.time_ns == int(t0 * NS_PER_S)
    # by hand: 0.5 x 1 s in 10 ms slots = 50 slots for 100 targets, two per slot: target i at (i // 2) x 10 ms
    slot_of = {f"T{i:05d}": (i // 2) * 0.01 for i in range(100)}
    _skipped_in_own_slot(skipped, t0, slot_of, 0.01)
    # the cycle is the SLA interval here: none of its skipped probes may land in the next one
    assert all(t0 <= s.time_ns / NS_PER_S < t0 + 0.5 for s in skipped)


def test_stop_drains_in_flight_and_marks_the_rest() -> None:
    engine = RecordingEngine(duration=0.3)
    events: list = []
    runner = _runner(engine, events, spread=0.9, slot_s=0.05)
    t0 = time.time()

    async def main() -> Heartbeat:
        stop = asyncio.Event()
        asyncio.get_running_loop().call_later(0.5, stop.set)
        spec = CycleSpec("default", ProbeKind.ICMP, 4.0, _targets(100))
        return await runner.run(spec, start=t0, stop=stop)

    hb = asyncio.run(main())
    samples = [s for kind, batch in events if kind == "samples" for s in batch]
    ok = [s for s in samples if s.error is Outcome.OK]
    assert len(ok) == hb.probed == len(engine.starts)  # every started probe finished and was stored
    assert 0 < hb.probed < 100 and hb.skipped == 100 - hb.probed
    assert hb.group == "default/icmp"
    skipped = [s for s in samples if s.error is Outcome.NOT_SCHEDULED]
    assert len(skipped) == hb.skipped
    # by hand: 0.9 x 4 s = 3.6 s in 50 ms slots (71 or 72 of them after float rounding) for 100
    # targets: target i at about i x 36 ms, rounded down to a slot; the tolerance is one slot
    slot_of = {f"T{i:05d}": i * 0.036 - 0.05 for i in range(100)}
    _skipped_in_own_slot(skipped, t0, slot_of, 0.1)
    assert max(s.time_ns for s in skipped) / NS_PER_S - t0 > 3.0  # the last targets were due late


def test_engine_failure_is_not_measured() -> None:
    engine = RecordingEngine(fail={"T00003"})
    events: list = []
    hb = asyncio.run(
        _runner(engine, events, slot_s=0.01).run(CycleSpec("g", ProbeKind.ICMP, 0.5, _targets(5)))
    )
    samples = {s.terminal: s for kind, batch in events if kind == "samples" for s in batch}
    assert samples["T00003"].error is Outcome.SEND_ERROR and samples["T00003"].loss is None
    assert hb.probed == 5


def test_reference_targets_feed_the_heartbeat() -> None:
    engine = RecordingEngine()
    events: list = []
    refs = (ProbeTarget("ref:a", ipaddress.ip_address("198.19.0.1")),)
    spec = CycleSpec("g", ProbeKind.ICMP, 0.5, _targets(3), references=refs)
    hb = asyncio.run(_runner(engine, events, slot_s=0.01).run(spec))
    assert (hb.reference_ok, hb.reference_total, hb.due, hb.probed) == (1, 1, 3, 3)


class FailingSink:
    """A store that refuses some batches the way SQLite does when the disk is full."""

    def __init__(self, fail_batches: set[int]) -> None:
        self.fail_batches = fail_batches
        self.calls = 0
        self.stored: list[Sample] = []

    def __call__(self, batch) -> None:
        self.calls += 1
        if self.calls in self.fail_batches:
            raise sqlite3.OperationalError("database or disk is full")
        self.stored.extend(batch)


def test_a_refused_batch_is_counted_in_the_heartbeat_and_logged(caplog) -> None:
    engine = RecordingEngine(duration=0.01)
    sink = FailingSink({1})  # the first batch (the first flush_every_s of the cycle) is refused
    beats: list[Heartbeat] = []
    runner = CycleRunner(
        vantage="v1",
        engines={ProbeKind.ICMP: engine},
        sink=sink,
        heartbeat_sink=beats.append,
        spread=0.9,
        slot_s=0.05,
        flush_every_s=0.3,
    )
    with caplog.at_level(logging.ERROR, logger="slaprobe.scheduler"):
        hb = asyncio.run(runner.run(CycleSpec("default", ProbeKind.ICMP, 1.5, _targets(60))))
    assert sink.calls >= 2, "the cycle went on after the refused batch"
    lost = 60 - len(sink.stored)
    assert lost > 0 and hb.unstored == lost == runner.unstored
    assert (hb.due, hb.probed) == (60, 60)
    assert not hb.healthy and beats == [hb]
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1, errors  # once per failure
    assert f"{lost} samples not stored" in errors[0] and "database or disk is full" in errors[0]


def test_a_refused_heartbeat_is_logged_never_raised(caplog) -> None:
    def refuse(hb: Heartbeat) -> None:
        raise OSError(5, "Input/output error")

    runner = CycleRunner(
        vantage="v1", engines={ProbeKind.ICMP: RecordingEngine()}, sink=lambda b: None, heartbeat_sink=refuse
    )
    with caplog.at_level(logging.ERROR, logger="slaprobe.scheduler"):
        hb = asyncio.run(runner.run(CycleSpec("g", ProbeKind.ICMP, 0.3, _targets(3))))
    assert hb.probed == 3 and hb.unstored == 0 and runner.heartbeats_unstored == 1
    assert any(
        "heartbeat not stored" in r.getMessage() and "Input/output error" in r.getMessage()
        for r in caplog.records
    )

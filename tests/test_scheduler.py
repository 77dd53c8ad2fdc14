"""The scheduler: even spread, every target once per cycle, overruns and stops recorded as not measured.

The engine here is a test double on purpose: these tests are about *when* probes start, so the engine
only records start times (packets are exercised by the probe and daemon tests on the lab).
"""

from __future__ import annotations

import asyncio
import ipaddress
import time
from collections import Counter

import pytest

from slaprobe.model import Heartbeat, Outcome, ProbeKind, Sample
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


def test_overrun_records_not_measured_never_loss() -> None:
    engine = RecordingEngine(block_s=0.05)  # 100 targets x 50 ms of blocked loop > 1 s cycle
    events: list = []
    runner = _runner(engine, events, spread=0.5, slot_s=0.01, late_tolerance_s=0.1)
    hb = asyncio.run(runner.run(CycleSpec("default", ProbeKind.ICMP, 1.0, _targets(100))))
    samples = [s for kind, batch in events if kind == "samples" for s in batch]
    skipped = [s for s in samples if s.error is Outcome.NOT_SCHEDULED]
    assert len(samples) == 100
    assert hb.skipped == len(skipped) > 0
    assert hb.probed + hb.skipped == hb.due == 100
    assert hb.late > 0
    assert all(s.sent == 0 and s.loss is None and not s.measured for s in skipped)


def test_stop_drains_in_flight_and_marks_the_rest() -> None:
    engine = RecordingEngine(duration=0.3)
    events: list = []
    runner = _runner(engine, events, spread=0.9, slot_s=0.05)

    async def main() -> Heartbeat:
        stop = asyncio.Event()
        asyncio.get_running_loop().call_later(0.5, stop.set)
        return await runner.run(CycleSpec("default", ProbeKind.ICMP, 4.0, _targets(100)), stop=stop)

    hb = asyncio.run(main())
    samples = [s for kind, batch in events if kind == "samples" for s in batch]
    ok = [s for s in samples if s.error is Outcome.OK]
    assert len(ok) == hb.probed == len(engine.starts)  # every started probe finished and was stored
    assert 0 < hb.probed < 100 and hb.skipped == 100 - hb.probed


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

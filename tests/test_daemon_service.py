"""In service, as the daemon decides it: each cycle probes exactly the terminals the SLA engine counts at
the cycle's start (from local midnight, ``sla.timezone``, of ``in_service_from`` to the end of the
``in_service_to`` day), so a terminal that opens while the daemon runs is probed from its first cycle.

The clock is shifted so that a real local midnight of the zone falls a few seconds into the test; the
expectations come from that midnight alone (computed here with zoneinfo), not from the daemon's rule.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import math
import time
from zoneinfo import ZoneInfo

import pytest

from slaprobe import sample_network
from slaprobe.config import Config, SlaConfig
from slaprobe.daemon import build_specs
from slaprobe.inventory import Inventory
from slaprobe.model import NS_PER_S, ProbeKind, Sample
from slaprobe.probes.base import ProbeTarget
from slaprobe.scheduler import CycleRunner

INTERVAL_S = 1.0


class Recorder:
    kind = ProbeKind.ICMP

    def __init__(self) -> None:
        self.probed: list[str] = []

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def probe(self, target: ProbeTarget, vantage: str) -> Sample:
        self.probed.append(target.terminal)
        return Sample(time.time_ns(), target.terminal, vantage, ProbeKind.ICMP, sent=5, received=5)


@pytest.mark.parametrize("zone", ["Asia/Shanghai", "America/St_Johns", "Asia/Kathmandu"])
def test_a_terminal_opening_at_local_midnight_is_probed_from_that_cycle_on(zone: str) -> None:
    tz = ZoneInfo(zone)
    now = dt.datetime.now(tz)
    opening_day = now.date() + dt.timedelta(days=1)
    midnight = dt.datetime(opening_day.year, opening_day.month, opening_day.day, tzinfo=tz).timestamp()
    shift = midnight - time.time() - 2.4  # the simulated clock reaches local midnight 2.4 s from now

    def clock() -> float:
        return time.time() + shift

    base = [
        dataclasses.replace(t, probes=(ProbeKind.ICMP,), group="default") for t in sample_network.generate(3)
    ]
    old = dataclasses.replace(base[0], id="OLD", in_service_from=dt.date(2020, 1, 1))
    opening = dataclasses.replace(base[1], id="OPENS", in_service_from=opening_day)  # "today" after midnight
    retiring = dataclasses.replace(  # last day in service: the day that ends at that midnight
        base[2],
        id="RETIRES",
        in_service_from=dt.date(2020, 1, 1),
        in_service_to=opening_day - dt.timedelta(1),
    )
    config = Config(sla=SlaConfig(timezone=zone))
    (spec,) = build_specs(config, Inventory((old, opening, retiring))).values()
    spec = dataclasses.replace(spec, interval_s=INTERVAL_S)
    engine = Recorder()
    beats = []
    runner = CycleRunner(
        vantage="v1",
        engines={ProbeKind.ICMP: engine},
        sink=lambda batch: None,
        heartbeat_sink=beats.append,
        slot_s=0.05,
        clock=clock,
    )

    async def main() -> list[tuple[float, set[str]]]:
        out = []
        for _ in range(5):
            start = math.floor(clock() / INTERVAL_S) * INTERVAL_S + INTERVAL_S
            await asyncio.sleep(start - clock())
            before = len(engine.probed)
            await runner.run(spec, start=start)
            out.append((start, set(engine.probed[before:])))
        return out

    cycles = asyncio.run(main())
    starts = [s for s, _ in cycles]
    assert any(s < midnight for s in starts) and any(s >= midnight for s in starts), (starts, midnight)
    for (start, probed), hb in zip(cycles, beats, strict=True):
        expected = {"OLD", "RETIRES"} if start < midnight else {"OLD", "OPENS"}
        assert probed == expected, (start - midnight, probed)
        assert hb.due == hb.probed == 2 and hb.time_ns == int(start * NS_PER_S)

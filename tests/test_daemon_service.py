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
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml

from slaprobe import sample_network
from slaprobe.config import Config, SlaConfig
from slaprobe.daemon import build_specs
from slaprobe.inventory import Inventory, write_csv
from slaprobe.lab import LabProfile
from slaprobe.model import NS_PER_S, ProbeKind, Sample
from slaprobe.probes.base import ProbeTarget
from slaprobe.scheduler import CycleRunner
from slaprobe.store.journal import JournalStore
from tests.helpers import ROOT

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


def _zone_with_midnight_at(root: Path, when: float) -> tuple[str, int]:
    """A time zone (compiled by zic into ``root``) whose local midnight falls at ``when`` (UTC s)."""
    off = int(-when) % 86_400
    if off > 43_200:
        off -= 86_400
    sign, a = ("-" if off < 0 else ""), abs(off)
    (root / "src").write_text(
        f"Zone Test/Midnight {sign}{a // 3600}:{a % 3600 // 60:02d}:{a % 60:02d} - TST\n"
    )
    subprocess.run(["zic", "-d", str(root / "zones"), str(root / "src")], check=True)
    return "Test/Midnight", off


def test_the_real_daemon_probes_a_terminal_from_its_opening_local_midnight(
    tmp_path: Path, lab_factory
) -> None:
    """The daemon itself (no reload): a terminal whose ``in_service_from`` is the day that starts, in
    ``sla.timezone``, a few cycles into the run is probed from exactly that cycle on; one whose
    ``in_service_to`` is the day that ends then is probed until then. The zone is made for the test
    (its midnight on a cycle boundary 8-10 s after start), so it runs at any hour."""
    interval = 2.0
    opens_at = math.ceil(time.time() / interval) * interval + 4 * interval
    zone, off = _zone_with_midnight_at(tmp_path, opens_at)
    opening_day = (dt.datetime.fromtimestamp(opens_at, dt.UTC) + dt.timedelta(seconds=off)).date()
    base = [
        dataclasses.replace(t, probes=(ProbeKind.ICMP,), group="default") for t in sample_network.generate(12)
    ]
    always = base[:10]
    opening = dataclasses.replace(base[10], id="OPENS", in_service_from=opening_day)
    retiring = dataclasses.replace(base[11], id="RETIRES", in_service_to=opening_day - dt.timedelta(days=1))
    terminals = [*always, opening, retiring]
    write_csv(terminals, tmp_path / "inv.csv")
    lab = lab_factory(LabProfile.build(terminals=[(t.id, str(t.address)) for t in terminals]))
    cfg = tmp_path / "slaprobe.yaml"
    cfg.write_text(
        yaml.safe_dump(
            {
                "vantage": "test-probe",
                "inventory": str(tmp_path / "inv.csv"),
                "state_dir": str(tmp_path / "state"),
                "netns": lab.netns,
                "schedule": {"interval_s": interval, "slot_ms": 50.0},
                "sla": {"timezone": zone},
                "log": {"format": "json", "level": "info"},
            }
        )
    )
    env = {**os.environ, "PYTHONTZPATH": str(tmp_path / "zones")}
    log = tmp_path / "daemon.log"
    daemon = subprocess.Popen(
        [sys.executable, "-m", "slaprobe", "run", "--config", str(cfg)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log.open("wb"),
    )
    try:
        time.sleep(max(0.0, opens_at + 3 * interval + 1.0 - time.time()))
    finally:
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(30) == 0, log.read_text()[-3000:]
    with JournalStore(tmp_path / "state" / "journal.sqlite", readonly=True) as j:
        beats = sorted(j.heartbeats(0, 2**62), key=lambda h: h.time_ns)
        samples = list(j.samples(0, 2**62))
    opens_ns = int(opens_at * NS_PER_S)
    before = [h for h in beats if h.time_ns < opens_ns]
    after = [h for h in beats if h.time_ns >= opens_ns]
    assert len(before) >= 1 and len(after) >= 3, (
        [h.time_ns - opens_ns for h in beats],
        log.read_text()[-2000:],
    )
    assert all(h.due == 11 for h in beats)  # 10 always + one of OPENS / RETIRES

    def cycles_of(terminal: str) -> set[int]:
        return {
            h.time_ns
            for h in beats
            for s in samples
            if s.terminal == terminal and h.time_ns <= s.time_ns < h.time_ns + int(interval * NS_PER_S)
        }

    assert cycles_of("OPENS") == {h.time_ns for h in after}
    assert cycles_of("RETIRES") == {h.time_ns for h in before}


def test_an_unknown_sla_timezone_is_a_config_error_naming_the_key() -> None:
    from slaprobe.configload import ConfigError

    with pytest.raises(ConfigError, match=r"sla\.timezone: 'Mars/Olympus'"):
        build_specs(
            Config(sla=SlaConfig(timezone="Mars/Olympus")), Inventory(tuple(sample_network.generate(2)))
        )

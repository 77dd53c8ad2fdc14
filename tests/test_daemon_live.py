"""The daemon's live hook: what the store accepted is judged, events reach every sink, nothing breaks
probing, and the state outlives the process.

Cycles run through the daemon's own sinks (``Daemon._write_samples`` / ``_write_heartbeat``) with a rule
scaled down to Δt 1 s, n 2 (cycles of 0.5 s): terminal T0 answers nothing from the 2nd to the 5th second
of the run (whole seconds), everything else always answers; the daemon restarts inside the outage.
"""

from __future__ import annotations

import asyncio
import dataclasses
import ipaddress
import json
import math
import time
from pathlib import Path

from slaprobe import sample_network
from slaprobe.config import Config, LiveConfig, SlaConfig
from slaprobe.daemon import Daemon
from slaprobe.inventory import Inventory
from slaprobe.live.sinks import read_events
from slaprobe.live.wiring import STATE_NOTE
from slaprobe.model import NS_PER_S, ProbeKind, Sample
from slaprobe.probes.base import ProbeTarget
from slaprobe.scheduler import CycleRunner, CycleSpec
from slaprobe.sla.engine import Period, report_month
from slaprobe.sla.kpi import HOUR_NS
from slaprobe.sla.rule import rule_from
from slaprobe.store.journal import JournalStore
from slaprobe.store.sla_journal import JournalSlaSource

CYCLE_S = 0.5


class Scripted:
    """T0 loses every packet while ``down[0] <= now < down[1]`` (wall clock s)."""

    kind = ProbeKind.ICMP

    def __init__(self, victim: str, down: tuple[float, float]) -> None:
        self.victim, self.down = victim, down

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def probe(self, target: ProbeTarget, vantage: str) -> Sample:
        now = time.time()
        lost = target.terminal == self.victim and self.down[0] <= now < self.down[1]
        return Sample(time.time_ns(), target.terminal, vantage, ProbeKind.ICMP, 5, 0 if lost else 5)


class Broken:
    def __init__(self) -> None:
        self.calls = 0

    def publish(self, events) -> None:  # type: ignore[no-untyped-def]
        self.calls += 1
        raise RuntimeError("receiver down")


def _run(daemon: Daemon, engine: Scripted, spec: CycleSpec, until: float) -> None:
    runner = CycleRunner(
        vantage="v1", engines={ProbeKind.ICMP: engine}, sink=daemon._write_samples,
        heartbeat_sink=daemon._write_heartbeat, slot_s=0.02, flush_every_s=0.1,
    )  # fmt: skip

    async def cycles() -> None:
        while time.time() < until:
            start = math.floor(time.time() / CYCLE_S) * CYCLE_S + CYCLE_S
            await asyncio.sleep(max(0.0, start - time.time()))
            await runner.run(spec, start=start)

    asyncio.run(cycles())


def test_daemon_publishes_live_outages_saves_state_and_survives_broken_sinks(tmp_path: Path) -> None:
    terminals = [
        dataclasses.replace(t, probes=(ProbeKind.ICMP,), group="default") for t in sample_network.generate(12)
    ]
    inv = Inventory(tuple(terminals))
    config = Config(
        state_dir=str(tmp_path),
        sla=SlaConfig(interval_s=1, consecutive=2, timezone="UTC"),
        live=LiveConfig(events_file="events.jsonl"),
    )
    victim = terminals[0].id
    t0 = math.floor(time.time()) + 1
    down = (t0 + 2.0, t0 + 5.0)
    engine = Scripted(victim, down)
    base = ipaddress.ip_address("198.18.0.1")
    spec = CycleSpec("default", ProbeKind.ICMP, CYCLE_S, tuple(ProbeTarget(t.id, base) for t in terminals))

    daemon = Daemon(config, inventory=inv)
    broken = Broken()
    daemon.sinks.insert(0, broken)  # a receiver that raises must not stop the others, nor probing
    _run(daemon, engine, spec, t0 + 4.6)  # stops inside the outage, once it fired
    assert daemon.live is not None and daemon.live.state_of(victim)[0]
    daemon.store.close()

    again = Daemon(config, inventory=inv)  # a restart: the open outage comes back from the journal
    assert again.live is not None and again.live.state_of(victim) == (True, int(down[0]) * NS_PER_S)
    _run(again, engine, spec, t0 + 7.6)
    again.store.close()

    events = [e for e in read_events(tmp_path / "events.jsonl") if e["kind"] == "terminal_outage"]
    # one firing (before the restart), one resolved (after): seconds 2..5 lost, back-dated to 2
    assert [(e["key"], e["status"]) for e in events] == [(victim, "firing"), (victim, "resolved")]
    assert events[1]["start_ns"] == int(down[0]) * NS_PER_S and events[1]["end_ns"] == int(down[1]) * NS_PER_S
    assert broken.calls >= 1 and daemon.live_errors == 0
    j = JournalStore(tmp_path / "journal.sqlite", readonly=True)
    state = json.loads(j.get_note(STATE_NOTE) or "{}")
    start = int(t0) * NS_PER_S // HOUR_NS * HOUR_NS
    report = report_month(
        JournalSlaSource(j), terminals, rule_from("mef10.3", interval_s=1, consecutive=2),
        Period("run", start, start + 2 * HOUR_NS, "UTC"),
    )  # fmt: skip
    j.close()
    assert state["runs"] == {}  # nothing open any more
    assert [(o.terminal, o.start_ns, o.end_ns) for o in report.outages] == [
        (victim, events[1]["start_ns"], events[1]["end_ns"])
    ]

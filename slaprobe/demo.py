"""``slaprobe demo``: the whole pipeline on the simulated province network, watchable in one terminal.

It starts the TUN lab for the example inventory (realistic delays, a few lossy villages, one scripted
outage), runs the real daemon inside the lab's namespace on the embedded store, and prints what arrives
in the journal after every cycle. Nothing here is special-cased: it is the daemon an operator runs,
pointed at the lab.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

from slaprobe.config import Config, load_config
from slaprobe.daemon import Daemon
from slaprobe.inventory import Inventory, load_inventory
from slaprobe.lab import Lab, LabProfile
from slaprobe.model import Sample
from slaprobe.terminal import Terminal

EXAMPLE_INVENTORY = Path(__file__).resolve().parent.parent / "config" / "terminals.example.csv"


_BASE_DELAY_MS = {"province": 2.0, "province_dept": 3.0, "city": 8.0, "city_dept": 10.0}


def demo_profile(terminals: Sequence[Terminal], seed: int = 7, outage_after_s: float = 90.0) -> LabProfile:
    """Impairments that look like a province: fast cities, slower villages, some loss, one outage."""
    rng = random.Random(seed)
    per: dict[str, dict[str, float]] = {}
    for t in terminals:
        delay = {"province": 2.0, "province_dept": 3.0, "city": 8.0, "city_dept": 10.0}.get(
            t.level.value, 20.0
        )
        per[t.id] = {"delay_ms": delay + rng.uniform(0, delay), "jitter_ms": rng.choice((0.0, 0.5, 2.0))}
        if rng.random() < 0.03:
            per[t.id]["loss"] = rng.choice((0.01, 0.05, 0.2))
    victims = [t.id for t in terminals if t.region == "sansha"][:3] or [terminals[-1].id]
    return LabProfile.build(
        terminals=[(t.id, str(t.address)) for t in terminals],
        per_terminal=per,
        outages=[{"terminals": victims, "start_offset_s": outage_after_s, "duration_s": 300.0}],
        seed=seed,
    )


def _summary(samples: Sequence[Sample]) -> str:
    measured = [s for s in samples if s.measured]
    lossy = [s for s in measured if s.received < s.sent]
    down = [s for s in measured if s.received == 0]
    rtts = [s.rtt_p50_ms for s in measured if s.rtt_p50_ms is not None]
    median = f"{statistics.median(rtts):.1f} ms" if rtts else "-"
    return (
        f"{len(samples):5d} samples  {len(lossy):4d} with loss  {len(down):3d} no answer  median RTT {median}"
        + (f"  down: {', '.join(sorted({s.terminal for s in down})[:5])}" if down else "")
    )


async def _watch(daemon: Daemon, echo: Callable[[str], None], every_s: float) -> None:
    last = time.time_ns()
    while True:
        await asyncio.sleep(every_s)
        now = time.time_ns()
        rows = list(daemon.store.samples(last, now))
        last = now
        echo(f"{time.strftime('%H:%M:%S')}  {_summary(rows)}")


async def _run(daemon: Daemon, minutes: float | None, echo: Callable[[str], None], every_s: float) -> int:
    watcher = asyncio.ensure_future(_watch(daemon, echo, every_s))
    runner = asyncio.ensure_future(daemon.run())
    if minutes is not None:
        asyncio.get_running_loop().call_later(minutes * 60, daemon.stop)
    try:
        return await runner
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher


def run_demo(
    *,
    state_dir: Path,
    terminals: int | None = None,
    minutes: float | None = None,
    interval_s: float = 60.0,
    echo: Callable[[str], None] = print,
) -> int:
    inventory = load_inventory(EXAMPLE_INVENTORY)
    if terminals is not None:
        inventory = Inventory(inventory.terminals[:terminals], inventory.carriers, inventory.tiers)
    base: Config = load_config(None)
    with Lab.start(demo_profile(inventory.terminals), truth=False) as lab:
        config = replace(
            base,
            state_dir=str(state_dir),
            netns=lab.netns,
            schedule=replace(base.schedule, interval_s=interval_s, groups={}),
        )
        echo(
            f"lab {lab.netns}: {len(inventory)} simulated terminals answering\n"
            f"journal: {config.journal_path}\n"
            f"probing every {interval_s:g} s (Ctrl-C stops; a scripted 5-minute outage starts after 90 s)"
        )
        daemon = Daemon(config, inventory=inventory)
        code = asyncio.run(_run(daemon, minutes, echo, interval_s))
    echo(
        "read the stored samples back with\n"
        f"  slaprobe samples --journal {config.journal_path} --since 1h --terminal T00001"
    )
    return code

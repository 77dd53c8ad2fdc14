"""One probe host's engines share sockets (issue #15): icmp + icmp-jitter one ICMP transport (one raw
socket per family), stamp + rtp one StreamEngine (one UDP socket per family); the daemon uses the pool."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
from pathlib import Path

import pytest

from slaprobe.config import Config, ProbesConfig
from slaprobe.daemon import Daemon, build_specs
from slaprobe.inventory import Inventory
from slaprobe.model import ProbeKind
from slaprobe.probes.icmp import IcmpJitterSettings, IcmpSettings
from slaprobe.probes.pool import EnginePool
from slaprobe.probes.rtp import RtpSettings
from slaprobe.probes.stamp import StampSettings
from tests.sla.scenario import terminal

KINDS = {
    ProbeKind.ICMP: IcmpSettings(),
    ProbeKind.ICMP_JITTER: IcmpJitterSettings(),
    ProbeKind.STAMP: StampSettings(),
    ProbeKind.RTP: RtpSettings(),
}


def _sockets() -> int:
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            count += os.readlink(f"/proc/self/fd/{fd}").startswith("socket:[")
    return count


def test_four_kinds_open_four_sockets_and_close_them() -> None:
    async def main():  # type: ignore[no-untyped-def]
        before = _sockets()
        pool = EnginePool()
        engines = {kind: await pool.engine(kind, settings) for kind, settings in KINDS.items()}
        opened = _sockets() - before
        again = await pool.engine(ProbeKind.ICMP, KINDS[ProbeKind.ICMP])
        await pool.close()
        return engines, opened, again, _sockets() - before

    engines, opened, again, left = asyncio.run(main())
    assert engines[ProbeKind.ICMP].transport is engines[ProbeKind.ICMP_JITTER].transport
    assert engines[ProbeKind.STAMP].streams is engines[ProbeKind.RTP].streams
    assert again is engines[ProbeKind.ICMP]
    assert opened == 4  # raw ICMP v4 + v6, UDP v4 + v6 (each kind alone would have opened 8)
    assert left == 0


def test_icmp_kinds_with_different_dscp_get_their_own_transport() -> None:
    async def main():  # type: ignore[no-untyped-def]
        pool = EnginePool()
        a = await pool.engine(ProbeKind.ICMP, IcmpSettings(dscp=34))
        b = await pool.engine(ProbeKind.ICMP_JITTER, IcmpJitterSettings(dscp=46))
        try:
            return a.transport is b.transport
        finally:
            await pool.close()

    assert asyncio.run(main()) is False


def test_the_daemon_builds_its_engines_from_one_pool(tmp_path: Path) -> None:
    inv = Inventory(tuple(terminal(f"T{i}") for i in range(3)))
    inv = Inventory(tuple(dataclasses.replace(t, probes=tuple(KINDS)) for t in inv.terminals))
    config = Config(state_dir=str(tmp_path), probes=ProbesConfig())
    daemon = Daemon(config, inventory=inv)

    async def main():  # type: ignore[no-untyped-def]
        daemon.specs = build_specs(config, inv)
        await daemon._ensure_engines()
        try:
            return dict(daemon.engines)
        finally:
            await daemon.pool.close()
            daemon.store.close()

    engines = asyncio.run(main())
    assert set(engines) == set(KINDS)
    assert engines[ProbeKind.ICMP].transport is engines[ProbeKind.ICMP_JITTER].transport
    assert engines[ProbeKind.STAMP].streams is engines[ProbeKind.RTP].streams


pytestmark = pytest.mark.lab  # raw sockets: root, like every lab test

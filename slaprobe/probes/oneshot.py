"""One-shot probing of a list of addresses (``slaprobe probe``): settings from options, one loop run.

Library side of the CLI command, so the command stays a few lines and tests can call it directly.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Sequence
from ipaddress import ip_address
from typing import Any

from slaprobe.model import ProbeKind, Sample
from slaprobe.probes.base import ProbeTarget, probe_spread
from slaprobe.probes.registry import SETTINGS, make_engine

START_SPACING_S = 0.001  # like fping -i 1: targets start 1 ms apart, so a long list does not burst


def parse_targets(addresses: Sequence[str]) -> list[ProbeTarget]:
    """Targets named by their address; raises ValueError naming the first bad one."""
    targets = []
    for text in addresses:
        try:
            addr = ip_address(text.strip())
        except ValueError:
            raise ValueError(f"not an IPv4 or IPv6 address: {text!r}") from None
        targets.append(ProbeTarget(terminal=str(addr), address=addr))
    return targets


def build_settings(kind: ProbeKind, sources: Sequence[str] = (), **overrides: Any) -> Any:
    """The kind's settings with the given overrides (None = keep the default); ``sources`` holds at
    most one IPv4 and one IPv6 source address. Raises ValueError with the offending option."""
    values = {k: v for k, v in overrides.items() if v is not None}
    for text in sources:
        try:
            addr = ip_address(text.strip())
        except ValueError:
            raise ValueError(f"--source: not an IP address: {text!r}") from None
        key = f"source_v{addr.version}"
        if key in values:
            raise ValueError(f"--source: more than one IPv{addr.version} source address given")
        values[key] = str(addr)
    return SETTINGS[kind](**values)


def probe_once(
    kind: ProbeKind, settings: Any, targets: Sequence[ProbeTarget], vantage: str | None = None
) -> list[Sample]:
    """Probe every target once with a fresh engine; samples in target order."""
    vantage = vantage or socket.gethostname()

    async def run() -> list[Sample]:
        engine = make_engine(kind, settings)
        await engine.start()
        try:
            return await probe_spread(engine, targets, vantage, over_s=len(targets) * START_SPACING_S)
        finally:
            await engine.close()

    return asyncio.run(run())

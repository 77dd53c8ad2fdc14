"""The probe interface every probe kind implements, and helpers to drive it.

The framework (scheduler, daemon, CLI) owns deadlines and bookkeeping; an engine only measures. An engine
opens its shared sockets once (``start``), then measures one target per ``probe`` call: a burst, a train
or a stream in, one Sample out. ``probe`` is a coroutine so thousands of them run concurrently on one
event loop; no engine keeps a thread or a socket per target.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address
from typing import Protocol, runtime_checkable

from slaprobe.model import ProbeKind, Sample


@dataclass(frozen=True, slots=True)
class ProbeTarget:
    """What an engine needs to know about a terminal: its id, where to send, and its reflector if any."""

    terminal: str
    address: IPv4Address | IPv6Address
    reflector: tuple[str, int] | None = None  # (host, port) for STAMP / RTP echo


@runtime_checkable
class ProbeEngine(Protocol):
    """One probe kind. ``probe`` never raises for network trouble: it returns a Sample whose ``error``
    says what happened (timeout, unreachable, send_error), because a failed measurement is data."""

    kind: ProbeKind

    async def start(self) -> None:
        """Open the shared sockets. Raises if the host cannot probe at all (e.g. no privilege)."""
        ...

    async def probe(self, target: ProbeTarget, vantage: str) -> Sample:
        """Measure one target once (one burst / train / stream) and return one Sample."""
        ...

    async def close(self) -> None:
        """Close the shared sockets; probes still running end as if their packets were lost."""
        ...


async def probe_spread(
    engine: ProbeEngine,
    targets: Sequence[ProbeTarget],
    vantage: str,
    over_s: float = 0.0,
    on_sample: Callable[[Sample], Awaitable[None] | None] | None = None,
) -> list[Sample]:
    """Probe every target once, starting them evenly over ``over_s`` seconds; samples in target order.

    This is how a scheduler slot drives an engine (and what ``slaprobe probe`` and the benchmark use):
    start times are absolute (t0 + i·over_s/n on the loop clock), so a slow start does not push every
    later target back. ``on_sample`` is called as each sample completes (e.g. to journal it at once).
    """
    loop = asyncio.get_running_loop()
    n = len(targets)
    step = over_s / n if n else 0.0
    t0 = loop.time()

    async def one(i: int, target: ProbeTarget) -> Sample:
        delay = t0 + i * step - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        sample = await engine.probe(target, vantage)
        if on_sample is not None:
            result = on_sample(sample)
            if result is not None:
                await result
        return sample

    return list(await asyncio.gather(*(one(i, t) for i, t in enumerate(targets))))

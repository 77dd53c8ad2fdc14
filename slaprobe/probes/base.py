"""The probe interface every probe kind implements, and helpers to drive it.

The framework (scheduler, daemon, CLI) owns deadlines and bookkeeping; an engine only measures. An engine
opens its shared sockets once (``start``), then measures one target per ``probe`` call: a burst, a train
or a stream in, one Sample out. ``probe`` is a coroutine so thousands of them run concurrently on one
event loop; no engine keeps a thread or a socket per target.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address
from typing import Protocol, runtime_checkable

from slaprobe.model import ProbeKind, Sample

START_TICK_S = 0.02  # probe_spread starts targets in batches on this grid


class SettingsError(ValueError):
    """Every problem of one probe kind's settings at once (a config with two bad keys names both)."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(self.problems))

    @staticmethod
    def check(problems: list[str]) -> None:
        if problems:
            raise SettingsError(problems)


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
    start times are absolute (t0 + i·over_s/n on the loop clock, rounded up to 20 ms), so a slow start
    does not push every later target back. ``on_sample`` is called as each sample completes (e.g. to
    journal it at once).
    """
    loop = asyncio.get_running_loop()
    n = len(targets)
    step = over_s / n if n else 0.0
    t0 = loop.time()

    async def one(target: ProbeTarget) -> Sample:
        sample = await engine.probe(target, vantage)
        if on_sample is not None:
            result = on_sample(sample)
            if result is not None:
                await result
        return sample

    # One pacer starts the probes as their time comes (rather than n tasks sleeping from the outset:
    # thousands of sleeping timers make every timer operation of the loop slower), in batches on a
    # START_TICK_S grid, so that starting 400 targets a second costs 50 loop wake-ups, not 400.
    tasks: list[asyncio.Task[Sample]] = []
    try:
        for i, target in enumerate(targets):
            due = math.ceil((t0 + i * step) / START_TICK_S - 1e-9) * START_TICK_S
            delay = due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.ensure_future(one(target)))
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for task in tasks:
            task.cancel()
        raise

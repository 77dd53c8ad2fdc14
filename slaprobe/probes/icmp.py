"""ICMP echo probes: ``icmp`` (a short burst per target) and ``icmp-jitter`` (a paced train).

One :class:`IcmpEngine` measures any number of targets concurrently through one shared
:class:`~slaprobe.probes.icmp_socket.IcmpTransport` (one socket per address family). ``probe`` is a
coroutine that sends ``count`` echoes spaced ``interval_ms`` apart on absolute times (on the transport's
20 ms send grid, which batches many probes' echoes into one loop wake-up), waits until the last echo's
timeout and turns what came back into a Sample: loss over the echoes actually sent, RTT
min/avg/max/median, jitter over consecutive RTTs in arrival order (mean |D| and RFC 3550) and RFC 5481
PDV (docs/measurements.md).
A reply later than ``timeout_ms`` counts as lost and late. ``Sample.time_ns`` is the first send.
The observation window is fixed (first send to last send + timeout) even when every echo is answered
early: duplicates then count the same way for every probe, and a probe's duration does not depend on
the network's answers, which keeps a scheduler's load predictable.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from ipaddress import ip_address
from typing import ClassVar

from slaprobe.model import NS_PER_MS, Outcome, ProbeKind, Sample, outcome_for
from slaprobe.probes.base import ProbeTarget, SettingsError
from slaprobe.probes.icmp_echo import NOT_SENT, TOKEN_SIZE, UNREACHED, EchoProbe, IcmpStats, padding
from slaprobe.probes.icmp_socket import IcmpTransport, SocketMode
from slaprobe.probes.stats import summarize

MAX_PAYLOAD = 65_000  # leaves room for IPv4 + ICMP headers inside 65,535


@dataclass(frozen=True, slots=True)
class IcmpSettings:
    """Settings of the ``icmp`` probe (a burst of echoes per target per cycle).

    Defaults: 5 echoes 200 ms apart, 1 s timeout each, DSCP AF41 (34, TOS 0x88) like the video traffic
    whose path we judge, 56 payload bytes like ping (the first 8 carry the matching token).
    """

    kind: ClassVar[ProbeKind] = ProbeKind.ICMP

    count: int = 5
    interval_ms: float = 200.0
    timeout_ms: float = 1000.0
    dscp: int = 34
    payload_size: int = 56
    source_v4: str | None = None
    source_v6: str | None = None
    socket_mode: SocketMode = SocketMode.AUTO  # auto = raw if permitted, else unprivileged ping sockets

    def __post_init__(self) -> None:
        name = self.kind.value
        problems: list[str] = []
        if not isinstance(self.count, int) or isinstance(self.count, bool) or self.count < 1:
            problems.append(f"{name}.count: must be an integer >= 1, got {self.count!r}")
        elif self.count > 65_536:
            problems.append(f"{name}.count: at most 65536 echoes per probe, got {self.count}")
        if not self.interval_ms >= 0:
            problems.append(f"{name}.interval_ms: must be >= 0, got {self.interval_ms!r}")
        if not self.timeout_ms > 0:
            problems.append(f"{name}.timeout_ms: must be > 0, got {self.timeout_ms!r}")
        if not isinstance(self.dscp, int) or not 0 <= self.dscp <= 63:
            problems.append(f"{name}.dscp: must be an integer 0..63, got {self.dscp!r}")
        if not isinstance(self.payload_size, int) or not TOKEN_SIZE <= self.payload_size <= MAX_PAYLOAD:
            problems.append(
                f"{name}.payload_size: must be an integer {TOKEN_SIZE}..{MAX_PAYLOAD} "
                f"(the first {TOKEN_SIZE} bytes carry the matching token), got {self.payload_size!r}"
            )
        for key, version in (("source_v4", 4), ("source_v6", 6)):
            value = getattr(self, key)
            if value is None:
                continue
            try:
                addr = ip_address(str(value))
            except ValueError:
                problems.append(f"{name}.{key}: not an IP address: {value!r}")
                continue
            if addr.version != version:
                problems.append(f"{name}.{key}: expected an IPv{version} address, got {value!r}")
                continue
            object.__setattr__(self, key, str(addr))
        try:
            object.__setattr__(self, "socket_mode", SocketMode(self.socket_mode))
        except ValueError:
            modes = ", ".join(m.value for m in SocketMode)
            problems.append(f"{name}.socket_mode: must be one of {modes}, got {self.socket_mode!r}")
        SettingsError.check(problems)


@dataclass(frozen=True, slots=True)
class IcmpJitterSettings(IcmpSettings):
    """Settings of the ``icmp-jitter`` probe: a train of 20 echoes 20 ms apart (like a voice stream's
    packet rate), enough consecutive RTTs for jitter and PDV to mean something."""

    kind: ClassVar[ProbeKind] = ProbeKind.ICMP_JITTER

    count: int = 20
    interval_ms: float = 20.0


class IcmpEngine:
    """The ICMP probe engine (implements :class:`~slaprobe.probes.base.ProbeEngine`).

    Pass a ``transport`` to share one socket pair between the ``icmp`` and ``icmp-jitter`` engines (its
    DSCP and source addresses must equal the settings'); otherwise the engine makes its own.
    """

    def __init__(self, settings: IcmpSettings | None = None, *, transport: IcmpTransport | None = None):
        self.settings = settings if settings is not None else IcmpSettings()
        self.kind: ProbeKind = self.settings.kind
        s = self.settings
        if transport is None:
            transport = IcmpTransport(
                dscp=s.dscp, source_v4=s.source_v4, source_v6=s.source_v6, mode=s.socket_mode
            )
        elif (transport.dscp, transport.source_v4, transport.source_v6) != (
            s.dscp,
            s.source_v4,
            s.source_v6,
        ):
            raise ValueError(
                f"{self.kind.value}: a shared ICMP transport must have the same dscp and source "
                f"addresses as the settings ({s.dscp}, {s.source_v4}, {s.source_v6})"
            )
        self.transport = transport
        self._started = False
        self._packet = bytearray(8 + s.payload_size)
        pad, self._pad_sum = padding(s.payload_size - TOKEN_SIZE)
        self._packet[8 + TOKEN_SIZE :] = pad
        self._interval_s = s.interval_ms / 1000.0
        self._timeout_s = s.timeout_ms / 1000.0
        self._timeout_ns = round(s.timeout_ms * NS_PER_MS)

    @property
    def stats(self) -> IcmpStats:
        """Counters of the (possibly shared) transport, including everything it ignored."""
        return self.transport.stats

    async def start(self) -> None:
        if not self._started:
            self.transport.acquire(asyncio.get_running_loop())
            self._started = True

    async def close(self) -> None:
        if self._started:
            self._started = False
            self.transport.release()

    async def __aenter__(self) -> IcmpEngine:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def probe(self, target: ProbeTarget, vantage: str) -> Sample:
        """Send the burst/train to ``target`` and return its Sample (never raises for network errors)."""
        if not self._started:
            raise RuntimeError("IcmpEngine.probe() before start()")
        loop = asyncio.get_running_loop()
        began_ns = time.time_ns()  # the date of a train that sent nothing (never the end of the wait)
        probe = EchoProbe(target.address, self.settings.count)
        self.transport.begin(probe)
        done: asyncio.Future[None] = loop.create_future()
        probe.done = done
        train = _Train(self, probe, loop, done)
        try:
            await done
        finally:
            probe.done = None
            if self.transport.is_open:
                self.transport.finish(probe)
        return self._sample(probe, target, vantage, train.start_ns or began_ns, train.sent)

    def _sample(self, p: EchoProbe, target: ProbeTarget, vantage: str, start_ns: int, sent: int) -> Sample:
        """Judge every echo now that all stamps are in: in time, late, unreachable or lost."""
        stats = self.transport.stats
        timeout_ns = self._timeout_ns
        arrivals: list[tuple[int, int, int]] = []  # (rx stamp, echo index, rtt ns) of in-time replies
        late = unreached = burst = max_burst = 0
        for i, st in enumerate(p.state):
            if st == NOT_SENT:
                continue
            tx = p.tx_ns[i]
            if tx:
                stats.tx_kernel_stamps += 1
            else:
                stats.tx_user_stamps += 1
                tx = p.send_ns[i]
            rx = p.rx_ns[i]
            if rx:
                rtt = rx - tx
                if rtt < 0:  # the wall clock stepped back between the stamps
                    stats.clock_anomalies += 1
                    rtt = 0
                if rtt <= timeout_ns:
                    arrivals.append((rx, i, rtt))
                    burst = 0
                    continue
                late += 1
            elif st == UNREACHED:
                unreached += 1
            burst += 1
            max_burst = max(max_burst, burst)
        arrivals.sort()
        reordered, highest = 0, -1
        for _, i, _ in arrivals:
            if i < highest:
                reordered += 1
            else:
                highest = i
        received = len(arrivals)
        stats.replies += received
        stats.late += late
        if sent == 0:
            error = Outcome.SEND_ERROR
        elif received == 0 and unreached:
            error = Outcome.UNREACHABLE
        else:
            error = outcome_for(sent, received)
        summary = summarize([rtt / NS_PER_MS for _, _, rtt in arrivals])
        return Sample(
            time_ns=start_ns,
            terminal=target.terminal,
            vantage=vantage,
            kind=self.kind,
            sent=sent,
            received=received,
            duplicates=p.duplicates,
            reordered=reordered,
            late=late,
            rtt_min_ms=summary.min if summary else None,
            rtt_avg_ms=summary.avg if summary else None,
            rtt_max_ms=summary.max if summary else None,
            rtt_p50_ms=summary.p50 if summary else None,
            jitter_ms=summary.jitter if summary else None,
            jitter_rfc3550_ms=summary.jitter_rfc3550 if summary else None,
            pdv_ms=summary.pdv if summary else None,
            max_loss_burst=max_burst,
            error=error,
        )


class _Train:
    """Sends one probe's echoes at t0 + i·interval, then resolves ``done`` at the last send + timeout.

    Times go on the transport's tick grid (so echoes of many probes leave in one loop wake-up) when the
    interval is a multiple of the tick, which keeps the spacing exact; other intervals get a timer of
    their own per echo. Grid callbacks cannot be cancelled: once ``done`` is resolved or cancelled, the
    remaining ones do nothing.
    """

    __slots__ = ("done", "engine", "exact", "last", "loop", "probe", "sent", "start_ns", "t0", "ticks")

    def __init__(
        self,
        engine: IcmpEngine,
        probe: EchoProbe,
        loop: asyncio.AbstractEventLoop,
        done: asyncio.Future[None],
    ) -> None:
        ticks = engine.transport.ticks
        assert ticks is not None
        self.engine, self.probe, self.loop, self.done, self.ticks = engine, probe, loop, done, ticks
        steps = engine._interval_s / ticks.tick_s
        self.exact = abs(steps - round(steps)) > 1e-6  # the grid would distort the spacing
        self.sent = 0
        self.start_ns = 0
        self.t0 = self.last = ticks.at(loop.time(), self.fire, 0)

    def fire(self, i: int) -> None:
        engine = self.engine
        transport = engine.transport
        if self.done.done() or not transport.is_open:
            _resolve(self.done)
            return
        if i == 0:
            self.start_ns = time.time_ns()
        self.last = self.loop.time()
        if transport.send(self.probe, i, engine._packet, engine._pad_sum):
            self.sent += 1
        if i + 1 < self.probe.count:
            due = self.t0 + (i + 1) * engine._interval_s
            if self.exact:
                self.loop.call_at(due, self.fire, i + 1)
            else:
                self.ticks.at(due, self.fire, i + 1)
        elif self.sent:
            self.ticks.at(self.last + engine._timeout_s, _resolve, self.done)
        else:
            _resolve(self.done)


def _resolve(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)

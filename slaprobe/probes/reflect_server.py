"""``slaprobe reflect``: the STAMP / RTP-echo reflector a site runs next to its terminal.

One asyncio loop, one UDP socket per (bind address, port), datagrams read with ``recvmsg`` so the
kernel's receive timestamp is T2, the received TTL is echoed (RFC 8762 §4.3.1) and the request's DSCP
is reused for the reply (the reverse path is measured in the same class as the forward one). T3 is read
immediately before the reply is built and sent.

It must never be an amplifier or a liability, so before any reply:

1. the source must be inside the allow-list (``--allow``; empty means everyone, with a warning);
2. a per-source token bucket (``--rate-limit`` packets/s, one second of burst) must have a token;
3. the datagram must be well-formed and at most ``max_size`` bytes (longer ones are detected with a
   one-byte-larger read buffer and dropped, never truncated and answered);
4. the reply is never longer than the request (checked again here, whatever the reflection function);
5. the source port must not be one that answers by itself: this reflector's own ports, the well-known
   range 0-1023 (STAMP 862, echo 7, chargen 19, DNS 53, NTP 123, ...) and the RTP-echo default 5004, so a
   request spoofed from another reflector's (or our own) address cannot start a reflection loop: two
   reflectors pointed at each other would otherwise bounce one packet until a token bucket runs dry.

The receive buffer is enlarged (``rcvbuf_bytes``, forced past ``net.core.rmem_max`` when privileged), so a
burst from one source does not crowd out another source's probe before the rate limiter ever sees it.
Counters are logged every ``stats_interval_s`` while they change, and at once on SIGUSR1.

Per-source state (token buckets, stateful STAMP sessions) lives in bounded LRU tables, so random source
addresses cannot exhaust memory; stateful sessions idle for ``session_idle_s`` start afresh.
"""

from __future__ import annotations

import asyncio
import enum
import ipaddress
import logging
import socket
import struct
import sys
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from slaprobe.probes import stampwire as wire
from slaprobe.probes.reflector import SessionTable, rtp_echo, stamp_reflect
from slaprobe.probes.stream import SO_TIMESTAMPNS

log = logging.getLogger(__name__)

_INT = struct.Struct("i")
SO_RCVBUFFORCE = getattr(socket, "SO_RCVBUFFORCE", 33)
RTP_ECHO_DEFAULT_PORT = 5004
WELL_KNOWN_PORTS = range(0, 1024)
_TIMESPEC = struct.Struct("qq")
_CMSG_SPACE = socket.CMSG_SPACE(16) + 2 * socket.CMSG_SPACE(4)


class ReflectMode(enum.StrEnum):
    STATELESS = "stateless"
    STATEFUL = "stateful"


@dataclass(frozen=True, slots=True)
class ReflectorSettings:
    """What ``slaprobe reflect`` serves. A port of None disables that service."""

    stamp_port: int | None = wire.STAMP_PORT
    rtp_port: int | None = None
    mode: ReflectMode = ReflectMode.STATEFUL
    allow: tuple[str, ...] = ()  # CIDRs allowed to get answers; empty = everyone
    rate_limit_pps: float = 500.0  # per source address, with one second of burst
    bind: tuple[str, ...] = ("0.0.0.0", "::")
    max_size: int = wire.MAX_SIZE
    session_idle_s: float = 60.0
    max_sources: int = 65_536
    rcvbuf_bytes: int = 4 << 20  # per socket; 0 keeps the kernel default
    refuse_source_ports: tuple[int, ...] = (RTP_ECHO_DEFAULT_PORT,)  # besides 0-1023 and our own ports
    stats_interval_s: float = 60.0  # log the counters this often while they change (0 = never)

    def __post_init__(self) -> None:
        for name in ("stamp_port", "rtp_port"):
            port = getattr(self, name)
            if port is not None and not 0 <= port <= 65535:  # 0 = any free port (tests)
                raise ValueError(f"reflect {name}={port!r}: must be 0..65535")
        if self.stamp_port is None and self.rtp_port is None:
            raise ValueError("reflect: neither a STAMP nor an RTP port to serve")
        if not self.rate_limit_pps > 0:
            raise ValueError(f"reflect rate_limit_pps={self.rate_limit_pps!r}: must be > 0")
        if not 0 <= self.rcvbuf_bytes <= 1 << 30:
            raise ValueError(f"reflect rcvbuf_bytes={self.rcvbuf_bytes!r}: must be 0..{1 << 30}")
        for port in self.refuse_source_ports:
            if not 0 <= port <= 65535:
                raise ValueError(f"reflect --refuse-source-port {port!r}: must be 0..65535")
        if not self.stats_interval_s >= 0:
            raise ValueError(f"reflect stats_interval_s={self.stats_interval_s!r}: must be >= 0")
        if not wire.BASE_SIZE <= self.max_size <= 65_507:
            raise ValueError(f"reflect max_size={self.max_size!r}: must be {wire.BASE_SIZE}..65507")
        for cidr in self.allow:
            try:
                ipaddress.ip_network(cidr, strict=False)
            except ValueError as exc:
                raise ValueError(f"reflect --allow {cidr!r}: {exc}") from None
        for addr in self.bind:
            try:
                ipaddress.ip_address(addr)
            except ValueError as exc:
                raise ValueError(f"reflect --bind {addr!r}: {exc}") from None


@dataclass
class ReflectorCounters:
    received: int = 0
    answered: int = 0
    denied: int = 0  # source outside the allow-list
    rate_limited: int = 0
    malformed: int = 0  # not a valid request, or oversize
    refused_port: int = 0  # source port that could answer by itself (loop guard)
    send_errors: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)

    def line(self) -> str:
        """One human- and grep-friendly line (the log and the command's exit summary)."""
        return (
            f"received {self.received} answered {self.answered} denied {self.denied} "
            f"rate_limited {self.rate_limited} malformed {self.malformed} refused_port {self.refused_port} "
            f"send_errors {self.send_errors}"
        )


class _Buckets:
    """Per-source token buckets in a bounded LRU table."""

    def __init__(self, rate: float, max_sources: int):
        self._rate = rate
        self._burst = max(1.0, rate)
        self._max = max_sources
        self._table: OrderedDict[str, list[float]] = OrderedDict()

    def allow(self, source: str, now: float) -> bool:
        entry = self._table.get(source)
        if entry is None:
            entry = [self._burst, now]
            self._table[source] = entry
            if len(self._table) > self._max:
                self._table.popitem(last=False)
        else:
            self._table.move_to_end(source)
            entry[0] = min(self._burst, entry[0] + (now - entry[1]) * self._rate)
            entry[1] = now
        if entry[0] >= 1.0:
            entry[0] -= 1.0
            return True
        return False


class Reflector:
    """The reflector server. ``await start()``, then it answers from the loop until ``close()``."""

    def __init__(self, settings: ReflectorSettings | None = None):
        self.settings = settings or ReflectorSettings()
        self.counters = ReflectorCounters()
        self._networks = [ipaddress.ip_network(c, strict=False) for c in self.settings.allow]
        self._allowed_cache: dict[str, bool] = {}
        self._buckets = _Buckets(self.settings.rate_limit_pps, self.settings.max_sources)
        self._sessions: OrderedDict[tuple[str, int], SessionTable] = OrderedDict()
        self._socks: list[tuple[socket.socket, str]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed: asyncio.Event | None = None
        self._refused: frozenset[int] = frozenset(self.settings.refuse_source_ports)

    @property
    def addresses(self) -> list[tuple[str, int, str]]:
        """(address, port, kind) of every bound socket (ports resolved when 0 was asked for)."""
        return [(*s.getsockname()[:2], kind) for s, kind in self._socks]

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._closed = asyncio.Event()
        services = [
            (p, k)
            for p, k in ((self.settings.stamp_port, "stamp"), (self.settings.rtp_port, "rtp"))
            if p is not None
        ]
        for addr in self.settings.bind:
            for port, kind in services:
                try:
                    self._socks.append((self._open(addr, port), kind))
                except OSError as exc:
                    await self.close()
                    where = f"[{addr}]:{port}" if ":" in addr else f"{addr}:{port}"
                    raise OSError(exc.errno, f"{kind} on {where}: {exc.strerror or exc}") from None
        own = {s.getsockname()[1] for s, _ in self._socks}
        self._refused = frozenset(self.settings.refuse_source_ports) | own
        for sock, kind in self._socks:
            self._loop.add_reader(sock.fileno(), self._on_readable, sock, kind)

    def _open(self, addr: str, port: int) -> socket.socket:
        family = socket.AF_INET6 if ipaddress.ip_address(addr).version == 6 else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            sock.setblocking(False)
            self._grow_buffer(sock)
            sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
            if family == socket.AF_INET:
                sock.setsockopt(socket.IPPROTO_IP, socket.IP_RECVTOS, 1)
                sock.setsockopt(socket.IPPROTO_IP, getattr(socket, "IP_RECVTTL", 12), 1)
            else:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RECVTCLASS, 1)
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RECVHOPLIMIT, 1)
            sock.bind((addr, port))
        except OSError:
            sock.close()
            raise
        return sock

    def _grow_buffer(self, sock: socket.socket) -> None:
        want = self.settings.rcvbuf_bytes
        if not want:
            return
        try:
            sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, want)  # CAP_NET_ADMIN: past rmem_max
        except OSError:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, want)  # capped at net.core.rmem_max
        got = sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
        if got < want:  # the kernel reports twice what it grants; less than asked means capped
            log.warning("reflect: receive buffer %d bytes, asked for %d (raise net.core.rmem_max)", got, want)

    def refuses_port(self, port: int) -> bool:
        """Whether a request from this source port is dropped by the loop guard (module docstring, 5)."""
        return port in WELL_KNOWN_PORTS or port in self._refused

    async def close(self) -> None:
        for sock, _ in self._socks:
            if self._loop is not None:
                self._loop.remove_reader(sock.fileno())
            sock.close()
        self._socks.clear()
        if self._closed is not None:
            self._closed.set()

    async def wait_closed(self) -> None:
        assert self._closed is not None
        await self._closed.wait()

    # ------------------------------------------------------------------ per datagram
    def _allowed(self, source: str) -> bool:
        if not self._networks:
            return True
        cached = self._allowed_cache.get(source)
        if cached is None:
            ip = ipaddress.ip_address(source)
            if ip.version == 6 and ip.ipv4_mapped is not None:
                ip = ip.ipv4_mapped
            cached = any(ip in net for net in self._networks)
            if len(self._allowed_cache) >= 4096:
                self._allowed_cache.clear()
            self._allowed_cache[source] = cached
        return cached

    def _session(self, source: str, port: int, now: float) -> SessionTable:
        key = (source, port)
        table = self._sessions.get(key)
        if table is None or now - table.last_seen > self.settings.session_idle_s:
            table = SessionTable()
            self._sessions[key] = table
            if len(self._sessions) > self.settings.max_sources:
                self._sessions.popitem(last=False)
        else:
            self._sessions.move_to_end(key)
        return table

    def _on_readable(self, sock: socket.socket, kind: str) -> None:
        limit = self.settings.max_size
        c = self.counters
        for _ in range(256):  # bounded, so one flood cannot starve the other sockets
            try:
                data, anc, flags, src = sock.recvmsg(limit + 1, _CMSG_SPACE)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                continue
            c.received += 1
            rx_ns, ttl, tos = 0, 255, 0
            for level, ctype, value in anc:
                if level == socket.SOL_SOCKET and ctype == SO_TIMESTAMPNS and len(value) >= 16:
                    sec, nsec = _TIMESPEC.unpack_from(value)
                    rx_ns = sec * 1_000_000_000 + nsec
                elif ctype in (socket.IP_TTL, socket.IPV6_HOPLIMIT) and len(value) >= 4:
                    ttl = _INT.unpack_from(value)[0]
                elif ctype in (socket.IP_TOS, socket.IPV6_TCLASS) and value:
                    tos = value[0] if len(value) < 4 else _INT.unpack_from(value)[0]
            source = src[0].split("%", 1)[0]
            if self.refuses_port(src[1]):
                c.refused_port += 1
                continue
            if not self._allowed(source):
                c.denied += 1
                continue
            now = time.monotonic()
            if not self._buckets.allow(source, now):
                c.rate_limited += 1
                continue
            if len(data) > limit or flags & socket.MSG_TRUNC:
                c.malformed += 1
                continue
            if kind == "stamp":
                state = (
                    self._session(source, src[1], now) if self.settings.mode is ReflectMode.STATEFUL else None
                )
                reply = stamp_reflect(
                    data, rx_ns or time.time_ns(), time.time_ns(), state, ttl=ttl, max_size=limit
                )
            else:
                reply = rtp_echo(data, max_size=limit)
            if reply is None or len(reply) > len(data):
                c.malformed += 1
                continue
            self._send(sock, reply, tos & 0xFC, src)

    def _send(self, sock: socket.socket, reply: bytes, tos: int, dest: tuple) -> None:
        if sock.family == socket.AF_INET:
            cmsg = [(socket.IPPROTO_IP, socket.IP_TOS, _INT.pack(tos))]
        else:
            cmsg = [(socket.IPPROTO_IPV6, socket.IPV6_TCLASS, _INT.pack(tos))]
        try:
            sock.sendmsg([reply], cmsg, 0, dest)
        except OSError:
            self.counters.send_errors += 1
            return
        self.counters.answered += 1


async def run_reflector(
    settings: ReflectorSettings, *, on_ready: Callable[[Reflector], None] | None = None
) -> ReflectorCounters:
    """Serve until SIGINT / SIGTERM (the ``slaprobe reflect`` command); returns the final counters."""
    import signal

    reflector = Reflector(settings)
    await reflector.start()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, lambda: asyncio.ensure_future(reflector.close()))
    loop.add_signal_handler(signal.SIGUSR1, lambda: _report(reflector.counters))
    if not settings.allow:
        print("slaprobe reflect: no --allow given, answering every source (rate limited)", file=sys.stderr)
    if on_ready is not None:
        on_ready(reflector)
    ticker = asyncio.ensure_future(_periodic_counters(reflector, settings.stats_interval_s))
    try:
        await reflector.wait_closed()
    finally:
        ticker.cancel()
        loop.remove_signal_handler(signal.SIGUSR1)
    return reflector.counters


def _report(counters: ReflectorCounters) -> None:
    print(f"slaprobe reflect: {counters.line()}", file=sys.stderr, flush=True)


async def _periodic_counters(reflector: Reflector, every_s: float) -> None:
    """Counters on stderr every ``every_s`` while they change: an operator sees the reflector working
    (or being abused) without stopping it."""
    if every_s <= 0:
        return
    last = ""
    while True:
        await asyncio.sleep(every_s)
        line = reflector.counters.line()
        if line != last:
            _report(reflector.counters)
            last = line

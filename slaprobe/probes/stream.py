"""Paced packet streams: one UDP socket per address family, many concurrent streams, one pacer.

A call-quality probe is a stream of small datagrams at a fixed rate (50 packets/s for 2 s by default),
answered by a reflector. Thousands of terminals share this host, so the engine must not spend a socket, a
task or a timer per packet:

* one non-blocking UDP socket per family, registered with the loop's selector (``add_reader``); replies
  are demultiplexed by (peer address, peer port, session id) where the session id is the STAMP SSID or
  the RTP SSRC the stream put in its packets;
* one pacer: a heap of (due time, stream) and a single ``call_at`` timer armed for the earliest packet.
  Every wake-up sends all packets due within half a millisecond, so the pacing error is centred on zero
  instead of always late by the selector's millisecond rounding;
* the send time (T1) is read with ``time.time_ns()`` immediately before ``sendmsg`` (nothing awaits in
  between) and written into the packet; receive times (T4) come from the kernel (``SO_TIMESTAMPNS``),
  so a busy event loop delays our bookkeeping, not the measurement;
* DSCP is set per packet with an ``IP_TOS`` / ``IPV6_TCLASS`` control message, so streams of different
  classes share the socket.

The engine knows nothing about STAMP or RTP: a :class:`StreamCodec` builds packet ``i`` and recognises
replies. The probe modules (``stamp.py``, ``rtp.py``) turn the resulting :class:`StreamRecord` into a
``Sample``.
"""

from __future__ import annotations

import asyncio
import heapq
import ipaddress
import itertools
import socket
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, Self

from slaprobe.probes.base import SettingsError

if TYPE_CHECKING:
    from slaprobe.model import Sample
    from slaprobe.probes.base import ProbeTarget

# Python 3.11's socket module lacks the constant; 35 is SO_TIMESTAMPNS (== SCM_TIMESTAMPNS) on Linux.
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)
DSCP_AF41 = 34  # RFC 2597 / RFC 4594: multimedia conferencing
_TIMESPEC = struct.Struct("qq")
_INT = struct.Struct("i")
_CMSG_SPACE = socket.CMSG_SPACE(_TIMESPEC.size)
_RECV_BUFFER = 2048  # larger datagrams are not ours (the reflector never grows a packet)


@dataclass(frozen=True, slots=True)
class StreamSettings:
    """One paced stream: ``rate_pps`` packets per second for ``duration_s``, ``size`` bytes of UDP payload.

    ``start_offset_s`` delays the first packet so a scheduler can spread many streams over a cycle;
    ``timeout_ms`` is how long after its own send time a reply still counts (later: lost and late).
    """

    rate_pps: float = 50.0
    duration_s: float = 2.0
    size: int = 172  # UDP payload bytes (RTP: 12-byte header + 160 bytes of G.711 20 ms)
    dscp: int = DSCP_AF41
    start_offset_s: float = 0.0
    timeout_ms: float = 1000.0

    def __post_init__(self) -> None:
        checks = (
            ("rate_pps", 0 < self.rate_pps <= 10_000, "must be in (0, 10000]"),
            ("duration_s", 0 < self.duration_s <= 3600, "must be in (0, 3600]"),
            ("size", 12 <= self.size <= 1472, "must be 12..1472 bytes"),
            ("dscp", 0 <= self.dscp <= 63, "must be 0..63"),
            ("start_offset_s", self.start_offset_s >= 0, "must be >= 0"),
            ("timeout_ms", 0 < self.timeout_ms <= 60_000, "must be in (0, 60000]"),
        )
        SettingsError.check(
            [f"stream setting {name}={getattr(self, name)!r}: {why}" for name, ok, why in checks if not ok]
        )

    @property
    def count(self) -> int:
        """Packets in the stream (at least one)."""
        return max(1, round(self.rate_pps * self.duration_s))

    @property
    def interval_ns(self) -> int:
        return round(1e9 / self.rate_pps)


@dataclass(frozen=True, slots=True)
class Malformed:
    """What ``StreamCodec.decode`` returns for a datagram that answers this stream but cannot be read
    (too short, wrong layout): counted on the stream's record with ``reason``, neither received nor a
    stranger's packet, so "the peer answered in a form we cannot measure" is not reported as a timeout."""

    reason: str


class StreamCodec(Protocol):
    """Builds the packets of one stream and recognises its replies.

    ``session_id`` is what makes replies from the same peer distinguishable (STAMP SSID, RTP SSRC).
    ``decode`` returns ``(index, info)`` for a reply that belongs to this stream, :class:`Malformed` for
    one that is for this stream but unreadable, else None; ``index`` is the packet index it answers
    (codecs undo sequence wrap-around), ``info`` whatever the analyser needs (e.g. the reflector's
    timestamps).
    """

    session_id: int

    def encode(self, index: int, send_ns: int) -> bytes: ...

    def decode(self, data: bytes, rx_ns: int) -> tuple[int, Any] | Malformed | None: ...

    def session_of(self, data: bytes) -> int | None:
        """The session id a reply claims (cheap, no validation), so the engine can pick the stream
        without asking every stream to the same peer; None when the reply does not say."""
        ...


@dataclass(slots=True)
class Reply:
    """One datagram that a codec accepted, in arrival order."""

    index: int
    rx_ns: int  # kernel receive time, CLOCK_REALTIME ns
    info: Any = None


@dataclass(slots=True)
class StreamRecord:
    """What happened to one stream, packet by packet (the raw material of a Sample).

    ``send_ns[i]`` is T1 of packet ``i`` (realtime ns) or None when the send failed; ``sched_ns`` /
    ``actual_ns`` are the monotonic due and actual send times (pacing error = actual - due).
    ``began_ns`` is the realtime clock when the probe began (the record was made): the date of a stream
    that sent nothing, so its "not measured" lands in the interval it was due in, not in 1970.
    ``malformed`` counts datagrams the codec judged to answer this stream but could not read.
    """

    dest: tuple[str, int]
    settings: StreamSettings
    session_id: int
    send_ns: list[int | None] = field(default_factory=list)
    sched_ns: list[int] = field(default_factory=list)
    actual_ns: list[int] = field(default_factory=list)
    replies: list[Reply] = field(default_factory=list)
    send_errors: int = 0
    last_error: str = ""
    began_ns: int = field(default_factory=time.time_ns)
    malformed: int = 0  # datagrams that answered this stream but could not be read
    malformed_reason: str = ""  # why the last of them could not

    @property
    def sent(self) -> int:
        return sum(1 for t in self.send_ns if t is not None)

    @property
    def first_send_ns(self) -> int | None:
        return next((t for t in self.send_ns if t is not None), None)

    @property
    def time_ns(self) -> int:
        """The Sample's date: the first packet that left, or when the probe began if none did."""
        first = self.first_send_ns
        return self.began_ns if first is None else first

    def pacing_errors_ns(self) -> list[int]:
        """Actual minus scheduled send time of every packet that left (signed ns)."""
        return [a - s for a, s in zip(self.actual_ns, self.sched_ns, strict=True)]


class _Running:
    """Engine-internal state of a stream between its first packet and its end."""

    __slots__ = ("codec", "count", "done", "finish_handle", "key", "next_index", "record", "sock", "start_ns")

    def __init__(
        self, codec: StreamCodec, record: StreamRecord, sock: socket.socket, key: tuple, start_ns: int
    ):
        self.codec = codec
        self.record = record
        self.sock = sock
        self.key = key
        self.start_ns = start_ns
        self.count = record.settings.count
        self.next_index = 0
        self.done: asyncio.Future[StreamRecord] | None = None
        self.finish_handle: asyncio.TimerHandle | None = None


class SessionInUse(Exception):
    """Another running stream to the same peer already uses this session id; pick another one."""


def normalize_address(address: Any) -> tuple[str, int]:
    """Canonical text and family of an IP address (the form the kernel reports reply sources in)."""
    ip = ipaddress.ip_address(str(address).split("%", 1)[0])
    if ip.version == 6 and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return str(ip), (socket.AF_INET6 if ip.version == 6 else socket.AF_INET)


class StreamEngine:
    """Sends many paced streams from one socket per family and collects their replies.

    Create it (and call :meth:`start`) inside the network namespace the probes must leave from; the
    sockets stay in that namespace. ``early_ns`` is how far ahead of its due time a packet may leave
    when the pacer is awake anyway (half the selector's millisecond rounding).
    """

    def __init__(self, *, early_ns: int = 500_000, rcvbuf: int = 4 << 20, sndbuf: int = 1 << 20) -> None:
        self._early_ns = early_ns
        self._rcvbuf = rcvbuf
        self._sndbuf = sndbuf
        self._loop: asyncio.AbstractEventLoop | None = None
        self._socks: dict[int, socket.socket] = {}
        self._sock_errors: dict[int, str] = {}
        self._heap: list[tuple[int, int, _Running]] = []
        self._order = itertools.count()
        self._timer: asyncio.TimerHandle | None = None
        self._timer_due = 0
        self._peers: dict[tuple[str, int], dict[int, _Running]] = {}
        self.unmatched = 0  # datagrams no running stream claimed (late after end, strangers)

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        """Open the per-family sockets (a family the host lacks is recorded, not fatal)."""
        self._loop = asyncio.get_running_loop()
        for family, bind in ((socket.AF_INET, "0.0.0.0"), (socket.AF_INET6, "::")):
            if family in self._socks:
                continue
            try:
                sock = socket.socket(family, socket.SOCK_DGRAM)
            except OSError as exc:
                self._sock_errors[family] = str(exc)
                continue
            try:
                sock.setblocking(False)
                sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self._rcvbuf)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, self._sndbuf)
                if family == socket.AF_INET6:
                    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                sock.bind((bind, 0))
            except OSError as exc:
                sock.close()
                self._sock_errors[family] = str(exc)
                continue
            self._socks[family] = sock
            self._loop.add_reader(sock.fileno(), self._on_readable, sock)

    async def close(self) -> None:
        """Stop the pacer, fail running streams' waiters and close the sockets."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        for _, _, run in self._heap:
            self._finish(run)
        self._heap.clear()
        for peers in list(self._peers.values()):
            for run in list(peers.values()):
                self._finish(run)
        for sock in self._socks.values():
            if self._loop is not None:
                self._loop.remove_reader(sock.fileno())
            sock.close()
        self._socks.clear()

    def local_port(self, family: int) -> int | None:
        sock = self._socks.get(family)
        return sock.getsockname()[1] if sock else None

    # ------------------------------------------------------------------ running a stream
    def in_use(self, dest: tuple[str, int], session_id: int) -> bool:
        addr, _ = normalize_address(dest[0])
        return session_id in self._peers.get((addr, int(dest[1])), {})

    async def run(
        self,
        dest: tuple[str, int],
        codec: StreamCodec,
        settings: StreamSettings,
        *,
        start_ns: int | None = None,
    ) -> StreamRecord:
        """Send one stream to ``dest`` and return its record once the last reply's timeout has passed.

        ``start_ns`` (monotonic) overrides ``now + settings.start_offset_s``. Raises
        :class:`SessionInUse` when ``codec.session_id`` is already running towards ``dest``.
        """
        if self._loop is None:
            raise RuntimeError("StreamEngine.start() was not awaited")
        addr, family = normalize_address(dest[0])
        peer = (addr, int(dest[1]))
        record = StreamRecord(dest=peer, settings=settings, session_id=codec.session_id)
        sock = self._socks.get(family)
        if sock is None:
            record.last_error = self._sock_errors.get(family, "address family unavailable")
            record.send_errors = settings.count
            record.send_ns = [None] * settings.count
            return record
        sessions = self._peers.setdefault(peer, {})
        if codec.session_id in sessions:
            raise SessionInUse(f"session {codec.session_id} already running to {peer}")
        if start_ns is None:
            start_ns = time.monotonic_ns() + round(settings.start_offset_s * 1e9)
        run = _Running(codec, record, sock, peer, start_ns)
        run.done = self._loop.create_future()
        sessions[codec.session_id] = run
        self._push(start_ns, run)
        try:
            return await asyncio.shield(run.done)
        except asyncio.CancelledError:
            self._finish(run)
            raise

    # ------------------------------------------------------------------ pacer
    def _push(self, due_ns: int, run: _Running) -> None:
        heapq.heappush(self._heap, (due_ns, next(self._order), run))
        if self._timer is None or due_ns < self._timer_due:
            self._arm()

    def _arm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self._heap:
            return
        assert self._loop is not None
        due = self._heap[0][0]
        self._timer_due = due
        # loop.time() is time.monotonic(); wake up to early_ns ahead, the selector rounds up to 1 ms.
        self._timer = self._loop.call_at((due - self._early_ns) / 1e9, self._fire)

    def _fire(self) -> None:
        self._timer = None
        heap = self._heap
        while heap and heap[0][0] <= time.monotonic_ns() + self._early_ns:
            due, _, run = heapq.heappop(heap)
            if run.done is None or run.done.done():
                continue
            self._send(run, due)
            run.next_index += 1
            interval = run.record.settings.interval_ns
            if run.next_index < run.count:
                heapq.heappush(heap, (run.start_ns + run.next_index * interval, next(self._order), run))
            else:
                timeout = round(run.record.settings.timeout_ms * 1e6)
                assert self._loop is not None
                run.finish_handle = self._loop.call_at((due + timeout) / 1e9, self._finish, run)
        self._arm()

    def _send(self, run: _Running, due_ns: int) -> None:
        record = run.record
        settings = record.settings
        family = run.sock.family
        tos = settings.dscp << 2
        if family == socket.AF_INET:
            cmsg = [(socket.IPPROTO_IP, socket.IP_TOS, _INT.pack(tos))]
        else:
            cmsg = [(socket.IPPROTO_IPV6, socket.IPV6_TCLASS, _INT.pack(tos))]
        index = run.next_index
        t1 = time.time_ns()
        mono = time.monotonic_ns()
        try:
            run.sock.sendmsg([run.codec.encode(index, t1)], cmsg, 0, run.key)
        except OSError as exc:  # EAGAIN, ENOBUFS, ENETUNREACH...: this packet did not leave
            record.send_ns.append(None)
            record.send_errors += 1
            record.last_error = str(exc)
            return
        record.send_ns.append(t1)
        record.sched_ns.append(due_ns)
        record.actual_ns.append(mono)

    def _finish(self, run: _Running) -> None:
        if run.finish_handle is not None:
            run.finish_handle.cancel()
            run.finish_handle = None
        sessions = self._peers.get(run.key)
        if sessions is not None and sessions.get(run.codec.session_id) is run:
            del sessions[run.codec.session_id]
            if not sessions:
                del self._peers[run.key]
        missing = run.count - len(run.record.send_ns)
        if missing > 0:  # closed before the stream ended: these packets were never sent
            run.record.send_ns.extend([None] * missing)
        if run.done is not None and not run.done.done():
            run.done.set_result(run.record)

    # ------------------------------------------------------------------ receive
    def _on_readable(self, sock: socket.socket) -> None:
        peers = self._peers
        # At most 128 datagrams per call: the rest wait one loop iteration, so a burst of replies
        # cannot hold back the pacer's timer for long (the selector reports the socket again).
        for _ in range(128):
            try:
                data, ancdata, _flags, src = sock.recvmsg(_RECV_BUFFER, _CMSG_SPACE)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:  # e.g. ICMP port unreachable reported on the socket: nothing to read
                continue
            rx_ns = 0
            for level, kind, value in ancdata:
                if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
                    sec, nsec = _TIMESPEC.unpack(value)
                    rx_ns = sec * 1_000_000_000 + nsec
            if not rx_ns:
                rx_ns = time.time_ns()
            addr = src[0]
            if sock.family == socket.AF_INET6 and "%" in addr:
                addr = addr.split("%", 1)[0]
            sessions = peers.get((addr, src[1]))
            if not sessions:
                self.unmatched += 1
                continue
            if len(sessions) == 1:
                candidates: Any = sessions.values()
            else:  # many streams to one peer: go by the session id the reply names
                claimed = sessions.get(next(iter(sessions.values())).codec.session_of(data))  # type: ignore[arg-type]
                candidates = (claimed,) if claimed is not None else sessions.values()
            unreadable: list[tuple[_Running, Malformed]] = []
            for run in candidates:
                decoded = run.codec.decode(data, rx_ns)
                if isinstance(decoded, Malformed):
                    unreadable.append((run, decoded))
                elif decoded is not None:
                    run.record.replies.append(Reply(decoded[0], rx_ns, decoded[1]))
                    break
            else:
                if len(unreadable) == 1:  # unreadable, but certainly an answer to this one stream
                    run, bad = unreadable[0]
                    run.record.malformed += 1
                    run.record.malformed_reason = bad.reason
                else:  # a stranger's, or several streams could claim it: count it on none of them
                    self.unmatched += 1


def session_allocator(bits: int, *, start: int = 1) -> Callable[[StreamEngine, tuple[str, int]], int]:
    """A cycling session-id source that skips ids still running towards the same peer.

    Fresh ids per stream matter for stateful reflectors: they keep a counter per session, and a reused
    id would continue the previous stream's count.
    """
    counter = itertools.count(start)
    modulo = 1 << bits

    def allocate(engine: StreamEngine, dest: tuple[str, int]) -> int:
        for _ in range(modulo):
            sid = next(counter) % modulo
            if sid == 0:
                continue
            if not engine.in_use(dest, sid):
                return sid
        raise SessionInUse(f"all {modulo} session ids in use towards {dest}")

    return allocate


class StreamProbe:
    """Lifecycle shared by the stream probes (``stamp``, ``rtp``): they run on a :class:`StreamEngine`,
    their own unless one is passed in to share its sockets; ``probe`` is ``measure(...).sample``."""

    def __init__(self, streams: StreamEngine | None) -> None:
        self._own = streams is None
        self.streams = streams or StreamEngine()

    async def start(self) -> None:
        if self._own:
            await self.streams.start()

    async def close(self) -> None:
        if self._own:
            await self.streams.close()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def measure(self, target: ProbeTarget, vantage: str) -> Any:  # pragma: no cover - overridden
        raise NotImplementedError

    async def probe(self, target: ProbeTarget, vantage: str) -> Sample:
        return (await self.measure(target, vantage)).sample

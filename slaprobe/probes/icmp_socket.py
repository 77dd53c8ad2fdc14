"""The ICMP transport: one socket per address family shared by every ICMP probe, and reply matching.

Why one shared socket: every raw ICMP socket receives a copy of every ICMP packet the host gets, so a
socket per target costs N² work and loses replies under load (docs/measurements.md: icmplib with
2,000 concurrent sockets reported 1,771 of 1,820 healthy terminals as dead). Here each family has
exactly one socket, and every reply is matched to its echo through a dict lookup.

Why reads and sends are batched on a grid: a loop wake-up after sleeping costs 15 µs of CPU on this VM at
2,000 wake-ups/s and ~130 µs at 50/s (cold caches, vCPU halt/resume), more than sending or matching a
packet; waking once per reply and once per echo made a spread-out cycle cost 60-200 µs per echo. So
engines schedule echoes on a grid (:class:`~slaprobe.probes.grid.TickGrid`, ``tick_s`` = 20 ms), and
while any probe is in flight the sockets have no reader at all: they are drained every ``KEEPALIVE_S``
(100 ms) on the same grid, when a probe ends (its own family, before judging it) and every
``DRAIN_EVERY`` sends, so the receive queue never grows. Only an idle transport keeps a reader, to read
strays promptly. Reading 100 ms late costs no accuracy, because RTTs come from kernel timestamps.

Matching: each echo carries an 8-byte token at the start of its payload: a random per-transport nonce
and a 32-bit per-echo counter. The counter also fixes the ICMP sequence (its low 16 bits) and, on raw
sockets, the identifier (base + its high 16 bits), so (identifier, sequence) pairs do not repeat before
2³² echoes and a reply is accepted only if nonce, counter, sequence, identifier and source address all
agree. Another process's echo replies (other nonce), forged replies from another source, truncated
packets and ICMP errors quoting garbage are counted in :class:`IcmpStats` and otherwise ignored.

Unprivileged fallback: a ``SOCK_DGRAM`` ICMP ("ping") socket, allowed when ``net.ipv4.ping_group_range``
covers our group. The kernel then owns the identifier and delivers only our replies; ICMP errors arrive
on the socket's error queue (``IP_RECVERR``). Matching uses the token, sequence and source only.

Timing: RTT = kernel receive timestamp minus kernel transmit timestamp (``SO_TIMESTAMPING`` software
stamps, CLOCK_REALTIME, taken as the packet enters / leaves the network device), so neither the event
loop's latency nor a preemption of this process between "stamp" and ``sendto`` enters the RTT. The
transmit stamp comes back on the socket's error queue with a copy of the packet, found by our token. If
the kernel gives no transmit stamp (old kernel, a driver that does not stamp), ``time.time_ns()`` taken
right before ``sendto`` (the same clock) is used instead; :class:`IcmpStats` counts which was used.
On this machine the fallback stamp is typically 4 µs early, but a preemption between it and the
syscall made single RTTs up to 3 ms too long under load, which is why the kernel stamp is preferred.
"""

from __future__ import annotations

import enum
import errno
import socket
import struct
import time
from secrets import randbits
from typing import TYPE_CHECKING

from slaprobe.probes.grid import TickGrid
from slaprobe.probes.icmp_echo import WAITING, EchoProbe, IcmpStats

if TYPE_CHECKING:
    import asyncio

# Linux constants the socket module does not export (uapi values, stable ABI).
SO_TIMESTAMPNS = 35  # == SCM_TIMESTAMPNS; struct timespec on 64-bit time_t
SO_TIMESTAMPING = 37  # == SCM_TIMESTAMPING; struct scm_timestamping (3 timespecs, [0] = software)
SOF_TIMESTAMPING_TX_SOFTWARE = 1 << 1
SOF_TIMESTAMPING_RX_SOFTWARE = 1 << 3
SOF_TIMESTAMPING_SOFTWARE = 1 << 4
TIMESTAMPING_FLAGS = SOF_TIMESTAMPING_TX_SOFTWARE | SOF_TIMESTAMPING_RX_SOFTWARE | SOF_TIMESTAMPING_SOFTWARE
SO_RXQ_OVFL = 40  # cmsg with the socket's receive-queue drop counter, present only once drops happened
SO_RCVBUFFORCE = 33
SOL_RAW = 255
ICMP_FILTER = 1  # SOL_RAW, u32 bitmask: bit t set = drop ICMP type t
ICMP6_FILTER = 1  # IPPROTO_ICMPV6, 8 x u32 bitmap: bit set = drop
IP_RECVERR = 11
IPV6_RECVERR = 25
SO_EE_ORIGIN_ICMP = 2
SO_EE_ORIGIN_ICMP6 = 3
SO_EE_ORIGIN_TIMESTAMPING = 4

ICMP_ECHO_REPLY, ICMP_DEST_UNREACH, ICMP_ECHO = 0, 3, 8
ICMP6_DEST_UNREACH, ICMP6_ECHO, ICMP6_ECHO_REPLY = 1, 128, 129

RECV_BUFFER_BYTES = 8 << 20  # ~10k queued replies (skb truesize ~800 B) if the loop stalls a moment
MAX_BATCH = 4096  # packets per drain before yielding to other callbacks
TICK_S = 0.02  # the grid on which echoes are sent (20 ms: a multiple of 200 ms and of 20 ms trains)
KEEPALIVE_S = 0.1  # longest gap between drains while probes are in flight
# When thousands of probes start in one loop iteration the reader cannot run between their sends, and
# fast replies (loopback, a LAN) pile up in the receive queue: read it every DRAIN_EVERY sends.
DRAIN_EVERY = 128
_MASK32 = 0xFFFFFFFF

_ECHO = struct.Struct("!BBHHHII")  # type, code, checksum, identifier, sequence, nonce, counter
_IDS = struct.Struct("!HHII")  # identifier, sequence, nonce, counter (at ICMP offset 4)
_TIMESPEC = struct.Struct("@qq")
_U32 = struct.Struct("@I")
_U32BE = struct.Struct("!I")
_SEQ_NONCE_COUNTER = struct.Struct("!HII")
_EXT_ERR = struct.Struct("@IBBBBII")  # struct sock_extended_err

_time_ns = time.time_ns
_ANC_SIZE = socket.CMSG_SPACE(3 * _TIMESPEC.size) + socket.CMSG_SPACE(_U32.size)
_ERRQ_ANC_SIZE = 512


class SocketMode(enum.StrEnum):
    """How ICMP is sent: raw (CAP_NET_RAW), unprivileged datagram "ping" sockets, or raw then dgram."""

    AUTO = "auto"
    RAW = "raw"
    DGRAM = "dgram"


class IcmpPermissionError(PermissionError):
    """The host can neither open raw ICMP sockets nor unprivileged ping sockets."""


class _Family:
    """One address family's socket and how to read it."""

    __slots__ = (
        "active",
        "errqueue",
        "family",
        "raw",
        "reply_type",
        "request_type",
        "resting",
        "sendto",
        "sock",
        "tx_stamps",
        "unreach_type",
    )

    def __init__(self, family: int, sock: socket.socket, raw: bool, tx_stamps: bool) -> None:
        self.family = family
        self.sock = sock
        self.tx_stamps = tx_stamps  # the kernel reports transmit stamps on the error queue
        self.errqueue = tx_stamps or not raw  # ping sockets also get ICMP errors there
        self.resting = True  # no reader registered (probes in flight, or not opened yet)
        self.active = 0  # probes of this family in flight
        self.sendto = sock.sendto  # bound once: a bound method is allocated on every attribute access
        self.raw = raw
        v4 = family == socket.AF_INET
        self.request_type = ICMP_ECHO if v4 else ICMP6_ECHO
        self.reply_type = ICMP_ECHO_REPLY if v4 else ICMP6_ECHO_REPLY
        self.unreach_type = ICMP_DEST_UNREACH if v4 else ICMP6_DEST_UNREACH


class IcmpTransport:
    """The shared sockets of one DSCP / source-address combination.

    Several engines (``icmp`` and ``icmp-jitter``) may share one transport; it opens on the first
    :meth:`acquire` and closes on the last :meth:`release`. Must be used from one event loop.
    """

    def __init__(
        self,
        *,
        dscp: int = 34,
        source_v4: str | None = None,
        source_v6: str | None = None,
        mode: SocketMode = SocketMode.AUTO,
        tick_s: float = TICK_S,
    ) -> None:
        if not tick_s > 0:
            raise ValueError(f"tick_s must be > 0, got {tick_s!r}")
        self.tick_s = tick_s
        self.ticks: TickGrid | None = None  # the shared send / read grid, while open
        self.dscp = dscp
        self.source_v4 = source_v4
        self.source_v6 = source_v6
        self.mode = SocketMode(mode)
        self.stats = IcmpStats()
        self.raw: bool | None = None  # decided on open
        self._families: dict[int, _Family] = {}
        self.open_errors: dict[int, str] = {}  # family -> why it could not be opened
        self._pending: dict[int, EchoProbe] = {}
        self._users = 0
        self._active = 0  # probes between begin() and finish()
        self._keepalive_on = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._nonce = 0
        self._nonce_bytes = b""
        self._ident_base = 0
        self._counter = 0
        self._bufsize = 2048
        self._since_drain = 0

    # ------------------------------------------------------------------ lifecycle

    def acquire(self, loop: asyncio.AbstractEventLoop) -> None:
        """Open the sockets on first use. Raises IcmpPermissionError / OSError if no family opens."""
        if self._users == 0:
            self._open(loop)
        self._users += 1

    def release(self) -> None:
        self._users -= 1
        if self._users <= 0:
            self._users = 0
            self._close()

    @property
    def is_open(self) -> bool:
        return bool(self._families)

    def _open(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self.ticks = TickGrid(loop, self.tick_s)
        self._active = 0
        self._keepalive_on = False
        self._nonce = randbits(32) or 1
        self._nonce_bytes = _U32BE.pack(self._nonce)
        self._ident_base = randbits(16)
        self._counter = randbits(32)
        modes = {SocketMode.AUTO: (True, False), SocketMode.RAW: (True,), SocketMode.DGRAM: (False,)}
        denied: list[str] = []
        for raw in modes[self.mode]:
            opened = {}
            for family, source in ((socket.AF_INET, self.source_v4), (socket.AF_INET6, self.source_v6)):
                try:
                    sock, tx_stamps = self._make_socket(family, raw, source)
                    opened[family] = _Family(family, sock, raw, tx_stamps)
                except PermissionError as exc:
                    denied.append(f"{'raw' if raw else 'dgram'} {_fam_name(family)}: {exc.strerror}")
                except OSError as exc:
                    if source is not None and exc.errno == errno.EADDRNOTAVAIL:
                        for f in opened.values():
                            f.sock.close()
                        msg = f"cannot bind ICMP source address {source}: {exc.strerror}"
                        raise OSError(exc.errno, msg) from None
                    self.open_errors[family] = f"{_fam_name(family)}: {exc.strerror}"
            if opened:
                self.raw = raw
                self._families = opened
                break
        for fam in self._families.values():
            self._listen(fam)
        if not self._families:
            if denied:
                raise IcmpPermissionError(
                    "cannot open ICMP sockets ("
                    + "; ".join(denied)
                    + "): run as root / with CAP_NET_RAW, or allow unprivileged ping sockets for your "
                    "group via sysctl net.ipv4.ping_group_range"
                )
            raise OSError(errno.EAFNOSUPPORT, "no ICMP socket could be opened: " + str(self.open_errors))

    def _make_socket(self, family: int, raw: bool, source: str | None) -> tuple[socket.socket, bool]:
        """A configured socket, and whether it reports kernel transmit stamps."""
        proto = socket.IPPROTO_ICMP if family == socket.AF_INET else socket.IPPROTO_ICMPV6
        sock = socket.socket(family, socket.SOCK_RAW if raw else socket.SOCK_DGRAM, proto)
        try:
            sock.setblocking(False)
            try:
                sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPING, TIMESTAMPING_FLAGS)
                tx_stamps = True
            except OSError:
                sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
                tx_stamps = False
            sock.setsockopt(socket.SOL_SOCKET, SO_RXQ_OVFL, 1)
            try:
                sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, RECV_BUFFER_BYTES)
            except PermissionError:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECV_BUFFER_BYTES)
            if family == socket.AF_INET:
                sock.setsockopt(socket.IPPROTO_IP, socket.IP_TOS, self.dscp << 2)
                if raw:  # let the kernel drop every ICMP type except echo reply and unreachable
                    keep = (1 << ICMP_ECHO_REPLY) | (1 << ICMP_DEST_UNREACH)
                    sock.setsockopt(SOL_RAW, ICMP_FILTER, _U32.pack(~keep & _MASK32))
                else:
                    sock.setsockopt(socket.IPPROTO_IP, IP_RECVERR, 1)
            else:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_TCLASS, self.dscp << 2)
                if raw:
                    words = [_MASK32] * 8
                    for t in (ICMP6_ECHO_REPLY, ICMP6_DEST_UNREACH):
                        words[t >> 5] &= ~(1 << (t & 31)) & _MASK32
                    sock.setsockopt(socket.IPPROTO_ICMPV6, ICMP6_FILTER, struct.pack("@8I", *words))
                else:
                    sock.setsockopt(socket.IPPROTO_IPV6, IPV6_RECVERR, 1)
            if source is not None:
                sock.bind((source, 0))
        except BaseException:
            sock.close()
            raise
        return sock, tx_stamps

    def _close(self) -> None:
        if self.ticks is not None:
            self.ticks.close()
        for fam in self._families.values():
            if not fam.resting and self._loop is not None:
                self._loop.remove_reader(fam.sock.fileno())
            fam.sock.close()
        self._families = {}
        for probe in set(self._pending.values()):
            if probe.done is not None and not probe.done.done():
                probe.done.set_result(None)
        self._pending.clear()

    # ------------------------------------------------------------------ sending

    def begin(self, probe: EchoProbe) -> None:
        """Reserve ``probe.count`` consecutive counters for the probe; while any probe is in flight,
        sockets are drained on the grid instead of by a reader (see module doc)."""
        probe.base = self._counter
        self._counter = (self._counter + probe.count) & _MASK32
        fam = self._families.get(probe.family)
        if fam is not None:
            fam.active += 1
        self._active += 1
        if self._active == 1:
            for fam in self._families.values():
                self._mute(fam)
            if not self._keepalive_on and self._loop is not None and self.ticks is not None:
                self._keepalive_on = True
                self.ticks.at(self._loop.time() + KEEPALIVE_S, self._keepalive)

    def _keepalive(self) -> None:
        for fam in self._families.values():
            if not fam.active:
                continue
            self._read(fam)
            if not fam.raw:  # ping sockets: ICMP errors wait on the error queue
                self._read_errqueue(fam)
        if self._active and self._loop is not None and self.ticks is not None:
            self.ticks.at(self._loop.time() + KEEPALIVE_S, self._keepalive)
        else:
            self._keepalive_on = False

    def _listen(self, fam: _Family) -> None:
        if fam.resting and self._loop is not None:
            fam.resting = False
            self._loop.add_reader(fam.sock.fileno(), self._on_idle_readable, fam)

    def _on_idle_readable(self, fam: _Family) -> None:
        # an error-queue entry (a late transmit stamp, a ping-socket ICMP error) also wakes the reader,
        # and keeps waking it until it is read
        self._read(fam)
        if fam.errqueue:
            self._read_errqueue(fam)

    def _mute(self, fam: _Family) -> None:
        if not fam.resting and self._loop is not None:
            fam.resting = True
            self._loop.remove_reader(fam.sock.fileno())

    def send(self, probe: EchoProbe, index: int, packet: bytearray, pad_sum: int) -> bool:
        """Send echo ``index`` of ``probe``; False (and nothing counted as sent) if sendto failed.

        ``packet`` is the engine's reusable buffer (header + token + padding); ``pad_sum`` the one's
        complement sum of its padding, so the IPv4 checksum costs a few additions, not a loop.
        """
        fam = self._families.get(probe.family)
        if fam is None:
            self.stats.send_errors += 1
            return False
        self._since_drain += 1
        if self._since_drain >= DRAIN_EVERY:
            self._since_drain = 0
            for f in self._families.values():
                self._read(f)
        counter = (probe.base + index) & _MASK32
        seq = counter & 0xFFFF
        ident = (self._ident_base + (counter >> 16)) & 0xFFFF
        nonce = self._nonce
        checksum = 0
        if fam.raw and probe.family == socket.AF_INET:  # v6 and ping sockets: the kernel sums
            s = (fam.request_type << 8) + ident + seq + (nonce >> 16) + (nonce & 0xFFFF)
            s += (counter >> 16) + (counter & 0xFFFF) + pad_sum
            s = (s & 0xFFFF) + (s >> 16)
            s = (s & 0xFFFF) + (s >> 16)
            checksum = ~s & 0xFFFF
        _ECHO.pack_into(packet, 0, fam.request_type, 0, checksum, ident, seq, nonce, counter)
        self._pending[counter] = probe
        sendto, sockaddr = fam.sendto, probe.sockaddr
        # Nothing between the stamp and the syscall may allocate a GC-tracked object: an allocation can
        # start a garbage collection (measured: up to 20 ms) that would count as network delay.
        t = _time_ns()
        try:
            sendto(packet, sockaddr)
        except OSError:
            if fam.raw:
                del self._pending[counter]
                self.stats.send_errors += 1
                return False
            # A ping socket reports an earlier ICMP error (sk_err, set by IP_RECVERR) on the next call,
            # this sendto included, without sending. Read that error where it belongs, then try again.
            self._read(fam)
            self._read_errqueue(fam)
            t = _time_ns()
            try:
                sendto(packet, sockaddr)
            except OSError:
                del self._pending[counter]
                self.stats.send_errors += 1
                return False
        probe.send_ns[index] = t
        probe.state[index] = WAITING
        self.stats.sent += 1
        if fam.tx_stamps:  # the driver usually stamped it during sendto: collect that one entry now
            self._read_errqueue(fam, 1)
        return True

    def finish(self, probe: EchoProbe) -> None:
        """Read what is already queued (replies the kernel stamped before the deadline), then forget
        the probe's echoes so later replies count as stale."""
        fam = self._families.get(probe.family)
        if fam is not None:
            fam.active = max(0, fam.active - 1)
            if fam.errqueue:
                self._read_errqueue(fam)
            self._read(fam)
        pending = self._pending
        for i in range(probe.count):
            key = (probe.base + i) & _MASK32
            if pending.get(key) is probe:
                del pending[key]
        self._active = max(0, self._active - 1)
        if self._active == 0:
            for f in self._families.values():
                self._listen(f)

    # ------------------------------------------------------------------ receiving

    def _read(self, fam: _Family) -> None:
        """Drain the socket (up to MAX_BATCH packets) and match every packet."""
        recvmsg = fam.sock.recvmsg
        bufsize = self._bufsize
        pending = self._pending
        stats = self.stats
        nonce = self._nonce
        raw = fam.raw
        hdr_v4 = raw and fam.family == socket.AF_INET
        reply_type = fam.reply_type
        sol_socket = socket.SOL_SOCKET
        for _ in range(MAX_BATCH):
            try:
                data, anc, _flags, addr = recvmsg(bufsize, _ANC_SIZE)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                # ping sockets report ICMP errors this way; the detail is on the error queue
                stats.socket_errors += raw
                self._read_errqueue(fam)
                continue
            stats.rx_packets += 1
            rx_ns = 0
            for level, ctype, cdata in anc:
                if level == sol_socket:
                    if ctype in (SO_TIMESTAMPING, SO_TIMESTAMPNS) and len(cdata) >= 16:
                        sec, nsec = _TIMESPEC.unpack_from(cdata)
                        rx_ns = sec * 1_000_000_000 + nsec
                    elif ctype == SO_RXQ_OVFL and len(cdata) >= 4:
                        stats.rx_queue_drops = _U32.unpack_from(cdata)[0]
            if not rx_ns:
                rx_ns = time.time_ns()
            n = len(data)
            if hdr_v4:
                if n < 28:
                    stats.truncated += 1
                    continue
                off = (data[0] & 0x0F) << 2
            else:
                off = 0
            if n < off + 8:
                stats.truncated += 1
                continue
            icmp_type = data[off]
            if icmp_type == reply_type:
                if n < off + 16:
                    stats.truncated += 1
                    continue
                ident, seq, tnonce, counter = _IDS.unpack_from(data, off + 4)
                if tnonce != nonce:
                    stats.foreign += 1
                    continue
                probe = pending.get(counter)
                if probe is None:
                    stats.stale += 1
                    continue
                if seq != counter & 0xFFFF or (
                    raw and ident != (self._ident_base + (counter >> 16)) & 0xFFFF
                ):
                    stats.foreign += 1
                    continue
                if hdr_v4:
                    if data[12:16] != probe.addr_packed:
                        stats.wrong_source += 1
                        continue
                elif addr[0] != probe.addr_str and not _same_address(fam.family, addr[0], probe):
                    stats.wrong_source += 1
                    continue
                probe.reply((counter - probe.base) & _MASK32, rx_ns, stats)
            elif icmp_type == fam.unreach_type:
                self._icmp_error(fam, data, off)
            else:
                stats.other_types += 1

    def _icmp_error(self, fam: _Family, data: bytes, off: int) -> None:
        """A destination-unreachable seen on a raw socket: find the echo it quotes, if it is ours."""
        stats = self.stats
        q = off + 8  # quoted IP header
        n = len(data)
        if fam.family == socket.AF_INET:
            if n < q + 20 or data[q] >> 4 != 4:
                stats.errors_ignored += 1
                return
            qihl = (data[q] & 0x0F) << 2
            if data[q + 9] != socket.IPPROTO_ICMP or qihl < 20:
                stats.errors_ignored += 1
                return
            dst = data[q + 16 : q + 20]
            e = q + qihl
        else:
            if n < q + 40 or data[q] >> 4 != 6 or data[q + 6] != socket.IPPROTO_ICMPV6:
                stats.errors_ignored += 1
                return
            dst = data[q + 24 : q + 40]
            e = q + 40
        self._match_quoted_echo(fam, data, e, dst)

    def _match_quoted_echo(self, fam: _Family, data: bytes, e: int, dst: bytes) -> None:
        """Mark the echo quoted at ``data[e:]`` (sent to ``dst``) unreachable if it is a live one of ours.

        With the token quoted (Linux and RFC 1812 routers quote enough) nonce and counter must match;
        an error quoting only the 8-byte ICMP header (RFC 792 minimum) is matched by identifier and
        sequence on raw sockets, where those encode the counter.
        """
        stats = self.stats
        n = len(data)
        if n < e + 8 or data[e] != fam.request_type:
            stats.errors_ignored += 1
            return
        if n >= e + 16:
            ident, seq, tnonce, counter = _IDS.unpack_from(data, e + 4)
            if tnonce != self._nonce:
                stats.errors_ignored += 1
                return
        elif fam.raw:
            ident, seq = struct.unpack_from("!HH", data, e + 4)
            counter = (((ident - self._ident_base) & 0xFFFF) << 16) | seq
        else:
            stats.errors_ignored += 1
            return
        probe = self._pending.get(counter)
        if (
            probe is None
            or seq != counter & 0xFFFF
            or (fam.raw and ident != (self._ident_base + (counter >> 16)) & 0xFFFF)
            or dst != probe.addr_packed
        ):
            stats.errors_ignored += 1
            return
        probe.unreachable((counter - probe.base) & _MASK32, stats)

    def _read_errqueue(self, fam: _Family, limit: int = MAX_BATCH) -> None:
        """Drain (up to ``limit`` entries of) the error queue: kernel transmit stamps (with a copy of the
        sent packet) and, on ping sockets, ICMP errors (the original echo + a sock_extended_err)."""
        stats = self.stats
        recvmsg = fam.sock.recvmsg
        icmp_origin = SO_EE_ORIGIN_ICMP if fam.family == socket.AF_INET else SO_EE_ORIGIN_ICMP6
        for _ in range(limit):
            try:
                data, anc, _flags, addr = recvmsg(self._bufsize, _ERRQ_ANC_SIZE, socket.MSG_ERRQUEUE)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                stats.socket_errors += 1
                return
            ts = origin = ee_type = 0
            for level, ctype, cdata in anc:
                if level == socket.SOL_SOCKET:
                    if ctype == SO_TIMESTAMPING and len(cdata) >= 16:
                        sec, nsec = _TIMESPEC.unpack_from(cdata)
                        ts = sec * 1_000_000_000 + nsec
                elif ctype in (IP_RECVERR, IPV6_RECVERR) and len(cdata) >= _EXT_ERR.size:
                    _eno, origin, ee_type, _code, _pad, _info, _data = _EXT_ERR.unpack_from(cdata)
            if origin == SO_EE_ORIGIN_TIMESTAMPING:
                self._tx_stamp(data, ts)
                continue
            stats.rx_packets += 1
            if origin != icmp_origin or ee_type != fam.unreach_type:
                stats.errors_ignored += 1
                continue
            try:
                dst = socket.inet_pton(fam.family, addr[0].partition("%")[0])
            except (OSError, IndexError, TypeError):
                stats.errors_ignored += 1
                continue
            self._match_quoted_echo(fam, data, 0, dst)

    def _tx_stamp(self, data: bytes, ts: int) -> None:
        """File a transmit stamp under its echo: the looped-back packet starts at the link header, whose
        length depends on the device, so find our nonce and check the sequence number before it."""
        i = data.find(self._nonce_bytes)
        if ts and i >= 6 and len(data) >= i + 8:
            seq, _nonce, counter = _SEQ_NONCE_COUNTER.unpack_from(data, i - 2)
            probe = self._pending.get(counter)
            if probe is not None and seq == counter & 0xFFFF:
                probe.tx_ns[(counter - probe.base) & _MASK32] = ts
                return
        self.stats.tx_stamps_unmatched += 1


def _same_address(family: int, text: str, probe: EchoProbe) -> bool:
    """Slow path when the kernel's text form differs from ours (IPv6 spelling, scope suffix)."""
    try:
        return socket.inet_pton(family, text.partition("%")[0]) == probe.addr_packed
    except OSError:
        return False


def _fam_name(family: int) -> str:
    return "IPv4" if family == socket.AF_INET else "IPv6"

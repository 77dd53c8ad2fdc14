"""A scriptable ICMP peer on the far side of a test TUN device: reads the engine's echo requests and
writes back exactly the packets a test asks for (genuine, delayed, duplicated, forged, truncated).

Packets are built here from the RFCs (RFC 791/792, RFC 8200/4443), independently of the engine's own
code, so a test checks the engine against the wire format rather than against itself.
"""

from __future__ import annotations

import asyncio
import os
import socket
import struct
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from ipaddress import ip_address


def inet_checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


@dataclass(frozen=True)
class Request:
    """One echo request as it left the engine's host."""

    version: int
    src: str
    dst: str
    tos: int  # IPv4 TOS / IPv6 traffic class
    ident: int
    seq: int
    icmp: bytes  # the whole ICMP message (header + payload)
    packet: bytes  # the whole IP packet
    index: int  # 0-based count of requests seen for this destination
    time_ns: int  # when the peer read it

    @property
    def payload(self) -> bytes:
        return self.icmp[8:]


def ip_packet(version: int, src: str, dst: str, icmp: bytes, tos: int = 0) -> bytes:
    """An IPv4 or IPv6 packet carrying ``icmp``; its ICMP checksum (and IPv4 header checksum) filled in."""
    s, d = ip_address(src).packed, ip_address(dst).packed
    if version == 4:
        icmp = icmp[:2] + b"\0\0" + icmp[4:]
        icmp = icmp[:2] + struct.pack("!H", inet_checksum(icmp)) + icmp[4:]
        hdr = struct.pack("!BBHHHBBH4s4s", 0x45, tos, 20 + len(icmp), 0, 0, 64, 1, 0, s, d)
        hdr = hdr[:10] + struct.pack("!H", inet_checksum(hdr)) + hdr[12:]
        return hdr + icmp
    icmp = icmp[:2] + b"\0\0" + icmp[4:]
    pseudo = s + d + struct.pack("!I3xB", len(icmp), 58)
    icmp = icmp[:2] + struct.pack("!H", inet_checksum(pseudo + icmp)) + icmp[4:]
    hdr = struct.pack("!IHBB16s16s", (6 << 28) | (tos << 20), len(icmp), 58, 64, s, d)
    return hdr + icmp


def echo_reply(
    req: Request,
    *,
    src: str | None = None,
    ident: int | None = None,
    seq: int | None = None,
    payload: bytes | None = None,
    icmp_len: int | None = None,
) -> bytes:
    """The reply a host would send (optionally altered: other source / id / seq / payload / length)."""
    rtype = 0 if req.version == 4 else 129
    body = struct.pack(
        "!BBHHH",
        rtype,
        0,
        0,
        req.ident if ident is None else ident,
        req.seq if seq is None else seq,
    )
    body += req.payload if payload is None else payload
    if icmp_len is not None:
        body = body[:icmp_len]
    return ip_packet(req.version, src or req.dst, req.src, body)


def unreachable(req: Request, quote: bytes, router: str) -> bytes:
    """ICMP destination unreachable (v4: host unreachable, v6: address unreachable) quoting ``quote``."""
    if req.version == 4:
        body = struct.pack("!BBHI", 3, 1, 0, 0) + quote
    else:
        body = struct.pack("!BBHI", 1, 3, 0, 0) + quote
    return ip_packet(req.version, router, req.src, body)


Policy = Callable[[Request], list[tuple[float, bytes]]]  # -> [(delay s, packet to write), ...]


class TunPeer:
    """Answers echo requests read from a TUN fd according to a per-destination policy.

    Unknown destinations are not answered. ``stall_after_write_s`` blocks the event loop right after a
    write, to prove RTTs come from kernel timestamps rather than from when the engine's reader ran.
    """

    def __init__(self, fd: int, policies: dict[str, Policy] | None = None) -> None:
        self.fd = fd
        self.policies: dict[str, Policy] = dict(policies or {})
        self.requests: dict[str, list[Request]] = defaultdict(list)
        self.other_packets = 0
        self.stall_after_write_s = 0.0
        self.written = 0
        self._loop: asyncio.AbstractEventLoop | None = None

    def attach(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(self.fd, self._on_readable)

    def detach(self) -> None:
        if self._loop is not None:
            self._loop.remove_reader(self.fd)
            self._loop = None

    def _on_readable(self) -> None:
        while True:
            try:
                pkt = os.read(self.fd, 65536)
            except BlockingIOError:
                return
            req = self._parse(pkt)
            if req is None:
                self.other_packets += 1
                continue
            self.requests[req.dst].append(req)
            policy = self.policies.get(req.dst)
            if policy is None:
                continue
            for delay, out in policy(req):
                if delay <= 0:
                    self._write(out)
                else:
                    assert self._loop is not None
                    self._loop.call_later(delay, self._write, out)

    def _write(self, pkt: bytes) -> None:
        os.write(self.fd, pkt)
        self.written += 1
        if self.stall_after_write_s:
            time.sleep(self.stall_after_write_s)

    def _parse(self, pkt: bytes) -> Request | None:
        now = time.time_ns()
        if len(pkt) >= 28 and pkt[0] >> 4 == 4 and pkt[9] == 1:
            ihl = (pkt[0] & 15) * 4
            icmp = pkt[ihl:]
            if icmp[0] != 8:
                return None
            src, dst = (
                socket.inet_ntop(socket.AF_INET, pkt[12:16]),
                socket.inet_ntop(socket.AF_INET, pkt[16:20]),
            )
            tos = pkt[1]
            version = 4
        elif len(pkt) >= 48 and pkt[0] >> 4 == 6 and pkt[6] == 58:
            icmp = pkt[40:]
            if icmp[0] != 128:
                return None
            src = socket.inet_ntop(socket.AF_INET6, pkt[8:24])
            dst = socket.inet_ntop(socket.AF_INET6, pkt[24:40])
            tos = (struct.unpack("!I", pkt[:4])[0] >> 20) & 0xFF
            version = 6
        else:
            return None
        ident, seq = struct.unpack("!HH", icmp[4:8])
        return Request(version, src, dst, tos, ident, seq, icmp, pkt, len(self.requests[dst]), now)


def answer(delay_s: float = 0.0) -> Policy:
    """A healthy host: one genuine reply after ``delay_s``."""
    return lambda req: [(delay_s, echo_reply(req))]

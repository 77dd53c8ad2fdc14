"""A tiny raw-socket pinger for the lab tests: one socket, kernel receive timestamps, every reply kept.

Deliberately independent of slaprobe's ICMP engine (that is the thing other tests check against the
lab); here the lab itself is under test, so the measuring side must be simple enough to trust by reading.
"""

from __future__ import annotations

import select
import socket
import struct
import time
from dataclasses import dataclass, field

from slaprobe.lab import Lab

SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)


@dataclass
class PingResult:
    sent: dict[int, int] = field(default_factory=dict)  # seq -> send time (ns, CLOCK_REALTIME)
    replies: list[tuple[int, int]] = field(default_factory=list)  # (seq, kernel rx ns) in arrival order

    def rtts_ms(self) -> dict[int, list[float]]:
        out: dict[int, list[float]] = {}
        for seq, rx in self.replies:
            out.setdefault(seq, []).append((rx - self.sent[seq]) / 1e6)
        return out

    @property
    def answered(self) -> set[int]:
        return {seq for seq, _ in self.replies}


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def ping(
    lab: Lab, address: str, count: int, interval_s: float, ident: int = 0x5A5A, wait_s: float = 0.3,
    payload: bytes = b"slaprobe-lab-test",
) -> PingResult:  # fmt: skip
    """Send ``count`` echo requests to ``address`` from inside ``lab``; collect replies until ``wait_s``
    after the last send. Sequence numbers are 0..count-1."""
    v6 = ":" in address
    with lab.inside():
        if v6:
            sock = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
        else:
            sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    result = PingResult()
    reply_type = 129 if v6 else 0
    try:
        next_send = time.monotonic()
        seq = 0
        deadline = None
        while True:
            now = time.monotonic()
            if seq < count and now >= next_send:
                hdr = struct.pack("!BBHHH", 128 if v6 else 8, 0, 0, ident, seq)
                csum = 0 if v6 else _checksum(hdr + payload)  # the kernel fills ICMPv6 checksums
                pkt = struct.pack("!BBHHH", 128 if v6 else 8, 0, csum, ident, seq) + payload
                result.sent[seq] = time.time_ns()
                sock.sendto(pkt, (address, 0))
                seq += 1
                next_send += interval_s
                if seq == count:
                    deadline = time.monotonic() + wait_s
                continue
            until = next_send if seq < count else deadline
            timeout = max(0.0, until - time.monotonic())
            if seq >= count and timeout == 0:
                return result
            r, _, _ = select.select([sock], [], [], timeout)
            if not r:
                continue
            data, anc, _flags, src = sock.recvmsg(2048, 256)
            rx = next(
                (
                    struct.unpack("qq", d[:16])
                    for lvl, typ, d in anc
                    if lvl == socket.SOL_SOCKET and typ == SO_TIMESTAMPNS
                ),
                None,
            )
            icmp = data if v6 else data[(data[0] & 0x0F) * 4 :]
            if src[0] != address or len(icmp) < 8 or icmp[0] != reply_type:
                continue
            _t, _c, _s, rid, rseq = struct.unpack("!BBHHH", icmp[:8])
            if rid != ident or rseq not in result.sent or icmp[8:] != payload:
                continue
            assert rx is not None, "no kernel timestamp"
            result.replies.append((rseq, rx[0] * 1_000_000_000 + rx[1]))
    finally:
        sock.close()

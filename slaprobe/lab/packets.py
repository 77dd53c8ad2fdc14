"""Parse and craft the few packet kinds the lab answers: IPv4/IPv6 with ICMP echo, ICMPv6 echo and UDP.

Hand-written with ``struct`` because this is the responder's hot path (scapy costs ~1 ms per packet; this
costs a few µs). Everything that does not parse cleanly is reported as ``None`` and dropped by the caller:
the lab must survive any byte string written into its TUN device.

Checksums use the identity that the Internet checksum (RFC 1071) of a byte string equals its big-endian
integer value modulo 0xFFFF (because 2**16 ≡ 1 mod 0xFFFF), which lets CPython do the fold in C.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

PROTO_ICMP = 1
PROTO_UDP = 17
PROTO_ICMPV6 = 58

ICMP_ECHO_REPLY = 0
ICMP_DEST_UNREACH = 3
ICMP_ECHO_REQUEST = 8
ICMP_PORT_UNREACH = 3  # code under ICMP_DEST_UNREACH
ICMPV6_DEST_UNREACH = 1
ICMPV6_PORT_UNREACH = 4  # code under ICMPV6_DEST_UNREACH
ICMPV6_ECHO_REQUEST = 128
ICMPV6_ECHO_REPLY = 129

DEFAULT_TTL = 64
_IPV4_HDR = struct.Struct("!BBHHHBBH4s4s")
_IPV6_HDR = struct.Struct("!IHBB16s16s")
_UDP_HDR = struct.Struct("!HHHH")
_ECHO_HDR = struct.Struct("!BBHHH")  # type, code, checksum, identifier, sequence


def inet_checksum(data: bytes) -> int:
    """RFC 1071 Internet checksum of ``data`` (odd lengths padded with a zero byte)."""
    if len(data) & 1:
        data += b"\0"
    x = int.from_bytes(data, "big")
    s = x % 0xFFFF
    if s == 0 and x:
        s = 0xFFFF  # ones' complement "negative zero": the sum of a non-zero string that folds to 0xFFFF
    return 0xFFFF - s


def checksum_ok(data: bytes) -> bool:
    """True when ``data`` (checksum field included) sums to ones' complement zero, i.e. is intact."""
    if len(data) & 1:
        data += b"\0"
    x = int.from_bytes(data, "big")
    return x != 0 and x % 0xFFFF == 0


def _pseudo_v4(src: bytes, dst: bytes, proto: int, length: int) -> bytes:
    return src + dst + struct.pack("!BBH", 0, proto, length)


def _pseudo_v6(src: bytes, dst: bytes, proto: int, length: int) -> bytes:
    return src + dst + struct.pack("!I3xB", length, proto)


@dataclass(slots=True)
class Parsed:
    """One inbound packet the lab may answer. ``src``/``dst`` are packed addresses (4 or 16 bytes).

    ``proto`` is ``PROTO_ICMP`` / ``PROTO_ICMPV6`` for an echo request (``ident``/``seq`` set) or
    ``PROTO_UDP`` (``sport``/``dport`` set). ``payload`` is the echo data or the UDP payload.
    ``l4`` is the whole transport segment (used to quote the packet in ICMP errors).
    """

    version: int
    proto: int
    src: bytes
    dst: bytes
    tos: int
    ident: int
    seq: int
    sport: int
    dport: int
    payload: bytes
    raw: bytes


def parse(pkt: bytes) -> Parsed | None:
    """Parse an inbound IP packet; ``None`` for anything that is not an intact echo request or UDP."""
    if len(pkt) < 20:
        return None
    version = pkt[0] >> 4
    if version == 4:
        return _parse_v4(pkt)
    if version == 6:
        return _parse_v6(pkt)
    return None


def _parse_v4(pkt: bytes) -> Parsed | None:
    ihl = (pkt[0] & 0x0F) * 4
    if ihl < 20 or len(pkt) < ihl:
        return None
    _vihl, tos, total, _ident, frag, _ttl, proto, _csum, src, dst = _IPV4_HDR.unpack_from(pkt)
    if total < ihl or total > len(pkt) or frag & 0x3FFF:  # truncated, or a fragment (MF or offset set)
        return None
    if not checksum_ok(pkt[:ihl]):
        return None
    l4 = pkt[ihl:total]
    raw = pkt[:total]
    if proto == PROTO_ICMP:
        if len(l4) < 8 or l4[0] != ICMP_ECHO_REQUEST or l4[1] != 0 or not checksum_ok(l4):
            return None
        _t, _c, _s, ident, seq = _ECHO_HDR.unpack_from(l4)
        return Parsed(4, PROTO_ICMP, src, dst, tos, ident, seq, 0, 0, l4[8:], raw)
    if proto == PROTO_UDP:
        return _parse_udp(4, src, dst, tos, l4, raw)
    return None


def _parse_v6(pkt: bytes) -> Parsed | None:
    if len(pkt) < 40:
        return None
    vtf, plen, nh, _hlim, src, dst = _IPV6_HDR.unpack_from(pkt)
    if 40 + plen > len(pkt):
        return None
    tos = (vtf >> 20) & 0xFF
    l4 = pkt[40 : 40 + plen]
    raw = pkt[: 40 + plen]
    if nh == PROTO_ICMPV6:
        if len(l4) < 8 or l4[0] != ICMPV6_ECHO_REQUEST or l4[1] != 0:
            return None
        if not checksum_ok(_pseudo_v6(src, dst, PROTO_ICMPV6, len(l4)) + l4):
            return None
        _t, _c, _s, ident, seq = _ECHO_HDR.unpack_from(l4)
        return Parsed(6, PROTO_ICMPV6, src, dst, tos, ident, seq, 0, 0, l4[8:], raw)
    if nh == PROTO_UDP:
        return _parse_udp(6, src, dst, tos, l4, raw)
    return None  # extension headers and everything else: not ours


def _parse_udp(version: int, src: bytes, dst: bytes, tos: int, l4: bytes, raw: bytes) -> Parsed | None:
    if len(l4) < 8:
        return None
    sport, dport, ulen, csum = _UDP_HDR.unpack_from(l4)
    if ulen < 8 or ulen > len(l4):
        return None
    l4 = l4[:ulen]
    if csum == 0:
        if version == 6:  # RFC 8200: a zero UDP checksum is invalid over IPv6
            return None
    else:
        pseudo = (_pseudo_v4 if version == 4 else _pseudo_v6)(src, dst, PROTO_UDP, ulen)
        if not checksum_ok(pseudo + l4):
            return None
    return Parsed(version, PROTO_UDP, src, dst, tos, 0, 0, sport, dport, l4[8:], raw)


def ipv4_header(src: bytes, dst: bytes, proto: int, payload_len: int, tos: int = 0, ident: int = 0) -> bytes:
    """A 20-byte IPv4 header (DF clear, TTL 64) with a valid header checksum."""
    hdr = _IPV4_HDR.pack(0x45, tos, 20 + payload_len, ident, 0, DEFAULT_TTL, proto, 0, src, dst)
    csum = inet_checksum(hdr)
    return hdr[:10] + csum.to_bytes(2, "big") + hdr[12:]


def ipv6_header(src: bytes, dst: bytes, nh: int, payload_len: int, tclass: int = 0) -> bytes:
    """A 40-byte IPv6 header (flow label 0, hop limit 64)."""
    return _IPV6_HDR.pack((6 << 28) | (tclass << 20), payload_len, nh, DEFAULT_TTL, src, dst)


def icmp_packet(
    version: int, src: bytes, dst: bytes, icmp_type: int, code: int, rest: bytes, data: bytes, tos: int = 0
) -> bytes:
    """An ICMP (v4) or ICMPv6 (v6, pseudo-header checksum) message in its IP packet.

    ``rest`` is the 4-byte "rest of header" (identifier + sequence for echo, zero for errors).
    """
    body = struct.pack("!BBH", icmp_type, code, 0) + rest + data
    if version == 4:
        csum = inet_checksum(body)
        return (
            ipv4_header(src, dst, PROTO_ICMP, len(body), tos) + body[:2] + csum.to_bytes(2, "big") + body[4:]
        )
    csum = inet_checksum(_pseudo_v6(src, dst, PROTO_ICMPV6, len(body)) + body)
    icmp = body[:2] + csum.to_bytes(2, "big") + body[4:]
    return ipv6_header(src, dst, PROTO_ICMPV6, len(icmp), tos) + icmp


def echo_reply(req: Parsed) -> bytes:
    """The echo reply a real host would send: addresses swapped, same identifier, sequence and data."""
    kind = ICMP_ECHO_REPLY if req.version == 4 else ICMPV6_ECHO_REPLY
    rest = struct.pack("!HH", req.ident, req.seq)
    return icmp_packet(req.version, req.dst, req.src, kind, 0, rest, req.payload, req.tos)


def udp_packet(
    version: int, src: bytes, dst: bytes, sport: int, dport: int, payload: bytes, tos: int = 0
) -> bytes:
    """A complete IPv4/IPv6 UDP datagram with valid checksums."""
    ulen = 8 + len(payload)
    seg = _UDP_HDR.pack(sport, dport, ulen, 0) + payload
    pseudo = (_pseudo_v4 if version == 4 else _pseudo_v6)(src, dst, PROTO_UDP, ulen)
    csum = inet_checksum(pseudo + seg) or 0xFFFF  # RFC 768: a computed zero is sent as all ones
    seg = seg[:6] + csum.to_bytes(2, "big") + seg[8:]
    if version == 4:
        return ipv4_header(src, dst, PROTO_UDP, ulen, tos) + seg
    return ipv6_header(src, dst, PROTO_UDP, ulen, tos) + seg


def udp_reply(req: Parsed, payload: bytes) -> bytes:
    """A UDP answer to ``req``: addresses and ports swapped, same traffic class."""
    return udp_packet(req.version, req.dst, req.src, req.dport, req.sport, payload, req.tos)


def port_unreachable(req: Parsed) -> bytes:
    """ICMP(v6) port unreachable quoting ``req``, as a host without a listener on that port sends."""
    if req.version == 4:  # keep the error within the minimum MTU (576 / 1280 bytes)
        return icmp_packet(4, req.dst, req.src, ICMP_DEST_UNREACH, ICMP_PORT_UNREACH, bytes(4), req.raw[:548])
    quoted = req.raw[: 1280 - 48]
    return icmp_packet(6, req.dst, req.src, ICMPV6_DEST_UNREACH, ICMPV6_PORT_UNREACH, bytes(4), quoted)


def echo_request(version: int, src: bytes, dst: bytes, ident: int, seq: int, payload: bytes = b"") -> bytes:
    """An echo request (used by tests and the throughput bench to inject traffic into the TUN)."""
    kind = ICMP_ECHO_REQUEST if version == 4 else ICMPV6_ECHO_REQUEST
    return icmp_packet(version, src, dst, kind, 0, struct.pack("!HH", ident, seq), payload)

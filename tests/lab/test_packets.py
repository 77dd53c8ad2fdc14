"""Packet crafting and parsing, checked against scapy's independent dissectors and checksums."""

from __future__ import annotations

import socket

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scapy.layers.inet import ICMP, IP, UDP
from scapy.layers.inet6 import ICMPv6DestUnreach, ICMPv6EchoReply, ICMPv6EchoRequest, IPv6
from scapy.utils import checksum as scapy_checksum

from slaprobe.lab import packets

V4_SRC, V4_DST = "198.19.255.1", "198.18.3.4"
V6_SRC, V6_DST = "2001:2:ffff::1", "2001:2:0:1::42"


def _recomputed(pkt):  # scapy recomputes every length and checksum it is told to forget
    clone = pkt.copy()
    for layer in (IP, UDP, ICMP, IPv6, ICMPv6EchoReply, ICMPv6EchoRequest, ICMPv6DestUnreach):
        if clone.haslayer(layer):
            for f in ("chksum", "cksum", "len", "plen"):
                if f in clone[layer].fields:
                    del clone[layer].fields[f]
    return clone.__class__(bytes(clone))


def test_icmpv4_echo_reply_matches_scapy() -> None:
    req = bytes(IP(src=V4_SRC, dst=V4_DST, tos=0xB8) / ICMP(type=8, id=0x1234, seq=77) / b"payload!")
    parsed = packets.parse(req)
    assert parsed is not None
    assert (parsed.ident, parsed.seq, parsed.payload) == (0x1234, 77, b"payload!")
    reply = IP(packets.echo_reply(parsed))
    assert (reply.src, reply.dst, reply.tos) == (V4_DST, V4_SRC, 0xB8)
    assert (reply[ICMP].type, reply[ICMP].code, reply[ICMP].id, reply[ICMP].seq) == (0, 0, 0x1234, 77)
    assert bytes(reply[ICMP].payload) == b"payload!"
    fixed = _recomputed(reply)
    assert reply.chksum == fixed.chksum and reply[ICMP].chksum == fixed[ICMP].chksum


def test_icmpv6_echo_reply_matches_scapy() -> None:
    req = bytes(IPv6(src=V6_SRC, dst=V6_DST) / ICMPv6EchoRequest(id=9, seq=65535, data=b"x" * 33))
    parsed = packets.parse(req)
    assert parsed is not None and (parsed.version, parsed.ident, parsed.seq) == (6, 9, 65535)
    reply = IPv6(packets.echo_reply(parsed))
    assert (reply.src, reply.dst, reply.nh, reply.plen) == (V6_DST, V6_SRC, 58, 8 + 33)
    echo = reply[ICMPv6EchoReply]
    assert (echo.id, echo.seq, echo.data) == (9, 65535, b"x" * 33)
    assert echo.cksum == _recomputed(reply)[ICMPv6EchoReply].cksum


def test_udp_reply_both_families_matches_scapy() -> None:
    for ip_layer in (IP(src=V4_SRC, dst=V4_DST), IPv6(src=V6_SRC, dst=V6_DST)):
        req = bytes(ip_layer / UDP(sport=40000, dport=862) / (b"\x01" * 45))  # odd length: checksum padding
        parsed = packets.parse(req)
        assert parsed is not None and (parsed.sport, parsed.dport) == (40000, 862)
        reply = ip_layer.__class__(packets.udp_reply(parsed, b"answer"))
        assert (reply.src, reply.dst) == (ip_layer.dst, ip_layer.src)
        assert (reply[UDP].sport, reply[UDP].dport, bytes(reply[UDP].payload)) == (862, 40000, b"answer")
        assert reply[UDP].chksum == _recomputed(reply)[UDP].chksum != 0


def test_port_unreachable_quotes_the_request() -> None:
    req = bytes(IP(src=V4_SRC, dst=V4_DST) / UDP(sport=1234, dport=9) / b"hello")
    err = IP(packets.port_unreachable(packets.parse(req)))
    assert (err[ICMP].type, err[ICMP].code, err.dst) == (3, 3, V4_SRC)
    assert err[ICMP].chksum == _recomputed(err)[ICMP].chksum
    assert bytes(err[ICMP].payload).startswith(req[:20])
    req6 = bytes(IPv6(src=V6_SRC, dst=V6_DST) / UDP(sport=1234, dport=9) / b"hello")
    err6 = IPv6(packets.port_unreachable(packets.parse(req6)))
    assert (err6[ICMPv6DestUnreach].type, err6[ICMPv6DestUnreach].code) == (1, 4)
    assert err6[ICMPv6DestUnreach].cksum == _recomputed(err6)[ICMPv6DestUnreach].cksum


def test_parse_rejects_what_a_host_would_not_answer() -> None:
    good = bytearray(bytes(IP(src=V4_SRC, dst=V4_DST) / ICMP(type=8, id=1, seq=1) / b"abcd"))
    assert packets.parse(bytes(good)) is not None
    bad_icmp = bytearray(good)
    bad_icmp[-1] ^= 0xFF  # payload changed, ICMP checksum now wrong
    bad_ip = bytearray(good)
    bad_ip[8] = 1  # TTL changed, header checksum now wrong
    cases = {
        "bad icmp checksum": bytes(bad_icmp),
        "bad ip checksum": bytes(bad_ip),
        "truncated": bytes(good[:-3]),
        "fragment": bytes(IP(src=V4_SRC, dst=V4_DST, flags="MF") / ICMP(type=8) / b"abcd"),
        "echo reply": bytes(IP(src=V4_SRC, dst=V4_DST) / ICMP(type=0)),
        "tcp": bytes(IP(src=V4_SRC, dst=V4_DST, proto=6) / (b"\0" * 20)),
        "udp bad checksum": bytes(IP(src=V4_SRC, dst=V4_DST) / UDP(sport=1, dport=7, chksum=0x1234)),
        "udp6 zero checksum": bytes(IPv6(src=V6_SRC, dst=V6_DST) / UDP(sport=1, dport=7, chksum=0)),
        "version 5": b"\x50" + bytes(good[1:]),
        "short": b"\x45\x00",
    }
    for name, data in cases.items():
        assert packets.parse(data) is None, name
    # a zero UDP checksum means "none" over IPv4 and is accepted
    assert packets.parse(bytes(IP(src=V4_SRC, dst=V4_DST) / UDP(sport=1, dport=7, chksum=0))) is not None


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_checksum_agrees_with_scapy(data: bytes) -> None:
    assert packets.inet_checksum(data) == scapy_checksum(data)


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=120), st.sampled_from([0x45, 0x46, 0x60, 0x4F]))
def test_parse_never_raises_on_garbage(data: bytes, first: int) -> None:
    """Random bytes after a plausible first byte: parse returns None, or (if the bytes happen to form an
    intact packet) a Parsed that is consistent with them; it never raises."""
    pkt = bytes([first]) + data
    got = packets.parse(pkt)
    if got is None:
        return
    assert isinstance(got, packets.Parsed)
    assert got.version == first >> 4 and pkt.startswith(got.raw)
    assert got.proto in (packets.PROTO_ICMP, packets.PROTO_UDP, packets.PROTO_ICMPV6)
    if got.version == 4:
        assert packets.checksum_ok(pkt[: (first & 0x0F) * 4])  # only an intact header is accepted


def _valid(version: int, proto: int) -> bytes:
    src, dst = (V4_SRC, V4_DST) if version == 4 else (V6_SRC, V6_DST)
    family = socket.AF_INET if version == 4 else socket.AF_INET6
    s, d = socket.inet_pton(family, src), socket.inet_pton(family, dst)
    if proto == packets.PROTO_UDP:
        return packets.udp_packet(version, s, d, 40000, 862, b"payload!")
    return packets.echo_request(version, s, d, 7, 8, b"payload!")


VALID = {
    "v4 echo": _valid(4, packets.PROTO_ICMP),
    "v6 echo": _valid(6, packets.PROTO_ICMPV6),
    "v4 udp": _valid(4, packets.PROTO_UDP),
    "v6 udp": _valid(6, packets.PROTO_UDP),
}


def _flip(pkt: bytes, index: int) -> bytes:
    return pkt[:index] + bytes([pkt[index] ^ 0x01]) + pkt[index + 1 :]


@pytest.mark.parametrize("name", sorted(VALID))
@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda p: p[:19], id="shorter than any header"),
        pytest.param(lambda p: p[: len(p) - 1], id="truncated by one byte"),
        pytest.param(lambda p: _flip(p, len(p) - 1), id="payload bit flipped"),
        pytest.param(lambda p: bytes([0x50 | p[0] & 0x0F]) + p[1:], id="IP version 5"),
        pytest.param(lambda p: b"", id="empty"),
    ],
)
def test_damaged_packets_parse_as_none(name: str, damage) -> None:  # type: ignore[no-untyped-def]
    """Each valid packet parses; the same packet damaged in one way does not (checksums and lengths are
    really checked, not only survived)."""
    assert packets.parse(VALID[name]) is not None
    assert packets.parse(damage(VALID[name])) is None


def test_v4_fragments_and_other_protocols_are_not_ours() -> None:
    echo = VALID["v4 echo"]
    fragment = bytearray(echo)
    fragment[6] |= 0x20  # MF set
    fragment[10:12] = b"\0\0"
    fragment[10:12] = packets.inet_checksum(bytes(fragment[:20])).to_bytes(2, "big")
    assert packets.parse(bytes(fragment)) is None
    tcp = bytearray(echo)
    tcp[9] = 6
    tcp[10:12] = b"\0\0"
    tcp[10:12] = packets.inet_checksum(bytes(tcp[:20])).to_bytes(2, "big")
    assert packets.parse(bytes(tcp)) is None


def test_echo_request_builder_is_a_valid_request() -> None:
    for src, dst, cls in ((V4_SRC, V4_DST, IP), (V6_SRC, V6_DST, IPv6)):
        family = socket.AF_INET6 if cls is IPv6 else socket.AF_INET
        raw = packets.echo_request(
            6 if cls is IPv6 else 4, socket.inet_pton(family, src), socket.inet_pton(family, dst), 7, 8, b"zz"
        )
        pkt = cls(raw)
        assert bytes(_recomputed(pkt)) == raw
        assert packets.parse(raw) is not None

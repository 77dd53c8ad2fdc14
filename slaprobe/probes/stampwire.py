"""STAMP (RFC 8762) unauthenticated test packets on the wire, shared by our sender and our reflector.

Session-Sender test packet (44 bytes, RFC 8762 §4.2.1, SSID from RFC 8972 §3)::

    0  Sequence Number (4) | 4  Timestamp T1 (8, NTP) | 12 Error Estimate (2) | 14 SSID (2) | 16 MBZ (28)

Session-Reflector test packet (44 bytes, RFC 8762 §4.3.1)::

    0  Sequence Number (4)        | 4  Timestamp T3 (8)         | 12 Error Estimate (2) | 14 SSID (2)
    16 Receive Timestamp T2 (8)   | 24 Sender Sequence (4)      | 28 Sender Timestamp T1 (8)
    36 Sender Error Estimate (2)  | 38 MBZ (2) | 40 Sender TTL (1) | 41 MBZ (3)

Our sender pads past 44 bytes with an RFC 8972 Extra Padding TLV. Bytes past 44 (padding or TLVs)
are copied back unchanged by our reflector, so a reply is exactly as long as
its request: the reflector can never amplify. Timestamps are NTP 64-bit (Z = 0 in the error estimate).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

STAMP_PORT = 862
BASE_SIZE = 44
MAX_SIZE = 1472  # largest UDP payload in one 1500-byte IPv4 packet; more is not a STAMP test packet
NTP_UNIX_OFFSET = 2_208_988_800  # seconds from 1900-01-01 to 1970-01-01
_NS = 1_000_000_000

# Error estimate: S=0 (no claim of external sync), Z=0 (NTP format), Scale=22, Multiplier=1,
# i.e. 1 × 2^-32 × 2^22 s ≈ 0.98 ms. RFC 4656 §4.1.2: the multiplier must not be zero.
ERROR_ESTIMATE = (22 << 8) | 1
EXTRA_PADDING_TLV = 1  # RFC 8972 §4.1

SENDER = struct.Struct("!IQHH28x")
REFLECTOR = struct.Struct("!IQHHQIQHHB3x")
assert SENDER.size == BASE_SIZE and REFLECTOR.size == BASE_SIZE


def ns_to_ntp(ns: int) -> int:
    """Unix ns to NTP 64-bit (32.32 fixed point seconds since 1900, era wrap-around included)."""
    sec, rem = divmod(ns, _NS)
    return (((sec + NTP_UNIX_OFFSET) & 0xFFFFFFFF) << 32) | ((rem << 32) // _NS)


def ntp_to_ns(value: int) -> int:
    """NTP 64-bit to Unix ns, rounded to the nearest ns. Seconds below 2^31 are read as era 1 (after
    2036), as RFC 4330 §3 suggests, so the conversion keeps working past the 2036 wrap."""
    sec = value >> 32
    if sec < 0x80000000:
        sec += 1 << 32
    frac = value & 0xFFFFFFFF
    return (sec - NTP_UNIX_OFFSET) * _NS + ((frac * _NS + (1 << 31)) >> 32)


@dataclass(frozen=True, slots=True)
class SenderPacket:
    seq: int
    timestamp: int  # NTP 64-bit
    error_estimate: int
    ssid: int


@dataclass(frozen=True, slots=True)
class ReflectorPacket:
    seq: int  # reflector's own counter (stateful) or the sender's seq (stateless)
    timestamp: int  # T3, NTP 64-bit
    error_estimate: int
    ssid: int
    receive_timestamp: int  # T2, NTP 64-bit
    sender_seq: int
    sender_timestamp: int  # T1 echoed, NTP 64-bit
    sender_error_estimate: int
    sender_ttl: int


def padding(size: int) -> bytes:
    """What follows the 44-byte base packet to make it ``size`` bytes: an RFC 8972 §4.1 Extra Padding TLV
    (flags 0, type 1, length, zeros) when there is room for its 4-byte header, else plain zeros."""
    extra = size - BASE_SIZE
    if extra <= 0:
        return b""
    if extra < 4:
        return bytes(extra)
    return struct.pack("!BBH", 0, EXTRA_PADDING_TLV, extra - 4) + bytes(extra - 4)


def build_sender(seq: int, send_ns: int, ssid: int, size: int = BASE_SIZE, pad: bytes | None = None) -> bytes:
    """A Session-Sender test packet of ``size`` bytes (>= 44); ``pad`` is ``padding(size)`` precomputed."""
    head = SENDER.pack(seq & 0xFFFFFFFF, ns_to_ntp(send_ns), ERROR_ESTIMATE, ssid & 0xFFFF)
    return head + (padding(size) if pad is None else pad)


def parse_sender(data: bytes) -> SenderPacket | None:
    """The fields of a Session-Sender packet, or None when it is shorter than 44 bytes."""
    if len(data) < BASE_SIZE:
        return None
    seq, ts, err, ssid = SENDER.unpack_from(data)
    return SenderPacket(seq, ts, err, ssid)


def build_reflector(
    request: bytes, seq: int, t2_ns: int, t3_ns: int, ttl: int = 255, error_estimate: int = ERROR_ESTIMATE
) -> bytes:
    """The reply to Session-Sender packet ``request`` (assumed >= 44 bytes): same length as the request."""
    sender_seq, sender_ts, sender_err, ssid = SENDER.unpack_from(request)
    head = REFLECTOR.pack(
        seq & 0xFFFFFFFF,
        ns_to_ntp(t3_ns),
        error_estimate,
        ssid,
        ns_to_ntp(t2_ns),
        sender_seq,
        sender_ts,
        sender_err,
        0,
        ttl & 0xFF,
    )
    return head + request[BASE_SIZE:]


def parse_reflector(data: bytes) -> ReflectorPacket | None:
    """The fields of a Session-Reflector packet, or None when it is shorter than 44 bytes."""
    if len(data) < BASE_SIZE:
        return None
    seq, ts, err, ssid, rx, s_seq, s_ts, s_err, _mbz, ttl = REFLECTOR.unpack_from(data)
    return ReflectorPacket(seq, ts, err, ssid, rx, s_seq, s_ts, s_err, ttl)

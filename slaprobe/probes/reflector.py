"""Reflection logic for STAMP and RTP echo, as pure functions over bytes.

The same functions answer in ``slaprobe reflect`` (the socket server in ``reflect_server.py``) and in
the lab, whose UDP responder calls a handler per destination port::

    --udp 862=slaprobe.probes.reflector:stamp_stateful
    --udp 5004=slaprobe.probes.reflector:rtp_echo_handler

Safety rules hold here, where every path goes through: a reply is never longer than its request (STAMP
replies are exactly as long; RTP echoes are the request itself), and anything malformed or oversize gets
no answer at all (None), never an exception.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import MutableMapping
from typing import Any

from slaprobe.probes import stampwire as wire

RTP_MIN = 12
RTP_MAX = wire.MAX_SIZE


def stamp_reflect(
    request: bytes,
    rx_ns: int,
    tx_ns: int,
    state: MutableMapping[int, int] | None = None,
    *,
    ttl: int = 255,
    max_size: int = wire.MAX_SIZE,
) -> bytes | None:
    """Answer one STAMP Session-Sender packet, or None when it is not one we may answer.

    ``rx_ns`` is T2 and ``tx_ns`` T3 (Unix ns). ``state`` None means a stateless reflector (the reply's
    sequence number is the sender's); a mapping makes it stateful: one counter per SSID, counting the
    test packets received in that session from 0 (RFC 8762 §4.3.1). The caller keys ``state`` by
    sender address and port, so a session is (address, port, SSID) as RFC 8972 §3 says.
    ``ttl`` is the received IP TTL / hop limit to echo (255 when unknown).
    """
    size = len(request)
    if size < wire.BASE_SIZE or size > max_size:
        return None
    if state is None:
        seq = wire.SENDER.unpack_from(request)[0]
    else:
        ssid = wire.SENDER.unpack_from(request)[3]
        seq = state.get(ssid, 0)
        state[ssid] = seq + 1
    return wire.build_reflector(request, seq, rx_ns, tx_ns, ttl)


def rtp_echo(request: bytes, *, max_size: int = RTP_MAX) -> bytes | None:
    """Return an RTP packet unchanged, or None unless it is a plausible RTP packet (version 2, a header
    long enough for its CSRC list and extension, no larger than ``max_size``)."""
    size = len(request)
    if size < RTP_MIN or size > max_size or request[0] >> 6 != 2:
        return None
    header = RTP_MIN + 4 * (request[0] & 0x0F)
    if request[0] & 0x10:  # header extension: 4-byte preamble + length in 32-bit words
        if size < header + 4:
            return None
        header += 4 + 4 * int.from_bytes(request[header + 2 : header + 4], "big")
    if size < header:
        return None
    return request


class SessionTable(MutableMapping[int, int]):
    """Stateful-reflector counters for one source (address, port), keyed by SSID, with a size bound.

    Old sessions are evicted first, so a sender cycling through SSIDs cannot grow the reflector's memory.
    """

    def __init__(self, max_sessions: int = 64) -> None:
        self._data: OrderedDict[int, int] = OrderedDict()
        self._max = max_sessions
        self.last_seen = time.monotonic()

    def __getitem__(self, key: int) -> int:
        return self._data[key]

    def __setitem__(self, key: int, value: int) -> None:
        self._data[key] = value
        self._data.move_to_end(key)
        self.last_seen = time.monotonic()
        while len(self._data) > self._max:
            self._data.popitem(last=False)

    def __delitem__(self, key: int) -> None:
        del self._data[key]

    def __iter__(self) -> Any:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)


# ---------------------------------------------------------------- lab handlers (UdpHandler signature)
# ``ctx`` is the lab's UdpContext: ``rx_ns`` is the simulated arrival at the terminal (after the forward
# delay) and ``state`` a per-(terminal, source) dict. The terminal answers at once in simulated time, so
# T3 = T2 unless the context says otherwise (``tx_ns``); the lab adds the reverse delay to the reply.


def stamp_stateful(data: bytes, ctx: Any) -> bytes | None:
    """Lab handler: a stateful STAMP reflector (per-direction loss becomes measurable)."""
    state = ctx.state.setdefault("stamp_sessions", {})
    return stamp_reflect(data, ctx.rx_ns, getattr(ctx, "tx_ns", None) or ctx.rx_ns, state)


def stamp_stateless(data: bytes, ctx: Any) -> bytes | None:
    """Lab handler: a stateless STAMP reflector (reflector seq = sender seq)."""
    return stamp_reflect(data, ctx.rx_ns, getattr(ctx, "tx_ns", None) or ctx.rx_ns, None)


def rtp_echo_handler(data: bytes, ctx: Any) -> bytes | None:
    """Lab handler: RTP echo."""
    return rtp_echo(data)

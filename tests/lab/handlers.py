"""UDP handlers the lab tests register by name (``tests.lab.handlers:...``) to watch the handler contract."""

from __future__ import annotations

import struct

from slaprobe.lab import UdpContext


def stamp_rx(payload: bytes, ctx: UdpContext) -> bytes | None:
    """Answer with the simulated arrival time and a per-(terminal, sender) counter; misbehave on cue."""
    if payload == b"none":
        return None
    if payload == b"raise":
        raise RuntimeError("asked to fail")
    if payload == b"str":
        return "not bytes"  # type: ignore[return-value]  # a broken handler the lab must survive
    ctx.state["n"] = ctx.state.get("n", 0) + 1
    return struct.pack("!QQI", ctx.rx_ns, ctx.tx_ns, ctx.state["n"]) + (ctx.terminal or "-").encode()

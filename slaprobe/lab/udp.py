"""UDP services of the simulated terminals: the handler contract and the explicit registry.

A handler is ``Callable[[bytes, UdpContext], bytes | None]``: it gets the request payload at the moment
the request *arrives at the terminal* (real arrival + the forward delay the lab applied) and returns the
reply payload, or ``None`` for no reply. The lab sends the reply, ports and addresses swapped, after the
reverse delay. Handlers are named as ``"module:function"`` strings and resolved with importlib when the
responder starts (``--udp 862=slaprobe.probes.reflector:stamp_stateless``): explicit, no registration
by import side effect. Port 7 answers with :func:`udp_echo` unless something else is registered.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class UdpContext:
    """What a handler may know about one request.

    ``rx_ns`` is the simulated arrival time at the terminal (CLOCK_REALTIME ns): a reflector that stamps
    its receive time must use it, not ``time.time_ns()``. ``tx_ns`` is when the reply will leave the
    terminal (== ``rx_ns``: the lab models no processing time; the reverse delay starts there).
    ``state`` is a mutable dict kept per (terminal address, terminal port, sender address, sender port),
    for stateful reflectors (e.g. STAMP's per-session reflector sequence number).
    """

    src: str
    sport: int
    dst: str
    dport: int
    terminal: str | None
    rx_ns: int
    tx_ns: int
    state: dict[str, Any] = field(default_factory=dict, compare=False)


UdpHandler = Callable[[bytes, UdpContext], "bytes | None"]


def udp_echo(payload: bytes, ctx: UdpContext) -> bytes:
    """RFC 862 echo: the payload back, unchanged."""
    return payload


DEFAULT_UDP: Mapping[int, str] = {7: "slaprobe.lab.udp:udp_echo"}


def resolve_handler(spec: str) -> UdpHandler:
    """``"package.module:function"`` -> the callable; errors name the spec."""
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise ValueError(f"UDP handler {spec!r}: expected 'module:function'")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ValueError(f"UDP handler {spec!r}: cannot import {module_name}: {exc}") from exc
    handler = getattr(module, attr, None)
    if not callable(handler):
        raise ValueError(f"UDP handler {spec!r}: {module_name} has no callable {attr!r}")
    return handler


def resolve_registry(specs: Mapping[int, str]) -> dict[int, UdpHandler]:
    """Port -> handler for the default echo plus ``specs`` (which override the default)."""
    return {port: resolve_handler(spec) for port, spec in {**DEFAULT_UDP, **specs}.items()}

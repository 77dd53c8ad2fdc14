"""One-shot probing of a list of targets (``slaprobe probe``): settings from options, one loop run.

Library side of the CLI command, so the command stays a few lines and tests can call it directly. A
target is an address or a host name, optionally with a port for the stream kinds (``host:port``,
``[v6]:port``): an engineer at a site can test a STAMP reflector or an RTP-echo path exactly as the daemon
would, and gets the daemon's Sample fields back. Host names are resolved once, before probing, with the
system resolver (``-4`` / ``-6`` pick the family; otherwise the resolver's first answer, RFC 6724 order).
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Sequence
from ipaddress import ip_address
from typing import Any

from slaprobe.model import ProbeKind, Sample
from slaprobe.probes.base import ProbeTarget, probe_spread
from slaprobe.probes.registry import SETTINGS, make_engine
from slaprobe.terminal import IPAddress

START_SPACING_S = 0.001  # like fping -i 1: targets start 1 ms apart, so a long list does not burst


STREAM_KINDS = (ProbeKind.STAMP, ProbeKind.RTP)


def split_host_port(text: str) -> tuple[str, int | None]:
    """``host``, ``host:port``, ``[v6]:port`` or a bare IPv6 address -> (host, port or None)."""
    text = text.strip()
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        if not sep or (rest and not rest.startswith(":")):
            raise ValueError(f"bad target {text!r}: expected [IPv6]:port")
        port_text = rest[1:]
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
    else:  # a name, an IPv4 address or a bare IPv6 address
        return text, None
    if not port_text:
        return host, None
    if not (port_text.isascii() and port_text.isdigit()) or not 0 < int(port_text) < 65536:
        raise ValueError(f"bad port in {text!r}: expected 1..65535")
    return host, int(port_text)


def resolve(host: str, family: int | None = None) -> IPAddress:
    """An address for ``host`` (literal or name) of ``family`` 4 / 6 / None (any); ValueError if none."""
    try:
        addr = ip_address(host)
    except ValueError:
        pass
    else:
        if family is not None and addr.version != family:
            raise ValueError(f"{host!r} is an IPv{addr.version} address, but -{family} was given")
        return addr
    af = {4: socket.AF_INET, 6: socket.AF_INET6, None: socket.AF_UNSPEC}[family]
    try:
        infos = socket.getaddrinfo(host, None, af, socket.SOCK_DGRAM)
    except socket.gaierror as exc:
        want = f" (IPv{family})" if family else ""
        raise ValueError(f"cannot resolve {host!r}{want}: {exc.strerror}") from None
    return ip_address(infos[0][4][0].split("%", 1)[0])


def parse_targets(
    addresses: Sequence[str], kind: ProbeKind = ProbeKind.ICMP, family: int | None = None
) -> list[ProbeTarget]:
    """Targets named by address or host name (port allowed for stream kinds); raises ValueError naming
    the first bad one. The terminal id is the text as given, so output rows match the command line."""
    targets = []
    for text in addresses:
        host, port = split_host_port(text)
        if port is not None and kind not in STREAM_KINDS:
            raise ValueError(f"{text!r}: a port only makes sense for --kind stamp or rtp")
        addr = resolve(host, family)
        default_port = SETTINGS[kind]().port if kind in STREAM_KINDS else None  # STAMP 862, RTP echo 5004
        reflector = (str(addr), port or default_port) if kind in STREAM_KINDS else None
        targets.append(ProbeTarget(terminal=text.strip(), address=addr, reflector=reflector))
    return targets


def build_settings(kind: ProbeKind, sources: Sequence[str] = (), **overrides: Any) -> Any:
    """The kind's settings with the given overrides (None = keep the default); ``sources`` holds at
    most one IPv4 and one IPv6 source address. Raises ValueError with the offending option."""
    values = {k: v for k, v in overrides.items() if v is not None}
    if kind in STREAM_KINDS:  # count x interval is the stream's packets x spacing
        count, interval = values.pop("count", None), values.pop("interval_ms", None)
        if values.get("payload_size") is not None:
            raise ValueError(f"--size is for ICMP; {kind.value} streams use the codec's packet size")
        if interval is not None:
            if interval <= 0:
                raise ValueError("--interval: a stream needs a spacing > 0 ms")
            values["rate_pps"] = 1000.0 / interval
        if count is not None:
            rate = values.get("rate_pps", SETTINGS[kind]().rate_pps)
            values["duration_s"] = count / rate
        if sources:
            raise ValueError(f"--source is for ICMP; {kind.value} streams use the system's source address")
    for text in sources:
        try:
            addr = ip_address(text.strip())
        except ValueError:
            raise ValueError(f"--source: not an IP address: {text!r}") from None
        key = f"source_v{addr.version}"
        if key in values:
            raise ValueError(f"--source: more than one IPv{addr.version} source address given")
        values[key] = str(addr)
    return SETTINGS[kind](**values)


def probe_once(
    kind: ProbeKind, settings: Any, targets: Sequence[ProbeTarget], vantage: str | None = None
) -> list[Sample]:
    """Probe every target once with a fresh engine; samples in target order."""
    vantage = vantage or socket.gethostname()

    async def run() -> list[Sample]:
        engine = make_engine(kind, settings)
        await engine.start()  # stream kinds: one UDP socket per family for every target
        try:
            return await probe_spread(engine, targets, vantage, over_s=len(targets) * START_SPACING_S)
        finally:
            await engine.close()

    return asyncio.run(run())

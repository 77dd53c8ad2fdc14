"""The engines of one probe host, sharing sockets where the engines allow it (issue #15).

``icmp`` and ``icmp-jitter`` share one :class:`IcmpTransport` (one raw socket per address family, one
send/read grid) when their DSCP, source addresses and socket mode agree; ``stamp`` and ``rtp`` share one
:class:`StreamEngine` (one UDP socket per family). Fewer sockets is not the main point: every raw ICMP
socket sees every ICMP reply, so two transports double the parsing work, and one socket pair per family
is what a site's firewall rule names. Engines whose settings differ get their own transport.
"""

from __future__ import annotations

from typing import Any

from slaprobe.model import ProbeKind
from slaprobe.probes.base import ProbeEngine
from slaprobe.probes.icmp import IcmpEngine
from slaprobe.probes.icmp_socket import IcmpTransport
from slaprobe.probes.registry import make_engine
from slaprobe.probes.rtp import RtpEngine
from slaprobe.probes.stamp import StampEngine
from slaprobe.probes.stream import StreamEngine


class EnginePool:
    """Builds and starts one engine per kind; ``close`` releases them and the shared sockets."""

    def __init__(self) -> None:
        self.engines: dict[ProbeKind, ProbeEngine] = {}
        self._transports: dict[tuple[Any, ...], IcmpTransport] = {}
        self._streams: StreamEngine | None = None

    async def engine(self, kind: ProbeKind, settings: Any) -> ProbeEngine:
        """The started engine of ``kind`` (built on first use). Call inside the namespace the probes
        must leave from: shared sockets are opened here, on first use."""
        engine = self.engines.get(kind)
        if engine is not None:
            return engine
        if kind in (ProbeKind.ICMP, ProbeKind.ICMP_JITTER):
            key = (settings.dscp, settings.source_v4, settings.source_v6, settings.socket_mode)
            transport = self._transports.get(key)
            if transport is None:
                transport = self._transports[key] = IcmpTransport(
                    dscp=settings.dscp,
                    source_v4=settings.source_v4,
                    source_v6=settings.source_v6,
                    mode=settings.socket_mode,
                )
            engine = IcmpEngine(settings, transport=transport)
        elif kind in (ProbeKind.STAMP, ProbeKind.RTP):
            if self._streams is None:
                streams = StreamEngine()
                await streams.start()
                self._streams = streams
            factory = StampEngine if kind is ProbeKind.STAMP else RtpEngine
            engine = factory(settings, streams=self._streams)
        else:
            engine = make_engine(kind, settings)
        await engine.start()
        self.engines[kind] = engine
        return engine

    async def close(self) -> None:
        for engine in self.engines.values():
            await engine.close()
        self.engines.clear()
        if self._streams is not None:
            await self._streams.close()
            self._streams = None
        self._transports.clear()

"""The stream engine on loopback: pacing, per-packet DSCP from one shared socket, start offsets, many
concurrent streams demultiplexed by session id, and the loss-pattern statistics by hand."""

from __future__ import annotations

import asyncio
import socket
import struct
import time

import pytest

from slaprobe.probes.stream import SO_TIMESTAMPNS, SessionInUse, StreamEngine, StreamSettings
from slaprobe.probes.streamstats import sequence_stats


class TagCodec:
    """A minimal codec: packet = session id (4 bytes) + index (4 bytes) + zeros."""

    def __init__(self, session_id: int, size: int = 64) -> None:
        self.session_id = session_id
        self.size = size

    def encode(self, index: int, send_ns: int) -> bytes:
        return struct.pack("!II", self.session_id, index) + bytes(self.size - 8)

    def session_of(self, data: bytes) -> int:
        return struct.unpack_from("!I", data)[0]

    def decode(self, data: bytes, rx_ns: int):
        sid, index = struct.unpack_from("!II", data)
        return (index, None) if sid == self.session_id else None


class Sink:
    """A plain UDP socket that records (arrival ns, TOS, payload) of everything sent to it."""

    def __init__(self, family: int = socket.AF_INET, echo: bool = False, echo_delay_s: float = 0.0) -> None:
        self.sock = socket.socket(family, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1" if family == socket.AF_INET else "::1", 0))
        self.sock.setblocking(False)
        self.sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        if family == socket.AF_INET:
            self.sock.setsockopt(socket.IPPROTO_IP, socket.IP_RECVTOS, 1)
        else:
            self.sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RECVTCLASS, 1)
        self.echo, self.echo_delay = echo, echo_delay_s
        self.got: list[tuple[int, int, bytes]] = []

    @property
    def addr(self) -> tuple[str, int]:
        return self.sock.getsockname()[:2]

    def attach(self) -> None:
        asyncio.get_running_loop().add_reader(self.sock.fileno(), self._read)

    def _read(self) -> None:
        while True:
            try:
                data, anc, _, src = self.sock.recvmsg(4096, 256)
            except BlockingIOError:
                return
            rx, tos = 0, -1
            for level, kind, value in anc:
                if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
                    sec, nsec = struct.unpack("qq", value)
                    rx = sec * 10**9 + nsec
                elif kind in (socket.IP_TOS, socket.IPV6_TCLASS):
                    tos = value[0] if len(value) == 1 else struct.unpack("i", value)[0]
            self.got.append((rx, tos, data))
            if self.echo:
                loop = asyncio.get_running_loop()
                loop.call_later(self.echo_delay, self.sock.sendto, data, src)

    def close(self) -> None:
        asyncio.get_running_loop().remove_reader(self.sock.fileno())
        self.sock.close()


def test_pacing_and_per_packet_dscp_from_one_socket() -> None:
    async def main():
        engine = StreamEngine()
        await engine.start()
        sinks = [Sink(), Sink(), Sink(socket.AF_INET6)]
        for s in sinks:
            s.attach()
        try:
            records = await asyncio.gather(
                engine.run(
                    sinks[0].addr,
                    TagCodec(1),
                    StreamSettings(rate_pps=50, duration_s=1.0, dscp=34, timeout_ms=50),
                ),
                engine.run(
                    sinks[1].addr,
                    TagCodec(2),
                    StreamSettings(rate_pps=100, duration_s=0.5, dscp=46, timeout_ms=50),
                ),
                engine.run(
                    sinks[2].addr,
                    TagCodec(3),
                    StreamSettings(rate_pps=50, duration_s=0.4, dscp=10, timeout_ms=50),
                ),
            )
        finally:
            for s in sinks:
                s.close()
            await engine.close()
        return records, sinks

    records, sinks = asyncio.run(main())
    for record, sink, count, tos, interval in zip(
        records, sinks, (50, 50, 20), (34 << 2, 46 << 2, 10 << 2), (20e6, 10e6, 20e6), strict=True
    ):
        assert record.sent == count and len(sink.got) == count
        assert {t for _, t, _ in sink.got} == {tos}  # each stream kept its own class on the shared socket
        arrivals = [rx for rx, _, _ in sink.got]
        span = arrivals[-1] - arrivals[0]
        assert span == pytest.approx((count - 1) * interval, rel=0.05)  # paced, not bursted
        # T1 (written before sendmsg) precedes the kernel's receive stamp, by little.
        index_of = {struct.unpack_from("!I", d, 4)[0]: rx for rx, _, d in sink.got}
        gaps = [index_of[i] - t1 for i, t1 in enumerate(record.send_ns)]
        assert min(gaps) >= 0 and sorted(gaps)[len(gaps) // 2] < 2_000_000
        assert len(record.pacing_errors_ns()) == count


def test_start_offset_and_explicit_start() -> None:
    async def main():
        engine = StreamEngine()
        await engine.start()
        sink = Sink()
        sink.attach()
        try:
            t0 = time.time_ns()
            await engine.run(
                sink.addr,
                TagCodec(1),
                StreamSettings(rate_pps=50, duration_s=0.1, start_offset_s=0.3, timeout_ms=10),
            )
            t_offset = sink.got[0][0] - t0
            sink.got.clear()
            start = time.monotonic_ns() + 200_000_000
            t1 = time.time_ns()
            await engine.run(
                sink.addr,
                TagCodec(2),
                StreamSettings(rate_pps=50, duration_s=0.1, timeout_ms=10),
                start_ns=start,
            )
            t_start = sink.got[0][0] - t1
        finally:
            sink.close()
            await engine.close()
        return t_offset, t_start

    t_offset, t_start = asyncio.run(main())
    assert 299e6 <= t_offset <= 330e6
    assert 199e6 <= t_start <= 230e6


def test_many_concurrent_streams_are_demultiplexed_by_session() -> None:
    async def main():
        engine = StreamEngine()
        await engine.start()
        echo = Sink(echo=True)
        echo.attach()
        settings = StreamSettings(rate_pps=50, duration_s=0.4, timeout_ms=2000, size=64)
        try:
            records = await asyncio.gather(
                *(
                    engine.run(
                        echo.addr, TagCodec(sid), settings, start_ns=time.monotonic_ns() + sid * 1_000_000
                    )
                    for sid in range(1, 201)
                )
            )
            with pytest.raises(SessionInUse):
                await asyncio.gather(
                    engine.run(echo.addr, TagCodec(7), settings), engine.run(echo.addr, TagCodec(7), settings)
                )
        finally:
            echo.close()
            await engine.close()
        return records, engine.unmatched

    records, unmatched = asyncio.run(main())
    for record in records:
        assert record.sent == 20
        assert sorted(r.index for r in record.replies) == list(range(20)), record.session_id
    assert unmatched == 0


def test_replies_after_the_stream_ended_are_not_counted() -> None:
    async def main():
        engine = StreamEngine()
        await engine.start()
        slow = Sink(echo=True, echo_delay_s=0.15)
        slow.attach()
        try:
            record = await engine.run(
                slow.addr, TagCodec(5), StreamSettings(rate_pps=50, duration_s=0.1, timeout_ms=60)
            )
            await asyncio.sleep(0.3)
        finally:
            slow.close()
            await engine.close()
        return record, engine.unmatched

    record, unmatched = asyncio.run(main())
    assert record.sent == 5 and record.replies == [] and unmatched == 5


def test_settings_validation_names_the_field() -> None:
    with pytest.raises(ValueError, match="dscp"):
        StreamSettings(dscp=64)
    with pytest.raises(ValueError, match="timeout_ms"):
        StreamSettings(timeout_ms=0)
    assert StreamSettings().count == 100 and StreamSettings().dscp == 34


def test_sequence_stats_by_hand() -> None:
    sent = [True] * 10
    sent[7] = False  # never left: neither lost nor part of a burst
    # arrivals: 0 1 3 2 2 5 9 ; lost: 4, 6, 8 -> runs {4}, {6, 8} (7 skipped)
    stats = sequence_stats(sent, [0, 1, 3, 2, 2, 5, 9, 42])
    assert (stats.sent, stats.received, stats.lost) == (9, 6, 3)
    assert stats.duplicates == 1 and stats.reordered == 1
    assert stats.max_loss_burst == 2
    # G.107 BurstR = mean burst length (3 lost / 2 bursts) × (1 - Ppl) = 1.5 × 6/9
    assert stats.burst_ratio == pytest.approx(1.5 * 6 / 9)
    nothing = sequence_stats([True] * 4, [])
    assert nothing.loss == 1.0 and nothing.max_loss_burst == 4 and nothing.burst_ratio == 1.0
    assert sequence_stats([True] * 3, [0, 1, 2]).burst_ratio == 1.0

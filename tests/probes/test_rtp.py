"""The ``rtp`` probe: packets parse with scapy's RTP layer, the receiver statistics follow RFC 3550 on a
hand-computed stream, and loss / jitter / reordering / duplicates are recovered on the lab."""

from __future__ import annotations

import asyncio
import random
import statistics

import pytest
from scapy.layers.rtp import RTP

from slaprobe.lab import LabProfile
from slaprobe.model import Outcome, ProbeKind
from slaprobe.probes.rtp import RtpCodec, RtpEngine, RtpSettings, analyze
from slaprobe.probes.stream import Reply, StreamRecord, StreamSettings
from tests.probes.streamlab import (
    LAB_UDP,
    binomial_interval,
    count_reordered,
    mean_abs_diff,
    reply_arrivals,
    rfc3550,
    started_streams,
    stream_truth,
    target,
)


def test_packets_parse_with_scapy_rtp_layer() -> None:
    codec = RtpCodec(0xDEADBEEF, payload_type=96, clock_rate=90_000, size=1200, rng=random.Random(3))
    t0 = 1_700_000_000_000_000_000
    packets = [codec.encode(i, t0 + i * 20_000_000 + (i % 3) * 1_000) for i in range(5)]
    parsed = [RTP(p) for p in packets]
    for i, (raw, pkt) in enumerate(zip(packets, parsed, strict=True)):
        assert len(raw) == 1200
        assert pkt.version == 2 and pkt.padding == 0 and pkt.extension == 0 and pkt.numsync == 0
        assert pkt.payload_type == 96 and pkt.sourcesync == 0xDEADBEEF
        assert pkt.sequence == (codec.base_seq + i) & 0xFFFF
        # Timestamp = actual send instant on the 90 kHz clock: 20 ms = 1800 ticks (+ the µs offsets).
        expected = (codec.base_ts + (i * 20_000_000 + (i % 3) * 1_000) * 90_000 // 1_000_000_000) & 0xFFFFFFFF
        assert pkt.timestamp == expected
    # And the codec recognises its own echoes but not a stranger's packet.
    assert codec.decode(packets[2], 0) == (2, codec.base_ts + (40_000_000 + 2_000) * 90_000 // 10**9)
    stranger = bytes(RTP(payload_type=96, sequence=codec.base_seq, timestamp=codec.base_ts, sourcesync=1))
    assert codec.decode(stranger + bytes(1188), 0) is None


def test_sequence_numbers_wrap_around() -> None:
    codec = RtpCodec(7, 0, 8000, 172, rng=random.Random(1))
    codec.base_seq = 65_530
    packets = [codec.encode(i, 10**18 + i * 20_000_000) for i in range(12)]
    assert RTP(packets[6]).sequence == 0
    assert [codec.decode(p, 0)[0] for p in packets] == list(range(12))


def test_receiver_statistics_by_hand() -> None:
    """A 6-packet stream at 8 kHz with hand-picked arrivals: RFC 3550 A.8 arithmetic done by hand."""
    settings = StreamSettings(rate_pps=50, duration_s=0.12, size=172, timeout_ms=100)
    ms = 1_000_000
    send = [k * 20 * ms for k in range(6)]
    ts = [k * 160 for k in range(6)]  # RTP timestamps (8 kHz, 20 ms apart)
    # transit in ms: p0 10, p2 14 (arrives before p1), p1 12, p1 again (duplicate, 13), p4 150 (late),
    # p5 10; p3 lost.
    arrivals = [(0, 10), (2, 14), (1, 12), (1, 13), (4, 150), (5, 10)]
    record = StreamRecord(dest=("198.18.0.1", 5004), settings=settings, session_id=1, send_ns=list(send))
    for index, transit in arrivals:
        record.replies.append(Reply(index, send[index] + transit * ms, ts[index]))
    stats = analyze(record, 8000)
    assert stats.seq.sent == 6
    assert stats.seq.received == 4  # 0, 1, 2, 5 (3 lost, 4 late)
    assert stats.late == 1
    assert stats.seq.duplicates == 1
    assert stats.seq.reordered == 1  # p1 after p2
    assert stats.seq.max_loss_burst == 2  # 3 and 4
    # Transits in timestamp units (8 per ms), arrival order incl. the duplicate, late packet excluded:
    # 80, 112, 96, 104, 80 -> |D| = 32, 16, 8, 24
    j = 0.0
    for d in (32, 16, 8, 24):
        j += (d - j) / 16
    assert stats.jitter_units == pytest.approx(j)
    assert stats.jitter_rfc3550_ms == pytest.approx(j / 8)
    assert stats.jitter_ms == pytest.approx((32 + 16 + 8 + 24) / 4 / 8)  # mean |D|, in ms
    assert stats.rtts_ms == (10.0, 14.0, 12.0, 10.0)


def test_settings_defaults_follow_the_codec_profile() -> None:
    assert (RtpSettings().pt, RtpSettings().rate) == (0, 8000)
    assert (RtpSettings(codec="h264").pt, RtpSettings(codec="h264").rate) == (96, 90000)
    assert RtpSettings(codec="g722").rate == 8000  # RFC 3551: G.722's RTP clock is 8 kHz
    with pytest.raises(ValueError, match=r"rtp\.codec"):
        RtpSettings(codec="opus")
    with pytest.raises(ValueError, match="size"):
        RtpSettings(size=8)


TERMINALS = {
    "J1": ("198.18.1.1", {"delay_ms": 20, "jitter_ms": 8}),
    "L1": ("198.18.1.2", {"delay_ms": 6, "loss": 0.08, "loss_rev": 0.04}),
    "R1": ("198.18.1.3", {"delay_ms": 4, "duplicate": 0.1, "reorder": 0.1, "reorder_ms": 45}),
    "V6": ("2001:2:0:1::1:4", {"delay_ms": 10, "jitter_ms": 3}),
}


@pytest.mark.lab
def test_rtp_on_lab_recovers_injected_impairments(lab_factory) -> None:
    lab = lab_factory(
        LabProfile.build(
            terminals=[(t, a) for t, (a, _) in TERMINALS.items()],
            per_terminal={t: imp for t, (_, imp) in TERMINALS.items()},
            udp=LAB_UDP,
            seed=21,
        )
    )
    settings = RtpSettings(rate_pps=50, duration_s=6.0, codec="h264", size=1200)

    async def main():
        streams = await started_streams(lab)
        engine = RtpEngine(settings, streams=streams)
        try:
            return await asyncio.gather(
                *(engine.measure(target(t, a), "v1") for t, (a, _) in TERMINALS.items())
            )
        finally:
            await streams.close()

    results = dict(zip(TERMINALS, asyncio.run(main()), strict=True))
    truth = lab.ground_truth()
    for terminal, m in results.items():
        s = m.sample
        recs = stream_truth(truth, TERMINALS[terminal][0], 5004)
        assert s.kind is ProbeKind.RTP and len(recs) == s.sent == 300, terminal
        arrivals = reply_arrivals(recs)
        assert s.received == sum(r["action"] == "replied" for r in recs), terminal
        assert s.duplicates == sum(r["dups"] for r in recs), terminal
        assert s.reordered == count_reordered([i for _, i, _ in arrivals]), terminal
        # RFC 3550 jitter from the lab's delays, every copy in arrival order (as the receiver sees
        # them), against ours computed on the 90 kHz clock: within 0.5 ms.
        delays = [d for _, _, d in arrivals]
        assert abs(s.jitter_ms - mean_abs_diff(delays)) <= 0.5, terminal
        assert abs(s.jitter_rfc3550_ms - rfc3550(delays)) <= 0.5, terminal
        first = {i: d for _, i, d in reversed(arrivals)}  # first copy wins
        assert abs(s.rtt_p50_ms - statistics.median(first.values())) <= 0.3, terminal
        assert s.loss_fwd is None and s.jitter_fwd_ms is None  # an echo cannot tell directions apart
    lossy = results["L1"].sample
    lo, hi = binomial_interval(300, 1 - (1 - 0.08) * (1 - 0.04))
    assert lo <= lossy.sent - lossy.received <= hi
    assert lossy.error is Outcome.PARTIAL and lossy.max_loss_burst >= 1
    assert results["R1"].sample.reordered > 0 and results["R1"].sample.duplicates > 0
    assert results["J1"].sample.jitter_ms > 1.0  # ±4 ms uniform per direction is far from zero

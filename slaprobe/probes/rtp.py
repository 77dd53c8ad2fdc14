"""``rtp`` probe: real RTP packets to an RTP-echo reflector, measured the way an RTP receiver would.

Packets carry an RFC 3550 fixed header (V=2, payload type, sequence number from a random start, timestamp
at the codec clock rate from a random start, random SSRC) and zero payload up to the stream's size, paced
like a call's media. The reflector returns each packet unchanged; on the way back we are the receiver:

* loss over the packets actually sent (a reply later than the timeout is lost, and late);
* duplicates, reordering (a packet arriving after one with a higher sequence number) and the longest
  loss burst, from the 16-bit sequence numbers extended over wrap-around;
* RFC 3550 §6.4.1 / A.8 interarrival jitter in timestamp units: arrival time converted to the codec
  clock (integer units, as a receiver's clock), transit = arrival − RTP timestamp, J += (|D| − J)/16 for
  every in-time packet in arrival order, then converted to ms.

The RTP timestamp is the *actual* send instant on the codec clock (as a live source stamps its capture
instant), not the nominal schedule, so our own pacing error does not show up as network jitter.
The echo measures both directions together: jitter and loss are round-trip figures.
"""

from __future__ import annotations

import dataclasses
import random
import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from slaprobe.model import NS_PER_MS, Outcome, ProbeKind, Sample, outcome_for
from slaprobe.probes.base import SettingsError
from slaprobe.probes.emodel import CODECS, EmodelSettings, assess, one_way_loss_from_round_trip
from slaprobe.probes.stats import summarize
from slaprobe.probes.stream import (
    DSCP_AF41,
    SessionInUse,
    StreamEngine,
    StreamProbe,
    StreamRecord,
    StreamSettings,
    normalize_address,
)
from slaprobe.probes.streamstats import SequenceStats, sequence_stats

if TYPE_CHECKING:
    from slaprobe.probes.base import ProbeTarget

RTP_HEADER = struct.Struct("!BBHII")  # V/P/X/CC, M/PT, sequence, timestamp, SSRC
RTP_VERSION = 2
RTP_ECHO_PORT = 5004  # RFC 3551 default RTP port; sites may configure another

# (payload type, clock rate) per codec profile: RFC 3551 static types; H.264 uses a dynamic type (RFC 6184).
# G.722's RTP clock is 8000 Hz although it samples at 16 kHz (RFC 3551 §4.5.2, a historical error kept).
RTP_PROFILES: dict[str, tuple[int, int]] = {
    "g711": (0, 8000),
    "g711-noplc": (0, 8000),
    "g722": (9, 8000),
    "g729": (18, 8000),
    "h264": (96, 90000),
}


@dataclass(frozen=True, slots=True)
class RtpSettings:
    """Settings of the ``rtp`` probe; mirrors config ``probes.rtp``. Payload type and clock rate default
    to the codec profile's (:data:`RTP_PROFILES`)."""

    kind: ClassVar[ProbeKind] = ProbeKind.RTP

    rate_pps: float = 50.0
    duration_s: float = 2.0
    size: int = 172  # UDP payload: 12-byte RTP header + 160 bytes (G.711, 20 ms)
    dscp: int = DSCP_AF41
    timeout_ms: float = 1000.0
    port: int = RTP_ECHO_PORT
    codec: str = "g711"
    payload_type: int | None = None
    clock_rate: int | None = None
    start_offset_s: float = 0.0

    def __post_init__(self) -> None:
        problems: list[str] = []
        if self.codec not in RTP_PROFILES or self.codec not in CODECS:
            problems.append(f"rtp.codec: unknown {self.codec!r} (known: {', '.join(sorted(RTP_PROFILES))})")
        if self.payload_type is not None and not 0 <= self.payload_type <= 127:
            problems.append(f"rtp.payload_type: must be 0..127, got {self.payload_type!r}")
        if self.clock_rate is not None and not 1000 <= self.clock_rate <= 1_000_000:
            problems.append(f"rtp.clock_rate: must be 1000..1000000 Hz, got {self.clock_rate!r}")
        if not isinstance(self.port, int) or not 1 <= self.port <= 65535:
            problems.append(f"rtp.port: must be 1..65535, got {self.port!r}")
        if not problems:  # the stream settings need a known codec
            try:
                self.stream  # noqa: B018 - validates the stream fields
            except SettingsError as exc:
                problems.extend(f"rtp: {p}" for p in exc.problems)
        SettingsError.check(problems)

    @property
    def pt(self) -> int:
        return self.payload_type if self.payload_type is not None else RTP_PROFILES[self.codec][0]

    @property
    def rate(self) -> int:
        return self.clock_rate if self.clock_rate is not None else RTP_PROFILES[self.codec][1]

    @classmethod
    def coerce(cls, settings: object | None) -> RtpSettings:
        """These settings from ``settings``: itself, the defaults for None, or any object with attributes
        of the same names (the config's ``probes.rtp`` section), taking those it has."""
        if settings is None:
            return cls()
        if isinstance(settings, cls):
            return settings
        names = [f.name for f in dataclasses.fields(cls)]
        return cls(**{n: getattr(settings, n) for n in names if hasattr(settings, n)})

    @property
    def stream(self) -> StreamSettings:
        return StreamSettings(
            rate_pps=self.rate_pps,
            duration_s=self.duration_s,
            size=self.size,
            dscp=self.dscp,
            start_offset_s=self.start_offset_s,
            timeout_ms=self.timeout_ms,
        )

    @property
    def emodel(self) -> EmodelSettings:
        return EmodelSettings(codec=self.codec)


class RtpCodec:
    """Builds the RTP packets of one stream (SSRC = session id) and accepts their echoes.

    An echo is ours when SSRC and payload type match and its timestamp is the one we sent under that
    sequence number, so a stray or corrupted packet is not counted.
    """

    __slots__ = (
        "_highest",
        "_payload",
        "_ts",
        "base_seq",
        "base_ts",
        "clock_rate",
        "payload_type",
        "session_id",
        "t0",
    )

    def __init__(
        self, ssrc: int, payload_type: int, clock_rate: int, size: int, rng: random.Random | None = None
    ):
        rng = rng or random.Random()
        self.session_id = ssrc
        self.payload_type = payload_type
        self.clock_rate = clock_rate
        self.base_seq = rng.randrange(1 << 16)
        self.base_ts = rng.randrange(1 << 32)
        self.t0: int | None = None
        self._payload = bytes(max(0, size - RTP_HEADER.size))
        self._ts: list[int] = []  # unwrapped RTP timestamp per packet index
        self._highest = -1

    def encode(self, index: int, send_ns: int) -> bytes:
        if self.t0 is None:
            self.t0 = send_ns
        ts = self.base_ts + (send_ns - self.t0) * self.clock_rate // 1_000_000_000
        self._ts.append(ts)
        header = RTP_HEADER.pack(
            RTP_VERSION << 6,
            self.payload_type,
            (self.base_seq + index) & 0xFFFF,
            ts & 0xFFFFFFFF,
            self.session_id,
        )
        return header + self._payload

    def session_of(self, data: bytes) -> int | None:
        return int.from_bytes(data[8:12], "big") if len(data) >= RTP_HEADER.size else None

    def decode(self, data: bytes, rx_ns: int) -> tuple[int, int] | None:
        if len(data) < RTP_HEADER.size:
            return None
        first, mpt, seq, ts, ssrc = RTP_HEADER.unpack_from(data)
        if first >> 6 != RTP_VERSION or ssrc != self.session_id or mpt & 0x7F != self.payload_type:
            return None
        index = (seq - self.base_seq) & 0xFFFF
        if len(self._ts) > 1 << 16:  # the sequence wrapped within this stream: pick the nearest cycle
            cycles = round((self._highest - index) / (1 << 16)) if self._highest >= 0 else 0
            index += max(0, cycles) << 16
        if index >= len(self._ts) or self._ts[index] & 0xFFFFFFFF != ts:
            return None
        self._highest = max(self._highest, index)
        return index, self._ts[index]


@dataclass(frozen=True, slots=True)
class RtpStats:
    """What the receiver side of one RTP echo stream measured."""

    seq: SequenceStats
    late: int
    rtts_ms: tuple[float, ...]  # first in-time echo per packet, arrival order
    jitter_ms: float | None  # mean |D| of the transits (stats.py: RFC 3550's converged value), in ms
    jitter_units: float | None  # RFC 3550 A.8 running value, timestamp units
    jitter_rfc3550_ms: float | None = None  # the same, in ms


def analyze(record: StreamRecord, clock_rate: int) -> RtpStats:
    """Receiver statistics of one echo stream (module docstring has the definitions)."""
    timeout_ns = round(record.settings.timeout_ms * NS_PER_MS)
    send = record.send_ns
    in_time = []
    late: set[int] = set()
    for reply in record.replies:
        t1 = send[reply.index] if reply.index < len(send) else None
        if t1 is None:
            continue
        if reply.rx_ns - t1 > timeout_ns:
            late.add(reply.index)
        else:
            in_time.append(reply)
    seq = sequence_stats([t is not None for t in send], (r.index for r in in_time))
    jitter = 0.0
    previous: int | None = None
    updates = 0
    abs_sum = 0
    rtts: list[float] = []
    seen: set[int] = set()
    for reply in in_time:
        arrival = reply.rx_ns * clock_rate // 1_000_000_000  # the receiver's clock, in timestamp units
        transit = arrival - reply.info
        if previous is not None:
            jitter += (abs(transit - previous) - jitter) / 16.0
            abs_sum += abs(transit - previous)
            updates += 1
        previous = transit
        if reply.index not in seen:
            seen.add(reply.index)
            t1 = send[reply.index]
            assert t1 is not None
            rtts.append((reply.rx_ns - t1) / NS_PER_MS)
    late -= seen
    units = jitter if updates else None
    return RtpStats(
        seq=seq,
        late=len(late),
        rtts_ms=tuple(rtts),
        jitter_ms=abs_sum / updates * 1000.0 / clock_rate if updates else None,
        jitter_units=units,
        jitter_rfc3550_ms=None if units is None else units * 1000.0 / clock_rate,
    )


@dataclass(frozen=True, slots=True)
class RtpMeasurement:
    sample: Sample
    record: StreamRecord
    stats: RtpStats


def build_sample(
    record: StreamRecord, stats: RtpStats, terminal: str, vantage: str, emodel: EmodelSettings
) -> Sample:
    """The Sample of one RTP echo stream; the E-model sees half the RTT, the round-trip jitter (an upper
    bound of one direction's) and one direction's share of the round-trip loss."""
    start = record.first_send_ns
    sent = stats.seq.sent
    if start is None or sent == 0:
        return Sample(
            time_ns=record.time_ns,  # nothing left: dated when the probe began
            terminal=terminal,
            vantage=vantage,
            kind=ProbeKind.RTP,
            sent=0,
            received=0,
            error=Outcome.SEND_ERROR,
        )
    summary = summarize(list(stats.rtts_ms))
    r_factor = mos = None
    if summary is not None:
        one_way_loss = one_way_loss_from_round_trip(stats.seq.loss or 0.0)
        verdict = assess(summary.avg / 2, stats.jitter_ms, one_way_loss, stats.seq.burst_ratio, emodel)
        r_factor, mos = round(verdict.r_factor, 2), round(verdict.mos, 3)
    return Sample(
        time_ns=start,
        terminal=terminal,
        vantage=vantage,
        kind=ProbeKind.RTP,
        sent=sent,
        received=stats.seq.received,
        duplicates=stats.seq.duplicates,
        reordered=stats.seq.reordered,
        late=stats.late,
        rtt_min_ms=summary.min if summary else None,
        rtt_avg_ms=summary.avg if summary else None,
        rtt_max_ms=summary.max if summary else None,
        rtt_p50_ms=summary.p50 if summary else None,
        jitter_ms=stats.jitter_ms,
        jitter_rfc3550_ms=stats.jitter_rfc3550_ms,
        pdv_ms=summary.pdv if summary else None,
        max_loss_burst=stats.seq.max_loss_burst,
        r_factor=r_factor,
        mos=mos,
        error=outcome_for(sent, stats.seq.received),
    )


class RtpEngine(StreamProbe):
    """The ``rtp`` probe engine: one RTP stream per ``probe`` call over a shared :class:`StreamEngine`."""

    kind: ClassVar[ProbeKind] = ProbeKind.RTP

    def __init__(self, settings: RtpSettings | object | None = None, *, streams: StreamEngine | None = None):
        super().__init__(streams)
        self.settings = RtpSettings.coerce(settings)
        self._rng = random.Random()

    async def measure(
        self,
        target: ProbeTarget,
        vantage: str,
        *,
        settings: RtpSettings | None = None,
        start_ns: int | None = None,
    ) -> RtpMeasurement:
        """Run one echo stream to ``target`` and return the Sample with its raw record and statistics."""
        s = settings or self.settings
        dest = target.reflector or (str(target.address), s.port)
        try:
            normalize_address(dest[0])
        except ValueError:
            record = StreamRecord(dest=(str(dest[0]), int(dest[1])), settings=s.stream, session_id=0)
            record.last_error = f"not an IP address: {dest[0]!r}"
            stats = analyze(record, s.rate)
            return RtpMeasurement(
                build_sample(record, stats, target.terminal, vantage, s.emodel), record, stats
            )
        while True:
            codec = RtpCodec(self._rng.randrange(1, 1 << 32), s.pt, s.rate, s.size, self._rng)
            try:
                record = await self.streams.run(dest, codec, s.stream, start_ns=start_ns)
                break
            except SessionInUse:  # pragma: no cover - a 32-bit SSRC collision
                continue
        stats = analyze(record, s.rate)
        return RtpMeasurement(build_sample(record, stats, target.terminal, vantage, s.emodel), record, stats)

"""``stamp`` probe: an RFC 8762 Session-Sender (unauthenticated) towards any STAMP / TWAMP-light reflector.

Each reply carries the four timestamps of one packet: T1 (our send, echoed), T2 (reflector receive),
T3 (reflector send) and T4 (our kernel receive time). From them:

* RTT = (T4 − T1) − (T3 − T2): the reflector's residence time does not count;
* per-direction jitter: RFC 3550 over the one-way transits T2 − T1 (in reflector arrival order) and
  T4 − T3 (in our arrival order). The clocks need not agree: a constant offset cancels in the
  differences, only drift over the 2 s stream remains;
* per-direction loss when the reflector is *stateful* (RFC 8762 §4.2: it numbers the packets it
  received with its own counter). Between the first and the last packet answered, the reflector
  received as many packets as its counter advanced (less forward duplicates, seen as one sender seq
  answered under two reflector seqs); the rest were lost forward, and the replies we are missing were
  lost on the way back. The counter's starting value is never assumed (reflectors without RFC 8972
  session ids keep counting across streams): only its differences are read. Packets before the first
  answer and after the last are in neither count (their direction is unknowable), which keeps both
  ratios unbiased for random loss; when the counter cannot be this stream's alone, both are None. A
  stateless reflector echoes our seq, so only the round trip loss is known; with ``stateful=None`` the
  probe assumes stateful as soon as a reply shows a reflector seq different from ours, and otherwise
  reports per-direction loss only when nothing was lost.

Every stream uses a fresh SSID (RFC 8972), so replies of different streams to one peer stay apart.
"""

from __future__ import annotations

import dataclasses
import random
import struct
from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from slaprobe.model import NS_PER_MS, Outcome, ProbeKind, Sample, outcome_for
from slaprobe.probes import stampwire as wire
from slaprobe.probes.base import SettingsError
from slaprobe.probes.emodel import EmodelSettings, assess, one_way_loss_from_round_trip
from slaprobe.probes.stats import mean_abs_difference, summarize
from slaprobe.probes.stream import (
    DSCP_AF41,
    Malformed,
    SessionInUse,
    StreamEngine,
    StreamProbe,
    StreamRecord,
    StreamSettings,
    normalize_address,
    session_allocator,
)
from slaprobe.probes.streamstats import SequenceStats, sequence_stats

if TYPE_CHECKING:
    from slaprobe.probes.base import ProbeTarget


@dataclass(frozen=True, slots=True)
class StampSettings:
    """Settings of the ``stamp`` probe (one stream per terminal per cycle); mirror config ``probes.stamp``."""

    kind: ClassVar[ProbeKind] = ProbeKind.STAMP

    rate_pps: float = 50.0
    duration_s: float = 2.0
    size: int = wire.BASE_SIZE  # UDP payload bytes; >= 44, padding is echoed back
    dscp: int = DSCP_AF41
    timeout_ms: float = 1000.0
    port: int = wire.STAMP_PORT  # reflector port when the target names none
    codec: str = "g711"  # E-model codec profile (slaprobe.probes.emodel.CODECS)
    stateful: bool | None = None  # is the reflector stateful? None: infer from the replies
    start_offset_s: float = 0.0

    def __post_init__(self) -> None:
        problems: list[str] = []
        if not isinstance(self.size, int) or not wire.BASE_SIZE <= self.size <= wire.MAX_SIZE:
            problems.append(f"stamp.size: must be {wire.BASE_SIZE}..{wire.MAX_SIZE} bytes, got {self.size!r}")
        if not isinstance(self.port, int) or not 1 <= self.port <= 65535:
            problems.append(f"stamp.port: must be 1..65535, got {self.port!r}")
        for part in ("stream", "emodel"):  # validates the stream fields and the E-model codec
            try:
                getattr(self, part)
            except SettingsError as exc:
                problems.extend(f"stamp: {p}" for p in exc.problems)
            except ValueError as exc:
                problems.append(f"stamp: {exc}")
        SettingsError.check(problems)

    @classmethod
    def coerce(cls, settings: object | None) -> StampSettings:
        """These settings from ``settings``: itself, the defaults for None, or any object with attributes
        of the same names (the config's ``probes.stamp`` section), taking those it has."""
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


_T1_TOLERANCE = 4295  # 1 µs in NTP fraction units (2^-32 s)
_ECHO = struct.Struct("!IQ")  # sender seq and T1 as a reflector packet echoes them, from byte 24
_ECHO_END = 24 + _ECHO.size


class StampCodec:
    """Builds Session-Sender packets for one stream and accepts the reflector's answers to them.

    A reply is ours when its SSID is ours (or 0, from an RFC 8762 reflector that predates SSIDs) and it
    echoes the sequence number and T1 of a packet we sent: a garbled or forged datagram fails that. T1
    may differ by up to 1 µs, because some reflectors (scapy's, for one) round-trip it through a decimal.
    """

    __slots__ = ("_pad", "_t1", "session_id", "size")

    def __init__(self, ssid: int, size: int = wire.BASE_SIZE):
        self.session_id = ssid
        self.size = size
        self._pad = wire.padding(size)
        self._t1: list[int] = []  # NTP T1 per packet index

    def encode(self, index: int, send_ns: int) -> bytes:
        packet = wire.build_sender(index, send_ns, self.session_id, self.size, self._pad)
        self._t1.append(wire.SENDER.unpack_from(packet)[1])
        return packet

    def session_of(self, data: bytes) -> int | None:
        ssid = int.from_bytes(data[14:16], "big") if len(data) >= wire.BASE_SIZE else 0
        return ssid or None  # 0: an RFC 8762 reflector that does not echo SSIDs

    def _echoes_ours(self, s_seq: int, s_ts: int) -> bool:
        return s_seq < len(self._t1) and abs(self._t1[s_seq] - s_ts) <= _T1_TOLERANCE

    def decode(self, data: bytes, rx_ns: int) -> tuple[int, StampReplyInfo] | Malformed | None:
        """The (index, info) a reply answers; :class:`Malformed` when it answers us but is not a STAMP
        reflector packet; None when it is not ours (another session's, or a stale stream's reply)."""
        size = len(data)
        if size < wire.BASE_SIZE:
            # A short reply in the reflector layout (TWAMP-light without MBZ and TTL: 38 bytes) still
            # echoes sender seq and T1 at 24..36: when it echoes one of ours it is ours, else too short
            # to tell whose, and the engine counts it only when this is the one stream to that peer.
            if size >= _ECHO_END and not self._echoes_ours(*_ECHO.unpack_from(data, 24)):
                return None
            return Malformed(
                f"{size}-byte reply, shorter than the {wire.BASE_SIZE}-byte STAMP reflector packet"
                + (" (TWAMP-light without MBZ/TTL?)" if size >= _ECHO_END else "")
            )
        seq, t3, _err, ssid, t2, s_seq, s_ts, _s_err, _mbz, ttl = wire.REFLECTOR.unpack_from(data)
        if ssid != self.session_id and ssid != 0:
            return None
        if not self._echoes_ours(s_seq, s_ts):
            if ssid == self.session_id:  # names our session, yet echoes no packet we sent
                return Malformed(f"reply for our SSID {ssid} echoes no packet we sent (seq {s_seq})")
            return None
        return s_seq, StampReplyInfo(seq, t2, t3, ttl)


@dataclass(frozen=True, slots=True)
class StampReplyInfo:
    reflector_seq: int
    t2_ntp: int  # 0 when the reflector does not fill it
    t3_ntp: int
    ttl: int


@dataclass(frozen=True, slots=True)
class StampStats:
    """Everything one STAMP stream measured (times in ms)."""

    seq: SequenceStats
    late: int
    rtts_ms: tuple[float, ...]  # first in-time answer per packet, in arrival order
    fwd_ms: tuple[
        float, ...
    ]  # T2 - T1 per answered packet, in reflector arrival order (clock offset included)
    rev_ms: tuple[float, ...]  # T4 - T3, in our arrival order
    jitter_fwd_ms: float | None
    jitter_rev_ms: float | None
    loss_fwd: float | None
    loss_rev: float | None
    stateful: bool | None  # what the analysis assumed about the reflector


def analyze(record: StreamRecord, stateful: bool | None = None) -> StampStats:
    """Turn one stream's record into STAMP figures (see the module docstring for the definitions)."""
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
    first = {}
    for reply in in_time:
        first.setdefault(reply.index, reply)
    late -= first.keys()

    rtts, fwd_rows, rev = [], [], []
    for reply in first.values():
        info: StampReplyInfo = reply.info
        t1 = send[reply.index]
        assert t1 is not None
        if info.t2_ntp and info.t3_ntp:
            t2, t3 = wire.ntp_to_ns(info.t2_ntp), wire.ntp_to_ns(info.t3_ntp)
            rtts.append(((reply.rx_ns - t1) - (t3 - t2)) / NS_PER_MS)
            fwd_rows.append((t2, info.reflector_seq, (t2 - t1) / NS_PER_MS))
            rev.append((reply.rx_ns - t3) / NS_PER_MS)
        else:
            rtts.append((reply.rx_ns - t1) / NS_PER_MS)
    fwd_rows.sort()
    fwd = [row[2] for row in fwd_rows]

    pairs = {(r.index, r.info.reflector_seq) for r in in_time}
    evidence = any(index != rseq for index, rseq in pairs)
    mode = stateful if stateful is not None else (True if evidence else None)
    loss_fwd = loss_rev = None
    if pairs and mode:
        loss_fwd, loss_rev = _directional_loss(send, pairs)
    elif mode is None and seq.sent and seq.lost == 0:
        loss_fwd = loss_rev = 0.0
    return StampStats(
        seq=seq,
        late=len(late),
        rtts_ms=tuple(rtts),
        fwd_ms=tuple(fwd),
        rev_ms=tuple(rev),
        jitter_fwd_ms=mean_abs_difference(fwd),
        jitter_rev_ms=mean_abs_difference(rev),
        loss_fwd=loss_fwd,
        loss_rev=loss_rev,
        stateful=mode,
    )


def _directional_loss(
    send: list[int | None], pairs: set[tuple[int, int]]
) -> tuple[float | None, float | None]:
    """Forward / reverse loss from the (sender seq, reflector seq) pairs answered by a stateful reflector.

    The reflector's counter need not start at 0 for this stream: a reflector without RFC 8972 session
    ids keeps one counter across all our streams, others start at any value, and it wraps at 2^32. So
    the counter is never read as an absolute index: the window runs from the first to the last packet
    answered, the reflector counted ``max - min + 1`` packets over it (read as differences modulo 2^32
    from the first answer), less forward duplicates (one sender seq answered under two counter values).
    Packets before the first answer and after the last are in neither count (their direction cannot be
    known). None, None when the counter cannot be this stream's alone: one counter value answering two
    of our packets, or more packets counted than we sent in the window (another sender's traffic on the
    same counter, a reset, or reordering across the window's edge) — unknown beats a wrong number.
    """
    first = min(pairs)
    ref = first[1]
    rel = {(index, (rseq - ref + (1 << 31)) % (1 << 32) - (1 << 31)) for index, rseq in pairs}
    lo = min(index for index, _ in rel)
    hi = max(index for index, _ in rel)
    window = sum(1 for t in send[lo : hi + 1] if t is not None)
    counters = [r for _, r in rel]
    if len(set(counters)) != len(counters):
        return None, None  # one counter value for two of our packets: not a per-packet counter
    counted = max(counters) - min(counters) + 1
    per_index: dict[int, int] = defaultdict(int)
    for index, _ in rel:
        per_index[index] += 1
    forward_dups = sum(n - 1 for n in per_index.values())
    distinct_at_reflector = counted - forward_dups
    if not window or distinct_at_reflector > window:
        return None, None
    loss_fwd = (window - distinct_at_reflector) / window
    loss_rev = (counted - len(rel)) / counted
    return loss_fwd, loss_rev


@dataclass(frozen=True, slots=True)
class StampMeasurement:
    sample: Sample
    record: StreamRecord
    stats: StampStats


def build_sample(
    record: StreamRecord, stats: StampStats, terminal: str, vantage: str, emodel: EmodelSettings
) -> Sample:
    """The Sample of one STAMP stream, E-model included (worst direction when directions are known).

    Replies that answered but did not parse are counted in ``malformed`` (with the reason); when none
    parsed, the error is ``malformed``, not ``timeout``: the peer answered, so it is not loss of the
    link, and not a measurement either (an unknown for the SLA engine)."""
    start = record.first_send_ns
    sent = stats.seq.sent
    if start is None or sent == 0:
        return Sample(
            time_ns=record.time_ns,  # nothing left: dated when the probe began
            terminal=terminal,
            vantage=vantage,
            kind=ProbeKind.STAMP,
            sent=0,
            received=0,
            error=Outcome.SEND_ERROR,
        )
    summary = summarize(list(stats.rtts_ms))
    r_factor = mos = None
    if summary is not None:
        if stats.loss_fwd is not None and stats.loss_rev is not None:
            one_way_loss = max(stats.loss_fwd, stats.loss_rev)
        else:
            one_way_loss = one_way_loss_from_round_trip(stats.seq.loss or 0.0)
        directional = [j for j in (stats.jitter_fwd_ms, stats.jitter_rev_ms) if j is not None]
        jitter = max(directional) if directional else summary.jitter
        verdict = assess(summary.avg / 2, jitter, one_way_loss, stats.seq.burst_ratio, emodel)
        r_factor, mos = round(verdict.r_factor, 2), round(verdict.mos, 3)
    return Sample(
        time_ns=start,
        terminal=terminal,
        vantage=vantage,
        kind=ProbeKind.STAMP,
        sent=sent,
        received=stats.seq.received,
        duplicates=stats.seq.duplicates,
        reordered=stats.seq.reordered,
        late=stats.late,
        rtt_min_ms=summary.min if summary else None,
        rtt_avg_ms=summary.avg if summary else None,
        rtt_max_ms=summary.max if summary else None,
        rtt_p50_ms=summary.p50 if summary else None,
        jitter_ms=summary.jitter if summary else None,
        jitter_rfc3550_ms=summary.jitter_rfc3550 if summary else None,
        pdv_ms=summary.pdv if summary else None,
        loss_fwd=stats.loss_fwd,
        loss_rev=stats.loss_rev,
        jitter_fwd_ms=stats.jitter_fwd_ms,
        jitter_rev_ms=stats.jitter_rev_ms,
        max_loss_burst=stats.seq.max_loss_burst,
        r_factor=r_factor,
        mos=mos,
        error=Outcome.MALFORMED
        if record.malformed and not stats.seq.received
        else outcome_for(sent, stats.seq.received),
        malformed=record.malformed,
        malformed_reason=record.malformed_reason or None,
    )


class StampEngine(StreamProbe):
    """The ``stamp`` probe engine: one stream per ``probe`` call over a shared :class:`StreamEngine`.

    Pass ``streams`` to share one engine (and so one socket per family) with the ``rtp`` probe; an engine
    created here is started and closed with this one.
    """

    kind: ClassVar[ProbeKind] = ProbeKind.STAMP

    def __init__(
        self, settings: StampSettings | object | None = None, *, streams: StreamEngine | None = None
    ):
        super().__init__(streams)
        self.settings = StampSettings.coerce(settings)
        self._ssid = session_allocator(16, start=random.randrange(1, 1 << 16))

    async def measure(
        self,
        target: ProbeTarget,
        vantage: str,
        *,
        settings: StampSettings | None = None,
        start_ns: int | None = None,
    ) -> StampMeasurement:
        """Run one stream to ``target`` and return the Sample with its raw record and statistics."""
        s = settings or self.settings
        dest = target.reflector or (str(target.address), s.port)
        try:
            normalize_address(dest[0])
        except ValueError:  # not an IP address: nothing can be sent (names are resolved by the inventory)
            record = StreamRecord(dest=(str(dest[0]), int(dest[1])), settings=s.stream, session_id=0)
            record.last_error = f"not an IP address: {dest[0]!r}"
            stats = analyze(record, s.stateful)
            return StampMeasurement(
                build_sample(record, stats, target.terminal, vantage, s.emodel), record, stats
            )
        for _ in range(4):
            codec = StampCodec(self._ssid(self.streams, dest), s.size)
            try:
                record = await self.streams.run(dest, codec, s.stream, start_ns=start_ns)
                break
            except SessionInUse:
                continue
        else:  # pragma: no cover - needs 4 collisions in a row on a 65535-id space
            raise SessionInUse(f"no free SSID towards {dest}")
        stats = analyze(record, s.stateful)
        sample = build_sample(record, stats, target.terminal, vantage, s.emodel)
        return StampMeasurement(sample, record, stats)

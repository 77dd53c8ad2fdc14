"""Value types shared by every layer: what a probe measured and what the probe host itself saw.

These are the contract between the probe engines, the stores and the SLA engine. They are frozen so a
sample that left a probe cannot be edited on its way to the store, and they carry no behaviour beyond
derived figures, so the SLA engine can stay a set of pure functions over them.

Times are integers of UTC nanoseconds since the epoch (``time_ns``): floats cannot hold nanoseconds
for today's dates, and integers compare and bin exactly.
"""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass
from typing import Any

NS_PER_S = 1_000_000_000
NS_PER_MS = 1_000_000


class ProbeKind(enum.StrEnum):
    """The probe kinds; the value is the name used in config, inventory and the InfluxDB measurement."""

    ICMP = "icmp"
    ICMP_JITTER = "icmp-jitter"
    RTP = "rtp"
    STAMP = "stamp"

    @property
    def measurement(self) -> str:
        """InfluxDB measurement name (identifier-safe: no dash)."""
        return self.value.replace("-", "_")


class Outcome(enum.StrEnum):
    """Why a sample looks the way it does.

    Only ``OK``, ``PARTIAL`` and ``TIMEOUT`` (and ``UNREACHABLE``, which an ICMP error from the path
    reported) are *measurements*: packets left this host. ``SEND_ERROR`` and ``NOT_SCHEDULED`` mean we
    did not look, and the SLA engine must treat them as unknown, never as loss. ``MALFORMED`` means the
    peer did answer, but in a form we cannot measure (e.g. a TWAMP-light reflector's 38-byte replies
    to a STAMP probe): the link carried packets both ways, so it is certainly not loss, yet we have no
    loss figure either, so it is unknown too (a configuration problem to fix, not an outage).
    """

    OK = "ok"  # every packet answered
    PARTIAL = "partial"  # some packets answered
    TIMEOUT = "timeout"  # packets sent, none answered in time
    UNREACHABLE = "unreachable"  # the network answered with ICMP unreachable
    SEND_ERROR = "send_error"  # the local stack refused to send (not measured)
    NOT_SCHEDULED = "not_scheduled"  # overrun or skipped by the scheduler (not measured)
    MALFORMED = "malformed"  # the peer answered, but nothing it sent could be measured (not measured)

    @property
    def measured(self) -> bool:
        return self not in (Outcome.SEND_ERROR, Outcome.NOT_SCHEDULED, Outcome.MALFORMED)


def outcome_for(sent: int, received: int) -> Outcome:
    """The outcome implied by packet counts alone (engines override for unreachable / send errors)."""
    if sent <= 0:
        return Outcome.SEND_ERROR
    if received <= 0:
        return Outcome.TIMEOUT
    if received < sent:
        return Outcome.PARTIAL
    return Outcome.OK


@dataclass(frozen=True, slots=True)
class Sample:
    """One probe of one terminal from one vantage: a burst of echoes, a train, or a stream.

    ``time_ns`` is when the first packet was (or would have been) sent. ``received`` counts distinct
    in-time answers; ``late`` answers arrived after the timeout and count as lost. Per-direction fields
    are filled only by probes whose reflector allows it (stateful STAMP). ``malformed`` replies came
    from the peer but could not be read; with nothing readable the error is ``malformed`` (unknown, not
    loss), otherwise the sample measures what did parse and still says how many did not.
    """

    time_ns: int
    terminal: str
    vantage: str
    kind: ProbeKind
    sent: int
    received: int
    duplicates: int = 0
    reordered: int = 0
    late: int = 0
    rtt_min_ms: float | None = None
    rtt_avg_ms: float | None = None
    rtt_max_ms: float | None = None
    rtt_p50_ms: float | None = None
    jitter_ms: float | None = None  # mean |D| of consecutive transits/RTTs: RFC 3550's J, unbiased (stats.py)
    jitter_rfc3550_ms: float | None = None  # RFC 3550 §6.4.1 running J at the probe's end (biased low)
    pdv_ms: float | None = None  # RFC 5481 PDV: p99 delay - min delay
    loss_fwd: float | None = None  # ratio 0..1, sender -> reflector
    loss_rev: float | None = None  # ratio 0..1, reflector -> sender
    jitter_fwd_ms: float | None = None
    jitter_rev_ms: float | None = None
    max_loss_burst: int = 0
    r_factor: float | None = None
    mos: float | None = None
    error: Outcome = Outcome.OK
    malformed: int = 0  # replies from the peer that did not parse (counted apart from received and lost)
    malformed_reason: str | None = None  # why the last of them did not, e.g. "38-byte reply: ..."

    @property
    def measured(self) -> bool:
        """Whether packets actually left this host; unmeasured samples are unknown, not loss."""
        return self.sent > 0 and self.error.measured

    @property
    def loss(self) -> float | None:
        """Loss ratio over the packets actually sent, or None when nothing was sent."""
        if not self.measured:
            return None
        return 1.0 - min(self.received, self.sent) / self.sent

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready mapping (enums as their values)."""
        out = dataclasses.asdict(self)
        out["kind"] = self.kind.value
        out["error"] = self.error.value
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Sample:
        values = dict(data)
        values["kind"] = ProbeKind(values["kind"])
        values["error"] = Outcome(values.get("error", "ok"))
        return cls(**values)


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """What one probe host did in one scheduling cycle of one group.

    It lets the SLA engine tell "the terminal was down" from "we were not looking": a missing heartbeat,
    failed reference targets or a cycle that skipped terminals make the affected intervals UNKNOWN.
    """

    time_ns: int  # cycle start
    vantage: str
    group: str  # scheduling group (e.g. "default", "province")
    interval_s: float
    due: int  # terminals due in this cycle
    probed: int  # probes actually sent
    late: int  # probes sent later than their slot by more than the tolerance
    skipped: int  # probes not sent (recorded as not_scheduled samples)
    duration_s: float  # wall time from first slot to last result
    reference_ok: int = 0  # reference targets that answered
    reference_total: int = 0
    unstored: int = 0  # samples of this cycle the store refused (disk full, I/O error): vouches for nothing

    @property
    def cycle(self) -> tuple[str, ProbeKind | None]:
        """(scheduling group, probe kind) of the cycle; see :func:`cycle_name`."""
        return split_cycle(self.group)

    @property
    def healthy(self) -> bool:
        """A cycle whose reference targets all failed, or whose samples were not all stored, says
        nothing about the terminals."""
        return not (self.reference_total > 0 and self.reference_ok == 0) and self.unstored == 0

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Heartbeat:
        return cls(**data)


def cycle_name(group: str, kind: ProbeKind) -> str:
    """A heartbeat's ``group`` field exactly as the scheduler writes it: ``"<group>/<kind>"``.

    The scheduler runs one cycle per scheduling group *and* probe kind (each kind may have its own
    interval), so a heartbeat vouches for one kind of one group. Everything that writes heartbeats (the
    daemon, ``lab month``, test scenarios) and everything that reads them (the SLA engine, ``status``)
    goes through this function and :func:`split_cycle`, so the on-disk key cannot drift again.
    """
    return f"{group}/{kind.value}"


def split_cycle(name: str) -> tuple[str, ProbeKind | None]:
    """Inverse of :func:`cycle_name`. A name without a known kind suffix (heartbeats written before
    the kind was part of the key) returns ``(name, None)``: the caller decides what that covers."""
    group, sep, kind = name.rpartition("/")
    if sep:
        try:
            return group, ProbeKind(kind)
        except ValueError:
            pass
    return name, None


SAMPLE_FIELDS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(Sample))
HEARTBEAT_FIELDS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(Heartbeat))
# The numeric value columns of a Sample, by type, in field order: bulk producers (lab month's numpy
# columns) take them from here so a field added to Sample cannot be missing from their columns.
SAMPLE_COUNT_FIELDS: tuple[str, ...] = tuple(
    f.name for f in dataclasses.fields(Sample) if f.type == "int" and f.name != "time_ns"
)
SAMPLE_FLOAT_FIELDS: tuple[str, ...] = tuple(
    f.name for f in dataclasses.fields(Sample) if f.type == "float | None"
)

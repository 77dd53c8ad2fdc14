"""The daemon's on-disk shape for synthetic months: cycles, slot times, samples and heartbeats.

``lab month`` must write exactly what ``slaprobe run`` writes (issue #10: SLA tests passed on heartbeats
keyed ``"default"`` while the daemon keys them ``"default/icmp"``). So a synthetic month is cut the way
the daemon cuts time, using the daemon's own builders wherever one exists:

* one cycle per scheduling group × probe kind (``daemon.build_specs``), starting on multiples of the
  interval; its targets are the terminals in service at the cycle start (local date), in inventory order,
  after the configured reference targets in ICMP cycles (``daemon.REFERENCE_KINDS``);
* target *i* of a cycle starts at ``scheduler.spread_offsets`` (spread × interval in slot steps), so
  a terminal's probes move when another terminal of its group opens or retires, as on a real host;
* a probe the plan marks skipped is ``scheduler.not_measured_sample`` dated at the slot it was due in;
* each cycle's heartbeat is ``scheduler.cycle_heartbeat`` built from a ``scheduler.CycleStats``
  (due, probed, skipped, reference_ok/total, unstored), written after the cycle's samples;
* reference targets are probed and stored like the daemon does (terminal ``ref:<address>``, no tags).

A measured sample carries the non-NULL columns the engine of its kind fills (``probes/icmp.py``:
RTT min/avg/max/p50 and PDV when anything came back, jitter from two replies on; ``probes/stamp.py``
with a stateful reflector: per-direction loss and jitter, R and MOS too). The values are stand-ins;
``tests/lab/test_month_vs_daemon.py`` compares the shapes with a real daemon's journal (icmp, stamp).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from slaprobe.model import NS_PER_MS, NS_PER_S, Heartbeat, Outcome, ProbeKind, Sample
from slaprobe.scheduler import CycleStats, cycle_heartbeat, not_measured_sample, spread_offsets
from slaprobe.terminal import Terminal

# Plan codes (see month.py): what one terminal's link does in one interval.
GOOD, DOWN, HIGH, DEGRADED, SKIPPED = 0, 1, 2, 3, 4

# The daemon gives reference targets only to these kinds (kept equal to daemon.REFERENCE_KINDS by a test;
# importing the daemon here would pull APScheduler and the InfluxDB client into every ``lab month``).
REFERENCE_KINDS = (ProbeKind.ICMP, ProbeKind.ICMP_JITTER)


@dataclass(frozen=True)
class CycleSettings:
    """The schedule settings that shape cycles (``schedule`` in the daemon's config)."""

    interval_s: float = 60.0
    spread: float = 0.9
    slot_s: float = 0.1
    references: tuple[str, ...] = ()  # schedule.reference_targets
    probe_span_s: float = 1.8  # first send to last result of one probe (icmp: 4 × 200 ms + 1 s timeout)

    @classmethod
    def from_schedule(cls, schedule: object | None, interval_s: float) -> CycleSettings:
        """From a ``config.ScheduleConfig`` (None = its defaults); the interval is the month's Δt."""
        if schedule is None:
            return cls(interval_s=interval_s)
        return cls(
            interval_s=interval_s,
            spread=float(schedule.spread),  # type: ignore[attr-defined]
            slot_s=float(schedule.slot_ms) / 1000,  # type: ignore[attr-defined]
            references=tuple(str(r) for r in schedule.reference_targets),  # type: ignore[attr-defined]
        )


@dataclass
class CycleLayout:
    """One cycle (group × kind) while the in-service set is constant: who is probed, at which offset."""

    group: str
    kind: ProbeKind
    members: np.ndarray  # terminal indices (plan order) probed by this cycle
    offsets_ns: np.ndarray  # slot offset from the cycle start, per member
    ref_offsets_ns: tuple[int, ...]  # slot offsets of the reference targets (they come first)
    duration_s: float  # cycle start to its last result

    @property
    def references(self) -> int:
        return len(self.ref_offsets_ns)


@dataclass
class Segment:
    """Window intervals [start, end) over which no terminal opens or retires."""

    start: int
    end: int
    cycles: list[CycleLayout]


def layout_segments(
    terminals: Sequence[Terminal],
    firsts: Sequence[int],
    lasts: Sequence[int],
    count: int,
    kinds: Sequence[ProbeKind],  # for terminals whose inventory row names none (config probes.default)
    settings: CycleSettings,
) -> list[Segment]:
    """Cut the window where the in-service set changes; lay every cycle of each piece out as the daemon
    would (``build_specs`` grouping and order, ``spread_offsets`` slots)."""
    # Every terminal of the inventory makes its cycle exist (a cycle whose terminals are not in service
    # yet still runs: due 0, references probed); each cycle start then takes those in service.
    buckets: dict[tuple[str, ProbeKind], list[int]] = {}
    for ti, t in enumerate(terminals):
        for kind in t.probes or kinds:  # the inventory's probe set, else the default
            buckets.setdefault((t.group, kind), []).append(ti)
    specs = sorted(buckets.items(), key=lambda kv: (kv[0][0], kv[0][1].value))
    cuts = sorted({0, count} | {x for x in (*firsts, *lasts) if 0 < x < count})
    first_a, last_a = np.asarray(firsts), np.asarray(lasts)
    segments = []
    for start, end in itertools.pairwise(cuts):
        live = (first_a <= start) & (start < last_a)
        cycles = []
        for (group, kind), targets in specs:
            members = [ti for ti in targets if live[ti]]
            n_refs = len(settings.references) if kind in REFERENCE_KINDS else 0
            n = n_refs + len(members)
            offs = spread_offsets(n, settings.interval_s, settings.spread, settings.slot_s)
            offs_ns = [round(o * NS_PER_S) for o in offs]
            cycles.append(
                CycleLayout(
                    group,
                    kind,
                    np.asarray(members, dtype=np.int64),
                    np.asarray(offs_ns[n_refs:], dtype=np.int64),
                    tuple(offs_ns[:n_refs]),
                    round(offs[-1] + settings.probe_span_s, 3) if offs else 0.0,  # empty: ends at once
                )
            )
        segments.append(Segment(start, end, cycles))
    return segments


def _segments_in(segments: Sequence[Segment], a: int, b: int) -> list[Segment]:
    return [s for s in segments if s.start < b and s.end > a]


def measured_sample(
    kind: ProbeKind,
    time_ns: int,
    terminal: str,
    vantage: str,
    sent: int,
    received: int,
    rtt_ms: float,
    jitter_ms: float,
) -> Sample:
    """A probe that sent packets, with the columns its engine fills (values are stand-ins)."""
    values = (
        round(rtt_ms, 3),
        round(rtt_ms + jitter_ms / 2, 3),
        round(rtt_ms + jitter_ms, 3),
        round(jitter_ms, 3),
    )
    return _measured(kind, time_ns, terminal, vantage, sent, received, *values)


def _measured(
    kind: ProbeKind,
    time_ns: int,
    terminal: str,
    vantage: str,
    sent: int,
    received: int,
    rtt: float,
    mid: float,  # avg and p50
    top: float,  # max
    spread: float,  # jitter and PDV
) -> Sample:
    """The hot path of :func:`measured_sample`: figures already rounded (in bulk, by numpy)."""
    error = Outcome.OK if received == sent else Outcome.TIMEOUT if received == 0 else Outcome.PARTIAL
    if received == 0:  # the engine has no delay to summarise
        return Sample(time_ns, terminal, vantage, kind, sent, 0, max_loss_burst=sent, error=error)
    stream = kind in (ProbeKind.STAMP, ProbeKind.RTP)
    # a stateful STAMP reflector (the default) reports each direction: the losses all forward here
    stamp = kind is ProbeKind.STAMP
    directional_jitter = spread if stamp and received > 1 else None
    return Sample(
        time_ns=time_ns,
        terminal=terminal,
        vantage=vantage,
        kind=kind,
        sent=sent,
        received=received,
        duplicates=0,
        reordered=0,
        late=0,
        rtt_min_ms=rtt,
        rtt_avg_ms=mid,
        rtt_max_ms=top,
        rtt_p50_ms=mid,
        jitter_ms=spread if received > 1 else None,  # jitter needs two replies
        # what RFC 3550's running J reaches after received - 1 differences of mean |D| = spread
        jitter_rfc3550_ms=spread * (1 - (15 / 16) ** (received - 1)) if received > 1 else None,
        pdv_ms=spread,
        loss_fwd=(sent - received) / sent if stamp else None,
        loss_rev=0.0 if stamp else None,
        jitter_fwd_ms=directional_jitter,
        jitter_rev_ms=directional_jitter,
        max_loss_burst=sent - received,
        r_factor=round(93.2 - rtt / 40, 2) if stream else None,
        mos=4.4 if stream else None,
        error=error,
    )


def cycle_samples(
    terminals: Sequence[Terminal],
    segments: Sequence[Segment],
    codes: np.ndarray,
    a: int,
    start_ns: int,
    interval_ns: int,
    vantage: str,
    settings: CycleSettings,
    packets: int,
    rtts: np.ndarray,
    jitters: np.ndarray,
    host_down: tuple[int, int] | None = None,
) -> list[Sample]:
    """Every sample the daemon of ``vantage`` writes for window intervals [a, a + codes.shape[1]).

    ``codes[t, k]``: the plan code of terminal t in interval a + k (-1: no sample: not in service, or
    the probe host was down). ``rtts``/``jitters`` [T, K]: stand-in values of measured samples.
    ``host_down``: window intervals in which this vantage's host did not run (no reference probes either).
    """
    b = a + codes.shape[1]
    received_by_code = {GOOD: packets, DOWN: 0, HIGH: 1, DEGRADED: packets - 1}
    figures = [
        np.round(x, 3).tolist() for x in (rtts, rtts + jitters / 2, rtts + jitters, jitters)
    ]  # [rtt, mid, top, spread] of every (terminal, interval)
    ref_values = (1.0, 1.05, 1.1, 0.1)
    out: list[Sample] = []
    for seg in _segments_in(segments, a, b):
        k0, k1 = max(seg.start, a) - a, min(seg.end, b) - a
        for cyc in seg.cycles:
            kind = cyc.kind
            for ti, off in zip(cyc.members.tolist(), cyc.offsets_ns.tolist(), strict=True):
                tid = terminals[ti].id
                rtt, mid, top, spread = (f[ti] for f in figures)
                base = start_ns + a * interval_ns + off
                for k in range(k0, k1):
                    code = int(codes[ti, k])
                    if code < 0:
                        continue
                    when = base + k * interval_ns
                    if code == SKIPPED:
                        out.append(not_measured_sample(when, tid, vantage, kind))
                        continue
                    received = received_by_code[code]
                    out.append(
                        _measured(
                            kind, when, tid, vantage, packets, received, rtt[k], mid[k], top[k], spread[k]
                        )
                    )
            if cyc.references:
                for k in range(k0, k1):
                    if host_down is not None and host_down[0] <= a + k < host_down[1]:
                        continue
                    t0 = start_ns + (a + k) * interval_ns
                    for ref, off in zip(settings.references, cyc.ref_offsets_ns, strict=True):
                        out.append(
                            _measured(kind, t0 + off, f"ref:{ref}", vantage, packets, packets, *ref_values)
                        )
    out.sort(key=lambda s: s.time_ns)  # the order a cycle's results reach the journal, roughly
    return out


def cycle_heartbeats(
    segments: Sequence[Segment],
    codes: np.ndarray,
    a: int,
    start_ns: int,
    interval_ns: int,
    vantage: str,
    settings: CycleSettings,
    host_down: tuple[int, int] | None,
) -> list[Heartbeat]:
    """One heartbeat per cycle that ran, through the scheduler's own builder (``cycle_heartbeat``).

    ``host_down``: window intervals in which this vantage's host did not run (no cycles, no heartbeats).
    """
    b = a + codes.shape[1]
    out: list[Heartbeat] = []
    for seg in _segments_in(segments, a, b):
        k0, k1 = max(seg.start, a) - a, min(seg.end, b) - a
        for cyc in seg.cycles:
            skipped = (codes[cyc.members, k0:k1] == SKIPPED).sum(axis=0).tolist()
            for k, skip in zip(range(k0, k1), skipped, strict=True):
                i = a + k
                if host_down is not None and host_down[0] <= i < host_down[1]:
                    continue
                due = len(cyc.members)
                stats = CycleStats(
                    due=due,
                    probed=due - skip,
                    skipped=skip,
                    reference_ok=cyc.references,
                    reference_total=cyc.references,
                )
                out.append(
                    cycle_heartbeat(
                        vantage=vantage,
                        group=cyc.group,
                        kind=cyc.kind,
                        interval_s=settings.interval_s,
                        start_ns=start_ns + i * interval_ns,
                        stats=stats,
                        duration_s=cyc.duration_s,
                    )
                )
    out.sort(key=lambda h: (h.time_ns, h.group))
    return out


def offsets_ms(segments: Sequence[Segment], terminal_index: int, interval: int) -> list[int]:
    """The slot offsets (ms) of one terminal's probes in the cycles of one interval (for tests)."""
    return [
        int(off) // NS_PER_MS
        for seg in segments
        if seg.start <= interval < seg.end
        for cyc in seg.cycles
        for ti, off in zip(cyc.members.tolist(), cyc.offsets_ns.tolist(), strict=True)
        if ti == terminal_index
    ]

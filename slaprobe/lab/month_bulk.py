"""The samples of synthetic cycles as numpy columns: ``month_cycles.cycle_samples`` without the objects.

Why: building one frozen ``Sample`` per probe made a 1,820-terminal month take an hour (85 M objects,
then 85 M rows through the journal's per-sample path), and a 20,000-terminal month out of reach. Here
every value is computed for a whole cycle at once, with the same arithmetic as
``month_cycles._measured`` (same ``np.round`` figures, same float operations in the same order) and the
same ordering as its list sort (time, then the order the cycles produced their samples), so
:func:`to_samples` of these columns equals ``cycle_samples`` field for field
(``tests/lab/test_month_bulk.py`` proves it on months with every kind, outcome and event).

Columns use the ``Sample`` field names. A ``None`` is NaN in a float column (no stored figure can be
NaN); names are codes into small tables (``terminals``, ``KINDS``, ``OUTCOMES``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from slaprobe.lab.month_cycles import (
    DEGRADED,
    DOWN,
    GOOD,
    HIGH,
    SKIPPED,
    CycleSettings,
    Segment,
    _segments_in,
)
from slaprobe.model import SAMPLE_COUNT_FIELDS, SAMPLE_FLOAT_FIELDS, Outcome, ProbeKind, Sample
from slaprobe.terminal import Terminal

KINDS: tuple[ProbeKind, ...] = tuple(ProbeKind)
OUTCOMES: tuple[Outcome, ...] = tuple(Outcome)
_K = {k: i for i, k in enumerate(KINDS)}
_O = {o: i for i, o in enumerate(OUTCOMES)}

INT_COLUMNS: tuple[str, ...] = SAMPLE_COUNT_FIELDS
FLOAT_COLUMNS: tuple[str, ...] = SAMPLE_FLOAT_FIELDS
_REF_VALUES = (1.0, 1.05, 1.1, 0.1)  # month_cycles.cycle_samples: what reference targets answer


@dataclass
class SampleArrays:
    """Samples of one vantage as columns; row order is the order the daemon's batch holds them.

    ``terminal`` codes index ``terminals`` (the plan's terminal ids, then ``ref:<address>`` names);
    ``kind`` and ``error`` index :data:`KINDS` and :data:`OUTCOMES`. ``malformed_reason`` is always
    None (no synthetic probe gets an unparsable reply), so it has no column.
    """

    vantage: str
    terminals: tuple[str, ...]
    time_ns: np.ndarray  # int64
    terminal: np.ndarray  # int32
    kind: np.ndarray  # int8
    error: np.ndarray  # int8
    ints: dict[str, np.ndarray]  # INT_COLUMNS, small ints (int16 counters, int8 zero columns)
    floats: dict[str, np.ndarray]  # FLOAT_COLUMNS, float64, NaN = None; a column None throughout is absent

    def __len__(self) -> int:
        return len(self.time_ns)

    def float_column(self, name: str) -> np.ndarray:
        """A float column, all NaN when absent (ICMP rows carry no per-direction or MOS figures: not
        holding them saves 48 of ~130 bytes a row, 1.4 GB of a 20,000-terminal day)."""
        got = self.floats.get(name)
        return got if got is not None else np.full(len(self.time_ns), np.nan)

    def take(self, index: np.ndarray) -> SampleArrays:
        """These rows (a boolean mask or indices), in that order."""
        return SampleArrays(
            self.vantage,
            self.terminals,
            self.time_ns[index],
            self.terminal[index],
            self.kind[index],
            self.error[index],
            {c: a[index] for c, a in self.ints.items()},
            {c: a[index] for c, a in self.floats.items()},
        )


def concat(parts: Sequence[SampleArrays]) -> SampleArrays:
    """Rows of several batches of one vantage and one terminal table, one after the other."""
    first = parts[0]
    return SampleArrays(
        first.vantage,
        first.terminals,
        np.concatenate([p.time_ns for p in parts]),
        np.concatenate([p.terminal for p in parts]),
        np.concatenate([p.kind for p in parts]),
        np.concatenate([p.error for p in parts]),
        {c: np.concatenate([p.ints[c] for p in parts]) for c in INT_COLUMNS},
        {
            c: np.concatenate([p.float_column(c) for p in parts])
            for c in FLOAT_COLUMNS
            if any(c in p.floats for p in parts)
        },
    )


def terminal_table(terminals: Sequence[Terminal], settings: CycleSettings) -> tuple[str, ...]:
    """The terminal code table: the plan's terminals in plan order, then the reference targets."""
    return (*(t.id for t in terminals), *(f"ref:{r}" for r in settings.references))


@dataclass
class _Part:
    """Rows of one cycle (members or references) before the final sort."""

    time_ns: np.ndarray
    terminal: np.ndarray
    code: np.ndarray  # plan code; -2 = a reference probe (always answered in full)
    cell: np.ndarray  # index into the flattened [T, K] figures (-1 for references)
    kind: int
    cycle: int  # order of production, for the tie-break of the sort
    rank: np.ndarray  # member position (references after the members of their cycle)


def cycle_arrays(
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
) -> SampleArrays:
    """``month_cycles.cycle_samples`` (same arguments, same samples, same order) as columns."""
    n_k = codes.shape[1]
    b = a + n_k
    n_names = len(terminals)
    parts: list[_Part] = []
    cycle_no = 0
    for seg in _segments_in(segments, a, b):
        k0, k1 = max(seg.start, a) - a, min(seg.end, b) - a
        ks = np.arange(k0, k1, dtype=np.int64)
        for cyc in seg.cycles:
            kind = _K[cyc.kind]
            members = cyc.members
            if len(members) and k1 > k0:
                sub = codes[members, k0:k1]  # [M, K'] in member order, k inner: the list's order
                m_idx, k_idx = np.nonzero(sub >= 0)
                ti = members[m_idx]
                kk = ks[k_idx]
                parts.append(
                    _Part(
                        start_ns + a * interval_ns + cyc.offsets_ns[m_idx] + kk * interval_ns,
                        ti.astype(np.int32),
                        sub[m_idx, k_idx].astype(np.int8),
                        ti * n_k + kk,
                        kind,
                        cycle_no,
                        m_idx.astype(np.int64),
                    )
                )
            if cyc.references:
                live = ks
                if host_down is not None:
                    live = ks[~((host_down[0] <= a + ks) & (a + ks < host_down[1]))]
                n_r = cyc.references
                kk = np.repeat(live, n_r)  # k outer, reference inner: the list's order
                r = np.tile(np.arange(n_r), len(live))
                offs = np.asarray(cyc.ref_offsets_ns, dtype=np.int64)
                parts.append(
                    _Part(
                        start_ns + (a + kk) * interval_ns + offs[r],
                        (n_names + r).astype(np.int32),
                        np.full(len(kk), -2, dtype=np.int8),
                        np.full(len(kk), -1, dtype=np.int64),
                        kind,
                        cycle_no,
                        len(members) + r.astype(np.int64),
                    )
                )
            cycle_no += 1
    names = terminal_table(terminals, settings)
    if not parts:
        return _empty(vantage, names)
    time_ns = np.concatenate([p.time_ns for p in parts])
    cycle = np.concatenate([np.full(len(p.time_ns), p.cycle, dtype=np.int64) for p in parts])
    rank = np.concatenate([p.rank for p in parts])
    # list.sort by time is stable: ties (same slot) keep production order = (cycle, rank)
    order = np.lexsort((rank, cycle, time_ns))
    time_ns = time_ns[order]
    terminal = np.concatenate([p.terminal for p in parts])[order]
    code = np.concatenate([p.code for p in parts])[order]
    cell = np.concatenate([p.cell for p in parts])[order]
    kind = np.concatenate([np.full(len(p.time_ns), p.kind, dtype=np.int8) for p in parts])[order]
    return _values(vantage, names, time_ns, terminal, kind, code, cell, packets, rtts, jitters)


def _empty(vantage: str, names: tuple[str, ...]) -> SampleArrays:
    z = np.zeros(0, dtype=np.int64)
    return SampleArrays(
        vantage,
        names,
        z,
        z.astype(np.int32),
        z.astype(np.int8),
        z.astype(np.int8),
        {c: z.astype(np.int16) for c in INT_COLUMNS},
        {},
    )


def _values(
    vantage: str,
    names: tuple[str, ...],
    time_ns: np.ndarray,
    terminal: np.ndarray,
    kind: np.ndarray,
    code: np.ndarray,
    cell: np.ndarray,
    packets: int,
    rtts: np.ndarray,
    jitters: np.ndarray,
) -> SampleArrays:
    """Every column of ``month_cycles._measured`` / ``scheduler.not_measured_sample``, in bulk."""
    n = len(time_ns)
    skipped = code == SKIPPED
    ref = code == -2
    received = np.full(n, packets, dtype=np.int16)  # GOOD and references (small: a day is 29 M rows)
    received[code == DOWN] = 0
    received[code == HIGH] = 1
    received[code == DEGRADED] = packets - 1
    received[skipped] = 0
    sent = np.where(skipped, 0, packets).astype(np.int16)
    error = np.full(n, _O[Outcome.PARTIAL], dtype=np.int8)
    error[received == sent] = _O[Outcome.OK]
    error[(received == 0) & ~skipped] = _O[Outcome.TIMEOUT]
    error[skipped] = _O[Outcome.NOT_SCHEDULED]
    answered = received > 0  # measured with a delay to summarise (not skipped: received 0 there)
    # the figures: np.round of the [T, K] arrays, picked per row (references: fixed values)
    flat = [np.round(x, 3).ravel() for x in (rtts, rtts + jitters / 2, rtts + jitters, jitters)]
    rtt, mid, top, spread = (np.empty(n) for _ in range(4))
    pick = ~ref
    for out, src, fixed in zip((rtt, mid, top, spread), flat, _REF_VALUES, strict=True):
        out[pick] = src[cell[pick]]
        out[ref] = fixed
    nan = np.full(n, np.nan)
    two = received > 1
    stamp = kind == _K[ProbeKind.STAMP]
    stream = stamp | (kind == _K[ProbeKind.RTP])
    # (15/16) ** (received - 1) by Python's pow, once per distinct count: the same floats as the list
    factor = np.zeros(n)
    for r in np.unique(received[two]).tolist():
        factor[received == r] = 1 - (15 / 16) ** (r - 1)
    r_factor = nan.copy()
    if stream.any():  # Python's round (correctly rounded), not np.round: as _measured does
        sel = stream & answered
        r_factor[sel] = [round(93.2 - x / 40, 2) for x in rtt[sel].tolist()]
    floats = {
        "rtt_min_ms": np.where(answered, rtt, nan),
        "rtt_avg_ms": np.where(answered, mid, nan),
        "rtt_max_ms": np.where(answered, top, nan),
        "rtt_p50_ms": np.where(answered, mid, nan),
        "jitter_ms": np.where(answered & two, spread, nan),
        "jitter_rfc3550_ms": np.where(answered & two, spread * factor, nan),
        "pdv_ms": np.where(answered, spread, nan),
        "loss_fwd": np.where(answered & stamp, (sent - received) / np.maximum(sent, 1), nan),
        "loss_rev": np.where(answered & stamp, 0.0, nan),
        "jitter_fwd_ms": np.where(answered & stamp & two, spread, nan),
        "jitter_rev_ms": np.where(answered & stamp & two, spread, nan),
        "r_factor": r_factor,
        "mos": np.where(answered & stream, 4.4, nan),
    }
    zero = np.zeros(n, dtype=np.int8)
    ints = {
        "sent": sent,
        "received": received,
        "duplicates": zero,
        "reordered": zero,
        "late": zero,
        "max_loss_burst": sent - received,  # timeouts: sent; skipped: 0
        "malformed": zero,
    }
    present = {c: v for c, v in floats.items() if not np.isnan(v).all()}
    return SampleArrays(vantage, names, time_ns, terminal, kind, error, ints, present)


def to_samples(arrays: SampleArrays) -> list[Sample]:
    """The rows as ``Sample`` objects (for tests, and for stores without a bulk path)."""
    cols: dict[str, list] = {c: arrays.ints[c].tolist() for c in INT_COLUMNS}
    for c in FLOAT_COLUMNS:
        v = arrays.float_column(c)
        cols[c] = [None if x != x else x for x in v.tolist()]
    names, vantage = arrays.terminals, arrays.vantage
    heads = zip(
        arrays.time_ns.tolist(),
        arrays.terminal.tolist(),
        arrays.kind.tolist(),
        arrays.error.tolist(),
        strict=True,
    )
    out = []
    for i, (t, term, k, e) in enumerate(heads):
        values = {c: cols[c][i] for c in cols}
        out.append(
            Sample(
                time_ns=t, terminal=names[term], vantage=vantage, kind=KINDS[k], error=OUTCOMES[e], **values
            )
        )
    return out


__all__ = [
    "FLOAT_COLUMNS",
    "GOOD",
    "INT_COLUMNS",
    "KINDS",
    "OUTCOMES",
    "SampleArrays",
    "concat",
    "cycle_arrays",
    "terminal_table",
    "to_samples",
]

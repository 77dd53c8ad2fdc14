"""The last hours of what the daemon stored, in memory, answering the SLA engine's store questions.

The live tracker must judge an interval exactly as the month report will. The surest way is to run the
report's own code (``engine.gather_inputs`` → ``intervals.prepare`` → ``intervals.terminal_verdicts``)
on a short window, so this buffer implements the same :class:`~slaprobe.sla.inputs.SlaSource` protocol
the journal and InfluxDB readers implement, over the samples and heartbeats the daemon wrote in the last
hours. Everything the engine asks for is answered from these rows with the stores' definitions:

* problem rows are ``lost > 0 or sent = 0`` on the raw counts (the journal's partial index);
* a sample is *measured* when it sent packets and its error is not an unmeasured one
  (``inputs.UNMEASURED_ERRORS``), as ``SampleColumns.from_series_rows`` decides;
* hourly presence counts each (terminal, vantage, kind) hour at that series' largest hourly count in
  the asked range, summed over kinds (``JournalSlaSource.rollups``);
* heartbeats go through ``inputs.heartbeat_columns``, so "trusted" is the engine's own test.

Only samples of terminals in the inventory and of the kinds the rule counts are kept (reference targets
and other kinds never judge availability). Rows are kept as numpy chunks, one per stored batch, with one
terminal and vantage code table for all chunks so a window is a plain concatenation.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from slaprobe.model import Heartbeat, ProbeKind, Sample
from slaprobe.sla.inputs import (
    KIND_CODES,
    UNMEASURED_ERRORS,
    HeartbeatColumns,
    HeartbeatRow,
    Names,
    SampleColumns,
    heartbeat_columns,
)
from slaprobe.sla.kpi import HOUR_NS
from slaprobe.sla.rollups import RollupReducer, RollupSummary

_KIND_INDEX = {kind: i for i, kind in enumerate(KIND_CODES)}


@dataclass(frozen=True, slots=True)
class _Chunk:
    t: np.ndarray  # int32 code into CycleBuffer.terminals
    v: np.ndarray  # int32 code into CycleBuffer.vantages
    k: np.ndarray  # int8 index into KIND_CODES
    time_ns: np.ndarray  # int64
    sent: np.ndarray  # int64, 0 when not measured
    received: np.ndarray  # int64, 0 when not measured
    measured: np.ndarray  # bool
    problem: np.ndarray  # bool: lost > 0 or sent = 0 (raw counts)


class CycleBuffer:
    """Recent stored samples and heartbeats; an in-memory ``SlaSource`` for a short window."""

    def __init__(self, terminals: Iterable[str], kinds: Sequence[ProbeKind]) -> None:
        self.wanted = frozenset(terminals)
        self.kinds = frozenset(kinds)
        self.terminals = Names()
        self.vantages = Names()
        self._chunks: list[_Chunk] = []
        self._heartbeats: list[HeartbeatRow] = []
        self._cache: _Chunk | None = None

    # ------------------------------------------------------------------ feeding
    def set_terminals(self, terminals: Iterable[str]) -> None:
        """After an inventory reload: samples of other terminals are ignored from now on."""
        self.wanted = frozenset(terminals)

    def add_samples(self, samples: Sequence[Sample]) -> None:
        rows = [s for s in samples if s.terminal in self.wanted and s.kind in self.kinds]
        if not rows:
            return
        sent = np.fromiter((s.sent for s in rows), dtype=np.int64, count=len(rows))
        recv = np.fromiter((s.received for s in rows), dtype=np.int64, count=len(rows))
        unmeasured = np.fromiter(
            (s.error.value in UNMEASURED_ERRORS for s in rows), dtype=bool, count=len(rows)
        )
        measured = (sent > 0) & ~unmeasured
        self._chunks.append(
            _Chunk(
                t=np.fromiter((self.terminals.code(s.terminal) for s in rows), np.int32, len(rows)),
                v=np.fromiter((self.vantages.code(s.vantage) for s in rows), np.int32, len(rows)),
                k=np.fromiter((_KIND_INDEX[s.kind] for s in rows), np.int8, len(rows)),
                time_ns=np.fromiter((s.time_ns for s in rows), np.int64, len(rows)),
                sent=np.where(measured, sent, 0),
                received=np.where(measured, np.minimum(recv, sent), 0),
                measured=measured,
                problem=(sent - recv > 0) | (sent == 0),
            )
        )
        self._cache = None

    def add_heartbeat(self, hb: Heartbeat) -> None:
        self._heartbeats.append(
            (
                hb.time_ns,
                hb.vantage,
                hb.group,
                hb.interval_s,
                hb.due,
                hb.probed,
                hb.reference_ok,
                hb.reference_total,
                hb.unstored,
            )
        )

    def prune(self, before_ns: int, heartbeats_before_ns: int) -> None:
        """Forget samples older than ``before_ns`` and heartbeats older than ``heartbeats_before_ns``
        (the tracker keeps what its next window can reach)."""
        rows = self._all()
        keep = rows.time_ns >= before_ns
        if not keep.all():
            self._chunks = [_select(rows, keep)] if keep.any() else []
            self._cache = None
        self._heartbeats = [h for h in self._heartbeats if h[0] >= heartbeats_before_ns]

    def __len__(self) -> int:
        return len(self._all().time_ns)

    # ------------------------------------------------------------------ SlaSource
    def problem_samples(self, start_ns: int, end_ns: int, kinds: Sequence[ProbeKind]) -> SampleColumns:
        rows = self._all()
        sel = (rows.time_ns >= start_ns) & (rows.time_ns < end_ns) & rows.problem & self._kinds(rows, kinds)
        return self._columns(rows, sel)

    def rollups(
        self,
        start_ns: int,
        end_ns: int,
        kinds: Sequence[ProbeKind],
        terminals: Sequence[str],
        period: tuple[int, int],
    ) -> RollupSummary:
        """Presence only (the live tracker needs no quality KPIs): see the module docstring."""
        reducer = RollupReducer(start_ns, end_ns, kinds, terminals, period)
        rows = self._all()
        sel = (rows.time_ns >= reducer.start_ns) & (rows.time_ns < end_ns) & self._kinds(rows, kinds)
        if not sel.any():
            return reducer.build()
        t, v, k = rows.t[sel].astype(np.int64), rows.v[sel].astype(np.int64), rows.k[sel].astype(np.int64)
        hour = rows.time_ns[sel] // HOUR_NS
        n_v, n_k = len(self.vantages), len(KIND_CODES)
        series = (t * n_v + v) * n_k + k
        h0, n_h = int(hour.min()), int(hour.max() - hour.min()) + 1
        cells, per_cell = np.unique(series * n_h + (hour - h0), return_counts=True)
        c_series, c_hour = np.divmod(cells, n_h)
        c_hour = c_hour + h0
        uniq, inverse = np.unique(c_series, return_inverse=True)
        most = np.zeros(len(uniq), dtype=np.int64)
        np.maximum.at(most, inverse, per_cell)
        s_t, rest = np.divmod(c_series, n_v * n_k)
        s_v = rest // n_k
        t_row = np.array([reducer.terminal(n) for n in self.terminals.names], dtype=np.int64)
        v_row = np.array([reducer.vantage(n) for n in self.vantages.names], dtype=np.int64)
        reducer.add_presence(t_row[s_t], v_row[s_v], c_hour * HOUR_NS, most[inverse])
        return reducer.build()

    def sla_heartbeats(self, start_ns: int, end_ns: int) -> HeartbeatColumns:
        return heartbeat_columns(h for h in self._heartbeats if start_ns <= h[0] < end_ns)

    def hour_samples(self, keys: Sequence[tuple[str, int]], kinds: Sequence[ProbeKind]) -> SampleColumns:
        rows = self._all()
        code = {n: i for i, n in enumerate(self.terminals.names)}
        wanted = [code[t] * (1 << 40) + h // HOUR_NS for t, h in keys if t in code]
        if not wanted:
            return SampleColumns.empty()
        key = rows.t.astype(np.int64) * (1 << 40) + rows.time_ns // HOUR_NS
        return self._columns(rows, np.isin(key, wanted) & self._kinds(rows, kinds))

    # ------------------------------------------------------------------ internals
    def _all(self) -> _Chunk:
        if self._cache is None:
            if len(self._chunks) == 1:
                self._cache = self._chunks[0]
            elif not self._chunks:
                self._cache = _empty()
            else:
                cols = {f: np.concatenate([getattr(c, f) for c in self._chunks]) for f in _Chunk.__slots__}
                self._cache = _Chunk(**cols)
                self._chunks = [self._cache]
        return self._cache

    @staticmethod
    def _kinds(rows: _Chunk, kinds: Sequence[ProbeKind]) -> np.ndarray:
        wanted = np.array([kind in kinds for kind in KIND_CODES], dtype=bool)
        return wanted[rows.k.astype(np.int64)]

    def _columns(self, rows: _Chunk, sel: np.ndarray) -> SampleColumns:
        return SampleColumns(
            terminals=tuple(self.terminals.names),
            vantages=tuple(self.vantages.names),
            t=rows.t[sel],
            v=rows.v[sel],
            k=rows.k[sel],
            time_ns=rows.time_ns[sel],
            sent=rows.sent[sel],
            received=rows.received[sel],
            measured=rows.measured[sel],
        )


def _select(rows: _Chunk, keep: np.ndarray) -> _Chunk:
    return _Chunk(**{f: getattr(rows, f)[keep] for f in _Chunk.__slots__})


def _empty() -> _Chunk:
    z64 = np.zeros(0, dtype=np.int64)
    return _Chunk(
        t=np.zeros(0, np.int32),
        v=np.zeros(0, np.int32),
        k=np.zeros(0, np.int8),
        time_ns=z64,
        sent=z64,
        received=z64,
        measured=np.zeros(0, bool),
        problem=np.zeros(0, bool),
    )

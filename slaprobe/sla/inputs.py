"""What a store hands the SLA engine: columnar, deduplicated-on-use, and the same from every store.

The engine never sees a cursor. A store reader (``slaprobe/store/sla_journal.py``,
``slaprobe/store/influx_read.py``) fills these columnar values, and ``SlaSource`` is the small protocol it
implements. Only three things are fetched for a month (DESIGN §7: fetch only what can change a verdict):

* **problem samples**: samples of the rule's kinds with ``lost > 0`` or not measured (sent = 0,
  ``send_error``, ``not_scheduled``) — a few per mille of the rows;
* **hourly rollups** (see ``kpi.py``): which (terminal, vantage) pairs were probed in each hour, and the
  quality KPIs;
* **heartbeats** of every vantage.

plus, rarely, every sample of a (terminal, hour) when several samples can share one interval (see
``intervals.pooling_keys``). Names are kept as code tables so arrays stay numeric; two readers may assign
different codes, the engine only ever compares names.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np

from slaprobe.model import Heartbeat, Outcome, ProbeKind, Sample
from slaprobe.sla.kpi import HIST_DTYPE, SCALARS, RollupRow

KIND_CODES: tuple[ProbeKind, ...] = tuple(ProbeKind)
UNMEASURED_ERRORS: frozenset[str] = frozenset(o.value for o in Outcome if not o.measured)


class Names:
    """A growing name -> code table."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self._codes: dict[str, int] = {}

    def code(self, name: str) -> int:
        c = self._codes.get(name)
        if c is None:
            c = self._codes[name] = len(self.names)
            self.names.append(name)
        return c

    def __len__(self) -> int:
        return len(self.names)


@dataclass(frozen=True, slots=True)
class SampleColumns:
    """Samples reduced to what availability needs: who, when, packets, and whether they were measured."""

    terminals: tuple[str, ...]
    vantages: tuple[str, ...]
    t: np.ndarray  # int32 code into terminals
    v: np.ndarray  # int32 code into vantages
    k: np.ndarray  # int8 index into KIND_CODES
    time_ns: np.ndarray  # int64
    sent: np.ndarray  # int64 (0 when not measured)
    received: np.ndarray  # int64 (0 when not measured)
    measured: np.ndarray  # bool

    def __len__(self) -> int:
        return len(self.time_ns)

    @staticmethod
    def empty() -> SampleColumns:
        return SampleColumnsBuilder().build()


class SampleColumnsBuilder:
    def __init__(self) -> None:
        self.terminals = Names()
        self.vantages = Names()
        self._cols: dict[str, list[int]] = {
            n: [] for n in ("t", "v", "k", "time_ns", "sent", "received", "m")
        }
        self._kind_index = {kind: i for i, kind in enumerate(KIND_CODES)}

    def add(
        self,
        terminal: str,
        vantage: str,
        kind: ProbeKind,
        time_ns: int,
        sent: int,
        received: int,
        error: str = "ok",
    ) -> None:
        measured = sent > 0 and error not in UNMEASURED_ERRORS
        c = self._cols
        c["t"].append(self.terminals.code(terminal))
        c["v"].append(self.vantages.code(vantage))
        c["k"].append(self._kind_index[ProbeKind(kind)])
        c["time_ns"].append(time_ns)
        c["sent"].append(sent if measured else 0)
        c["received"].append(min(received, sent) if measured else 0)
        c["m"].append(measured)

    def add_sample(self, s: Sample) -> None:
        self.add(s.terminal, s.vantage, s.kind, s.time_ns, s.sent, s.received, s.error.value)

    def build(self) -> SampleColumns:
        c = self._cols
        return SampleColumns(
            terminals=tuple(self.terminals.names),
            vantages=tuple(self.vantages.names),
            t=np.array(c["t"], dtype=np.int32),
            v=np.array(c["v"], dtype=np.int32),
            k=np.array(c["k"], dtype=np.int8),
            time_ns=np.array(c["time_ns"], dtype=np.int64),
            sent=np.array(c["sent"], dtype=np.int64),
            received=np.array(c["received"], dtype=np.int64),
            measured=np.array(c["m"], dtype=bool),
        )


def sample_columns(samples: Iterable[Sample]) -> SampleColumns:
    b = SampleColumnsBuilder()
    for s in samples:
        b.add_sample(s)
    return b.build()


def concat_samples(parts: Sequence[SampleColumns]) -> SampleColumns:
    """One SampleColumns from several (names re-coded)."""
    b_t, b_v = Names(), Names()
    cols: dict[str, list[np.ndarray]] = {n: [] for n in ("t", "v", "k", "time_ns", "sent", "received", "m")}
    for p in parts:
        tmap = np.array([b_t.code(n) for n in p.terminals], dtype=np.int32)
        vmap = np.array([b_v.code(n) for n in p.vantages], dtype=np.int32)
        cols["t"].append(tmap[p.t] if len(p) else p.t)
        cols["v"].append(vmap[p.v] if len(p) else p.v)
        cols["k"].append(p.k)
        cols["time_ns"].append(p.time_ns)
        cols["sent"].append(p.sent)
        cols["received"].append(p.received)
        cols["m"].append(p.measured)

    def cat(name: str, dtype: type) -> np.ndarray:
        return np.concatenate(cols[name]).astype(dtype) if cols[name] else np.zeros(0, dtype=dtype)

    return SampleColumns(
        terminals=tuple(b_t.names),
        vantages=tuple(b_v.names),
        t=cat("t", np.int32),
        v=cat("v", np.int32),
        k=cat("k", np.int8),
        time_ns=cat("time_ns", np.int64),
        sent=cat("sent", np.int64),
        received=cat("received", np.int64),
        measured=cat("m", bool),
    )


@dataclass(frozen=True, slots=True)
class RollupColumns:
    """Hourly rollup rows, columnar. Histogram entries point at their row by index."""

    terminals: tuple[str, ...]
    vantages: tuple[str, ...]
    t: np.ndarray  # int32
    v: np.ndarray  # int32
    k: np.ndarray  # int8
    hour_ns: np.ndarray  # int64
    scalars: dict[str, np.ndarray]  # SCALARS name -> int64 per row
    rtt_row: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    rtt_hist: np.ndarray = field(default_factory=lambda: np.zeros(0, HIST_DTYPE))
    jit_row: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    jit_hist: np.ndarray = field(default_factory=lambda: np.zeros(0, HIST_DTYPE))

    def __len__(self) -> int:
        return len(self.hour_ns)


class RollupColumnsBuilder:
    """Accumulates rollup rows; histograms arrive as packed bytes (the stored form) and are decoded once."""

    def __init__(self) -> None:
        self.terminals = Names()
        self.vantages = Names()
        self._t: list[int] = []
        self._v: list[int] = []
        self._k: list[int] = []
        self._hour: list[int] = []
        self._scalars: dict[str, list[int]] = {n: [] for n in SCALARS}
        self._rtt: list[bytes] = []
        self._jit: list[bytes] = []
        self._kind_index = {kind: i for i, kind in enumerate(KIND_CODES)}

    def add(
        self,
        terminal: str,
        vantage: str,
        kind: ProbeKind | str,
        hour_ns: int,
        scalars: Sequence[int],
        rtt_hist: bytes,
        jit_hist: bytes,
    ) -> None:
        self._t.append(self.terminals.code(terminal))
        self._v.append(self.vantages.code(vantage))
        self._k.append(self._kind_index[ProbeKind(kind)])
        self._hour.append(hour_ns)
        for name, value in zip(SCALARS, scalars, strict=True):
            self._scalars[name].append(int(value or 0))
        self._rtt.append(rtt_hist or b"")
        self._jit.append(jit_hist or b"")

    def add_row(self, row: RollupRow) -> None:
        from slaprobe.sla.kpi import pack_hist

        self.add(
            row.terminal,
            row.vantage,
            row.kind,
            row.hour_ns,
            [getattr(row, n) for n in SCALARS],
            pack_hist(row.rtt_hist),
            pack_hist(row.jit_hist),
        )

    def build(self) -> RollupColumns:
        def decode(blobs: list[bytes]) -> tuple[np.ndarray, np.ndarray]:
            sizes = np.fromiter((len(b) for b in blobs), dtype=np.int64, count=len(blobs))
            hist = np.frombuffer(b"".join(blobs), dtype=HIST_DTYPE)
            rows = np.repeat(np.arange(len(blobs), dtype=np.int64), sizes // HIST_DTYPE.itemsize)
            return rows, hist

        rtt_row, rtt_hist = decode(self._rtt)
        jit_row, jit_hist = decode(self._jit)
        return RollupColumns(
            terminals=tuple(self.terminals.names),
            vantages=tuple(self.vantages.names),
            t=np.array(self._t, dtype=np.int32),
            v=np.array(self._v, dtype=np.int32),
            k=np.array(self._k, dtype=np.int8),
            hour_ns=np.array(self._hour, dtype=np.int64),
            scalars={n: np.array(vals, dtype=np.int64) for n, vals in self._scalars.items()},
            rtt_row=rtt_row,
            rtt_hist=rtt_hist,
            jit_row=jit_row,
            jit_hist=jit_hist,
        )


def rollup_columns(rows: Iterable[RollupRow]) -> RollupColumns:
    b = RollupColumnsBuilder()
    for r in rows:
        b.add_row(r)
    return b.build()


@dataclass(frozen=True, slots=True)
class SlaInputs:
    """Everything the pure engine needs from a store for ``[start_ns, end_ns)``."""

    start_ns: int
    end_ns: int
    problems: SampleColumns
    rollups: RollupColumns
    heartbeats: tuple[Heartbeat, ...]
    details: SampleColumns = field(default_factory=SampleColumns.empty)


@runtime_checkable
class SlaSource(Protocol):
    """The read path each store implements for the SLA engine."""

    def problem_samples(self, start_ns: int, end_ns: int, kinds: Sequence[ProbeKind]) -> SampleColumns:
        """Samples of ``kinds`` with lost > 0 or not measured, start_ns <= time < end_ns."""
        ...

    def rollups(self, start_ns: int, end_ns: int, kinds: Sequence[ProbeKind]) -> RollupColumns:
        """Hourly rollup rows of ``kinds`` with start_ns <= hour < end_ns (hour-aligned bounds)."""
        ...

    def sla_heartbeats(self, start_ns: int, end_ns: int) -> Iterator[Heartbeat]: ...

    def hour_samples(self, keys: Sequence[tuple[str, int]], kinds: Sequence[ProbeKind]) -> SampleColumns:
        """Every sample of ``kinds`` of each (terminal, hour_ns) key."""
        ...

"""What a store hands the SLA engine: columnar, deduplicated-on-use, and the same from every store.

The engine never sees a cursor. ``SlaSource`` is the one interface through which it asks for its inputs;
each store is an adapter of it that fills these columnar values: the SQLite journal
(``store/sla_journal.py``), the columnar tier and the two tiers together (``store/columnar_read.py``),
InfluxDB (``store/influx_read.py``). Only three things are fetched for a month (the design rule: fetch
only what can change a verdict):

* **problem samples**: samples of the rule's kinds with ``lost > 0`` or not measured (sent = 0,
  ``send_error``, ``not_scheduled``, ``malformed``) — a few per mille of the rows;
* **hourly rollups** (see ``kpi.py``): which (terminal, vantage) pairs were probed in each hour, and the
  quality KPIs;
* **heartbeats** of every vantage.

plus, rarely, every sample of a (terminal, hour) when several samples can share one interval (see
``intervals.pooling_keys``). Names are kept as code tables so arrays stay numeric; two readers may assign
different codes, the engine only ever compares names.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np

from slaprobe.model import Heartbeat, Outcome, ProbeKind, Sample
from slaprobe.sla.rollups import RollupSummary

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

    @staticmethod
    def from_series_rows(
        rows: Sequence[tuple[int, int, int | None, int | None, str]],
        series: dict[int, tuple[str, str, str]],
    ) -> SampleColumns:
        """Vectorised: rows of (series id, time_ns, sent, received, error) + series id -> names."""
        ids = sorted(series)
        terminals = sorted({series[i][0] for i in ids})
        vantages = sorted({series[i][1] for i in ids})
        t_code = {n: k for k, n in enumerate(terminals)}
        v_code = {n: k for k, n in enumerate(vantages)}
        k_code = {kind.value: k for k, kind in enumerate(KIND_CODES)}
        size = (max(ids) + 1) if ids else 1
        lut = np.full((size, 3), -1, dtype=np.int64)
        for i in ids:
            t, v, k = series[i]
            lut[i] = (t_code[t], v_code[v], k_code[k])
        if not rows:
            return SampleColumns.empty()
        sid, time_ns, sent, received, error = zip(*rows, strict=True)
        sid_a = np.array(sid, dtype=np.int64)
        known = (sid_a < size) & (lut[np.minimum(sid_a, size - 1), 0] >= 0)
        codes = lut[sid_a[known]]
        sent_a = np.array([x or 0 for x in sent], dtype=np.int64)[known]
        recv_a = np.array([x or 0 for x in received], dtype=np.int64)[known]
        unmeasured = np.isin(np.array(error, dtype=object)[known], list(UNMEASURED_ERRORS))
        measured = (sent_a > 0) & ~unmeasured
        return SampleColumns(
            terminals=tuple(terminals),
            vantages=tuple(vantages),
            t=codes[:, 0].astype(np.int32),
            v=codes[:, 1].astype(np.int32),
            k=codes[:, 2].astype(np.int8),
            time_ns=np.array(time_ns, dtype=np.int64)[known],
            sent=np.where(measured, sent_a, 0),
            received=np.where(measured, np.minimum(recv_a, sent_a), 0),
            measured=measured,
        )


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
class HeartbeatColumns:
    """Heartbeats reduced to what coverage needs (one row per probe host, cycle and cycle start).

    ``groups`` holds the cycle names exactly as stored (``"default/icmp"``, :func:`model.cycle_name`);
    the engine splits them into scheduling group and probe kind (:func:`model.split_cycle`).
    """

    vantages: tuple[str, ...]
    groups: tuple[str, ...]
    v: np.ndarray  # int32 code into vantages
    g: np.ndarray  # int32 code into groups
    time_ns: np.ndarray  # int64
    interval_s: np.ndarray  # float64
    trusted: np.ndarray  # bool: see heartbeat_columns
    distrust: np.ndarray | None = None  # int8 per row: why not trusted (DISTRUST_REASONS index; 0 = trusted)

    def __len__(self) -> int:
        return len(self.time_ns)


DISTRUST_REASONS: tuple[str, ...] = ("", "reference_failed", "unstored", "nothing_probed")
"""Why a heartbeat vouches for nothing, as outage evidence names it (index = ``distrust`` code)."""

HeartbeatRow = tuple[int, str, str, float, int, int, int, int, int]
"""(time_ns, vantage, group, interval_s, due, probed, reference_ok, reference_total, unstored)."""


def heartbeat_columns(rows: Iterable[HeartbeatRow]) -> HeartbeatColumns:
    """From :data:`HeartbeatRow` tuples (every store reader hands exactly these).

    A heartbeat is **trusted** when ``Heartbeat.healthy`` (its reference targets did not all fail, and
    the store refused none of its samples: ``unstored == 0``) and it probed something if anything was
    due. ``unstored`` is what makes "silence = answered" a proof: a cycle whose samples were not all
    stored cannot tell a lost lossy row from an answered probe, so it vouches for nothing.
    """
    cols = list(zip(*rows, strict=True)) or [()] * 9
    vantages, v = np.unique(np.array(cols[1], dtype=object).astype(str), return_inverse=True)
    groups, g = np.unique(np.array(cols[2], dtype=object).astype(str), return_inverse=True)
    return heartbeat_columns_from(
        tuple(str(x) for x in vantages),
        v,
        tuple(str(x) for x in groups),
        g,
        *(np.array(cols[i]) for i in (0, 3, 4, 5, 6, 7, 8)),
    )


def heartbeat_columns_from(
    vantages: tuple[str, ...],
    v: np.ndarray,
    groups: tuple[str, ...],
    g: np.ndarray,
    time_ns: np.ndarray,
    interval_s: np.ndarray,
    due: np.ndarray,
    probed: np.ndarray,
    reference_ok: np.ndarray,
    reference_total: np.ndarray,
    unstored: np.ndarray,
) -> HeartbeatColumns:
    """:func:`heartbeat_columns` from arrays (names already coded, ``vantages``/``groups`` sorted): for
    stores that read columns, not rows."""
    due, probed = np.asarray(due, dtype=np.int64), np.asarray(probed, dtype=np.int64)
    ref_ok, ref_total = np.asarray(reference_ok, dtype=np.int64), np.asarray(reference_total, dtype=np.int64)
    unstored = np.asarray(unstored, dtype=np.int64)
    ref_failed = (ref_total > 0) & (ref_ok == 0)
    healthy = ~ref_failed & (unstored == 0)  # Heartbeat.healthy
    idle = (due > 0) & (probed <= 0)
    distrust = np.where(ref_failed, 1, np.where(unstored > 0, 2, np.where(idle, 3, 0))).astype(np.int8)
    return HeartbeatColumns(
        vantages,
        groups,
        np.asarray(v).astype(np.int32),
        np.asarray(g).astype(np.int32),
        np.asarray(time_ns, dtype=np.int64),
        np.asarray(interval_s, dtype=np.float64),
        healthy & ((due <= 0) | (probed > 0)),
        distrust,
    )


def heartbeats_to_columns(heartbeats: Iterable[Heartbeat]) -> HeartbeatColumns:
    return heartbeat_columns(
        (
            h.time_ns,
            h.vantage,
            h.group,
            h.interval_s,
            h.due,
            h.probed,
            h.reference_ok,
            h.reference_total,
            h.unstored,
        )
        for h in heartbeats
    )


@dataclass(frozen=True, slots=True)
class SlaInputs:
    """Everything the pure engine needs from a store for ``[start_ns, end_ns)``."""

    start_ns: int
    end_ns: int
    problems: SampleColumns
    rollups: RollupSummary
    heartbeats: HeartbeatColumns
    details: SampleColumns = field(default_factory=SampleColumns.empty)


@runtime_checkable
class SlaSource(Protocol):
    """The read path each store implements for the SLA engine."""

    def problem_samples(self, start_ns: int, end_ns: int, kinds: Sequence[ProbeKind]) -> SampleColumns:
        """Samples of ``kinds`` with lost > 0 or not measured, start_ns <= time < end_ns."""
        ...

    def rollups(
        self,
        start_ns: int,
        end_ns: int,
        kinds: Sequence[ProbeKind],
        terminals: Sequence[str],
        period: tuple[int, int],
    ) -> RollupSummary:
        """Rollup rows of ``kinds`` and ``terminals`` with start_ns <= hour < end_ns, reduced
        (:class:`RollupReducer`); KPI sums over ``period`` (start_ns, end_ns)."""
        ...

    def sla_heartbeats(self, start_ns: int, end_ns: int) -> HeartbeatColumns:
        """Heartbeats with start_ns <= time < end_ns."""
        ...

    def hour_samples(self, keys: Sequence[tuple[str, int]], kinds: Sequence[ProbeKind]) -> SampleColumns:
        """Every sample of ``kinds`` of each (terminal, hour_ns) key."""
        ...

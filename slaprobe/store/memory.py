"""An in-memory store: the reference ``Store`` and ``SlaSource`` for tests, demos and ground truth.

It keeps every sample and heartbeat in lists and answers the SLA read path by plain filtering, so the
SQLite and InfluxDB read paths can be checked against the obvious implementation.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence

import numpy as np

from slaprobe.model import Heartbeat, ProbeKind, Sample
from slaprobe.sla.inputs import (
    HeartbeatColumns,
    SampleColumns,
    SampleColumnsBuilder,
    heartbeats_to_columns,
)
from slaprobe.sla.kpi import HOUR_NS, SCALARS, pack_hist, rollup_samples
from slaprobe.sla.rollups import RollupReducer, RollupSummary


class MemoryStore:
    def __init__(self, samples: Sequence[Sample] = (), heartbeats: Sequence[Heartbeat] = ()) -> None:
        self._samples: list[Sample] = list(samples)
        self._heartbeats: list[Heartbeat] = list(heartbeats)

    # ------------------------------------------------------------------ Store

    def write_samples(self, samples: Sequence[Sample]) -> None:
        self._samples.extend(samples)

    def write_heartbeats(self, heartbeats: Sequence[Heartbeat]) -> None:
        self._heartbeats.extend(heartbeats)

    def samples(
        self,
        start_ns: int,
        end_ns: int,
        terminals: Collection[str] | None = None,
        kinds: Collection[ProbeKind] | None = None,
    ) -> Iterator[Sample]:
        chosen = [
            s
            for s in self._samples
            if start_ns <= s.time_ns < end_ns
            and (terminals is None or s.terminal in terminals)
            and (kinds is None or s.kind in kinds)
        ]
        return iter(sorted(chosen, key=lambda s: s.time_ns))

    def heartbeats(self, start_ns: int, end_ns: int, vantage: str | None = None) -> Iterator[Heartbeat]:
        chosen = [
            h for h in self._heartbeats if start_ns <= h.time_ns < end_ns and vantage in (None, h.vantage)
        ]
        return iter(sorted(chosen, key=lambda h: h.time_ns))

    def close(self) -> None:
        pass

    # ------------------------------------------------------------------ SlaSource

    def problem_samples(self, start_ns: int, end_ns: int, kinds: Sequence[ProbeKind]) -> SampleColumns:
        b = SampleColumnsBuilder()
        for s in self._samples:
            if start_ns <= s.time_ns < end_ns and s.kind in kinds and (not s.measured or s.received < s.sent):
                b.add_sample(s)
        return b.build()

    def rollups(
        self,
        start_ns: int,
        end_ns: int,
        kinds: Sequence[ProbeKind],
        terminals: Sequence[str],
        period: tuple[int, int],
    ) -> RollupSummary:
        # deduplicate like a store with a unique (series, time) key would
        unique = {(s.terminal, s.vantage, s.kind, s.time_ns): s for s in self._samples}
        rows = rollup_samples(
            s
            for s in unique.values()
            if start_ns <= s.time_ns - s.time_ns % HOUR_NS < end_ns and s.kind in kinds
        )
        reducer = RollupReducer(start_ns, end_ns, kinds, terminals, period)
        most: dict[tuple[str, str, ProbeKind], int] = {}
        for (terminal, vantage, kind, _hour), row in rows.items():
            most[(terminal, vantage, kind)] = max(most.get((terminal, vantage, kind), 0), row.samples)
        inside = []
        for (terminal, vantage, kind, hour), row in sorted(rows.items()):
            t = reducer.terminal(terminal)
            v = reducer.vantage(vantage)
            # presence counts each hour at the series' largest hourly count (sla/rollups.py)
            reducer.add_presence(
                np.array([t]), np.array([v]), np.array([hour]), np.array([most[(terminal, vantage, kind)]])
            )
            if period[0] <= hour < period[1] and t >= 0:
                inside.append((t, row))
        if inside:
            reducer.add_scalars(
                np.array([t for t, _ in inside]),
                np.array([[getattr(r, n) for n in SCALARS] for _, r in inside]),
            )
            reducer.add_hists(
                np.array([t for t, _ in inside]),
                [pack_hist(r.rtt_hist) for _, r in inside],
                [pack_hist(r.jit_hist) for _, r in inside],
            )
        return reducer.build()

    def sla_heartbeats(self, start_ns: int, end_ns: int) -> HeartbeatColumns:
        return heartbeats_to_columns(self.heartbeats(start_ns, end_ns))

    def hour_samples(self, keys: Sequence[tuple[str, int]], kinds: Sequence[ProbeKind]) -> SampleColumns:
        wanted = set(keys)
        b = SampleColumnsBuilder()
        for s in self._samples:
            if s.kind in kinds and (s.terminal, s.time_ns - s.time_ns % HOUR_NS) in wanted:
                b.add_sample(s)
        return b.build()

"""The SLA engine's read path over InfluxDB (InfluxQL ``/query``, every generation), and its rollups.

What is asked of the server (DESIGN §7: push the filtering to the server, fetch only what can change a
verdict; measured on this machine for 1,820 terminals):

* problem rows: ``SELECT sent, received, error FROM <kind> WHERE time .. AND (lost > 0 OR sent = 0)
  GROUP BY terminal, vantage`` — the server scans, only the lossy/unsent rows travel;
* rollups: every point of ``sla_hourly`` in the window (one per terminal, vantage, kind and hour;
  1.35 M points for a month of 1,820 terminals). ``percentile()`` over raw samples was measured at
  ~4 minutes for a month and ``sum(*)`` over sparse per-bucket fields at 42 s, so the histograms travel
  as one hex string field per point and are summed here;
* heartbeats, and the samples of the few (terminal, hour) pairs that must be pooled.

``sla_hourly`` schema: tags ``terminal, vantage, kind``; integer fields ``samples, measured, sent,
received, rtt_n, jit_n, mos_n, mos_milli, y0_n, y0_ok``; string fields ``rtt_hist, jit_hist`` (hex of the
packed little-endian (u16 bucket, u32 count) pairs of ``sla/kpi.py``); timestamp = the UTC hour, ms
precision. Each point holds the hour's full totals, so writing it again overwrites it identically; the
journal's ``sla_hourly`` table is the source (``sla_journal.rollups_after``), and ``lab month`` writes
the same rows when it fills InfluxDB directly.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

import numpy as np

from slaprobe.model import NS_PER_MS, ProbeKind, Sample
from slaprobe.sla.inputs import (
    HeartbeatColumns,
    SampleColumns,
    SampleColumnsBuilder,
    heartbeat_columns,
)
from slaprobe.sla.kpi import HOUR_NS, SCALARS, RollupRow, pack_hist, rollup_samples
from slaprobe.sla.rollups import DAY_NS, RollupReducer, RollupSummary, hist_ranges
from slaprobe.store.influx import InfluxClient, quote_ident, quote_literal
from slaprobe.store.lineproto import HEARTBEAT_MEASUREMENT, series_key

ROLLUP_MEASUREMENT = "sla_hourly"
DAILY_MEASUREMENT = "sla_daily"
_TERMINALS_PER_QUERY = 50


def _key(measurement: str, row: RollupRow) -> str:
    tags = (("terminal", row.terminal), ("vantage", row.vantage), ("kind", row.kind.value))
    return series_key(measurement, tags)


def _hists(row: RollupRow) -> str:
    return f'rtt_hist="{pack_hist(row.rtt_hist).hex()}",jit_hist="{pack_hist(row.jit_hist).hex()}"'


def rollup_line(row: RollupRow) -> str:
    """One ``sla_hourly`` point in line protocol (ms precision)."""
    fields = ",".join(f"{name}={getattr(row, name)}i" for name in SCALARS)
    return f"{_key(ROLLUP_MEASUREMENT, row)} {fields},{_hists(row)} {row.hour_ns // NS_PER_MS}"


def daily_line(row: RollupRow) -> str:
    """One ``sla_daily`` point (``row.hour_ns`` is the UTC day start; histograms only)."""
    return f"{_key(DAILY_MEASUREMENT, row)} {_hists(row)} {row.hour_ns // NS_PER_MS}"


def rollup_lines(hourly: Iterable[RollupRow], daily: Iterable[RollupRow] = ()) -> Iterator[str]:
    for row in hourly:
        yield rollup_line(row)
    for row in daily:
        yield daily_line(row)


class InfluxRollupWriter:
    """Writes the rollups of sample batches that arrive in time order, whole hours at a time.

    Each call gets every sample of some hours (``lab month`` writes hour by hour); the hourly points are
    complete, the daily points carry the running total of their day and are overwritten as it fills.
    """

    def __init__(self, client: InfluxClient, batch: int = 20_000) -> None:
        self.client = client
        self.batch = batch
        self._days: dict[tuple, RollupRow] = {}

    def __call__(self, samples: Sequence[Sample]) -> None:
        hourly = rollup_samples(samples)
        touched = set()
        for (terminal, vantage, kind, hour), row in hourly.items():
            key = (terminal, vantage, kind, hour - hour % DAY_NS)
            day = self._days.get(key)
            if day is None:
                day = self._days[key] = RollupRow(terminal, vantage, kind, key[3])
            day.merge(row)
            touched.add(key)
        lines = list(rollup_lines(hourly.values(), (self._days[k] for k in sorted(touched))))
        for k in range(0, len(lines), self.batch):
            self.client.write(lines[k : k + self.batch])
        newest = max((k[3] for k in touched), default=0)
        for key in [k for k in self._days if k[3] < newest]:
            del self._days[key]  # days before the newest are complete


def _time_where(start_ns: int, end_ns: int) -> str:
    return f"time >= {int(start_ns)} AND time < {int(end_ns)}"


class InfluxSlaSource:
    """:class:`slaprobe.sla.inputs.SlaSource` over an :class:`~slaprobe.store.influx.InfluxClient`."""

    def __init__(self, client: InfluxClient) -> None:
        self.client = client

    def _sample_columns(self, queries: Iterable[tuple[ProbeKind, str]]) -> SampleColumns:
        b = SampleColumnsBuilder()
        for kind, q in queries:
            for series in self.client.query(q):
                tags = series.get("tags", {})
                terminal, vantage = tags.get("terminal", ""), tags.get("vantage", "")
                cols = series["columns"]
                it, isent, irecv, ierr = (cols.index(c) for c in ("time", "sent", "received", "error"))
                for v in series["values"]:
                    b.add(terminal, vantage, kind, int(v[it]), v[isent] or 0, v[irecv] or 0, v[ierr] or "ok")
        return b.build()

    def problem_samples(self, start_ns: int, end_ns: int, kinds: Sequence[ProbeKind]) -> SampleColumns:
        where = f"{_time_where(start_ns, end_ns)} AND (lost > 0 OR sent = 0)"
        return self._sample_columns(
            (
                k,
                f"SELECT sent, received, error FROM {quote_ident(k.measurement)} WHERE {where}"
                " GROUP BY terminal, vantage",
            )
            for k in kinds
        )

    def hour_samples(self, keys: Sequence[tuple[str, int]], kinds: Sequence[ProbeKind]) -> SampleColumns:
        by_hour: dict[int, list[str]] = {}
        for terminal, hour in keys:
            by_hour.setdefault(hour, []).append(terminal)
        queries = []
        for hour in sorted(by_hour):
            names = sorted(set(by_hour[hour]))
            for i in range(0, len(names), _TERMINALS_PER_QUERY):
                chunk = names[i : i + _TERMINALS_PER_QUERY]
                who = " OR ".join(f"terminal = {quote_literal(t)}" for t in chunk)
                where = f"{_time_where(hour, hour + HOUR_NS)} AND ({who})"
                queries.extend(
                    (
                        k,
                        f"SELECT sent, received, error FROM {quote_ident(k.measurement)} WHERE {where}"
                        " GROUP BY terminal, vantage",
                    )
                    for k in kinds
                )
        return self._sample_columns(queries)

    def rollups(
        self,
        start_ns: int,
        end_ns: int,
        kinds: Sequence[ProbeKind],
        terminals: Sequence[str],
        period: tuple[int, int],
    ) -> RollupSummary:
        reducer = RollupReducer(start_ns, end_ns, kinds, terminals, period)
        which = " OR ".join(f"kind = {quote_literal(k.value)}" for k in kinds)
        hourly = quote_ident(ROLLUP_MEASUREMENT)
        # presence: one small field per hourly point
        where = f"{_time_where(start_ns, end_ns)} AND ({which})"
        for series in self.client.query(
            f"SELECT samples FROM {hourly} WHERE {where} GROUP BY terminal, vantage"
        ):
            tags = series.get("tags", {})
            t, v = reducer.terminal(tags.get("terminal", "")), reducer.vantage(tags.get("vantage", ""))
            if t < 0:
                continue
            a = np.array(series["values"], dtype=np.int64).reshape(-1, 2)
            reducer.add_presence(np.full(len(a), t), np.full(len(a), v), a[:, 0], a[:, 1])
        # the period's counters, summed by the server
        sums = ", ".join(f"sum({c})" for c in SCALARS)
        q = f"SELECT {sums} FROM {hourly} WHERE {_time_where(*period)} AND ({which}) GROUP BY terminal"
        for series in self.client.query(q):
            t = reducer.terminal(series.get("tags", {}).get("terminal", ""))
            for v in series["values"]:
                reducer.add_scalars(np.array([t]), np.array([[x or 0 for x in v[1:]]]))
        # histograms: whole UTC days from sla_daily, the period's edges from sla_hourly
        days, edges = hist_ranges(*period)
        queries = [(DAILY_MEASUREMENT, days)] if days else []
        queries += [(ROLLUP_MEASUREMENT, edge) for edge in edges]
        for measurement, (a_ns, b_ns) in queries:
            q = (
                f"SELECT rtt_hist, jit_hist FROM {quote_ident(measurement)} WHERE {_time_where(a_ns, b_ns)}"
                f" AND ({which}) GROUP BY terminal"
            )
            for series in self.client.query(q):
                t = reducer.terminal(series.get("tags", {}).get("terminal", ""))
                values = series["values"]
                reducer.add_hists(
                    np.full(len(values), t),
                    [bytes.fromhex(v[1] or "") for v in values],
                    [bytes.fromhex(v[2] or "") for v in values],
                )
        return reducer.build()

    def sla_heartbeats(self, start_ns: int, end_ns: int) -> HeartbeatColumns:
        fields = "interval_s, due, probed, reference_ok, reference_total"
        q = (
            f"SELECT {fields} FROM {quote_ident(HEARTBEAT_MEASUREMENT)} WHERE {_time_where(start_ns, end_ns)}"
            ' GROUP BY vantage, "group"'
        )

        def rows() -> Iterator[tuple[int, str, str, float, int, int, int, int]]:
            for series in self.client.query(q):
                tags = series.get("tags", {})
                vantage, group = tags.get("vantage", ""), tags.get("group", "")
                for t, ivl, due, probed, ok, total in series["values"]:
                    yield (
                        int(t),
                        vantage,
                        group,
                        float(ivl or 0.0),
                        due or 0,
                        probed or 0,
                        ok or 0,
                        total or 0,
                    )

        return heartbeat_columns(rows())

"""The SLA engine's read path over the SQLite journal (:class:`JournalSlaSource`).

Reads: problem rows through a covering partial index (``samples_problem``: ``lost > 0 OR sent = 0``, a
few per mille of the rows, read without touching the table); presence, period sums and histograms of
the rollups (``store/rollup_tables.py`` keeps them); heartbeats (with ``unstored``); and every sample of
the few (terminal, hour) pairs that must be pooled. All come back columnar.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

import numpy as np

from slaprobe.model import ProbeKind
from slaprobe.sla.inputs import (
    KIND_CODES,
    HeartbeatColumns,
    HeartbeatRow,
    SampleColumns,
    heartbeat_columns,
)
from slaprobe.sla.kpi import HOUR_NS, SCALARS
from slaprobe.sla.rollups import RollupReducer, RollupRows, RollupSummary, hist_ranges
from slaprobe.store.rollup_tables import (
    ROLLUP_SCHEMA,
    SHIPPER_ROLLUP_CURSOR,
    RollupError,
    canonical_series,
    create_rollup_table,
    merge_split_rollups,
    rollups_after,
    update_rollups,
)

_CHUNK = 200_000


def ensure_rollups(journal) -> int:  # type: ignore[no-untyped-def]
    """Roll up samples stored before the rollup tables existed (once); see ``JournalStore.ensure_rollups``."""
    return journal.ensure_rollups()


class JournalSlaSource:
    """:class:`slaprobe.sla.inputs.SlaSource` over a :class:`~slaprobe.store.journal.JournalStore`."""

    def __init__(self, journal) -> None:  # type: ignore[no-untyped-def]
        self.journal = journal
        self._db: sqlite3.Connection = journal._db
        self._lock = journal._lock
        journal.ensure_rollups()

    def _series(self, kinds: Sequence[ProbeKind]) -> dict[int, tuple[str, str, str]]:
        marks = ", ".join("?" * len(kinds))
        with self._lock:
            rows = self._db.execute(
                f"SELECT id, terminal, vantage, kind FROM series WHERE kind IN ({marks})",
                [k.value for k in kinds],
            ).fetchall()
        return {r[0]: (r[1], r[2], r[3]) for r in rows}

    def _series_codes(
        self, kinds: Sequence[ProbeKind], reducer: RollupReducer
    ) -> tuple[np.ndarray, np.ndarray]:
        """Lookup arrays series id -> (terminal row, vantage code) of the reducer (-1: not wanted)."""
        series = self._series(kinds)
        size = max(series, default=0) + 1
        t = np.full(size, -1, dtype=np.int64)
        v = np.full(size, -1, dtype=np.int64)
        for sid, (terminal, vantage, _kind) in series.items():
            t[sid] = reducer.terminal(terminal)
            v[sid] = reducer.vantage(vantage)
        return t, v

    def _columns(self, sql: str, args: Sequence, kinds: Sequence[ProbeKind]) -> SampleColumns:
        series = self._series(kinds)
        with self._lock:
            rows = self._db.execute(sql, args).fetchall()
        return SampleColumns.from_series_rows(rows, series)

    def problem_samples(self, start_ns: int, end_ns: int, kinds: Sequence[ProbeKind]) -> SampleColumns:
        sql = (
            "SELECT series, time_ns, sent, received, error FROM samples INDEXED BY samples_problem"
            " WHERE time_ns >= ? AND time_ns < ? AND (lost > 0 OR sent = 0)"
        )
        return self._columns(sql, (start_ns, end_ns), kinds)

    def hour_samples(self, keys: Sequence[tuple[str, int]], kinds: Sequence[ProbeKind]) -> SampleColumns:
        """Every sample of each (terminal, hour) key, one query per hour.

        The journal has no (series, time) index, so an hour's rows are found by time and filtered by
        series: the cost is the rows of the whole hour (every terminal), paid once per hour however many
        terminals of that hour are asked for, not once per key.
        """
        series = self._series(kinds)
        by_terminal: dict[str, list[int]] = {}
        for sid, (terminal, _v, _k) in series.items():
            by_terminal.setdefault(terminal, []).append(sid)
        by_hour: dict[int, list[int]] = {}
        for terminal, hour in keys:
            by_hour.setdefault(hour, []).extend(by_terminal.get(terminal, []))
        limit = max(1, self._db.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) - 2)
        rows: list[tuple] = []
        for hour, sids in sorted(by_hour.items()):
            wanted = sorted(set(sids))
            for k in range(0, len(wanted), limit):
                chunk = wanted[k : k + limit]
                sql = (
                    "SELECT series, time_ns, sent, received, error FROM samples"
                    f" WHERE time_ns >= ? AND time_ns < ? AND series IN ({', '.join('?' * len(chunk))})"
                )
                with self._lock:
                    rows.extend(self._db.execute(sql, (hour, hour + HOUR_NS, *chunk)).fetchall())
        return SampleColumns.from_series_rows(rows, series)

    def rollups(
        self,
        start_ns: int,
        end_ns: int,
        kinds: Sequence[ProbeKind],
        terminals: Sequence[str],
        period: tuple[int, int],
    ) -> RollupSummary:
        reducer = RollupReducer(start_ns, end_ns, kinds, terminals, period)
        t_of, v_of = self._series_codes(kinds, reducer)
        n = len(SCALARS)
        with self._lock:
            db = self._db
            # every present hour counts at its series' largest hourly count (the InfluxDB path can only
            # know that cheaply, and both must decide pooling alike)
            most = np.zeros(len(t_of), dtype=np.int64)
            for sid, top in db.execute(
                "SELECT series, max(samples) FROM sla_hourly WHERE hour_ns >= ? AND hour_ns < ?"
                " GROUP BY series",
                (start_ns, end_ns),
            ):
                if sid < len(most):
                    most[sid] = top
            cursor = db.execute(
                "SELECT series, hour_ns FROM sla_hourly WHERE hour_ns >= ? AND hour_ns < ?",
                (start_ns, end_ns),
            )
            while batch := cursor.fetchmany(_CHUNK):
                a = np.array(batch, dtype=np.int64)
                sid = np.where(a[:, 0] < len(t_of), a[:, 0], 0)
                t = np.where(a[:, 0] < len(t_of), t_of[sid], -1)
                reducer.add_presence(t, v_of[sid], a[:, 1], most[sid])
            sums = db.execute(
                f"SELECT series, {', '.join(f'SUM({c})' for c in SCALARS)} FROM sla_hourly"
                " WHERE hour_ns >= ? AND hour_ns < ? GROUP BY series",
                period,
            ).fetchall()
            if sums:
                a = np.array(sums, dtype=np.int64).reshape(len(sums), n + 1)
                ok = a[:, 0] < len(t_of)
                reducer.add_scalars(t_of[a[ok, 0]], a[ok, 1:])
            days, edges = hist_ranges(*period)
            queries = [("sla_daily", "day_ns", days)] if days else []
            queries += [("sla_hourly", "hour_ns", edge) for edge in edges]
            for table, col, (a_ns, b_ns) in queries:
                cursor = db.execute(
                    f"SELECT series, rtt_hist, jit_hist FROM {table} WHERE {col} >= ? AND {col} < ?",
                    (a_ns, b_ns),
                )
                while batch := cursor.fetchmany(_CHUNK):
                    sid = np.fromiter((r[0] for r in batch), dtype=np.int64, count=len(batch))
                    t = np.where(sid < len(t_of), t_of[np.minimum(sid, len(t_of) - 1)], -1)
                    reducer.add_hists(t, [r[1] for r in batch], [r[2] for r in batch])
        return reducer.build()

    def sla_heartbeats(self, start_ns: int, end_ns: int) -> HeartbeatColumns:
        return heartbeat_columns(self.heartbeat_rows(start_ns, end_ns))

    def heartbeat_rows(self, start_ns: int, end_ns: int) -> list[HeartbeatRow]:
        """Heartbeats of ``[start_ns, end_ns)`` as ``inputs.HeartbeatRow`` tuples."""
        with self._lock:
            # a read-only journal from before the column has no refused samples on record: 0
            unstored = "unstored" if "unstored" in self.journal._heartbeat_table_columns() else "0"
            sql = (
                "SELECT time_ns, vantage, grp, interval_s, due, probed, reference_ok, reference_total,"
                f" {unstored} FROM heartbeats WHERE time_ns >= ? AND time_ns < ?"
            )
            return self._db.execute(sql, (start_ns, end_ns)).fetchall()

    # ------------------------------------------------------------ parts of a window (tiered reads)
    def fold_rollups(self, ranges: Sequence[tuple[int, int]], reducer: RollupReducer) -> None:
        """Fold the hourly rollup rows of hours in ``ranges`` into ``reducer`` (``RollupReducer.add_rows``):
        the journal's share of a window whose other days the columnar tier holds."""
        kinds = tuple(ProbeKind(k) for k in reducer.kinds)
        t_of, v_of = self._series_codes(kinds, reducer)
        k_of = np.zeros(len(t_of), np.int64)
        for sid, (_t, _v, kind) in self._series(kinds).items():
            k_of[sid] = KIND_CODES.index(ProbeKind(kind))
        with self._lock:
            for a_ns, b_ns in ranges:
                rows = self._db.execute(
                    f"SELECT series, hour_ns, {', '.join(SCALARS)} FROM sla_hourly"
                    " WHERE hour_ns >= ? AND hour_ns < ?",
                    (a_ns, b_ns),
                ).fetchall()
                if not rows:
                    continue
                a = np.array(rows, dtype=np.int64).reshape(len(rows), len(SCALARS) + 2)
                sid = np.where(a[:, 0] < len(t_of), a[:, 0], 0)
                t = np.where(a[:, 0] < len(t_of), t_of[sid], -1)
                reducer.add_rows(
                    RollupRows.from_rows(t, v_of[sid], k_of[sid], a[:, 1], a[:, 2:], reducer.period)
                )

    def add_hists(self, ranges: Sequence[tuple[int, int]], reducer: RollupReducer) -> None:
        """Add the hourly histograms of hours in ``ranges`` to ``reducer`` (its terminals and kinds)."""
        t_of, _ = self._series_codes(tuple(ProbeKind(k) for k in reducer.kinds), reducer)
        with self._lock:
            for a_ns, b_ns in ranges:
                cursor = self._db.execute(
                    "SELECT series, rtt_hist, jit_hist FROM sla_hourly WHERE hour_ns >= ? AND hour_ns < ?",
                    (a_ns, b_ns),
                )
                while batch := cursor.fetchmany(_CHUNK):
                    sid = np.fromiter((r[0] for r in batch), dtype=np.int64, count=len(batch))
                    t = np.where(sid < len(t_of), t_of[np.minimum(sid, len(t_of) - 1)], -1)
                    reducer.add_hists(t, [r[1] for r in batch], [r[2] for r in batch])


__all__ = [
    "ROLLUP_SCHEMA",
    "SHIPPER_ROLLUP_CURSOR",
    "JournalSlaSource",
    "RollupError",
    "canonical_series",
    "create_rollup_table",
    "ensure_rollups",
    "merge_split_rollups",
    "rollups_after",
    "update_rollups",
]

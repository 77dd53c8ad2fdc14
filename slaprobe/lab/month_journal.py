"""A synthetic month into the SQLite journal in bulk: rows from columns, rollups from columns.

Why not ``JournalStore.write_samples``: it takes ``Sample`` objects and rolls each one up in Python
(``RollupRow.add``), which is most of the hour a 1,820-terminal month used to take. Here a UTC day of one
vantage is one transaction: the series rows the daemon's writer would create (same key, same tags, in
order of first appearance), the sample rows through ``executemany`` in chunks, and the ``sla_hourly`` /
``sla_daily`` rows computed from the columns by ``sla.rollup_columns`` (the vectorised twin of
``kpi.RollupRow.add`` that the columnar tier's writer uses too). Then the day's heartbeats, in a second
transaction, as the daemon writes a cycle's heartbeat after its samples.
``tests/lab/test_month_bulk.py`` compares every sample, heartbeat and rollup row with the per-sample path.

A fresh journal only (``lab month`` refuses an existing one): each (hour, series) rollup row is
inserted once, and a second insert of the same key fails loudly instead of double counting.
"""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np

from slaprobe.lab.month_bulk import FLOAT_COLUMNS, INT_COLUMNS, KINDS, OUTCOMES, SampleArrays
from slaprobe.model import Heartbeat
from slaprobe.sla.kpi import SCALARS
from slaprobe.sla.rollup_columns import daily_hists, hourly_rollups
from slaprobe.store.journal import HEARTBEAT_COLUMNS as _HB_COLUMNS
from slaprobe.store.journal import STORED_COLUMNS, JournalStore
from slaprobe.store.rollup_tables import canonical_series

CHUNK = 100_000  # rows per executemany: bounded memory (a 20,000-terminal day is 29 M rows)
_ERROR_NAMES = np.array([o.value for o in OUTCOMES], dtype=object)


class JournalBulkWriter:
    """Writes :class:`SampleArrays` days and their heartbeats into a journal ``lab month`` created."""

    def __init__(self, path: str | Path, tags: Mapping[str, Mapping[str, str]]) -> None:
        with JournalStore(path):  # the schema, exactly as the daemon's journal has it
            pass
        self.path = Path(path)
        self._tags = dict(tags)
        self._db = sqlite3.connect(self.path, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._series: dict[tuple[str, ...], int] = {}

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> JournalBulkWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---------------------------------------------------------------- samples
    def write(self, arrays: SampleArrays, heartbeats: Sequence[Heartbeat]) -> None:
        """One batch (a UTC day of one vantage): samples and rollups, then the heartbeats."""
        if len(arrays):
            db = self._db
            db.execute("BEGIN")
            try:
                series = self._series_ids(arrays)
                sql = (
                    f"INSERT INTO samples({', '.join(STORED_COLUMNS)})"
                    f" VALUES ({', '.join('?' * len(STORED_COLUMNS))})"
                )
                for lo in range(0, len(arrays), CHUNK):
                    db.executemany(sql, _rows(arrays, series, lo, min(lo + CHUNK, len(arrays))))
                last_id = db.execute("SELECT last_insert_rowid()").fetchone()[0]
                canonical = canonical_series(db, np.unique(series).tolist())
                canon = np.array([canonical.get(s, s) for s in series.tolist()], dtype=np.int64)
                _insert_rollups(db, arrays, canon, last_id)
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                self._series.clear()
                raise
        if heartbeats:
            self._write_heartbeats(heartbeats)

    def _series_ids(self, arrays: SampleArrays) -> np.ndarray:
        """Each row's series id; new series inserted in order of first appearance (the writer's order)."""
        combo = arrays.terminal.astype(np.int64) * len(KINDS) + arrays.kind
        uniq, first, inverse = np.unique(combo, return_index=True, return_inverse=True)
        ids = np.empty(len(uniq), dtype=np.int64)
        for j in np.argsort(first, kind="stable").tolist():
            term = arrays.terminals[int(uniq[j]) // len(KINDS)]
            kind = KINDS[int(uniq[j]) % len(KINDS)]
            t = self._tags.get(term, {})
            key = (
                term,
                arrays.vantage,
                kind.value,
                *(t.get(c, "") for c in ("carrier", "region", "level", "tier")),
            )
            sid = self._series.get(key)
            if sid is None:
                self._db.execute(
                    "INSERT OR IGNORE INTO series(terminal, vantage, kind, carrier, region, level, tier)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?)",
                    key,
                )
                sid = self._db.execute(
                    "SELECT id FROM series WHERE terminal=? AND vantage=? AND kind=? AND carrier=?"
                    " AND region=? AND level=? AND tier=?",
                    key,
                ).fetchone()[0]
                self._series[key] = sid
            ids[j] = sid
        return ids[inverse.ravel()]

    def _write_heartbeats(self, heartbeats: Sequence[Heartbeat]) -> None:
        sql = f"INSERT INTO heartbeats({', '.join(_HB_COLUMNS)}) VALUES ({', '.join('?' * len(_HB_COLUMNS))})"
        rows = [
            (
                h.time_ns, h.vantage, h.group, h.interval_s, h.due, h.probed, h.late, h.skipped,
                h.duration_s, h.reference_ok, h.reference_total, h.unstored,
            )
            for h in heartbeats
        ]  # fmt: skip
        self._db.execute("BEGIN")
        try:
            self._db.executemany(sql, rows)
            self._db.execute("COMMIT")
        except BaseException:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise


def _nullable(values: np.ndarray) -> list:
    out = values.astype(object)
    out[np.isnan(values)] = None
    return out.tolist()


def _rows(arrays: SampleArrays, series: np.ndarray, lo: int, hi: int) -> Iterator[tuple]:
    """Rows ``lo:hi`` in ``STORED_COLUMNS`` order: time_ns, series, lost, error, the Sample values."""
    sent, received = arrays.ints["sent"][lo:hi], arrays.ints["received"][lo:hi]
    by_name: dict[str, object] = {c: arrays.ints[c][lo:hi].tolist() for c in INT_COLUMNS}
    by_name.update({c: _nullable(arrays.float_column(c)[lo:hi]) for c in FLOAT_COLUMNS})
    by_name["malformed_reason"] = itertools.repeat(None)
    columns = [
        arrays.time_ns[lo:hi].tolist(),
        series[lo:hi].tolist(),
        np.maximum(sent - received, 0).tolist(),
        _ERROR_NAMES[arrays.error[lo:hi]].tolist(),
        *(by_name[c] for c in STORED_COLUMNS[4:]),
    ]
    return zip(*columns, strict=False)  # type: ignore[call-overload]  # malformed_reason repeats


# ---------------------------------------------------------------- rollups
def _insert_rollups(db: sqlite3.Connection, arrays: SampleArrays, canon: np.ndarray, last_id: int) -> None:
    """``sla_hourly`` / ``sla_daily`` rows of the batch by ``sla.rollup_columns`` (the bulk definition
    every columnar producer uses), keyed by canonical series as ``rollup_tables.update_rollups`` keys them."""
    f = arrays.float_column
    hourly = hourly_rollups(
        canon, arrays.time_ns, arrays.ints["sent"], arrays.ints["received"], _ERROR_NAMES[arrays.error],
        f("rtt_avg_ms"), f("jitter_ms"), f("pdv_ms"), f("mos"),
    )  # fmt: skip
    cols = ("hour_ns", "series", *SCALARS, "rtt_hist", "jit_hist", "last_id")
    db.executemany(
        f"INSERT INTO sla_hourly({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
        zip(
            hourly.time_ns.tolist(),
            hourly.key.tolist(),
            *hourly.scalars.T.tolist(),
            hourly.rtt_hist,
            hourly.jit_hist,
            itertools.repeat(last_id),
            strict=False,
        ),
    )
    daily = daily_hists(hourly)
    db.executemany(
        "INSERT INTO sla_daily(day_ns, series, rtt_hist, jit_hist, last_id) VALUES (?, ?, ?, ?, ?)",
        zip(
            daily.time_ns.tolist(),
            daily.key.tolist(),
            daily.rtt_hist,
            daily.jit_hist,
            itertools.repeat(last_id),
            strict=False,
        ),
    )

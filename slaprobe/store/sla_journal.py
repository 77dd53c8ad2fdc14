"""The SLA engine's read path over the SQLite journal, and the hourly rollup table it keeps.

Rollups (``sla_hourly``): one row per (series, UTC hour) with the additive counters and packed
histograms of ``sla/kpi.py``. ``JournalStore.write_samples`` calls :func:`update_rollups` inside the same
transaction as the sample insert, so a committed sample is always counted exactly once. Journals that
held samples before the table existed are rolled up once, lazily, by :func:`ensure_rollups` (the meta key
``sla_rollup_from_id`` marks the first sample id the write path covered).

Reads (:class:`JournalSlaSource`): problem rows through the journal's partial index
(``lost > 0 OR sent = 0``), rollups and heartbeats by time range, and every sample of a few
(terminal, hour) pairs when intervals must be pooled. All three come back columnar.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence

from slaprobe.model import Heartbeat, ProbeKind, Sample
from slaprobe.sla.inputs import RollupColumns, RollupColumnsBuilder, SampleColumns, SampleColumnsBuilder
from slaprobe.sla.kpi import HOUR_NS, SCALARS, RollupRow, pack_hist, unpack_hist

ROLLUP_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS sla_hourly (
    series INTEGER NOT NULL,
    hour_ns INTEGER NOT NULL,
    {", ".join(f"{c} INTEGER NOT NULL DEFAULT 0" for c in SCALARS)},
    rtt_hist BLOB NOT NULL DEFAULT x'',
    jit_hist BLOB NOT NULL DEFAULT x'',
    last_id INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (series, hour_ns)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS sla_hourly_hour ON sla_hourly(hour_ns);
CREATE INDEX IF NOT EXISTS sla_hourly_last ON sla_hourly(last_id);
"""
_ROLLUP_COLS = ("series", "hour_ns", *SCALARS, "rtt_hist", "jit_hist")
_WRITE_COLS = (*_ROLLUP_COLS, "last_id")
_FROM_KEY = "sla_rollup_from_id"


def create_rollup_table(db: sqlite3.Connection) -> None:
    """Create the table; if samples already exist, mark them as not rolled up yet (see module doc)."""
    exists = db.execute("SELECT 1 FROM sqlite_master WHERE name = 'sla_hourly'").fetchone()
    db.executescript(ROLLUP_SCHEMA)
    if not exists:
        first_new = db.execute("SELECT coalesce(max(id), 0) + 1 FROM samples").fetchone()[0]
        db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (_FROM_KEY, str(first_new)))


def _merge_rows(db: sqlite3.Connection, rows: dict[tuple[int, int], RollupRow], last_id: int) -> None:
    keys = list(rows)
    for start in range(0, len(keys), 400):
        chunk = keys[start : start + 400]
        values = ", ".join("(?, ?)" for _ in chunk)
        args = [x for key in chunk for x in key]
        for found in db.execute(
            f"SELECT {', '.join(_ROLLUP_COLS)} FROM sla_hourly WHERE (series, hour_ns) IN (VALUES {values})",
            args,
        ):
            row = rows[(found[0], found[1])]
            old = RollupRow("", "", ProbeKind.ICMP, found[1])
            for name, value in zip(SCALARS, found[2 : 2 + len(SCALARS)], strict=True):
                setattr(old, name, value)
            old.rtt_hist = unpack_hist(found[-2])
            old.jit_hist = unpack_hist(found[-1])
            row.merge(old)
    db.executemany(
        f"INSERT OR REPLACE INTO sla_hourly({', '.join(_WRITE_COLS)})"
        f" VALUES ({', '.join('?' * len(_WRITE_COLS))})",
        [
            (
                sid,
                hour,
                *(getattr(r, n) for n in SCALARS),
                pack_hist(r.rtt_hist),
                pack_hist(r.jit_hist),
                last_id,
            )
            for (sid, hour), r in rows.items()
        ],
    )


def update_rollups(db: sqlite3.Connection, series_ids: Sequence[int], samples: Sequence[Sample]) -> None:
    """Add a batch to the hourly rollups (call inside the batch's transaction, right after the insert).

    Each touched row records the batch's last sample id (``last_id``), so a shipper can forward the rows
    that changed after its cursor (:func:`rollups_after`).
    """
    rows: dict[tuple[int, int], RollupRow] = {}
    for sid, s in zip(series_ids, samples, strict=True):
        hour = s.time_ns - s.time_ns % HOUR_NS
        row = rows.get((sid, hour))
        if row is None:
            row = rows[(sid, hour)] = RollupRow("", "", s.kind, hour)
        row.add(s)
    last_id = db.execute("SELECT last_insert_rowid()").fetchone()[0]
    _merge_rows(db, rows, last_id)


def ensure_rollups(journal) -> int:  # type: ignore[no-untyped-def]
    """Roll up samples stored before the rollup table existed (once); returns how many were added."""
    from slaprobe.store.journal import _SAMPLE_SELECT, _row_to_sample

    db = journal._db
    with journal._lock:
        row = db.execute("SELECT value FROM meta WHERE key = ?", (_FROM_KEY,)).fetchone()
        upto = int(row[0]) if row else 0
        if upto <= 1:
            return 0
        done = 0
        db.execute("BEGIN")
        try:
            cursor = db.execute(
                f"{_SAMPLE_SELECT.replace('SELECT s.id', 'SELECT s.series, s.id', 1)} WHERE s.id < ?", (upto,)
            )
            while batch := cursor.fetchmany(50_000):
                update_rollups(db, [r[0] for r in batch], [_row_to_sample(r[1:]) for r in batch])
                done += len(batch)
            db.execute("UPDATE meta SET value = '0' WHERE key = ?", (_FROM_KEY,))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
    return done


def rollups_after(journal, after_id: int, upto_id: int | None = None) -> tuple[list[RollupRow], int]:  # type: ignore[no-untyped-def]
    """Rollup rows last changed by samples with after_id < id <= upto_id (default: all), and the cursor.

    For the InfluxDB shipper: write them with ``influx_read.rollup_lines``; each point carries the hour's
    full totals, so re-sending one simply overwrites it. Ranges are by sample id, never cut inside one
    batch's rows, so advancing the cursor to the returned value skips nothing.
    """
    n = len(SCALARS)
    cols = ", ".join("h." + c for c in _ROLLUP_COLS[1:])
    with journal._lock:
        if upto_id is None:
            upto_id = journal._db.execute("SELECT coalesce(max(last_id), 0) FROM sla_hourly").fetchone()[0]
        rows = journal._db.execute(
            f"SELECT r.terminal, r.vantage, r.kind, {cols} FROM sla_hourly h JOIN series r ON r.id = h.series"
            " WHERE h.last_id > ? AND h.last_id <= ? ORDER BY h.last_id",
            (after_id, upto_id),
        ).fetchall()
    out = []
    for r in rows:
        row = RollupRow(r[0], r[1], ProbeKind(r[2]), r[3])
        for name, value in zip(SCALARS, r[4 : 4 + n], strict=True):
            setattr(row, name, value)
        row.rtt_hist = unpack_hist(r[4 + n])
        row.jit_hist = unpack_hist(r[5 + n])
        out.append(row)
    return out, max(after_id, upto_id)


class RollupError(Exception):
    """The journal's rollups cannot be brought up to date (read-only journal with old samples)."""


class JournalSlaSource:
    """:class:`slaprobe.sla.inputs.SlaSource` over a :class:`~slaprobe.store.journal.JournalStore`."""

    def __init__(self, journal) -> None:  # type: ignore[no-untyped-def]
        self.journal = journal
        self._db: sqlite3.Connection = journal._db
        self._lock = journal._lock
        try:
            ensure_rollups(journal)
        except sqlite3.OperationalError as exc:
            raise RollupError(
                f"{journal.path}: samples stored before the SLA rollups existed must be rolled up once;"
                f" open the journal writable ({exc})"
            ) from exc

    def _series(self, kinds: Sequence[ProbeKind]) -> dict[int, tuple[str, str, str]]:
        marks = ", ".join("?" * len(kinds))
        with self._lock:
            rows = self._db.execute(
                f"SELECT id, terminal, vantage, kind FROM series WHERE kind IN ({marks})",
                [k.value for k in kinds],
            ).fetchall()
        return {r[0]: (r[1], r[2], r[3]) for r in rows}

    def _columns(self, sql: str, args: Sequence, kinds: Sequence[ProbeKind]) -> SampleColumns:
        series = self._series(kinds)
        b = SampleColumnsBuilder()
        with self._lock:
            rows = self._db.execute(sql, args).fetchall()
        for sid, time_ns, sent, received, error in rows:
            info = series.get(sid)
            if info is not None:
                b.add(info[0], info[1], ProbeKind(info[2]), time_ns, sent or 0, received or 0, error)
        return b.build()

    def problem_samples(self, start_ns: int, end_ns: int, kinds: Sequence[ProbeKind]) -> SampleColumns:
        sql = (
            "SELECT series, time_ns, sent, received, error FROM samples INDEXED BY samples_bad"
            " WHERE time_ns >= ? AND time_ns < ? AND (lost > 0 OR sent = 0)"
        )
        return self._columns(sql, (start_ns, end_ns), kinds)

    def hour_samples(self, keys: Sequence[tuple[str, int]], kinds: Sequence[ProbeKind]) -> SampleColumns:
        series = self._series(kinds)
        by_terminal: dict[str, list[int]] = {}
        for sid, (terminal, _v, _k) in series.items():
            by_terminal.setdefault(terminal, []).append(sid)
        b = SampleColumnsBuilder()
        for terminal, hour in keys:
            sids = by_terminal.get(terminal, [])
            if not sids:
                continue
            sql = (
                "SELECT series, time_ns, sent, received, error FROM samples"
                f" WHERE time_ns >= ? AND time_ns < ? AND series IN ({', '.join('?' * len(sids))})"
            )
            with self._lock:
                rows = self._db.execute(sql, (hour, hour + HOUR_NS, *sids)).fetchall()
            for sid, time_ns, sent, received, error in rows:
                t, v, k = series[sid]
                b.add(t, v, ProbeKind(k), time_ns, sent or 0, received or 0, error)
        return b.build()

    def rollups(self, start_ns: int, end_ns: int, kinds: Sequence[ProbeKind]) -> RollupColumns:
        series = self._series(kinds)
        b = RollupColumnsBuilder()
        sql = (
            f"SELECT {', '.join(_ROLLUP_COLS)} FROM sla_hourly WHERE hour_ns >= ? AND hour_ns < ?"
            " ORDER BY series, hour_ns"
        )
        n = len(SCALARS)
        with self._lock:
            cursor = self._db.execute(sql, (start_ns, end_ns))
            while batch := cursor.fetchmany(100_000):
                for r in batch:
                    info = series.get(r[0])
                    if info is not None:
                        b.add(info[0], info[1], info[2], r[1], r[2 : 2 + n], r[-2], r[-1])
        return b.build()

    def sla_heartbeats(self, start_ns: int, end_ns: int) -> Iterator[Heartbeat]:
        return self.journal.heartbeats(start_ns, end_ns)


__all__ = [
    "ROLLUP_SCHEMA",
    "JournalSlaSource",
    "RollupError",
    "create_rollup_table",
    "ensure_rollups",
    "rollups_after",
    "update_rollups",
]

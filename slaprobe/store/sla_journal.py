"""The SLA engine's side of the SQLite journal: the rollup tables it keeps, and its read path.

Rollups (``sla/kpi.py`` defines the numbers):

* ``sla_hourly``: per (UTC hour, series) the additive counters and packed RTT/jitter histograms;
* ``sla_daily``: per (UTC day, series) the same histograms summed over the day, so a month's
  percentiles read ~30 small rows per series instead of 744 (``sla/rollups.py``).

The ``series`` of a rollup row is the *canonical* series of its (terminal, vantage, kind): the lowest
series id of that triple. A terminal re-tagged by an inventory reload gets a second series row for its
samples, but its rollups stay one row per (terminal, vantage, kind) and hour, exactly as InfluxDB keys
the shipped ``sla_hourly`` / ``sla_daily`` points (tags terminal, vantage, kind); two rows there would
overwrite each other and the stores would disagree.

``JournalStore.write_samples`` calls :func:`update_rollups` inside the batch's transaction, so a
committed sample is counted exactly once. Each touched row records the batch's last sample id
(``last_id``): the InfluxDB shipper forwards the rows that changed behind its cursor
(:func:`rollups_after`). Journals holding samples from before these tables existed are rolled up once,
lazily (:func:`ensure_rollups`; meta key ``sla_rollup_from_id`` = first sample id the write path saw).
Primary keys lead with the time so a month is one contiguous range of each table.

Reads (:class:`JournalSlaSource`): problem rows through a covering partial index
(``samples_problem``: ``lost > 0 OR sent = 0``, a few per mille of the rows, read without touching the
table); presence, period sums and histograms of the rollups; heartbeats (with ``unstored``); and every
sample of the few (terminal, hour) pairs that must be pooled. All come back columnar.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

import numpy as np

from slaprobe.model import ProbeKind, Sample
from slaprobe.sla.inputs import (
    HeartbeatColumns,
    SampleColumns,
    heartbeat_columns,
)
from slaprobe.sla.kpi import HOUR_NS, SCALARS, RollupRow, pack_hist, unpack_hist
from slaprobe.sla.rollups import DAY_NS, RollupReducer, RollupSummary, hist_ranges

ROLLUP_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS sla_hourly (
    hour_ns INTEGER NOT NULL,
    series INTEGER NOT NULL,
    {", ".join(f"{c} INTEGER NOT NULL DEFAULT 0" for c in SCALARS)},
    rtt_hist BLOB NOT NULL DEFAULT x'',
    jit_hist BLOB NOT NULL DEFAULT x'',
    last_id INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (hour_ns, series)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS sla_hourly_last ON sla_hourly(last_id);
CREATE TABLE IF NOT EXISTS sla_daily (
    day_ns INTEGER NOT NULL,
    series INTEGER NOT NULL,
    rtt_hist BLOB NOT NULL DEFAULT x'',
    jit_hist BLOB NOT NULL DEFAULT x'',
    last_id INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (day_ns, series)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS sla_daily_last ON sla_daily(last_id);
CREATE INDEX IF NOT EXISTS samples_problem ON samples(time_ns, series, sent, received, error, lost)
    WHERE lost > 0 OR sent = 0;
"""
_HOURLY = ("hour_ns", "series", *SCALARS, "rtt_hist", "jit_hist")
_DAILY = ("day_ns", "series", "rtt_hist", "jit_hist")
_FROM_KEY = "sla_rollup_from_id"
SHIPPER_ROLLUP_CURSOR = "shipper.sla_hourly"  # the shipper's rollup cursor (``shipper.CURSOR_ROLLUPS``)
_CHUNK = 200_000


class RollupError(Exception):
    """The journal's rollups cannot be brought up to date (read-only journal with old samples)."""


def create_rollup_table(db: sqlite3.Connection) -> None:
    """Create the tables; if samples already exist, mark them as not rolled up yet (see module doc)."""
    exists = db.execute("SELECT 1 FROM sqlite_master WHERE name = 'sla_hourly'").fetchone()
    db.executescript(ROLLUP_SCHEMA)
    if not exists:
        first_new = db.execute("SELECT coalesce(max(id), 0) + 1 FROM samples").fetchone()[0]
        db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (_FROM_KEY, str(first_new)))


def _chunks(keys: list, size: int = 400):  # type: ignore[no-untyped-def]
    for start in range(0, len(keys), size):
        yield keys[start : start + size]


def _existing(db: sqlite3.Connection, table: str, cols: Sequence[str], keys: list[tuple[int, int]]):  # type: ignore[no-untyped-def]
    for chunk in _chunks(keys):
        values = ", ".join("(?, ?)" for _ in chunk)
        args = [x for key in chunk for x in key]
        yield from db.execute(
            f"SELECT {', '.join(cols)} FROM {table} WHERE ({cols[0]}, series) IN (VALUES {values})", args
        )


def canonical_series(db: sqlite3.Connection, series_ids: Sequence[int]) -> dict[int, int]:
    """``series id -> lowest series id of the same (terminal, vantage, kind)``: the rollups' key.

    Series ids only grow and are never reused, so a triple's canonical id never changes once written.
    """
    out: dict[int, int] = {}
    for chunk in _chunks(sorted(set(series_ids))):
        out.update(
            db.execute(
                "SELECT s.id, min(c.id) FROM series s JOIN series c"
                " ON c.terminal = s.terminal AND c.vantage = s.vantage AND c.kind = s.kind"
                f" WHERE s.id IN ({', '.join('?' * len(chunk))}) GROUP BY s.id",
                chunk,
            ).fetchall()
        )
    return out


def update_rollups(db: sqlite3.Connection, series_ids: Sequence[int], samples: Sequence[Sample]) -> None:
    """Add a batch to the rollups (call inside the batch's transaction, right after the insert).

    Rows are keyed by each series' canonical id (:func:`canonical_series`), one per (terminal, vantage,
    kind) and hour whatever tags the samples were stored under.
    """
    last_id = db.execute("SELECT last_insert_rowid()").fetchone()[0]
    canonical = canonical_series(db, series_ids)
    hourly: dict[tuple[int, int], RollupRow] = {}
    for raw, s in zip(series_ids, samples, strict=True):
        sid = canonical.get(raw, raw)
        hour = s.time_ns - s.time_ns % HOUR_NS
        row = hourly.get((hour, sid))
        if row is None:
            row = hourly[(hour, sid)] = RollupRow("", "", s.kind, hour)
        row.add(s)
    daily: dict[tuple[int, int], RollupRow] = {}
    for (hour, sid), row in hourly.items():
        day = hour - hour % DAY_NS
        d = daily.get((day, sid))
        if d is None:
            d = daily[(day, sid)] = RollupRow("", "", row.kind, day)
        d.merge(row)

    for found in _existing(db, "sla_hourly", _HOURLY, list(hourly)):
        old = RollupRow("", "", ProbeKind.ICMP, found[0])
        for name, value in zip(SCALARS, found[2 : 2 + len(SCALARS)], strict=True):
            setattr(old, name, value)
        old.rtt_hist, old.jit_hist = unpack_hist(found[-2]), unpack_hist(found[-1])
        hourly[(found[0], found[1])].merge(old)
    db.executemany(
        f"INSERT OR REPLACE INTO sla_hourly({', '.join(_HOURLY)}, last_id)"
        f" VALUES ({', '.join('?' * (len(_HOURLY) + 1))})",
        [
            (
                hour,
                sid,
                *(getattr(r, n) for n in SCALARS),
                pack_hist(r.rtt_hist),
                pack_hist(r.jit_hist),
                last_id,
            )
            for (hour, sid), r in hourly.items()
        ],
    )
    for day_ns, sid, rtt, jit in _existing(db, "sla_daily", _DAILY, list(daily)):
        d = daily[(day_ns, sid)]
        for mine, old in ((d.rtt_hist, unpack_hist(rtt)), (d.jit_hist, unpack_hist(jit))):
            for b, c in old.items():
                mine[b] = mine.get(b, 0) + c
    db.executemany(
        f"INSERT OR REPLACE INTO sla_daily({', '.join(_DAILY)}, last_id) VALUES (?, ?, ?, ?, ?)",
        [
            (day, sid, pack_hist(d.rtt_hist), pack_hist(d.jit_hist), last_id)
            for (day, sid), d in daily.items()
        ],
    )


def _row_from(kind_row: Sequence, scalars: bool) -> RollupRow:
    row = RollupRow("", "", ProbeKind.ICMP, kind_row[0])
    if scalars:
        for name, value in zip(SCALARS, kind_row[2 : 2 + len(SCALARS)], strict=True):
            setattr(row, name, value)
    row.rtt_hist, row.jit_hist = unpack_hist(kind_row[-2]), unpack_hist(kind_row[-1])
    return row


def merge_split_rollups(db: sqlite3.Connection) -> int:
    """Fold rollup rows keyed by a non-canonical series into the canonical row; return rows folded.

    Journals written before rollups were keyed by :func:`canonical_series` hold one row per series of
    a terminal re-tagged by a reload. Run once per writable open (a no-op when nothing is split; the
    check reads only the small ``series`` table and the rollups' primary key). Folded rows get the
    newest sample id as ``last_id`` and the shipper's rollup cursor is moved just before it, so the
    next shipment overwrites the points InfluxDB kept of the split rows with the full totals.
    """
    split = dict(
        db.execute(
            "SELECT s.id, min(c.id) FROM series s JOIN series c"
            " ON c.terminal = s.terminal AND c.vantage = s.vantage AND c.kind = s.kind"
            " GROUP BY s.id HAVING min(c.id) < s.id"
        ).fetchall()
    )
    if not split:
        return 0
    marks = ", ".join("?" * len(split))
    if not db.execute(
        f"SELECT 1 FROM sla_hourly WHERE series IN ({marks}) UNION ALL"
        f" SELECT 1 FROM sla_daily WHERE series IN ({marks}) LIMIT 1",
        [*split, *split],
    ).fetchone():
        return 0
    folded = 0
    db.execute("BEGIN")
    try:
        last_id = db.execute("SELECT coalesce(max(id), 0) FROM samples").fetchone()[0]
        for table, cols, scalars in (("sla_hourly", _HOURLY, True), ("sla_daily", _DAILY, False)):
            moved = db.execute(
                f"SELECT {', '.join(cols)} FROM {table} WHERE series IN ({marks})", list(split)
            )
            merged: dict[tuple[int, int], RollupRow] = {}
            for r in moved.fetchall():
                key = (r[0], split[r[1]])
                row = _row_from(r, scalars)
                if key in merged:
                    merged[key].merge(row)
                else:
                    merged[key] = row
                folded += 1
            for r in _existing(db, table, cols, list(merged)):
                merged[(r[0], r[1])].merge(_row_from(r, scalars))
            db.execute(f"DELETE FROM {table} WHERE series IN ({marks})", list(split))
            db.executemany(
                f"INSERT OR REPLACE INTO {table}({', '.join(cols)}, last_id)"
                f" VALUES ({', '.join('?' * (len(cols) + 1))})",
                [
                    (
                        t,
                        sid,
                        *((getattr(row, n) for n in SCALARS) if scalars else ()),
                        pack_hist(row.rtt_hist),
                        pack_hist(row.jit_hist),
                        last_id,
                    )
                    for (t, sid), row in merged.items()
                ],
            )
        db.execute(
            "UPDATE cursors SET value = ? WHERE name = ? AND value >= ?",
            (last_id - 1, SHIPPER_ROLLUP_CURSOR, last_id),
        )
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise
    return folded


def ensure_rollups(journal) -> int:  # type: ignore[no-untyped-def]
    """Roll up samples stored before the rollup tables existed (once); returns how many were added."""
    from slaprobe.store.journal import _SAMPLE_SELECT, _row_to_sample

    db = journal._db
    with journal._lock:
        row = db.execute("SELECT value FROM meta WHERE key = ?", (_FROM_KEY,)).fetchone()
        upto = int(row[0]) if row else 0
        if upto <= 1:
            return 0
        done = 0
        try:
            db.execute("BEGIN")
        except sqlite3.OperationalError as exc:
            raise RollupError(f"{journal.path}: cannot roll up old samples ({exc})") from exc
        try:
            select = _SAMPLE_SELECT.replace("SELECT s.id", "SELECT s.series, s.id", 1)
            cursor = db.execute(f"{select} WHERE s.id < ?", (upto,))
            while batch := cursor.fetchmany(50_000):
                update_rollups(db, [r[0] for r in batch], [_row_to_sample(r[1:]) for r in batch])
                done += len(batch)
            db.execute("UPDATE meta SET value = '0' WHERE key = ?", (_FROM_KEY,))
            db.execute("COMMIT")
        except sqlite3.OperationalError as exc:
            db.execute("ROLLBACK")
            raise RollupError(
                f"{journal.path}: samples stored before the SLA rollups existed must be rolled up once;"
                f" open the journal writable ({exc})"
            ) from exc
        except BaseException:
            db.execute("ROLLBACK")
            raise
    return done


def rollups_after(
    journal,  # type: ignore[no-untyped-def]
    after_id: int,
    upto_id: int | None = None,
) -> tuple[list[RollupRow], list[RollupRow], int]:
    """Hourly and daily rollup rows last changed by samples with after_id < id <= upto_id, and the cursor.

    For the InfluxDB shipper (``influx_read.rollup_lines``): every row carries its full totals, so
    sending one again simply overwrites it. Ranges are by sample id and never cut inside one batch's
    rows, so advancing the cursor to the returned value skips nothing. Daily rows carry histograms only.
    """
    n = len(SCALARS)
    with journal._lock:
        db = journal._db
        if upto_id is None:
            upto_id = db.execute("SELECT coalesce(max(last_id), 0) FROM sla_hourly").fetchone()[0]
        hourly = db.execute(
            f"SELECT r.terminal, r.vantage, r.kind, {', '.join('h.' + c for c in _HOURLY if c != 'series')}"
            " FROM sla_hourly h JOIN series r ON r.id = h.series WHERE h.last_id > ? AND h.last_id <= ?",
            (after_id, upto_id),
        ).fetchall()
        daily = db.execute(
            "SELECT r.terminal, r.vantage, r.kind, d.day_ns, d.rtt_hist, d.jit_hist"
            " FROM sla_daily d JOIN series r ON r.id = d.series WHERE d.last_id > ? AND d.last_id <= ?",
            (after_id, upto_id),
        ).fetchall()
    out_h = []
    for r in hourly:
        row = RollupRow(r[0], r[1], ProbeKind(r[2]), r[3])
        for name, value in zip(SCALARS, r[4 : 4 + n], strict=True):
            setattr(row, name, value)
        row.rtt_hist, row.jit_hist = unpack_hist(r[4 + n]), unpack_hist(r[5 + n])
        out_h.append(row)
    out_d = []
    for r in daily:
        row = RollupRow(r[0], r[1], ProbeKind(r[2]), r[3])
        row.rtt_hist, row.jit_hist = unpack_hist(r[4]), unpack_hist(r[5])
        out_d.append(row)
    return out_h, out_d, max(after_id, upto_id)


class JournalSlaSource:
    """:class:`slaprobe.sla.inputs.SlaSource` over a :class:`~slaprobe.store.journal.JournalStore`."""

    def __init__(self, journal) -> None:  # type: ignore[no-untyped-def]
        self.journal = journal
        self._db: sqlite3.Connection = journal._db
        self._lock = journal._lock
        ensure_rollups(journal)

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
        with self._lock:
            # a read-only journal from before the column has no refused samples on record: 0
            unstored = "unstored" if "unstored" in self.journal._heartbeat_table_columns() else "0"
            sql = (
                "SELECT time_ns, vantage, grp, interval_s, due, probed, reference_ok, reference_total,"
                f" {unstored} FROM heartbeats WHERE time_ns >= ? AND time_ns < ?"
            )
            rows = self._db.execute(sql, (start_ns, end_ns)).fetchall()
        return heartbeat_columns(rows)


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

"""The embedded store: one SQLite file in WAL mode, the default store and the durable spool for InfluxDB.

Why SQLite: it needs no server, survives ``kill -9`` (WAL + synchronous=NORMAL loses at most the last
uncommitted transaction, never the file) and, measured here, inserts ~666 k rows/s.

Layout (schema version in ``meta``):

- ``series``: one row per (terminal, vantage, kind) with the terminal's tags at the time it was first
  seen (carrier, region, level, tier). Samples reference it by integer, which keeps rows small and lets
  the InfluxDB shipper emit tags without a second lookup. When a terminal's tags change (inventory
  reload), a new series row is created, so old samples keep the tags they were measured under. A
  terminal removed by a reload keeps its last tags for the samples still in flight.
- ``samples``: every Sample field, plus ``lost = sent - received`` so the "bad rows" (``lost > 0`` or
  nothing sent) have a partial index: the SLA engine fetches only what can change a verdict.
  ``id`` only ever grows, deletes or not (``meta`` ``ids.<table>``: see ``JournalStore._insert``); the
  shipper's cursor is an id.
- ``heartbeats``: one row per probe host and cycle; ``grp`` is the cycle name (``"default/icmp"``,
  :func:`model.cycle_name`), ``unstored`` the cycle's samples the store refused (added to journals
  created before it by ``ALTER TABLE``; a read-only old journal reads it as 0).
- ``cursors``: named positions (the shipper's), committed in the same database so they survive restarts.

All writes of one batch are one transaction: a batch is committed whole or not at all.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from slaprobe.model import Heartbeat, Outcome, ProbeKind, Sample
from slaprobe.store.rollup_tables import (
    FROM_KEY,
    RollupError,
    create_rollup_table,
    merge_split_rollups,
    update_rollups,
)

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
# meta note the daemon writes once journal writes recover: its lost-sample totals (read by ``status``)
NOTE_STORE_FAULTS = "daemon.store_faults"
# Bulk deletes (``JournalStore.delete_batches``, by a condition): rows per transaction, and the pause
# after each (``delete_ids`` too). A batch holds the write lock ~1 s; the pause outlasts the longest sleep
# of SQLite's busy handler (100 ms), so a writer waiting on another connection retries inside it. One
# transaction over a 20,000-terminal day (28 M rows) held it 25 s.
DELETE_BATCH = 1_000_000
DELETE_PAUSE_S = 0.12
# ``JournalStore.delete_ids``: ids per transaction when the rows to delete are an id range. SQLite walks
# the rowid range itself (no id list to build, no time-index lookups): ~0.6 us per row against ~1 us for
# ``delete_batches`` on the same 20,000-terminal day (16.6 s against 22.8 s for 28 M rows, no pauses),
# so a window of 1.5 M ids holds the write lock about as long as one batch of 1 M rows.
DELETE_WINDOW = 1_500_000
# meta key holding the largest id a table ever had, once rows have been deleted (``_keep_id_floor``)
_ID_FLOOR = "ids.{}"


def _pause() -> None:
    time.sleep(DELETE_PAUSE_S)


# Sample columns after (time_ns, series) in table order; must match Sample field names.
_SAMPLE_VALUE_COLUMNS: tuple[str, ...] = (
    "sent",
    "received",
    "duplicates",
    "reordered",
    "late",
    "rtt_min_ms",
    "rtt_avg_ms",
    "rtt_max_ms",
    "rtt_p50_ms",
    "jitter_ms",
    "jitter_rfc3550_ms",
    "pdv_ms",
    "loss_fwd",
    "loss_rev",
    "jitter_fwd_ms",
    "jitter_rev_ms",
    "max_loss_burst",
    "r_factor",
    "mos",
    "malformed",
    "malformed_reason",
)

# a sample row as stored, minus its id (the order of the INSERT in write_samples)
STORED_COLUMNS: tuple[str, ...] = ("time_ns", "series", "lost", "error", *_SAMPLE_VALUE_COLUMNS)
# counters older journals may hold as NULL; readers see 0
ZERO_IF_NULL: tuple[str, ...] = ("duplicates", "reordered", "late", "max_loss_burst", "malformed")

_INT_COLUMNS = frozenset(
    {"sent", "received", "duplicates", "reordered", "late", "max_loss_burst", "malformed"}
)
_TEXT_COLUMNS = frozenset({"malformed_reason"})


def _column_type(column: str) -> str:
    return "INTEGER" if column in _INT_COLUMNS else "TEXT" if column in _TEXT_COLUMNS else "REAL"


_VALUE_COLUMN_DEFS = ", ".join(f"{c} {_column_type(c)}" for c in _SAMPLE_VALUE_COLUMNS)

_HEARTBEAT_COLUMNS: tuple[str, ...] = (
    "time_ns",
    "vantage",
    "grp",
    "interval_s",
    "due",
    "probed",
    "late",
    "skipped",
    "duration_s",
    "reference_ok",
    "reference_total",
    "unstored",
)

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS series (
    id INTEGER PRIMARY KEY,
    terminal TEXT NOT NULL,
    vantage TEXT NOT NULL,
    kind TEXT NOT NULL,
    carrier TEXT NOT NULL DEFAULT '',
    region TEXT NOT NULL DEFAULT '',
    level TEXT NOT NULL DEFAULT '',
    tier TEXT NOT NULL DEFAULT '',
    UNIQUE (terminal, vantage, kind, carrier, region, level, tier)
);
CREATE TABLE IF NOT EXISTS samples (
    id INTEGER PRIMARY KEY,
    time_ns INTEGER NOT NULL,
    series INTEGER NOT NULL REFERENCES series(id),
    lost INTEGER NOT NULL,
    error TEXT NOT NULL,
    {_VALUE_COLUMN_DEFS}
);
CREATE INDEX IF NOT EXISTS samples_time ON samples(time_ns);
CREATE INDEX IF NOT EXISTS samples_bad ON samples(time_ns) WHERE lost > 0 OR sent = 0;
CREATE TABLE IF NOT EXISTS heartbeats (
    id INTEGER PRIMARY KEY,
    time_ns INTEGER NOT NULL,
    vantage TEXT NOT NULL,
    grp TEXT NOT NULL,
    interval_s REAL NOT NULL,
    due INTEGER NOT NULL,
    probed INTEGER NOT NULL,
    late INTEGER NOT NULL,
    skipped INTEGER NOT NULL,
    duration_s REAL NOT NULL,
    reference_ok INTEGER NOT NULL,
    reference_total INTEGER NOT NULL,
    unstored INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS heartbeats_time ON heartbeats(time_ns);
CREATE TABLE IF NOT EXISTS cursors (name TEXT PRIMARY KEY, value INTEGER NOT NULL, updated_ns INTEGER);
"""


def _sample_select(have: set[str] | None = None) -> str:
    """The joined sample SELECT; a column an older read-only journal lacks reads as NULL."""
    cols = ", ".join(f"s.{c}" if have is None or c in have else f"NULL AS {c}" for c in _SAMPLE_VALUE_COLUMNS)
    return (
        "SELECT s.id, s.time_ns, r.terminal, r.vantage, r.kind, r.carrier, r.region, r.level, r.tier, "
        + "s.error, "
        + cols
        + " FROM samples s JOIN series r ON r.id = s.series"
    )


_SAMPLE_SELECT = _sample_select()
# public names of the column layouts (the columnar tier stores the same fields)
SAMPLE_VALUE_COLUMNS = _SAMPLE_VALUE_COLUMNS
HEARTBEAT_COLUMNS = _HEARTBEAT_COLUMNS


class JournalError(Exception):
    """The journal file cannot be used (wrong schema version, not a slaprobe journal, unwritable)."""


@dataclass(frozen=True, slots=True)
class JournalRow:
    """A stored sample with its journal id and the tags of its series (what the shipper sends)."""

    id: int
    sample: Sample
    tags: Mapping[str, str]


def _row_to_sample(row: Sequence) -> Sample:
    values = dict(zip(_SAMPLE_VALUE_COLUMNS, row[10:], strict=True))
    for key in ZERO_IF_NULL:
        values[key] = values[key] or 0
    return Sample(
        time_ns=row[1],
        terminal=row[2],
        vantage=row[3],
        kind=ProbeKind(row[4]),
        error=Outcome(row[9]),
        **values,
    )


def _row_tags(row: Sequence) -> dict[str, str]:
    return {"carrier": row[5], "region": row[6], "level": row[7], "tier": row[8]}


class JournalStore:
    """SQLite journal implementing :class:`slaprobe.store.base.Store`.

    One connection guarded by a lock: the daemon writes from its event loop thread, the shipper may read
    from another thread. ``check_same_thread=False`` plus the lock keeps that safe.
    """

    def __init__(self, path: str | Path, *, readonly: bool = False) -> None:
        self.path = Path(path)
        self._lock = threading.RLock()
        if readonly:
            if not self.path.exists():
                raise JournalError(f"{self.path}: no journal here (nothing has been stored yet)")
            uri = f"file:{self.path}?mode=ro"
            self._db = sqlite3.connect(uri, uri=True, check_same_thread=False)
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA busy_timeout=10000")
        self._series: dict[tuple[str, str, str, str, str, str, str], int] = {}
        self._tags: dict[str, Mapping[str, str]] = {}
        if not readonly:
            self._migrate()
        self._check_version()
        self._hb_select = self._heartbeat_select()
        self._sample_select = _sample_select({r[1] for r in self._db.execute("PRAGMA table_info(samples)")})

    # ------------------------------------------------------------------ setup
    def _migrate(self) -> None:
        with self._lock:
            self._db.executescript(_SCHEMA)
            if "unstored" not in self._heartbeat_table_columns():  # additive: no version bump
                self._db.execute("ALTER TABLE heartbeats ADD COLUMN unstored INTEGER NOT NULL DEFAULT 0")
            have = {r[1] for r in self._db.execute("PRAGMA table_info(samples)")}
            for column in _SAMPLE_VALUE_COLUMNS:  # columns added since (additive: no version bump)
                if column not in have:
                    self._db.execute(f"ALTER TABLE samples ADD COLUMN {column} {_column_type(column)}")
            create_rollup_table(self._db)
            self._db.execute(
                "INSERT OR IGNORE INTO meta(key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
            )
            folded = merge_split_rollups(self._db)  # rollups of re-tagged terminals, from older versions
            if folded:
                log.warning(
                    "journal: folded %d rollup rows of re-tagged terminals into one per terminal", folded
                )

    def _heartbeat_table_columns(self) -> set[str]:
        return {r[1] for r in self._db.execute("PRAGMA table_info(heartbeats)")}

    def _heartbeat_select(self) -> str:
        """The heartbeat columns in Heartbeat field order (``0`` for ``unstored`` in an old read-only
        journal, whose heartbeats predate the column)."""
        with self._lock:
            have = self._heartbeat_table_columns()
        return ", ".join(c if c in have else f"0 AS {c}" for c in _HEARTBEAT_COLUMNS)

    def _check_version(self) -> None:
        try:
            row = self._db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        except sqlite3.DatabaseError as exc:
            raise JournalError(f"{self.path}: not a slaprobe journal ({exc})") from exc
        if row is None or int(row[0]) != SCHEMA_VERSION:
            found = row[0] if row else "none"
            raise JournalError(
                f"{self.path}: journal schema version {found}, this slaprobe needs {SCHEMA_VERSION}"
            )

    def ensure_rollups(self) -> int:
        """Roll up samples stored before the rollup tables existed (once); returns how many were added."""
        db = self._db
        with self._lock:
            row = db.execute("SELECT value FROM meta WHERE key = ?", (FROM_KEY,)).fetchone()
            upto = int(row[0]) if row else 0
            if upto <= 1:
                return 0
            done = 0
            try:
                db.execute("BEGIN")
            except sqlite3.OperationalError as exc:
                raise RollupError(f"{self.path}: cannot roll up old samples ({exc})") from exc
            try:
                select = _SAMPLE_SELECT.replace("SELECT s.id", "SELECT s.series, s.id", 1)
                cursor = db.execute(f"{select} WHERE s.id < ?", (upto,))
                while batch := cursor.fetchmany(50_000):
                    update_rollups(db, [r[0] for r in batch], [_row_to_sample(r[1:]) for r in batch])
                    done += len(batch)
                db.execute("UPDATE meta SET value = '0' WHERE key = ?", (FROM_KEY,))
                db.execute("COMMIT")
            except sqlite3.OperationalError as exc:
                db.execute("ROLLBACK")
                raise RollupError(
                    f"{self.path}: samples stored before the SLA rollups existed must be rolled up once;"
                    f" open the journal writable ({exc})"
                ) from exc
            except BaseException:
                db.execute("ROLLBACK")
                raise
        return done

    def set_terminal_tags(self, tags: Mapping[str, Mapping[str, str]]) -> None:
        """Tags (carrier, region, level, tier) to attach to the series of each terminal from now on.

        Terminals missing from ``tags`` keep their last known tags: after a reload removed them, their
        probes still in flight are stored under the tags they were measured with, never empty ones.
        """
        self._tags = {**self._tags, **tags}

    # ------------------------------------------------------------------ writes
    def _series_id(self, sample: Sample) -> int:
        t = self._tags.get(sample.terminal, {})
        key = (
            sample.terminal,
            sample.vantage,
            sample.kind.value,
            t.get("carrier", ""),
            t.get("region", ""),
            t.get("level", ""),
            t.get("tier", ""),
        )
        sid = self._series.get(key)
        if sid is None:
            self._db.execute(
                "INSERT OR IGNORE INTO series(terminal, vantage, kind, carrier, region, level, tier)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                key,
            )
            sid = self._db.execute(
                "SELECT id FROM series WHERE terminal=? AND vantage=? AND kind=? AND carrier=? AND region=?"
                " AND level=? AND tier=?",
                key,
            ).fetchone()[0]
            self._series[key] = sid
        return sid

    def write_samples(self, samples: Sequence[Sample]) -> None:
        if not samples:
            return
        cols = STORED_COLUMNS
        sql = f"INSERT INTO samples({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"
        with self._lock:
            self._db.execute("BEGIN")
            try:
                rows = [
                    (
                        s.time_ns,
                        self._series_id(s),
                        max(s.sent - s.received, 0),
                        s.error.value,
                        *(getattr(s, c) for c in _SAMPLE_VALUE_COLUMNS),
                    )
                    for s in samples
                ]
                self._insert(sql, "samples", STORED_COLUMNS, rows)
                update_rollups(self._db, [r[1] for r in rows], samples)  # SLA KPIs, same transaction
                self._db.execute("COMMIT")
            except BaseException:
                self._rollback()
                self._series.clear()  # series rows of this batch were rolled back too
                raise

    def write_heartbeats(self, heartbeats: Sequence[Heartbeat]) -> None:
        if not heartbeats:
            return
        sql = (
            f"INSERT INTO heartbeats({', '.join(_HEARTBEAT_COLUMNS)})"
            f" VALUES ({', '.join('?' * len(_HEARTBEAT_COLUMNS))})"
        )
        rows = [
            (
                h.time_ns,
                h.vantage,
                h.group,
                h.interval_s,
                h.due,
                h.probed,
                h.late,
                h.skipped,
                h.duration_s,
                h.reference_ok,
                h.reference_total,
                h.unstored,
            )
            for h in heartbeats
        ]
        with self._lock:
            self._db.execute("BEGIN")
            try:
                self._insert(sql, "heartbeats", _HEARTBEAT_COLUMNS, rows)
                self._db.execute("COMMIT")
            except BaseException:
                self._rollback()
                raise

    def _insert(self, sql: str, table: str, columns: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
        """``executemany(sql, rows)``, the first row with an explicit id when SQLite would reuse one.

        An ``INTEGER PRIMARY KEY`` without AUTOINCREMENT takes max(id) + 1: once deletes removed the
        newest rows (compaction or pruning emptied the table, retention removed a late row), SQLite
        would hand out again ids that the shipper's cursor or a compacted day's recorded ids already
        cover, and those rows would never be shipped, or be taken for compacted and deleted. Every bulk
        delete records the largest id first (:meth:`_keep_id_floor`); new rows continue above it.
        """
        top, floor = self._db.execute(
            f"SELECT coalesce(max(id), 0), (SELECT value FROM meta WHERE key = ?) FROM {table}",
            (_ID_FLOOR.format(table),),
        ).fetchone()
        if floor is not None and top < int(floor):
            self._db.execute(
                f"INSERT INTO {table}(id, {', '.join(columns)}) VALUES (?{', ?' * len(columns)})",
                (int(floor) + 1, *rows[0]),
            )
            rows = rows[1:]
        self._db.executemany(sql, rows)

    def _keep_id_floor(self, table: str) -> None:
        """Record the largest id ``table`` holds before rows are deleted (see :meth:`_insert`)."""
        with self._lock:
            top = self._db.execute(f"SELECT max(id) FROM {table}").fetchone()[0]
            key = _ID_FLOOR.format(table)
            row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
            if top is not None and (row is None or int(row[0]) < top):
                self._db.execute(
                    "INSERT INTO meta(key, value) VALUES (?, ?)"
                    " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                    (key, str(top)),
                )

    def _rollback(self) -> None:
        """Roll back the open transaction, if SQLite has not done so itself (it does on SQLITE_FULL and
        some I/O errors): a second error here would hide the cause the caller must log."""
        if self._db.in_transaction:
            try:
                self._db.execute("ROLLBACK")
            except sqlite3.Error as exc:
                log.warning("journal rollback failed: %s", exc)

    # ------------------------------------------------------------------ reads
    def samples(
        self,
        start_ns: int,
        end_ns: int,
        terminals: Collection[str] | None = None,
        kinds: Collection[ProbeKind] | None = None,
    ) -> Iterator[Sample]:
        for row in self._select_samples(start_ns, end_ns, terminals, kinds):
            yield _row_to_sample(row)

    def _select_samples(
        self,
        start_ns: int,
        end_ns: int,
        terminals: Collection[str] | None,
        kinds: Collection[ProbeKind] | None,
        *,
        bad_only: bool = False,
    ) -> Iterator[Sequence]:
        where = ["s.time_ns >= ?", "s.time_ns < ?"]
        args: list = [start_ns, end_ns]
        if terminals is not None:
            where.append(f"r.terminal IN ({', '.join('?' * len(terminals))})")
            args.extend(terminals)
        if kinds is not None:
            where.append(f"r.kind IN ({', '.join('?' * len(kinds))})")
            args.extend(k.value for k in kinds)
        if bad_only:
            where.append("(s.lost > 0 OR s.sent = 0)")
        sql = f"{self._sample_select} WHERE {' AND '.join(where)} ORDER BY s.time_ns, s.id"
        with self._lock:
            rows = self._db.execute(sql, args).fetchall()
        yield from rows

    def bad_samples(
        self,
        start_ns: int,
        end_ns: int,
        terminals: Collection[str] | None = None,
        kinds: Collection[ProbeKind] | None = None,
    ) -> Iterator[Sample]:
        """Only the samples that lost packets or were not sent: uses the partial index."""
        for row in self._select_samples(start_ns, end_ns, terminals, kinds, bad_only=True):
            yield _row_to_sample(row)

    def heartbeats(self, start_ns: int, end_ns: int, vantage: str | None = None) -> Iterator[Heartbeat]:
        sql = f"SELECT {self._hb_select} FROM heartbeats WHERE time_ns >= ? AND time_ns < ?"
        args: list = [start_ns, end_ns]
        if vantage is not None:
            sql += " AND vantage = ?"
            args.append(vantage)
        sql += " ORDER BY time_ns, id"
        with self._lock:
            rows = self._db.execute(sql, args).fetchall()
        for r in rows:
            yield Heartbeat(*r)  # columns are in Heartbeat field order

    def rows_after(self, after_id: int, limit: int) -> list[JournalRow]:
        """Samples with id > after_id in id order, with their series tags: the shipper's read."""
        sql = f"{self._sample_select} WHERE s.id > ? ORDER BY s.id LIMIT ?"
        with self._lock:
            rows = self._db.execute(sql, (after_id, limit)).fetchall()
        return [JournalRow(id=r[0], sample=_row_to_sample(r), tags=_row_tags(r)) for r in rows]

    def stored_rows_after(self, after_id: int, limit: int) -> list[tuple]:
        """Samples with id > after_id as stored: ``(id, *STORED_COLUMNS)``, no join, no objects.

        The shipper's fast read (it caches each series' tags by id, see :meth:`series_by_id`).
        """
        sql = f"SELECT id, {', '.join(STORED_COLUMNS)} FROM samples WHERE id > ? ORDER BY id LIMIT ?"
        with self._lock:
            return self._db.execute(sql, (after_id, limit)).fetchall()

    def series_by_id(self, ids: Iterable[int]) -> dict[int, tuple[str, ...]]:
        """``id -> (kind, terminal, vantage, carrier, region, level, tier)`` for journal series ids."""
        wanted = sorted(set(ids))
        out: dict[int, tuple[str, ...]] = {}
        with self._lock:
            for k in range(0, len(wanted), 500):
                chunk = wanted[k : k + 500]
                sql = (
                    "SELECT id, kind, terminal, vantage, carrier, region, level, tier FROM series"
                    f" WHERE id IN ({', '.join('?' * len(chunk))})"
                )
                out.update((r[0], tuple(r[1:])) for r in self._db.execute(sql, chunk))
        return out

    def heartbeat_rows_after(self, after_id: int, limit: int) -> list[tuple[int, Heartbeat]]:
        sql = f"SELECT id, {self._hb_select} FROM heartbeats WHERE id > ? ORDER BY id LIMIT ?"
        with self._lock:
            rows = self._db.execute(sql, (after_id, limit)).fetchall()
        return [(r[0], Heartbeat(*r[1:])) for r in rows]

    def count_samples(self) -> int:
        with self._lock:
            return self._db.execute("SELECT count(*) FROM samples").fetchone()[0]

    def last_sample_id(self) -> int:
        with self._lock:
            return self._db.execute("SELECT coalesce(max(id), 0) FROM samples").fetchone()[0]

    # ------------------------------------------------------------------ cursors
    def get_cursor(self, name: str) -> int:
        with self._lock:
            row = self._db.execute("SELECT value FROM cursors WHERE name = ?", (name,)).fetchone()
        return row[0] if row else 0

    def set_cursor(self, name: str, value: int, updated_ns: int | None = None) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO cursors(name, value, updated_ns) VALUES (?, ?, ?)"
                " ON CONFLICT(name) DO UPDATE SET value = excluded.value, updated_ns = excluded.updated_ns",
                (name, value, updated_ns),
            )

    # ------------------------------------------------------------------ shipper support
    # Additive helpers for the InfluxDB shipper and ``slaprobe status``: several cursors committed in
    # one transaction, free-text notes (last error), disk use and pruning in bounded transactions.
    _TABLES = ("samples", "heartbeats")

    def cursor_info(self) -> dict[str, tuple[int, int | None]]:
        """Every cursor as ``name -> (value, updated_ns)``."""
        with self._lock:
            rows = self._db.execute("SELECT name, value, updated_ns FROM cursors").fetchall()
        return {r[0]: (r[1], r[2]) for r in rows}

    def set_cursors(self, values: Mapping[str, int], updated_ns: int | None = None) -> None:
        """Set several cursors atomically (the shipper's sample and heartbeat positions together)."""
        with self._lock:
            self._db.execute("BEGIN")
            try:
                for name, value in values.items():
                    self.set_cursor(name, value, updated_ns)
                self._db.execute("COMMIT")
            except BaseException:
                self._rollback()
                raise

    def get_note(self, key: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key = ?", (f"note.{key}",)).fetchone()
        return row[0] if row else None

    def set_note(self, key: str, value: str) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO meta(key, value) VALUES (?, ?)"
                " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (f"note.{key}", value),
            )

    def used_bytes(self) -> int:
        """Bytes of the database file in use (free pages excluded: SQLite reuses them before growing)."""
        with self._lock:
            pages = self._db.execute("PRAGMA page_count").fetchone()[0]
            free = self._db.execute("PRAGMA freelist_count").fetchone()[0]
            size = self._db.execute("PRAGMA page_size").fetchone()[0]
        return (pages - free) * size

    def id_range(self, table: str) -> tuple[int, int]:
        """(min id, max id) of ``samples`` or ``heartbeats``; (0, 0) when empty."""
        if table not in self._TABLES:
            raise ValueError(f"unknown journal table {table!r}")
        with self._lock:
            lo, hi = self._db.execute(
                f"SELECT coalesce(min(id), 0), coalesce(max(id), 0) FROM {table}"
            ).fetchone()
        return lo, hi

    def count_after(self, table: str, after_id: int) -> int:
        """Rows with id > after_id (the backlog behind a cursor); a rowid range count, cheap."""
        if table not in self._TABLES:
            raise ValueError(f"unknown journal table {table!r}")
        with self._lock:
            return self._db.execute(f"SELECT count(*) FROM {table} WHERE id > ?", (after_id,)).fetchone()[0]

    def delete_batches(
        self,
        table: str,
        where: str,
        params: Sequence[object],
    ) -> int:
        """``DELETE FROM table WHERE <where>``, at most ``DELETE_BATCH`` rows per transaction with a
        pause (``_pause``) between them; returns the count: retention by date. (Rows that are an id
        range go through :meth:`delete_ids`, cheaper.) The daemon's writer is another connection with a
        10 s busy timeout, and one transaction over a 20,000-terminal day held the write lock ~25 s."""
        if table not in self._TABLES:
            raise ValueError(f"unknown journal table {table!r}")
        self._keep_id_floor(table)
        batch = DELETE_BATCH
        sql = f"DELETE FROM {table} WHERE id IN (SELECT id FROM {table} WHERE {where} LIMIT ?)"
        deleted = 0
        while True:
            with self._lock:
                n = self._db.execute(sql, (*params, batch)).rowcount
            deleted += n
            if n < batch:
                return deleted
            _pause()

    def delete_ids(
        self,
        table: str,
        first: int,
        last: int,
        *,
        times: tuple[int, int] | None = None,
        on_batch: Callable[[], None] | None = None,
    ) -> int:
        """Delete the rows with ``first <= id <= last`` (and, with ``times = (start, end)``, dated
        ``start <= time_ns < end``), ``DELETE_WINDOW`` ids per transaction with a pause between them (as
        :meth:`delete_batches`: the daemon's writer gets in); returns the count. ``on_batch()`` runs
        after each committed window.

        For rows that are an id range (compaction's day, the shipper's shipped rows) this is the cheap
        delete: SQLite walks the rowid range; the time bounds are only checked on the rows it meets
        (``+time_ns``: never the time index, which would scan the whole day for every window)."""
        if table not in self._TABLES:
            raise ValueError(f"unknown journal table {table!r}")
        self._keep_id_floor(table)
        sql = f"DELETE FROM {table} WHERE id >= ? AND id <= ?"
        extra: tuple[int, ...] = ()
        if times is not None:
            sql += " AND +time_ns >= ? AND +time_ns < ?"
            extra = times
        deleted, lo = 0, first
        while lo <= last:
            hi = min(lo + DELETE_WINDOW - 1, last)
            with self._lock:
                deleted += self._db.execute(sql, (lo, hi, *extra)).rowcount
                # the next id present: a gap in the ids (rows deleted before) costs no window
                nxt = f"SELECT coalesce(min(id), ?) FROM {table} WHERE id > ?"
                lo = self._db.execute(nxt, (last + 1, hi)).fetchone()[0]
            if on_batch is not None:
                on_batch()
            if lo <= last:
                _pause()
        return deleted

    def delete_through(self, table: str, max_id: int) -> int:
        """Delete rows with id <= max_id, oldest first, in bounded transactions; return the count."""
        lo, _ = self.id_range(table)
        return self.delete_ids(table, lo, max_id) if lo else 0

    def id_before(self, table: str, time_ns: int, max_id: int) -> int:
        """The largest id <= max_id whose time is before ``time_ns`` (0 if none): retention by age."""
        if table not in self._TABLES:
            raise ValueError(f"unknown journal table {table!r}")
        with self._lock:
            row = self._db.execute(
                f"SELECT coalesce(max(id), 0) FROM {table} WHERE id <= ? AND time_ns < ?", (max_id, time_ns)
            ).fetchone()
        return row[0]

    def delete_samples_before(self, time_ns: int) -> tuple[int, int | None]:
        """Delete the samples dated before ``time_ns`` (by time, not id: retention is by date), in bounded
        transactions; return (count, time of the oldest deleted). Rollups and heartbeats stay."""
        with self._lock:
            oldest = self._db.execute("SELECT min(time_ns) FROM samples").fetchone()[0]
        if oldest is None or oldest >= time_ns:
            return 0, None
        deleted = self.delete_batches("samples", "time_ns < ?", (time_ns,))
        return deleted, oldest if deleted else None

    def latest_heartbeats(self) -> list[Heartbeat]:
        """The newest heartbeat of every (vantage, group): what each probe host last reported."""
        sql = (
            f"SELECT {self._hb_select} FROM heartbeats WHERE id IN"
            " (SELECT max(id) FROM heartbeats GROUP BY vantage, grp) ORDER BY vantage, grp"
        )
        with self._lock:
            rows = self._db.execute(sql).fetchall()
        return [Heartbeat(*r) for r in rows]

    def store_faults(self, since_ns: Sequence[int]) -> dict[tuple[str, str], dict[str, object]]:
        """Per (vantage, cycle) that ever had samples refused: ``refused`` = sum of ``unstored`` since
        each of ``since_ns``, ``last_loss_ns`` (latest heartbeat with ``unstored > 0``) and
        ``recovered_ns`` (its first later heartbeat with ``unstored = 0``; None while still failing).

        Heartbeats are what survives a full disk (they are small and written last), so they are how
        ``status`` learns what a store fault cost; an old journal without the column has no faults.
        """
        if "unstored" not in self._heartbeat_table_columns():
            return {}
        sums = ", ".join("coalesce(sum(CASE WHEN time_ns >= ? THEN unstored END), 0)" for _ in since_ns)
        sql = (
            f"SELECT vantage, grp, max(time_ns){', ' + sums if sums else ''} FROM heartbeats"
            " WHERE unstored > 0 GROUP BY vantage, grp ORDER BY vantage, grp"
        )
        out: dict[tuple[str, str], dict[str, object]] = {}
        with self._lock:
            for vantage, grp, last, *refused in self._db.execute(sql, tuple(since_ns)).fetchall():
                row = self._db.execute(
                    "SELECT min(time_ns) FROM heartbeats"
                    " WHERE vantage = ? AND grp = ? AND time_ns > ? AND unstored = 0",
                    (vantage, grp, last),
                ).fetchone()
                out[(vantage, grp)] = {"refused": refused, "last_loss_ns": last, "recovered_ns": row[0]}
        return out

    def integrity_check(self) -> str:
        with self._lock:
            return self._db.execute("PRAGMA integrity_check").fetchone()[0]

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> JournalStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

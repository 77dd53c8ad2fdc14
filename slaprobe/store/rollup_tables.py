"""The SLA rollup tables of the SQLite journal: their schema and their maintenance.

Both the sample writer (``journal.JournalStore.write_samples`` adds each batch inside its
transaction) and the readers (``sla_journal.JournalSlaSource``, the shipper's :func:`rollups_after`)
use this module; it knows neither of them, so neither depends on the other (issue #14: the writer
used to import the SLA reader and the reader the writer's private SELECT).

Rollups (``sla/kpi.py`` defines the numbers):

* ``sla_hourly``: per (UTC hour, series) the additive counters and packed RTT/jitter histograms;
* ``sla_daily``: per (UTC day, series) the same histograms summed over the day, so a month's
  percentiles read ~30 small rows per series instead of 744 (``sla/rollups.py``).

The ``series`` of a rollup row is the *canonical* series of its (terminal, vantage, kind): the lowest
series id of that triple. A terminal re-tagged by an inventory reload gets a second series row for its
samples, but its rollups stay one row per (terminal, vantage, kind) and hour, exactly as InfluxDB keys
the shipped ``sla_hourly`` / ``sla_daily`` points (tags terminal, vantage, kind); two rows there would
overwrite each other and the stores would disagree.

Each touched row records the batch's last sample id (``last_id``): the InfluxDB shipper forwards the
rows that changed behind its cursor (:func:`rollups_after`). Journals holding samples from before these
tables existed are rolled up once, lazily (``JournalStore.ensure_rollups``; meta key
``sla_rollup_from_id`` = first sample id the write path saw). Primary keys lead with the time so a
month is one contiguous range of each table.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from slaprobe.model import ProbeKind, Sample
from slaprobe.sla.kpi import HOUR_NS, SCALARS, RollupRow, pack_hist, unpack_hist
from slaprobe.sla.rollups import DAY_NS

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
FROM_KEY = "sla_rollup_from_id"
SHIPPER_ROLLUP_CURSOR = "shipper.sla_hourly"  # the shipper's rollup cursor (``shipper.CURSOR_ROLLUPS``)


class RollupError(Exception):
    """The journal's rollups cannot be brought up to date (read-only journal with old samples)."""


def create_rollup_table(db: sqlite3.Connection) -> None:
    """Create the tables; if samples already exist, mark them as not rolled up yet (see module doc)."""
    exists = db.execute("SELECT 1 FROM sqlite_master WHERE name = 'sla_hourly'").fetchone()
    db.executescript(ROLLUP_SCHEMA)
    if not exists:
        first_new = db.execute("SELECT coalesce(max(id), 0) + 1 FROM samples").fetchone()[0]
        db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (FROM_KEY, str(first_new)))


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


def rollups_after(
    journal,  # type: ignore[no-untyped-def]  # a JournalStore (its connection and lock)
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


HOURLY_COLUMNS = _HOURLY


__all__ = [
    "FROM_KEY",
    "HOURLY_COLUMNS",
    "ROLLUP_SCHEMA",
    "SHIPPER_ROLLUP_CURSOR",
    "RollupError",
    "canonical_series",
    "create_rollup_table",
    "merge_split_rollups",
    "rollups_after",
    "update_rollups",
]

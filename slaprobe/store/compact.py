"""Compaction: closed UTC days move from the SQLite journal into the columnar tier, crash-safe.

``slaprobe store compact [--before DAY]`` and the daemon (once a day, ``store.compact``) run
:func:`compact`. Per day, oldest first:

1. select the day's samples and heartbeats from the journal (``selected``);
2. write the day's files to a temporary directory and fsync them (``files_written``), rename it into
   place (``renamed``) and record the day in the manifest, with the largest journal ids it holds
   (``manifest_written``). Until the manifest names the day, readers do not see it;
3. delete the day's samples (ids up to the recorded ones), heartbeats and rollup rows from the journal
   in ONE transaction (``delete_begun`` inside it, ``deleted`` after the commit).

A crash (``kill -9``) anywhere loses nothing and duplicates nothing: before step 2 ends the journal
still holds the day and the tier does not; after it, readers take the day from the tier only
(``columnar_read.TieredSlaSource``) and the next run just deletes what the manifest says it holds. Rows
of a compacted day that arrive later (ids above the recorded ones) are merged into the day by rewriting
it. The environment variable :data:`CRASH_ENV` names a step at which the process SIGKILLs itself: the
crash tests run compaction in a subprocess with it set to every step in turn.

A journal that feeds InfluxDB keeps a day until the shipper has sent all of it (samples, heartbeats and
rollups behind their cursors): compaction never takes rows out of the shipper's reach.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import signal
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from slaprobe.store.columnar import (
    DAY_NS,
    HB_TYPES,
    HEARTBEAT_COLUMNS,
    SERIES_TAGS,
    VALUE_COLUMNS,
    Tier,
    TierError,
    arrow_type,
    as_table,
    day_start_ns,
    plain,
)
from slaprobe.store.columnar_write import write_day
from slaprobe.store.journal import JournalStore

log = logging.getLogger(__name__)

STEPS: tuple[str, ...] = (
    "selected",
    "files_written",
    "renamed",
    "manifest_written",
    "delete_begun",
    "deleted",
)
CRASH_ENV = "SLAPROBE_COMPACT_CRASH_AT"
# the shipper's cursors (``shipper.CURSOR_SAMPLES`` etc.); named here so the writer side needs no shipper
SHIPPER_CURSORS = {
    "samples": "shipper.samples",
    "heartbeats": "shipper.heartbeats",
    "rollups": "shipper.sla_hourly",
}


def _step(name: str) -> None:
    """The crash tests' hook: SIGKILL this process at the step named in ``$SLAPROBE_COMPACT_CRASH_AT``."""
    if os.environ.get(CRASH_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)


@dataclass
class CompactResult:
    days: list[str] = field(default_factory=list)  # compacted (or finished after a crash) this run
    samples: int = 0
    heartbeats: int = 0
    skipped: dict[str, str] = field(default_factory=dict)  # day -> why it stays in the journal

    def to_dict(self) -> dict[str, object]:
        return {
            "days": self.days,
            "samples": self.samples,
            "heartbeats": self.heartbeats,
            "skipped": self.skipped,
        }


def journal_days(journal: JournalStore, before: dt.date) -> list[str]:
    """The UTC days before ``before`` that still have samples or heartbeats in the journal."""
    end = day_start_ns(before)
    out: set[str] = set()
    with journal._lock:
        for table in ("samples", "heartbeats"):
            t = journal._db.execute(f"SELECT min(time_ns) FROM {table} WHERE time_ns < ?", (end,)).fetchone()[
                0
            ]
            while t is not None:  # one indexed probe per day present, never a scan
                day = t // DAY_NS * DAY_NS
                out.add(dt.datetime.fromtimestamp(day // 10**9, dt.UTC).date().isoformat())
                t = journal._db.execute(
                    f"SELECT min(time_ns) FROM {table} WHERE time_ns >= ? AND time_ns < ?",
                    (day + DAY_NS, end),
                ).fetchone()[0]
    return sorted(out)


def _select_day(
    journal: JournalStore, start: int, after: tuple[int, int] = (0, 0)
) -> tuple[pa.Table, pa.Table, int, int]:
    """The day's rows with ids above ``after`` (samples, heartbeats) as tier tables, and their max ids.

    Samples are read without the series join: their tags come from the small ``series`` table by id, as
    dictionary arrays (no Python string per row and tag: the read is the slow part of compaction).
    """
    sql = (
        f"SELECT id, series, time_ns, error, {', '.join(VALUE_COLUMNS)} FROM samples"
        " WHERE time_ns >= ? AND time_ns < ? AND id > ?"
    )
    hb_sql = (
        f"SELECT id, {', '.join(HEARTBEAT_COLUMNS)} FROM heartbeats"
        " WHERE time_ns >= ? AND time_ns < ? AND id > ?"
    )
    with journal._lock:
        rows = journal._db.execute(sql, (start, start + DAY_NS, after[0])).fetchall()
        beats = journal._db.execute(hb_sql, (start, start + DAY_NS, after[1])).fetchall()
        series = {
            r[0]: r[1:]
            for r in journal._db.execute(f"SELECT id, {', '.join(SERIES_TAGS)} FROM series").fetchall()
        }
    names = ["id", "series", "time_ns", "error", *VALUE_COLUMNS]
    cols_s = list(zip(*rows, strict=True)) or [()] * len(names)
    samples = dict(zip(names, cols_s, strict=True))
    max_s = max(samples.pop("id"), default=after[0])
    ids = np.array(samples.pop("series"), dtype=np.int64)
    used, index = np.unique(ids, return_inverse=True)
    data: dict[str, pa.Array] = {}
    for k, tag in enumerate(SERIES_TAGS):
        values = pa.array([series[int(i)][k] for i in used], pa.string())
        data[tag] = pa.DictionaryArray.from_arrays(pa.array(index.reshape(-1).astype(np.int32)), values)
    data.update({n: pa.array(v, type=arrow_type(n)) for n, v in samples.items()})
    cols_h = list(zip(*beats, strict=True)) or [()] * (len(HEARTBEAT_COLUMNS) + 1)
    hb = {n: list(c) for n, c in zip(("id", *HEARTBEAT_COLUMNS), cols_h, strict=True)}
    max_h = max(hb.pop("id"), default=after[1])
    s_table = as_table(data, [*SERIES_TAGS, "time_ns", "error", *VALUE_COLUMNS], arrow_type)
    h_table = as_table(
        {n: pa.array(v, type=HB_TYPES.get(n, pa.int64())) for n, v in hb.items()},
        list(HEARTBEAT_COLUMNS),
        lambda c: HB_TYPES.get(c, pa.int64()),
    )
    return s_table, h_table, max_s, max_h


def _shipped(journal: JournalStore, start: int) -> str | None:
    """Why the day cannot leave the journal yet (rows the shipper has not sent), or None."""
    cursors = {name: journal.get_cursor(c) for name, c in SHIPPER_CURSORS.items()}
    end = start + DAY_NS
    with journal._lock:
        db = journal._db
        s = db.execute(
            "SELECT max(id) FROM samples WHERE time_ns >= ? AND time_ns < ?", (start, end)
        ).fetchone()[0]
        h = db.execute(
            "SELECT max(id) FROM heartbeats WHERE time_ns >= ? AND time_ns < ?", (start, end)
        ).fetchone()[0]
        r = db.execute(
            "SELECT max(last_id) FROM sla_hourly WHERE hour_ns >= ? AND hour_ns < ?", (start, end)
        ).fetchone()[0]
    if (s or 0) > cursors["samples"] or (h or 0) > cursors["heartbeats"] or (r or 0) > cursors["rollups"]:
        return "not shipped to InfluxDB yet"
    return None


def _delete_day(journal: JournalStore, start: int, max_sample: int, max_heartbeat: int) -> tuple[int, int]:
    """Delete the compacted rows of a day in one transaction; returns (samples, heartbeats) deleted."""
    end = start + DAY_NS
    with journal._lock:
        db = journal._db
        db.execute("BEGIN IMMEDIATE")
        try:
            n_s = db.execute(
                "DELETE FROM samples WHERE time_ns >= ? AND time_ns < ? AND id <= ?", (start, end, max_sample)
            ).rowcount
            _step("delete_begun")
            n_h = db.execute(
                "DELETE FROM heartbeats WHERE time_ns >= ? AND time_ns < ? AND id <= ?",
                (start, end, max_heartbeat),
            ).rowcount
            # the day's rollups: the tier holds them now (a later row of the day re-creates its hour here,
            # and the next compaction merges the day again)
            db.execute("DELETE FROM sla_hourly WHERE hour_ns >= ? AND hour_ns < ?", (start, end))
            db.execute("DELETE FROM sla_daily WHERE day_ns >= ? AND day_ns < ?", (start, end))
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
    _step("deleted")
    return n_s, n_h


def compact_day(
    journal: JournalStore, tier: Tier, day: str, *, shipping: bool = False
) -> tuple[int, int] | str:
    """Move one UTC day; returns (samples, heartbeats) moved, or why it stayed in the journal."""
    start = day_start_ns(dt.date.fromisoformat(day))
    if shipping and (why := _shipped(journal, start)):
        return why
    entry = tier.info(day)
    if entry is not None:  # already in the tier: a crash after the manifest, or rows that came later
        done = (int(entry.get("max_sample_id", 0)), int(entry.get("max_heartbeat_id", 0)))
        late, late_hb, max_s, max_h = _select_day(journal, start, done)
        if late.num_rows or late_hb.num_rows:
            if not tier.has_raw(day):
                return "late rows for a day whose raw detail retention removed"
            samples = plain(tier.read(day, "samples"))
            detail = plain(tier.read(day, "detail"))
            for c in detail.column_names:
                samples = samples.append_column(c, detail.column(c))
            old_rows = samples.select(late.column_names)
            merged = pa.concat_tables([old_rows, late.cast(old_rows.schema)])
            old = plain(tier.read(day, "heartbeats"))
            beats = pa.concat_tables([old, late_hb.select(old.column_names)], promote_options="permissive")
            ids = {"max_sample_id": max_s, "max_heartbeat_id": max_h}
            info = write_day(
                tier.root, dt.date.fromisoformat(day), merged, beats, replace=True, hook=_step, extra=ids
            )
            log.warning(
                "compaction: merged %d late samples into UTC day %s (%d in all)",
                late.num_rows,
                day,
                info.samples,
            )
            done = (max_s, max_h)
        return _delete_day(journal, start, *done)
    samples, beats, max_s, max_h = _select_day(journal, start)
    _step("selected")
    ids = {"max_sample_id": max_s, "max_heartbeat_id": max_h}
    write_day(tier.root, dt.date.fromisoformat(day), samples, beats, hook=_step, extra=ids)
    deleted = _delete_day(journal, start, max_s, max_h)
    if deleted != (samples.num_rows, beats.num_rows):  # the rows just read: nothing else may delete them
        raise TierError(
            f"compaction of {day}: wrote {samples.num_rows}/{beats.num_rows} rows, deleted {deleted}"
        )
    return deleted


def compact(journal: JournalStore, tier: Tier, before: dt.date, *, shipping: bool = False) -> CompactResult:
    """Compact every journal day before ``before`` (UTC), oldest first; see the module doc."""
    if not tier.exists() and not journal_days(journal, before):
        return CompactResult()  # nothing to move: no tier directory is created
    with tier.writing():  # one compaction at a time (the daemon's, a command's)
        return _compact(journal, tier, before, shipping)


def _compact(journal: JournalStore, tier: Tier, before: dt.date, shipping: bool) -> CompactResult:
    result = CompactResult()
    days = sorted(set(journal_days(journal, before)) | {d for d in tier.days() if d < before.isoformat()})
    for day in days:
        if tier.info(day) is not None and not _has_rows(journal, day):
            continue
        moved = compact_day(journal, tier, day, shipping=shipping)
        if isinstance(moved, str):
            result.skipped[day] = moved
            continue
        result.days.append(day)
        result.samples += moved[0]
        result.heartbeats += moved[1]
        log.info("compaction: UTC day %s moved to the columnar tier (%d samples, %d heartbeats)", day, *moved)
    return result


def _has_rows(journal: JournalStore, day: str) -> bool:
    start = day_start_ns(dt.date.fromisoformat(day))
    with journal._lock:
        db = journal._db
        for table, col in (("samples", "time_ns"), ("heartbeats", "time_ns"), ("sla_hourly", "hour_ns")):
            if db.execute(
                f"SELECT 1 FROM {table} WHERE {col} >= ? AND {col} < ? LIMIT 1", (start, start + DAY_NS)
            ).fetchone():
                return True
    return False

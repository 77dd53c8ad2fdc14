"""Compaction: closed UTC days move from the SQLite journal into the columnar tier, crash-safe.

``slaprobe store compact [--before DAY]`` and the daemon (once a day, ``store.compact``) run
:func:`compact`. Per day, oldest first:

1. select the day's samples and heartbeats from the journal (``selected``; ``journal_day.read_day``:
   Arrow columns through the ADBC SQLite driver, bounded by the ids present when the read starts);
2. write the day's files to a temporary directory and fsync them (``files_written``), rename it into
   place (``renamed``) and record the day in the manifest, with the largest journal ids it holds
   (``manifest_written``). Until the manifest names the day, readers do not see it;
3. delete the day's samples (ids up to the recorded ones), heartbeats and rollup rows from the journal,
   by id range, in the journal's bounded transactions with a pause between (``JournalStore.delete_ids``),
   so the daemon's writer is never locked out for long (``delete_begun`` after the first batch,
   ``deleted`` after the last).

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
import functools
import logging
import os
import signal
from dataclasses import dataclass, field

import pyarrow as pa

from slaprobe.store.columnar import (
    DAY_NS,
    Tier,
    TierError,
    day_start_ns,
    plain,
)
from slaprobe.store.columnar_write import write_day
from slaprobe.store.journal import JournalStore
from slaprobe.store.journal_day import read_day

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


def _first_id(journal: JournalStore, table: str, start: int, upto: int) -> int:
    """The smallest id of ``table`` dated in the UTC day from ``start`` with id <= ``upto`` (0: none)."""
    with journal._lock:
        row = journal._db.execute(
            f"SELECT coalesce(min(id), 0) FROM {table} WHERE time_ns >= ? AND time_ns < ? AND id <= ?",
            (start, start + DAY_NS, upto),
        ).fetchone()
    return row[0]


def _delete_day(
    journal: JournalStore, start: int, max_sample: int, max_heartbeat: int, min_sample: int = 0
) -> tuple[int, int]:
    """Delete the compacted rows of a day, in bounded transactions (the tier holds the day since the
    manifest named it: readers take it from there, so a day half deleted reads whole; a rerun deletes
    the rest); returns (samples, heartbeats) deleted. Rollup rows go last: a crash before leaves them
    in the journal, where readers ignore the day's hours (the tier's count).

    The day's samples are the ones between its smallest and largest ids dated in the day: deleted by
    id range (``JournalStore.delete_ids``), which costs SQLite ~40 % less than a delete by time.
    ``min_sample`` is the smallest id the read saw; 0 (a rerun after a crash) looks it up."""
    end = start + DAY_NS
    times = (start, end)
    first = min_sample or _first_id(journal, "samples", start, max_sample)
    # after each batch: from the first on, some rows of the day are gone and the rest still there
    begun = functools.partial(_step, "delete_begun")
    n_s = journal.delete_ids("samples", first, max_sample, times=times, on_batch=begun) if first else 0
    first_h = _first_id(journal, "heartbeats", start, max_heartbeat)
    n_h = journal.delete_ids("heartbeats", first_h, max_heartbeat, times=times) if first_h else 0
    # the day's rollups: the tier holds them now (a later row of the day re-creates its hour here,
    # and the next compaction merges the day again)
    with journal._lock:
        db = journal._db
        db.execute("BEGIN IMMEDIATE")
        try:
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
        got = read_day(journal, start, done)
        if got.num_samples or got.heartbeats.num_rows:
            if not tier.has_raw(day):
                return "late rows for a day whose raw detail retention removed"
            samples = plain(tier.read(day, "samples"))
            detail = plain(tier.read(day, "detail"))
            for c in detail.column_names:
                samples = samples.append_column(c, detail.column(c))
            late = got.samples_table()
            old_rows = samples.select(late.column_names)
            merged = pa.concat_tables([old_rows, late.cast(old_rows.schema)])
            old = plain(tier.read(day, "heartbeats"))
            beats = pa.concat_tables(
                [old, got.heartbeats.select(old.column_names)], promote_options="permissive"
            )
            max_s, max_h = got.max_sample, got.max_heartbeat
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
    got = read_day(journal, start)
    _step("selected")
    ids = {"max_sample_id": got.max_sample, "max_heartbeat_id": got.max_heartbeat}
    write_day(tier.root, dt.date.fromisoformat(day), got.samples, got.heartbeats, hook=_step, extra=ids)
    read, first = (got.num_samples, got.heartbeats.num_rows), got.min_sample
    del got  # the day's columns (GBs at 20,000 terminals) are not needed for the delete
    deleted = _delete_day(journal, start, ids["max_sample_id"], ids["max_heartbeat_id"], first)
    if deleted != read:  # the rows just read: nothing else may delete them
        raise TierError(f"compaction of {day}: wrote {read[0]}/{read[1]} rows, deleted {deleted}")
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

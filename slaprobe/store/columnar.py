"""The columnar tier: closed UTC days of samples, heartbeats and SLA rollups as compressed Parquet files.

Why: the SQLite journal takes ~103 bytes per sample and nothing indexes a terminal's hour; a closed day
never changes again, so it is written once, column by column, sorted and compressed (pyarrow Parquet,
chosen over DuckDB by measurement: docs/storage.md). SQLite stays the crash-safe spool of recent samples.

Layout under the tier's root (``store.columnar_dir``, default ``<state_dir>/columnar``)::

    manifest.json                  the days the tier holds; a day not listed there does not exist
    day=2026-11-03/                one directory per UTC day (all times in it are inside that day)
        samples.parquet            every sample: series tags, time_ns, sent, received, error
        detail.parquet             the other Sample fields, same rows in the same order (raw detail)
        problems.parquet           the rows with lost > 0 or sent = 0 (what the SLA engine reads)
        heartbeats.parquet         every heartbeat of the day (``journal._HEARTBEAT_COLUMNS``)
        hourly.parquet             SLA rollups per (terminal, vantage, kind, UTC hour)
        daily.parquet              the same summed per day (histograms for whole-day reads)

Rows of ``samples``/``detail`` are sorted by series (terminal, vantage, kind, carrier, region, level,
tier) then time: tags become runs, times regular deltas. Tags and ``error`` are dictionary-encoded;
every file is zstd-compressed. A float column whose values are all exact at some decimal scale (1 .. 1e6)
is stored as scaled integers (file metadata ``slaprobe.scale.<column>``) and read back as the very same
floats; otherwise as float64 (byte-stream-split). ``lost`` is not stored (``max(sent - received, 0)``).

Retention (``store/retention.py``) deletes ``detail.parquet`` of days older than ``store.raw_days``
(manifest ``raw: false``); everything the month report reads stays: the report of such a day is
unchanged, only ``samples`` shows the detail fields as empty.

API (what producers and readers use):

* :func:`samples_table` / :func:`heartbeats_table`: ``Sample``/``Heartbeat`` objects (+ terminal tags)
  -> Arrow tables of this schema, for row-wise producers and tests.
* ``columnar_write.write_day`` ``(root, day, samples, heartbeats)``: the bulk writer (a module of its
  own: it keeps strings as dictionary codes to sort ~28 M rows a day, see its docstring). ``samples`` is a
  ``pyarrow.Table`` or a mapping of column -> numpy/pyarrow array with :data:`SERIES_TAGS`, ``time_ns``,
  ``error`` and any of :data:`VALUE_COLUMNS` (missing ones are null; NaN floats are null, as in SQLite);
  ``heartbeats`` likewise with :data:`HEARTBEAT_COLUMNS`. It sorts, computes the rollups with
  ``sla.rollup_columns.hourly_rollups`` (the one bulk definition), writes each file to a temporary name,
  fsyncs, renames the day directory into place and then records the day in the manifest. A crash
  before the manifest leaves no day; rewriting a day is refused unless ``replace=True``.
* :class:`Tier` ``(root)``: ``days()``, ``read(day, part, columns, filter)``, ``samples(...)``,
  ``heartbeats(...)``, ``has_raw(day)``; the SLA read path is ``store/columnar_read.py``.
"""

from __future__ import annotations

import bisect
import contextlib
import datetime as dt
import fcntl
import json
import os
import shutil
import threading
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from slaprobe.model import NS_PER_S, Heartbeat, Outcome, ProbeKind, Sample
from slaprobe.store.journal import HEARTBEAT_COLUMNS as _HEARTBEAT_COLUMNS
from slaprobe.store.journal import SAMPLE_VALUE_COLUMNS, ZERO_IF_NULL
from slaprobe.store.parquet_codec import (
    STRING_COLUMNS,
    decode_floats,
    fsync_dir,
)

TIER_VERSION = 1
DAY_NS = 86_400 * NS_PER_S
MANIFEST = "manifest.json"
SERIES_TAGS: tuple[str, ...] = ("terminal", "vantage", "kind", "carrier", "region", "level", "tier")
ENGINE_VALUES: tuple[str, ...] = ("sent", "received")
VALUE_COLUMNS: tuple[str, ...] = SAMPLE_VALUE_COLUMNS
DETAIL_COLUMNS: tuple[str, ...] = tuple(c for c in VALUE_COLUMNS if c not in ENGINE_VALUES)
HEARTBEAT_COLUMNS: tuple[str, ...] = _HEARTBEAT_COLUMNS
ROLLUP_KEYS: tuple[str, ...] = ("terminal", "vantage", "kind")
PARTS: tuple[str, ...] = ("samples", "detail", "problems", "heartbeats", "hourly", "daily")
_INT = frozenset({"sent", "received", "duplicates", "reordered", "late", "max_loss_burst", "malformed"})
_TEXT = frozenset({"malformed_reason"})
HB_TYPES: dict[str, pa.DataType] = {
    "time_ns": pa.int64(),
    "vantage": pa.string(),
    "grp": pa.string(),
    "interval_s": pa.float64(),
    "duration_s": pa.float64(),
}


class TierError(Exception):
    """The tier cannot be used (unknown version, a day written twice, data outside its day)."""


def day_of(ns: int) -> dt.date:
    return dt.datetime.fromtimestamp(ns // NS_PER_S, dt.UTC).date()


def day_start_ns(day: dt.date) -> int:
    return (day - dt.date(1970, 1, 1)).days * DAY_NS


# ---------------------------------------------------------------------------------------- row -> table
def samples_table(samples: Sequence[Sample], tags: Mapping[str, Mapping[str, str]]) -> pa.Table:
    """Sample objects (and each terminal's tags: carrier, region, level, tier) as a tier table."""
    cols: dict[str, list[Any]] = {c: [] for c in (*SERIES_TAGS, "time_ns", "error", *VALUE_COLUMNS)}
    for s in samples:
        t = tags.get(s.terminal, {})
        cols["terminal"].append(s.terminal)
        cols["vantage"].append(s.vantage)
        cols["kind"].append(s.kind.value)
        for tag in ("carrier", "region", "level", "tier"):
            cols[tag].append(t.get(tag, ""))
        cols["time_ns"].append(s.time_ns)
        cols["error"].append(s.error.value)
        for c in VALUE_COLUMNS:
            cols[c].append(getattr(s, c))
    return pa.table({c: pa.array(v, type=arrow_type(c)) for c, v in cols.items()})


def heartbeats_table(heartbeats: Sequence[Heartbeat]) -> pa.Table:
    rows = [
        (h.time_ns, h.vantage, h.group, h.interval_s, h.due, h.probed, h.late, h.skipped, h.duration_s,
         h.reference_ok, h.reference_total, h.unstored)
        for h in heartbeats
    ]  # fmt: skip
    cols = list(zip(*rows, strict=True)) or [()] * len(HEARTBEAT_COLUMNS)
    return pa.table(
        {
            c: pa.array(list(v), type=HB_TYPES.get(c, pa.int64()))
            for c, v in zip(HEARTBEAT_COLUMNS, cols, strict=True)
        }
    )


def arrow_type(column: str) -> pa.DataType:
    if column in SERIES_TAGS or column == "error":
        return pa.string()
    if column == "time_ns":
        return pa.int64()
    if column in _INT:
        return pa.int64()
    if column in _TEXT:
        return pa.string()
    return pa.float64()


def as_table(data: pa.Table | Mapping[str, Any], columns: Sequence[str], types: Any) -> pa.Table:
    """A table of ``columns`` from a Table or a column mapping; absent columns null, NaN floats null."""
    src = data if isinstance(data, pa.Table) else None
    names = src.column_names if src is not None else list(data)  # type: ignore[arg-type]
    n = src.num_rows if src is not None else len(next(iter(data.values()))) if data else 0  # type: ignore[union-attr]
    out = {}
    for c in columns:
        want = types(c)
        if c not in names:
            out[c] = pa.nulls(n, type=want)
            continue
        col = src.column(c) if src is not None else data[c]  # type: ignore[index]
        if isinstance(col, np.ndarray):
            col = pa.array(col, from_pandas=True)  # NaN -> null, as SQLite stores it
        elif isinstance(col, list):
            col = pa.array(col)
        if isinstance(col, pa.ChunkedArray):
            col = col.combine_chunks()
        if pa.types.is_dictionary(col.type):
            col = col.dictionary_decode()
        if pa.types.is_floating(col.type):
            col = pc.if_else(pc.is_nan(col), pa.scalar(None, col.type), col)
        out[c] = col.cast(want)
    return pa.table(out)


# ---------------------------------------------------------------------------------------- writing
@dataclass(frozen=True, slots=True)
class DayInfo:
    """A day as the manifest records it."""

    day: str
    samples: int
    problems: int
    heartbeats: int
    hourly: int
    raw: bool
    bytes: dict[str, int]
    extra: Mapping[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "samples": self.samples, "problems": self.problems, "heartbeats": self.heartbeats,
            "hourly": self.hourly, "raw": self.raw, "bytes": self.bytes, **self.extra,
        }  # fmt: skip


# ---------------------------------------------------------------------------------------- reading
def plain(table: pa.Table) -> pa.Table:
    """The table with its dictionary-encoded columns decoded (for sorting and Python values)."""
    for i, f in enumerate(table.schema):
        if pa.types.is_dictionary(f.type):
            table = table.set_column(i, f.name, table.column(i).cast(f.type.value_type))
    return table


class _FileLock:
    """An exclusive ``flock`` on ``<root>/.lock``, re-entrant within this process (one per root)."""

    _all: ClassVar[dict[Path, _FileLock]] = {}
    _guard: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, path: Path) -> None:
        self.path = path
        self.rlock = threading.RLock()
        self.depth = 0
        self.fd: int | None = None

    @classmethod
    def of(cls, root: Path) -> _FileLock:
        with cls._guard:
            return cls._all.setdefault(root.resolve(), cls(root / ".lock"))

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        with self.rlock:
            if self.depth == 0:
                self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
                fcntl.flock(self.fd, fcntl.LOCK_EX)
            self.depth += 1
            try:
                yield
            finally:
                self.depth -= 1
                if self.depth == 0 and self.fd is not None:
                    os.close(self.fd)  # closing releases the flock
                    self.fd = None


class Tier:
    """The tier's directory: its manifest (re-read when the file changes) and its day files.

    Every change of the manifest is a read-modify-write under :meth:`writing` (an exclusive file lock):
    the daemon's compaction, ``slaprobe store compact|retention`` and ``report`` may run at once.
    """

    def __init__(self, root: str | Path, *, create: bool = False) -> None:
        self.root = Path(root)
        self._lock = threading.Lock()
        self._cache: tuple[tuple[int, int, int], dict[str, Any]] | None = None
        if create:
            self.root.mkdir(parents=True, exist_ok=True)

    def exists(self) -> bool:
        return (self.root / MANIFEST).exists()

    def writing(self) -> contextlib.AbstractContextManager[None]:
        """Hold the tier's write lock (re-entrant in this process)."""
        self.root.mkdir(parents=True, exist_ok=True)
        return _FileLock.of(self.root).held()

    def manifest(self) -> dict[str, Any]:
        path = self.root / MANIFEST
        try:
            st = path.stat()
        except FileNotFoundError:
            return {"version": TIER_VERSION, "days": {}}
        mtime = (st.st_ino, st.st_mtime_ns, st.st_size)  # every write is a new file (rename)
        with self._lock:
            if self._cache is None or self._cache[0] != mtime:
                data = json.loads(path.read_text("utf-8"))
                if data.get("version") != TIER_VERSION:
                    raise TierError(
                        f"{path}: tier version {data.get('version')}, this slaprobe reads {TIER_VERSION}"
                    )
                self._cache = (mtime, data)
            return self._cache[1]

    def _write_manifest(self, data: dict[str, Any]) -> None:
        path = self.root / MANIFEST
        tmp = path.with_suffix(".json.tmp")
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=1, sort_keys=True)
            fh.flush()
            os.fsync(fh.fileno())
        tmp.replace(path)
        fsync_dir(self.root)
        with self._lock:
            self._cache = None

    def _edit(self) -> dict[str, Any]:
        """A private copy of the manifest to change (call under :meth:`writing`)."""
        return json.loads(json.dumps(self.manifest()))

    def record(self, info: DayInfo) -> None:
        with self.writing():
            data = self._edit()
            data["days"][info.day] = info.to_dict()
            self._write_manifest(data)

    def drop_raw(self, day: str) -> int:
        """Delete a day's raw detail (retention); returns the bytes freed. Manifest first: a crash
        between the two leaves an unlisted file, never a listed missing one."""
        with self.writing():
            data = self._edit()
            entry = data["days"].get(day)
            if not entry or not entry.get("raw"):
                return 0
            entry["raw"] = False
            freed = int(entry["bytes"].pop("detail", 0))
            self._write_manifest(data)
            (self.day_dir(day) / "detail.parquet").unlink(missing_ok=True)
        return freed

    def drop_day(self, day: str) -> int:
        """Delete a whole day (retention); returns the bytes freed. Manifest first, as :meth:`drop_raw`."""
        with self.writing():
            data = self._edit()
            entry = data["days"].pop(day, None)
            if entry is None:
                return 0
            self._write_manifest(data)
            shutil.rmtree(self.day_dir(day), ignore_errors=True)
        return sum(int(b) for b in entry.get("bytes", {}).values())

    def reported(self) -> list[str]:
        """The months recorded as reported from this store (``retention.mark_reported``)."""
        return list(self.manifest().get("reported", []))

    def set_reported(self, month: str) -> None:
        with self.writing():
            data = self._edit()
            if month not in data.setdefault("reported", []):
                data["reported"] = sorted([*data["reported"], month])
                self._write_manifest(data)

    def day_dir(self, day: str) -> Path:
        return self.root / f"day={day}"

    def days(self) -> list[str]:
        """The days the tier holds (ISO dates, sorted)."""
        return sorted(self.manifest()["days"])

    def info(self, day: str) -> dict[str, Any] | None:
        return self.manifest()["days"].get(day)

    def has_raw(self, day: str) -> bool:
        entry = self.info(day)
        return bool(entry and entry.get("raw"))

    def days_in(self, start_ns: int, end_ns: int) -> list[str]:
        """The tier's days overlapping ``[start_ns, end_ns)``."""
        if end_ns <= start_ns:
            return []
        first, last = day_of(start_ns).isoformat(), day_of(end_ns - 1).isoformat()
        return [d for d in self.days() if first <= d <= last]

    def read(
        self, day: str, part: str, columns: Sequence[str] | None = None, filters: Any = None
    ) -> pa.Table:
        """One part of one day (``PARTS``), only ``columns``, rows matching the pyarrow ``filters``."""
        path = self.day_dir(day) / f"{part}.parquet"
        if part == "detail":  # whole: a column may be stored as a difference to another
            table = pq.read_table(path, filters=filters, read_dictionary=["malformed_reason"])
            return decode_floats(table, pq.read_schema(path).metadata)
        cols = list(columns) if columns else None
        return pq.read_table(path, columns=cols, filters=filters, read_dictionary=STRING_COLUMNS)

    def read_terminals(
        self, day: str, part: str, columns: Sequence[str], terminals: Sequence[str], lo: int, hi: int
    ) -> pa.Table:
        """The row groups of a day's ``part`` that may hold any of ``terminals`` with a time in
        ``[lo, hi)``, chosen by their statistics (the rows are sorted by terminal): a handful of small
        groups instead of the day. The caller filters the rows exactly."""
        return pa.concat_tables(self.iter_terminals(day, part, columns, terminals, lo, hi, batch=None))

    def iter_terminals(
        self,
        day: str,
        part: str,
        columns: Sequence[str],
        terminals: Sequence[str],
        lo: int,
        hi: int,
        batch: int | None = 64,
    ) -> Iterator[pa.Table]:
        """:meth:`read_terminals` as tables of at most ``batch`` row groups (``None``: one table), so a
        caller that filters each keeps only its rows: at 20,000 terminals the pooled terminals of a
        day touch most of its groups, and a whole day decoded at once is GBs across the read pool."""
        path = self.day_dir(day) / f"{part}.parquet"
        f = pq.ParquetFile(path, read_dictionary=[c for c in STRING_COLUMNS if c in columns])
        md = f.metadata
        # the Arrow schema's names, not ``md.schema``: pyarrow's ParquetSchema and FileMetaData refer to
        # each other, a cycle only the garbage collector frees, so every file read kept its metadata
        # (thousands of row groups' statistics) alive long after (~0.5 GB over a 20,000 month report)
        names = f.schema_arrow.names  # the tier's files are flat: one leaf column per field
        ti, tt = names.index("terminal"), names.index("time_ns")
        wanted = sorted(terminals)
        groups = []
        for g in range(md.num_row_groups):
            rg = md.row_group(g)
            st, tm = rg.column(ti).statistics, rg.column(tt).statistics
            if tm is not None and tm.has_min_max and (tm.max < lo or tm.min >= hi):
                continue
            if st is not None and st.has_min_max:
                i = bisect.bisect_left(wanted, st.min)
                if i == len(wanted) or wanted[i] > st.max:
                    continue
            groups.append(g)
        step = batch or max(len(groups), 1)
        for i in range(0, max(len(groups), 1), step):
            yield f.read_row_groups(groups[i : i + step], columns=list(columns))

    def bytes_on_disk(self) -> int:
        return sum(p.stat().st_size for p in self.root.glob("day=*/*.parquet"))

    # -------------------------------------------------------------------- objects (samples, status)
    def samples(
        self,
        start_ns: int,
        end_ns: int,
        terminals: Collection[str] | None = None,
        kinds: Collection[ProbeKind] | None = None,
    ) -> Iterator[Sample]:
        """Samples of ``[start_ns, end_ns)`` in (time, terminal, vantage, kind) order; the detail
        fields of a day whose raw detail retention removed read as empty (None / 0)."""
        for day in self.days_in(start_ns, end_ns):
            table = plain(self.read(day, "samples"))
            if self.has_raw(day):
                detail = self.read(day, "detail")
                for c in detail.column_names:
                    table = table.append_column(c, detail.column(c))
            keep = pc.and_(
                pc.greater_equal(table.column("time_ns"), start_ns), pc.less(table.column("time_ns"), end_ns)
            )
            if terminals is not None:
                keep = pc.and_(
                    keep, pc.is_in(table.column("terminal"), pa.array(list(terminals), pa.string()))
                )
            if kinds is not None:
                wanted = pa.array([ProbeKind(k).value for k in kinds], pa.string())
                keep = pc.and_(keep, pc.is_in(table.column("kind"), wanted))
            table = table.filter(keep)
            table = table.take(
                pc.sort_indices(
                    table, sort_keys=[(c, "ascending") for c in ("time_ns", "terminal", "vantage", "kind")]
                )
            )
            for row in table.to_pylist():
                values = {c: row.get(c) for c in VALUE_COLUMNS}
                for c in ZERO_IF_NULL:
                    values[c] = values[c] or 0
                yield Sample(
                    time_ns=row["time_ns"], terminal=row["terminal"], vantage=row["vantage"],
                    kind=ProbeKind(row["kind"]), error=Outcome(row["error"]), **values,
                )  # fmt: skip

    def heartbeat_rows(self, start_ns: int, end_ns: int) -> list[tuple]:
        """Heartbeats of ``[start_ns, end_ns)`` as tuples in ``HEARTBEAT_COLUMNS`` order, by time."""
        out: list[tuple] = []
        for day in self.days_in(start_ns, end_ns):
            t = self.read(day, "heartbeats", filters=[("time_ns", ">=", start_ns), ("time_ns", "<", end_ns)])
            cols = [t.column(c).to_pylist() for c in HEARTBEAT_COLUMNS]
            out.extend(zip(*cols, strict=True))
        return out

    def heartbeats(self, start_ns: int, end_ns: int) -> list[Heartbeat]:
        return [Heartbeat(*r) for r in self.heartbeat_rows(start_ns, end_ns)]

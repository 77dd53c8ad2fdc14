"""One UTC day of the SQLite journal as Arrow columns: the read half of compaction.

Why not Python's ``sqlite3``: it builds a Python object per value (27 per sample), ~45,000 samples/s,
about ten minutes for a 20,000-terminal day of 28 M samples. The Arrow project's ADBC SQLite driver
(``adbc-driver-sqlite``) steps the same query in C straight into Arrow arrays (~4x faster per row,
``bench/compact_day.py``), and a connection per slice of the day's ids reads the day on every core:
the driver releases the GIL while it fills a batch.

Consistency with a daemon writing meanwhile (WAL: readers never block it): every query is bounded by
the largest sample and heartbeat ids present when the read starts. The daemon only appends, so the rows
of the day with ids up to that bound are the same whichever snapshot each slice reads, and the max ids
recorded in the manifest are exactly those of the rows read; a row of the day written later has a
higher id and is merged by the next compaction (``compact.py``).

Types: the driver infers each column's Arrow type from the first batch it steps, and a column whose
first batch is all NULL (``malformed_reason``, the per-direction figures of ICMP) would be typed int64
and then fail on the first real value. A first row of typed literals (id 0, never a real rowid) fixes
every column's type and is dropped from the result.

The result is what ``columnar.write_day`` takes: tags (and ``error``) as dictionary arrays of distinct
values, the tags' indices mapped from each sample's series id (no string per row), values as Arrow
arrays with NULLs kept.
"""

from __future__ import annotations

import functools
import itertools
import os
import sqlite3
import threading
import urllib.parse
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from slaprobe.store.columnar import (
    DAY_NS,
    HB_TYPES,
    HEARTBEAT_COLUMNS,
    SERIES_TAGS,
    VALUE_COLUMNS,
    arrow_type,
)
from slaprobe.store.columnar_write import small_int
from slaprobe.store.journal import JournalStore

SAMPLE_COLUMNS: tuple[str, ...] = (*SERIES_TAGS, "time_ns", "error", *VALUE_COLUMNS)
_READ = ("id", "series", "time_ns", "error", *VALUE_COLUMNS)
BUSY_MS = 10_000
# rows per Arrow batch the driver fills (its types come from the first): large batches are fewer
# buffer copies (a 2.5 M-row read took 3.5 s in one batch, 4.8 s in 64 Ki-row ones)
BATCH_ROWS = 1 << 23


@dataclass
class JournalDay:
    """The rows of one UTC day with ids above the ones asked for, and the largest ids among them."""

    # SAMPLE_COLUMNS -> array (tags and error dictionary-coded); a value column NULL in every row is
    # left out (the writer fills an absent column with nulls: 1.4 GB less for ICMP's six at 20,000)
    # (float columns as numpy float64 arrays, NULL as NaN: see ``_floats``)
    samples: dict[str, pa.Array | np.ndarray]
    heartbeats: pa.Table  # HEARTBEAT_COLUMNS
    max_sample: int
    max_heartbeat: int
    min_sample: int = 0  # the smallest sample id read (0: none): the day's rows are an id range to delete

    @property
    def num_samples(self) -> int:
        return len(self.samples["time_ns"])

    def samples_table(self) -> pa.Table:
        """Every column of :data:`SAMPLE_COLUMNS`, the left-out ones as nulls."""
        n = self.num_samples
        cols = {}
        for c in SAMPLE_COLUMNS:
            v = self.samples.get(c)
            cols[c] = (
                pa.nulls(n, arrow_type(c))
                if v is None
                else pa.array(v, arrow_type(c), from_pandas=True)  # NaN -> null
                if isinstance(v, np.ndarray)
                else v
            )
        return pa.table(cols)


def _floats(chunks: pa.ChunkedArray) -> np.ndarray:
    """A float column as one numpy float64 array, NULL as NaN: what the tier writer takes as it is
    (``columnar_write.numbers``). A combined Arrow array with nulls the writer would copy once more to
    put the NaNs in: ~0.45 s per column of a 20,000-terminal day (28 M rows), eight such columns."""
    out = np.empty(len(chunks), np.float64)
    at = 0
    for chunk in chunks.chunks:
        chunk = chunk.cast(pa.float64())
        n = len(chunk)
        out[at : at + n] = np.frombuffer(chunk.buffers()[1], np.float64, n, chunk.offset * 8)
        if chunk.null_count:  # the values under a null are undefined
            out[at : at + n][chunk.is_null().to_numpy(zero_copy_only=False)] = np.nan
        at += n
    return out


def _literal(column: str) -> str:
    if column in ("id", "series", "time_ns"):
        return "0"
    t = arrow_type(column)
    return "''" if t == pa.string() else "0" if pa.types.is_integer(t) else "0.0"


_TYPED_FIRST_ROW = "SELECT " + ", ".join(f"{_literal(c)} AS {c}" for c in _READ)
_SAMPLES_SQL = (
    f"{_TYPED_FIRST_ROW} UNION ALL SELECT {', '.join(_READ)} FROM samples"
    " WHERE time_ns >= ? AND time_ns < ? AND id > ? AND id <= ?"
)


def _uri(path: Path) -> str:
    return f"file:{urllib.parse.quote(str(path.resolve()))}?mode=ro"


def _read_slice(path: Path, lo: int, hi: int, *, after: int, bound: int) -> pa.Table:
    """Samples with ``lo <= time_ns < hi`` and ``after < id <= bound``, the typed first row dropped."""
    import adbc_driver_sqlite.dbapi as adbc

    with adbc.connect(_uri(path)) as conn, conn.cursor() as cur:
        cur.adbc_statement.set_options(**{"adbc.sqlite.query.batch_rows": str(BATCH_ROWS)})
        cur.execute(f"PRAGMA busy_timeout = {BUSY_MS}")  # as the journal's own connection waits
        cur.fetchall()
        cur.execute(_SAMPLES_SQL, (lo, hi, after, bound))
        table = cur.fetch_arrow_table()
    if table.num_rows and table.column("id")[0].as_py() == 0:  # SQLite returns the UNION's arms in order
        return table.slice(1)
    return table.filter(pc.not_equal(table.column("id"), 0))


def _id_edges(db: sqlite3.Connection, start: int, k: int, after: int, bound: int) -> list[int]:
    """Id ranges ``(edges[i], edges[i + 1]]`` for ``k`` slices of the day, cut where each k-th of the
    day begins (the first row at that time by the time index: one seek per cut).

    Every slice reads the day's rows of its own rowid range, so each row is visited once; slices by
    time each walked every row of the range (the rowid range is the plan SQLite takes) and kept one in
    k. The time bounds stay in every slice's query: the edges only balance the work, ids dated in other
    days (or written out of time order) are filtered as before and none is lost or read twice."""
    edges = [after]
    for i in range(1, k):
        row = db.execute(
            "SELECT id FROM samples WHERE time_ns >= ? ORDER BY time_ns LIMIT 1", (start + DAY_NS * i // k,)
        ).fetchone()
        edges.append(min(max(row[0] - 1 if row else bound, edges[-1]), bound))
    edges.append(bound)
    return edges


def _parallel(jobs: list[Callable[[], pa.Table]]) -> list[pa.Table]:
    """Run the slice reads on threads (each its own connection); the first error is raised."""
    out: list[pa.Table | None] = [None] * len(jobs)
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            out[i] = jobs[i]()
        except BaseException as e:  # re-raised below, in the caller's thread
            errors.append(e)

    threads = [threading.Thread(target=run, args=(i,), name=f"journal-day-{i}") for i in range(1, len(jobs))]
    for t in threads:
        t.start()
    run(0)
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return [t for t in out if t is not None]


def _tags(series: np.ndarray, known: dict[int, tuple[str, ...]]) -> dict[str, pa.DictionaryArray]:
    """The tag columns of rows whose series ids are ``series``, each a dictionary array of its distinct
    values, sorted (as ``lab.month_columnar.day_columns`` gives them: equal values, equal indices)."""
    present = np.zeros(int(series.max()) + 1 if len(series) else 0, bool)
    present[series] = True  # O(rows), no sort: series ids are small (one per terminal, vantage, kind)
    used = np.flatnonzero(present)
    code = (np.cumsum(present, dtype=np.int64) - 1).astype(np.int32)[series]  # row -> series of the day
    rows = [known[int(i)] for i in used]
    out = {}
    for k, tag in enumerate(SERIES_TAGS):
        values, per_series = np.unique(np.array([r[k] for r in rows], dtype=object), return_inverse=True)
        per_series = per_series.reshape(-1).astype(np.int32)
        small = small_int(len(values))  # a quarter of the bytes for the few carriers, levels, tiers
        if len(values) == 1:  # one value (a single vantage, kind, tier...): no gather of every row
            indices = np.zeros(len(code), small)
        elif np.array_equal(per_series, np.arange(len(used))):  # distinct per series, in their order
            indices = code
        else:
            indices = per_series.astype(small)[code]
        out[tag] = pa.DictionaryArray.from_arrays(pa.array(indices), pa.array(values.tolist(), pa.string()))
    return out


def read_day(
    journal: JournalStore, start: int, after: tuple[int, int] = (0, 0), workers: int = 0
) -> JournalDay:
    """The samples and heartbeats of the UTC day starting at ``start`` with ids above ``after``
    (samples, heartbeats), read by ``workers`` connections in id slices (0: one per core, at most 4)."""
    end = start + DAY_NS
    hb_sql = (
        f"SELECT id, {', '.join(HEARTBEAT_COLUMNS)} FROM heartbeats"
        " WHERE time_ns >= ? AND time_ns < ? AND id > ? AND id <= ?"
    )
    with journal._lock:
        db = journal._db
        bound_s = db.execute("SELECT coalesce(max(id), 0) FROM samples").fetchone()[0]
        bound_h = db.execute("SELECT coalesce(max(id), 0) FROM heartbeats").fetchone()[0]
        beats = db.execute(hb_sql, (start, end, after[1], bound_h)).fetchall()
        # after the bounds: every series a sample up to bound_s names is already there
        known = {r[0]: r[1:] for r in db.execute(f"SELECT id, {', '.join(SERIES_TAGS)} FROM series")}
        k = workers or min(os.cpu_count() or 1, 4)
        edges = _id_edges(db, start, k, after[0], bound_s)
    read = functools.partial(_read_slice, journal.path, start, end)
    jobs = [functools.partial(read, after=lo, bound=hi) for lo, hi in itertools.pairwise(edges)]
    table = pa.concat_tables(_parallel(jobs))
    del jobs
    min_s, max_s = 0, after[0]
    if table.num_rows:
        lo_hi = pc.min_max(table.column("id"))
        min_s, max_s = int(lo_hi["min"].as_py()), int(lo_hi["max"].as_py())
    # one array per column (the writer takes them without a copy; a chunked column it would copy while
    # this mapping still held the chunks: 16.5 GiB instead of ~12 for a 20,000-terminal day). The copies
    # run on k threads (numpy and Arrow copy without the GIL): on this VM fresh memory costs ~2 ns a byte,
    # ~0.5 s per column of 28 M rows, ~7 s for a 20,000-terminal day on one thread. Each source column is
    # released once copied: the peak is the day plus k columns.
    series = table.column("series")
    columns = {c: table.column(c) for c in ("time_ns", "error", *VALUE_COLUMNS)}
    del table

    def tags_of(chunks: pa.ChunkedArray) -> dict[str, pa.DictionaryArray]:
        return _tags(chunks.to_numpy(), known)

    def convert(c: str) -> tuple[str, pa.Array | np.ndarray | None]:
        chunks = columns.pop(c)
        if c == "error":
            return c, chunks.combine_chunks().dictionary_encode()
        if chunks.null_count == len(chunks) and len(chunks):  # all NULL: not even copied
            return c, None
        if arrow_type(c) == pa.float64():
            return c, _floats(chunks)
        return c, chunks.combine_chunks().cast(arrow_type(c))

    with ThreadPoolExecutor(k, thread_name_prefix="journal-day-columns") as pool:
        tags = pool.submit(tags_of, series)
        del series  # the task holds it until its codes are made
        values = [(c, a) for c, a in pool.map(convert, list(columns)) if a is not None]
        samples: dict[str, pa.Array | np.ndarray] = {**tags.result(), **dict(values)}
    cols_h = list(zip(*beats, strict=True)) or [()] * (len(HEARTBEAT_COLUMNS) + 1)
    hb = dict(zip(("id", *HEARTBEAT_COLUMNS), cols_h, strict=True))
    max_h = max(hb.pop("id"), default=after[1])
    heartbeats = pa.table({n: pa.array(list(v), type=HB_TYPES.get(n, pa.int64())) for n, v in hb.items()})
    day = {c: samples[c] for c in SAMPLE_COLUMNS if c in samples}
    return JournalDay(day, heartbeats, max_s, max_h, min_s)

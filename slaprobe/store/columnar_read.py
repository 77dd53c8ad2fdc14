"""The SLA engine's read path over the columnar tier, and the source that joins it to the journal.

Both implement :class:`slaprobe.sla.inputs.SlaSource`:

* :class:`ColumnarSlaSource` answers from the tier's days alone (``store/columnar.py``): problem rows
  from ``problems.parquet`` (a few per mille of the rows), presence and period sums from
  ``hourly.parquet``, histograms from ``daily.parquet`` for whole days and ``hourly.parquet`` at the
  period's edges, heartbeats, and the pooled (terminal, hour) samples from ``samples.parquet``, read
  with predicate pushdown on (terminal, time): the files are sorted by series then time, so row-group
  statistics skip every other terminal's rows.
* :class:`TieredSlaSource` answers a window from both tiers: the days the tier's manifest lists from
  the tier, every other hour from the SQLite journal. A day that is in the manifest but still in the
  journal (compaction crashed before its delete, or the shipper has not sent it yet) is read from the
  tier only, so nothing is counted twice. With no tier day in the window it *is* the journal source.

Rollups of parts are folded by ``RollupReducer.add_rows``, one definition for every combination.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from slaprobe.heap import release_free_memory
from slaprobe.model import ProbeKind
from slaprobe.sla.inputs import (
    KIND_CODES,
    UNMEASURED_ERRORS,
    HeartbeatColumns,
    HeartbeatRow,
    SampleColumns,
    concat_samples,
    heartbeat_columns_from,
)
from slaprobe.sla.kpi import HIST_DTYPE, HOUR_NS, SCALARS
from slaprobe.sla.rollups import RollupReducer, RollupRows, RollupSummary, hist_ranges
from slaprobe.store.columnar import DAY_NS, Tier, day_of, day_start_ns, plain
from slaprobe.store.sla_journal import JournalSlaSource

_KIND_INDEX = {k.value: i for i, k in enumerate(KIND_CODES)}


def _coded(
    col: pa.ChunkedArray, lookup: dict[str, int] | None = None, default: int = -1
) -> tuple[np.ndarray, list[str]]:
    """(codes, names) of a string column read as dictionary chunks: ``codes`` index ``names`` (or, with
    ``lookup``, are ``lookup[name]``, ``default`` when absent). One lookup table for all the chunks
    (a day read by row groups comes as hundreds of them)."""
    if not col.num_chunks:
        return np.zeros(0, np.int64), []
    if not pa.types.is_dictionary(col.type):
        col = pa.chunked_array([c.dictionary_encode() for c in col.chunks])
    col = col.unify_dictionaries()
    names = col.chunks[0].dictionary.to_pylist()
    if lookup is not None:
        lut = np.array([lookup.get(n, default) for n in names] or [default], np.int64)
    else:
        lut = np.arange(max(len(names), 1), dtype=np.int64)
    indices = pa.concat_arrays([c.indices for c in col.chunks]).fill_null(0)
    return lut[indices.to_numpy(zero_copy_only=False)], names


def _binary_pairs(col: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """(bytes per row, HIST_DTYPE pairs) of a binary column, without a Python object per row."""
    sizes, raws = [], []
    for chunk in col.chunks:
        offsets = np.frombuffer(chunk.buffers()[1], dtype=np.int32)[
            chunk.offset : chunk.offset + len(chunk) + 1
        ]
        data = chunk.buffers()[2]
        sizes.append(np.diff(offsets).astype(np.int64))
        if data is not None and len(offsets):
            raws.append(np.frombuffer(data, dtype=np.uint8)[offsets[0] : offsets[-1]])
    raw = np.concatenate(raws) if raws else np.zeros(0, np.uint8)
    return (np.concatenate(sizes) if sizes else np.zeros(0, np.int64)), np.frombuffer(
        raw.tobytes(), HIST_DTYPE
    )


def _sample_columns(table: pa.Table, keep: np.ndarray | None = None, t_coded=None) -> SampleColumns:  # type: ignore[no-untyped-def]
    """SampleColumns of a tier table with terminal, vantage, kind, time_ns, sent, received, error
    (only the rows where ``keep``; ``t_coded``: the terminal column's ``_coded`` if already done)."""
    if not table.num_rows:
        return SampleColumns.empty()
    if keep is None:
        keep = np.ones(table.num_rows, bool)
    t, terminals = t_coded or _coded(table.column("terminal"))
    v, vantages = _coded(table.column("vantage"))
    k, _ = _coded(table.column("kind"), _KIND_INDEX)
    errors, names = _coded(table.column("error"))
    t, v, k, errors = t[keep], v[keep], k[keep], errors[keep]
    unmeasured = np.array([n in UNMEASURED_ERRORS for n in names] or [False])[errors]
    sent = table.column("sent").to_numpy().astype(np.int64)[keep]
    received = table.column("received").to_numpy().astype(np.int64)[keep]
    measured = (sent > 0) & ~unmeasured
    return SampleColumns(
        terminals=tuple(terminals),
        vantages=tuple(vantages),
        t=t.astype(np.int32),
        v=v.astype(np.int32),
        k=k.astype(np.int8),
        time_ns=table.column("time_ns").to_numpy().astype(np.int64)[keep],
        sent=np.where(measured, sent, 0),
        received=np.where(measured, np.minimum(received, sent), 0),
        measured=measured,
    )


_WORKERS = 4
_POOL = ThreadPoolExecutor(max_workers=_WORKERS, thread_name_prefix="tier-read")
_AHEAD = 2  # days one caller has read ahead of the one it is reducing (three callers share the pool)


def _each(fn, calls: Sequence[tuple]) -> Iterator:  # type: ignore[type-arg, no-untyped-def]
    """``fn(*args)`` for every tuple of ``calls``, in order, a few days at a time: a day's read is a
    file open and decode that releases the GIL, so the days overlap instead of queueing.

    A generator with at most ``_AHEAD`` reads submitted beyond the result being consumed: ``Executor.map``
    reads every day at once and keeps each result until the last is taken, so at 20,000 terminals
    a month's decoded tables were all alive together (GBs); the caller now reduces each day and drops
    it before more than ``_AHEAD`` others are decoded."""
    pending: deque[Future] = deque()  # type: ignore[type-arg]
    todo = iter(calls)
    for args in itertools.islice(todo, _AHEAD):
        pending.append(_POOL.submit(fn, *args))
    while pending:
        result = pending.popleft().result()
        for args in itertools.islice(todo, 1):
            pending.append(_POOL.submit(fn, *args))
        yield result
        del result


def _in(lo: int, hi: int, column: str = "time_ns") -> pc.Expression:
    return (pc.field(column) >= lo) & (pc.field(column) < hi)


def _kinds_expr(kinds: Sequence[ProbeKind]) -> pc.Expression:
    return pc.field("kind").isin([ProbeKind(k).value for k in kinds])


class ColumnarSlaSource:
    """:class:`~slaprobe.sla.inputs.SlaSource` over a :class:`~slaprobe.store.columnar.Tier` (its days)."""

    def __init__(self, tier: Tier) -> None:
        self.tier = tier

    def problem_samples(self, start_ns: int, end_ns: int, kinds: Sequence[ProbeKind]) -> SampleColumns:
        expr = _in(start_ns, end_ns) & _kinds_expr(kinds)
        parts = _each(
            self.tier.read, [(day, "problems", None, expr) for day in self.tier.days_in(start_ns, end_ns)]
        )
        return concat_samples([_sample_columns(p) for p in parts if p.num_rows])

    def hour_samples(self, keys: Sequence[tuple[str, int]], kinds: Sequence[ProbeKind]) -> SampleColumns:
        """Every sample of each (terminal, hour) key: per day, the keys' terminals and hours pushed down
        to the row groups, then exactly the pairs asked for."""
        by_day: dict[str, list[tuple[str, int]]] = {}
        held = set(self.tier.days())
        for terminal, hour in keys:
            day = _iso(hour)
            if day in held:
                by_day.setdefault(day, []).append((terminal, hour))
        parts = []
        for part in _each(self._day_hours, [(d, w, kinds) for d, w in sorted(by_day.items())]):
            parts.append(part)
            release_free_memory()  # the day's decoded row groups: freed, still resident
        return concat_samples(parts)

    def _day_hours(
        self, day: str, wanted: list[tuple[str, int]], kinds: Sequence[ProbeKind]
    ) -> SampleColumns:
        """One day's share of :meth:`hour_samples`, read a batch of row groups at a time and filtered
        to the pairs asked for before the next (only the kept rows outlive their batch)."""
        terms = sorted({t for t, _ in wanted})
        hours = [h for _, h in wanted]
        cols = ["terminal", "vantage", "kind", "time_ns", "sent", "received", "error"]
        batches = self.tier.iter_terminals(day, "samples", cols, terms, min(hours), max(hours) + HOUR_NS)
        return concat_samples([self._pairs(table, wanted, kinds) for table in batches])

    @staticmethod
    def _pairs(table: pa.Table, wanted: list[tuple[str, int]], kinds: Sequence[ProbeKind]) -> SampleColumns:
        """The rows of ``table`` whose (terminal, hour) is in ``wanted`` and kind in ``kinds``."""
        if not table.num_rows:
            return SampleColumns.empty()
        t, names = coded = _coded(table.column("terminal"))
        t_index = {n: i for i, n in enumerate(names)}
        time_ns = table.column("time_ns").to_numpy()
        pair = t * (1 << 40) + (time_ns - time_ns % HOUR_NS) // HOUR_NS
        asked = np.array([t_index.get(n, -1) * (1 << 40) + h // HOUR_NS for n, h in wanted], np.int64)
        kind_ok = _coded(table.column("kind"), {ProbeKind(k).value: 1 for k in kinds}, 0)[0] > 0
        return _sample_columns(table, np.isin(pair, asked) & kind_ok, coded)

    # ------------------------------------------------------------------ rollups
    def fold_rollups(self, start_ns: int, end_ns: int, reducer: RollupReducer) -> None:
        """Fold the tier's hourly rows of ``[start_ns, end_ns)`` into ``reducer``, day by day: each day is
        coded and pre-reduced in its own thread, folded, and dropped (a month of 20,000 terminals is
        45 M hourly rows: held as rows until the end they grew the report's peak by ~0.12 GB a day)."""
        t_lookup = {n: i for i, n in enumerate(reducer.terminals)}
        k_lookup = {k: i for k, i in _KIND_INDEX.items() if reducer.wants(k)}
        cols = ["terminal", "vantage", "kind", "hour_ns", *SCALARS]

        def day_rows(day: str) -> tuple[RollupRows, list[str]] | None:
            table = self.tier.read(day, "hourly", cols, _in(start_ns, end_ns, "hour_ns"))
            if not table.num_rows:
                return None
            t, _ = _coded(table.column("terminal"), t_lookup)
            k, _ = _coded(table.column("kind"), k_lookup)
            v, vnames = _coded(table.column("vantage"))
            scalars = np.stack([table.column(c).to_numpy().astype(np.int64) for c in SCALARS], axis=1)
            hour = table.column("hour_ns").to_numpy().astype(np.int64)
            return RollupRows.from_rows(np.where(k >= 0, t, -1), v, k, hour, scalars, reducer.period), vnames

        for got in _each(day_rows, [(day,) for day in self.tier.days_in(start_ns, end_ns)]):
            if got is None:
                continue
            rows, vnames = got
            v_map = np.array([reducer.vantage(n) for n in vnames] or [0], np.int64)  # local -> reducer codes
            reducer.add_rows(dataclasses.replace(rows, v=v_map[rows.v], mv=v_map[rows.mv]))
            del rows, got

    def add_hists(self, start_ns: int, end_ns: int, reducer: RollupReducer) -> None:
        """Add the tier's histograms of ``[start_ns, end_ns)`` (whole days from ``daily``)."""
        t_lookup = {n: i for i, n in enumerate(reducer.terminals)}
        k_lookup = {k: i for k, i in _KIND_INDEX.items() if reducer.wants(k)}
        days, edges = hist_ranges(start_ns, end_ns)
        reads: list[tuple[str, str, tuple[int, int]]] = [("daily", "day_ns", days)] if days else []
        reads += [("hourly", "hour_ns", edge) for edge in edges]
        cols = ["terminal", "kind", "rtt_hist", "jit_hist"]
        calls = [
            (day, part, cols, _in(a_ns, b_ns, col))
            for part, col, (a_ns, b_ns) in reads
            for day in self.tier.days_in(a_ns, b_ns)
        ]
        for table in _each(self.tier.read, calls):
            if not table.num_rows:
                continue
            t, _ = _coded(table.column("terminal"), t_lookup)
            k, _ = _coded(table.column("kind"), k_lookup)
            t = np.where(k >= 0, t, -1)
            for which in ("rtt", "jit"):
                sizes, pairs = _binary_pairs(table.column(f"{which}_hist"))
                reducer.add_hist_pairs(t, which, sizes, pairs)

    def rollups(
        self,
        start_ns: int,
        end_ns: int,
        kinds: Sequence[ProbeKind],
        terminals: Sequence[str],
        period: tuple[int, int],
    ) -> RollupSummary:
        reducer = RollupReducer(start_ns, end_ns, kinds, terminals, period)
        self.fold_rollups(start_ns, end_ns, reducer)
        self.add_hists(*period, reducer)
        release_free_memory()
        return reducer.build()

    def heartbeat_table(self, start_ns: int, end_ns: int) -> pa.Table:
        """The tier's heartbeats of ``[start_ns, end_ns)``, the :data:`HB_COLUMNS` only."""
        calls = [
            (day, "heartbeats", list(HB_COLUMNS), _in(start_ns, end_ns))
            for day in self.tier.days_in(start_ns, end_ns)
        ]
        parts = [plain(t) for t in _each(self.tier.read, calls)]
        return pa.concat_tables(parts) if parts else _hb_table([])

    def sla_heartbeats(self, start_ns: int, end_ns: int) -> HeartbeatColumns:
        return _hb_columns(self.heartbeat_table(start_ns, end_ns))


HB_COLUMNS = (
    "time_ns",
    "vantage",
    "grp",
    "interval_s",
    "due",
    "probed",
    "reference_ok",
    "reference_total",
    "unstored",
)


def _hb_table(rows: Sequence[HeartbeatRow]) -> pa.Table:
    """``inputs.HeartbeatRow`` tuples (the journal's answer) as a heartbeat table."""
    cols = list(zip(*rows, strict=True)) or [()] * len(HB_COLUMNS)
    types = {"vantage": pa.string(), "grp": pa.string(), "interval_s": pa.float64()}
    return pa.table(
        {c: pa.array(list(v), types.get(c, pa.int64())) for c, v in zip(HB_COLUMNS, cols, strict=True)}
    )


def _sorted_codes(col: pa.ChunkedArray) -> tuple[tuple[str, ...], np.ndarray]:
    """Names sorted (as ``np.unique`` gives them to the journal path) and each row's index into them."""
    codes, names = _coded(col)
    order = sorted(range(len(names)), key=names.__getitem__)
    rank = np.zeros(max(len(names), 1), np.int64)
    rank[order] = np.arange(len(names))
    return tuple(names[i] for i in order), rank[codes] if len(codes) else codes


def _hb_columns(table: pa.Table) -> HeartbeatColumns:
    vantages, v = _sorted_codes(table.column("vantage"))
    groups, g = _sorted_codes(table.column("grp"))
    num = [table.column(c).to_numpy() for c in ("time_ns", "interval_s", "due", "probed")]
    refs = [table.column(c).to_numpy() for c in ("reference_ok", "reference_total", "unstored")]
    return heartbeat_columns_from(vantages, v, groups, g, *num, *refs)


def _iso(ns: int) -> str:
    return day_of(ns).isoformat()


def journal_ranges(tier: Tier, start_ns: int, end_ns: int) -> list[tuple[int, int]]:
    """The parts of ``[start_ns, end_ns)`` outside the tier's days: what the journal answers."""
    out: list[tuple[int, int]] = []
    cur = start_ns
    for day in tier.days_in(start_ns, end_ns):
        d0 = day_start_ns(dt.date.fromisoformat(day))
        if d0 > cur:
            out.append((cur, min(d0, end_ns)))
        cur = max(cur, d0 + DAY_NS)
    if cur < end_ns:
        out.append((cur, end_ns))
    return out


class TieredSlaSource:
    """The journal (recent hours) and the columnar tier (closed days) as one :class:`SlaSource`."""

    def __init__(self, journal: JournalSlaSource, tier: Tier) -> None:
        self.journal_source = journal
        self.journal = journal.journal  # the JournalStore (``sla_report.refuse_pruned`` reads its notes)
        self.tier = tier
        self.columnar = ColumnarSlaSource(tier)

    def _split(self, start_ns: int, end_ns: int) -> list[tuple[int, int]] | None:
        """The journal's ranges, or None when the tier holds nothing of the window (journal alone)."""
        return journal_ranges(self.tier, start_ns, end_ns) if self.tier.days_in(start_ns, end_ns) else None

    def problem_samples(self, start_ns: int, end_ns: int, kinds: Sequence[ProbeKind]) -> SampleColumns:
        ranges = self._split(start_ns, end_ns)
        if ranges is None:
            return self.journal_source.problem_samples(start_ns, end_ns, kinds)
        parts = [self.columnar.problem_samples(start_ns, end_ns, kinds)]
        parts += [self.journal_source.problem_samples(a, b, kinds) for a, b in ranges]
        return concat_samples(parts)

    def hour_samples(self, keys: Sequence[tuple[str, int]], kinds: Sequence[ProbeKind]) -> SampleColumns:
        held = set(self.tier.days())
        mine = [key for key in keys if _iso(key[1]) not in held]
        if len(mine) == len(keys):
            return self.journal_source.hour_samples(keys, kinds)
        parts = [self.columnar.hour_samples([k for k in keys if _iso(k[1]) in held], kinds)]
        if mine:
            parts.append(self.journal_source.hour_samples(mine, kinds))
        return concat_samples(parts)

    def rollups(
        self,
        start_ns: int,
        end_ns: int,
        kinds: Sequence[ProbeKind],
        terminals: Sequence[str],
        period: tuple[int, int],
    ) -> RollupSummary:
        ranges = self._split(start_ns, end_ns)
        if ranges is None:
            return self.journal_source.rollups(start_ns, end_ns, kinds, terminals, period)
        reducer = RollupReducer(start_ns, end_ns, kinds, terminals, period)
        self.columnar.fold_rollups(start_ns, end_ns, reducer)
        self.journal_source.fold_rollups(ranges, reducer)
        self.columnar.add_hists(*period, reducer)
        period_ranges = [
            (max(a, period[0]), min(b, period[1])) for a, b in journal_ranges(self.tier, *period)
        ]
        self.journal_source.add_hists([(a, b) for a, b in period_ranges if b > a], reducer)
        return reducer.build()

    def sla_heartbeats(self, start_ns: int, end_ns: int) -> HeartbeatColumns:
        ranges = self._split(start_ns, end_ns)
        if ranges is None:
            return self.journal_source.sla_heartbeats(start_ns, end_ns)
        rows = [row for a, b in ranges for row in self.journal_source.heartbeat_rows(a, b)]
        table = pa.concat_tables([self.columnar.heartbeat_table(start_ns, end_ns), _hb_table(rows)])
        return _hb_columns(table)

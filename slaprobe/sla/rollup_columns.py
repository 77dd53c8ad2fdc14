"""Hourly and daily SLA rollups computed from sample *columns*: the one bulk definition.

``kpi.RollupRow.add`` is the per-sample definition the journal applies as the daemon writes. Producers
that hold whole days of samples as columns (compaction into the columnar tier, ``lab month`` in bulk)
use :func:`hourly_rollups` instead: the same numbers, vectorised with numpy, and tested equal to the
per-sample path on the daemon's own output (``tests/sla/test_rollup_columns.py``). Every producer of the
columnar tier goes through this function, so a day compacted from the journal and a day written in
bulk carry rollups computed alike.

Input: numpy arrays of one equal length (floats with NaN for a missing value, as SQLite reads NULL);
``key`` is any integer code of the rollup's (terminal, vantage, kind). Output: one row per
(key, UTC hour) with the ``kpi.SCALARS`` counters and the RTT / jitter histograms packed as
``kpi.pack_hist`` does (sorted little-endian u16 bucket, u32 count pairs).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from slaprobe.sla.inputs import UNMEASURED_ERRORS
from slaprobe.sla.kpi import (
    _EDGES_NP,
    HIST_DTYPE,
    HOUR_NS,
    SCALARS,
    Y1541_CLASS0_IPDV_MS,
    Y1541_CLASS0_LOSS,
    Y1541_CLASS0_OWD_MS,
)
from slaprobe.sla.rollups import DAY_NS


@dataclass(frozen=True, slots=True)
class RollupColumns:
    """Rollup rows as columns: ``key`` and ``time_ns`` (hour or day start) sorted, scalars, packed hists."""

    key: np.ndarray  # int64 code of (terminal, vantage, kind), as given
    time_ns: np.ndarray  # int64 UTC hour (or day) start
    scalars: np.ndarray  # int64 [N, len(SCALARS)]
    rtt_hist: list[bytes]
    jit_hist: list[bytes]

    def __len__(self) -> int:
        return len(self.key)


def _buckets(values: np.ndarray) -> np.ndarray:
    """``kpi.bucket_of`` for an array (bisect_right on the same edges; negative -> bucket 0)."""
    b = np.searchsorted(_EDGES_NP, values, side="right")
    return np.where(values >= 0.0, b, 0)


def _cells(cell: np.ndarray, weights: np.ndarray | None, size: int) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(cell, return_counts=True)`` (or the weights summed per cell), for the millions of
    rows the day writer rolls up: a ``bincount`` when the cells span a small range, else a stable sort
    (timsort: the rows come in order, only the buckets within a row do not; 5x the quicksort's speed).
    Every weight is a count >= 1 (pairs of ``_pack``), so a cell of sum 0 is one that does not occur."""
    if size <= 4 * len(cell) + (1 << 20):
        sums = np.bincount(cell, weights=weights, minlength=size)
        at = np.flatnonzero(sums)
        return at, sums[at].astype(np.int64)
    if not len(cell):
        return cell.astype(np.int64), np.zeros(0, np.int64)
    order = None if weights is None else np.argsort(cell, kind="stable")
    ordered = np.sort(cell, kind="stable") if order is None else cell[order]
    start = np.flatnonzero(np.diff(ordered, prepend=ordered[0] - 1))
    if weights is None:
        return ordered[start], np.diff(start, append=len(ordered))
    return ordered[start], np.add.reduceat(weights[order], start).astype(np.int64)


def _split(owner: np.ndarray, pairs: np.ndarray, n_rows: int) -> list[bytes]:
    """Per row, the bytes of its pairs (``owner`` sorted; a row without pairs gets b"")."""
    raw, size = pairs.tobytes(), HIST_DTYPE.itemsize
    cuts = (np.searchsorted(owner, np.arange(n_rows + 1)) * size).tolist()
    return [raw[cuts[r] : cuts[r + 1]] for r in range(n_rows)]


def _pack(rows: np.ndarray, n_rows: int, buckets: np.ndarray) -> list[bytes]:
    """Per row, the packed histogram of its (row, bucket) occurrences."""
    if not len(rows):
        return [b""] * n_rows
    width = _EDGES_NP.size + 2
    cell, count = _cells(rows * width + buckets, None, n_rows * width)
    owner, bucket = np.divmod(cell, width)
    pairs = np.empty(len(cell), dtype=HIST_DTYPE)
    pairs["bucket"], pairs["count"] = bucket, count
    return _split(owner, pairs, n_rows)


def _groups(key: np.ndarray, time_ns: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``np.unique(np.stack([key, time_ns]), axis=1, return_inverse=True)``: (keys, times, row of each
    input). Rows already in (key, time) order (the day writer's, unless a terminal's tags change within
    the day) are runs, found in O(n); any other order takes the sort."""
    if len(key):
        dk, dt_ = np.diff(key), np.diff(time_ns)
        if bool(np.all((dk > 0) | ((dk == 0) & (dt_ >= 0)))):
            start = np.empty(len(key), bool)
            start[0] = True
            start[1:] = (dk != 0) | (dt_ != 0)
            at = np.flatnonzero(start)
            return key[at], time_ns[at], np.cumsum(start) - 1
    (u_key, u_time), row = np.unique(np.stack([key, time_ns]), axis=1, return_inverse=True)
    return u_key, u_time, row.reshape(-1)


def hourly_rollups(
    key: np.ndarray,
    time_ns: np.ndarray,
    sent: np.ndarray,
    received: np.ndarray,
    error: np.ndarray,
    rtt_avg_ms: np.ndarray,
    jitter_ms: np.ndarray,
    pdv_ms: np.ndarray,
    mos: np.ndarray,
    *,
    error_names: Sequence[str | None] | None = None,
) -> RollupColumns:
    """The hourly rollup rows of these samples. ``error`` holds ``Outcome`` values as strings, or with
    ``error_names`` integer codes into those names (the day writer's dictionary codes: no str per row)."""
    key = np.asarray(key, np.int64)
    time_ns = np.asarray(time_ns, np.int64)
    hour = time_ns - time_ns % HOUR_NS
    u_key, u_hour, row = _groups(key, hour)
    n = len(u_key)
    sent = np.asarray(sent, np.int64)
    received = np.asarray(received, np.int64)
    # objects, not astype(str): a day's rows share a few str objects; fixed-width copies took 52 B a row
    if error_names is not None:
        unmeasured = np.array([e in UNMEASURED_ERRORS for e in error_names], bool)
        measured = (sent > 0) & ~unmeasured[np.asarray(error)]
    else:
        measured = (sent > 0) & ~np.isin(np.asarray(error, dtype=object), list(UNMEASURED_ERRORS))
    rtt = np.asarray(rtt_avg_ms, np.float64)
    jit = np.asarray(jitter_ms, np.float64)
    pdv = np.asarray(pdv_ms, np.float64)
    mos_a = np.asarray(mos, np.float64)
    has_rtt, has_jit, has_mos = (
        measured & ~np.isnan(rtt),
        measured & ~np.isnan(jit),
        measured & ~np.isnan(mos_a),
    )
    recv_m = np.minimum(received, sent)
    ipdv = np.where(np.isnan(pdv), jit, pdv)
    with np.errstate(invalid="ignore"):
        y0_ok = (
            has_rtt
            & ~((sent - recv_m) > Y1541_CLASS0_LOSS * sent)
            & ~(rtt > 2.0 * Y1541_CLASS0_OWD_MS)
            & (np.isnan(ipdv) | (ipdv <= Y1541_CLASS0_IPDV_MS))
        )
    mos_milli = np.where(has_mos, np.rint(np.where(has_mos, mos_a, 0.0) * 1000), 0).astype(np.int64)
    per_sample = {
        "samples": np.ones(len(key), np.int64),
        "measured": measured,
        "sent": np.where(measured, sent, 0),
        "received": np.where(measured, recv_m, 0),
        "rtt_n": has_rtt,
        "jit_n": has_jit,
        "mos_n": has_mos,
        "mos_milli": mos_milli,
        "y0_n": measured,
        "y0_ok": y0_ok,
    }
    scalars = np.zeros((n, len(SCALARS)), np.int64)
    starts = np.flatnonzero(np.diff(row, prepend=-1)) if n and bool(np.all(np.diff(row) >= 0)) else None
    for j, name in enumerate(SCALARS):
        if starts is not None:  # groups are runs: sums of runs, in integers (the day writer's rows)
            scalars[:, j] = np.add.reduceat(per_sample[name], starts, dtype=np.int64)
        else:
            weights = per_sample[name].astype(np.int64)
            scalars[:, j] = np.bincount(row, weights=weights, minlength=n).astype(np.int64)
    rtt_hist = _pack(row[has_rtt].astype(np.int64), n, _buckets(rtt[has_rtt]))
    jit_hist = _pack(row[has_jit].astype(np.int64), n, _buckets(jit[has_jit]))
    return RollupColumns(u_key.astype(np.int64), u_hour.astype(np.int64), scalars, rtt_hist, jit_hist)


def daily_hists(hourly: RollupColumns) -> RollupColumns:
    """Per (key, UTC day) the hourly histograms summed (scalars summed too): ``sla_daily``'s rows."""
    day = hourly.time_ns - hourly.time_ns % DAY_NS
    u_key, u_day, row = _groups(hourly.key, day)
    n = len(u_key)
    scalars = np.zeros((n, len(SCALARS)), np.int64)
    if n and bool(np.all(np.diff(row) >= 0)):  # rows in order: each day a run of hours
        scalars[:] = np.add.reduceat(hourly.scalars, np.searchsorted(row, np.arange(n)), axis=0)
    else:
        np.add.at(scalars, row, hourly.scalars)
    hists = []
    width = _EDGES_NP.size + 2
    for blobs in (hourly.rtt_hist, hourly.jit_hist):
        sizes = np.fromiter((len(b) for b in blobs), dtype=np.int64, count=len(blobs))
        pairs = np.frombuffer(b"".join(blobs), dtype=HIST_DTYPE)
        owner = np.repeat(row, sizes // HIST_DTYPE.itemsize)
        dense_key = owner.astype(np.int64) * width + pairs["bucket"].astype(np.int64)
        cell, counts = _cells(dense_key, pairs["count"].astype(np.float64), n * width)
        o, b = np.divmod(cell, width)
        out = np.empty(len(cell), dtype=HIST_DTYPE)
        out["bucket"], out["count"] = b, counts
        hists.append(_split(o, out, n))
    return RollupColumns(u_key.astype(np.int64), u_day.astype(np.int64), scalars, hists[0], hists[1])

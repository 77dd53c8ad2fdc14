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


def _pack(rows: np.ndarray, n_rows: int, buckets: np.ndarray) -> list[bytes]:
    """Per row, the packed histogram of its (row, bucket) occurrences."""
    out: list[bytes] = [b""] * n_rows
    if not len(rows):
        return out
    width = _EDGES_NP.size + 2
    cell, count = np.unique(rows * width + buckets, return_counts=True)
    owner, bucket = np.divmod(cell, width)
    pairs = np.empty(len(cell), dtype=HIST_DTYPE)
    pairs["bucket"], pairs["count"] = bucket, count
    raw = pairs.tobytes()
    size = HIST_DTYPE.itemsize
    cuts = np.searchsorted(owner, np.arange(n_rows + 1))
    for r in np.unique(owner):
        out[int(r)] = raw[int(cuts[r]) * size : int(cuts[r + 1]) * size]
    return out


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
) -> RollupColumns:
    """The hourly rollup rows of these samples (``error`` holds ``Outcome`` values as strings)."""
    key = np.asarray(key, np.int64)
    time_ns = np.asarray(time_ns, np.int64)
    hour = time_ns - time_ns % HOUR_NS
    group = np.stack([key, hour])
    (u_key, u_hour), row = np.unique(group, axis=1, return_inverse=True)
    row = row.reshape(-1)
    n = len(u_key)
    sent = np.asarray(sent, np.int64)
    received = np.asarray(received, np.int64)
    # objects, not astype(str): a day's rows share a few str objects; fixed-width copies took 52 B a row
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
    for j, name in enumerate(SCALARS):
        scalars[:, j] = np.bincount(row, weights=per_sample[name].astype(np.int64), minlength=n).astype(
            np.int64
        )
    rtt_hist = _pack(row[has_rtt].astype(np.int64), n, _buckets(rtt[has_rtt]))
    jit_hist = _pack(row[has_jit].astype(np.int64), n, _buckets(jit[has_jit]))
    return RollupColumns(u_key.astype(np.int64), u_hour.astype(np.int64), scalars, rtt_hist, jit_hist)


def daily_hists(hourly: RollupColumns) -> RollupColumns:
    """Per (key, UTC day) the hourly histograms summed (scalars summed too): ``sla_daily``'s rows."""
    day = hourly.time_ns - hourly.time_ns % DAY_NS
    (u_key, u_day), row = np.unique(np.stack([hourly.key, day]), axis=1, return_inverse=True)
    row = row.reshape(-1)
    n = len(u_key)
    scalars = np.zeros((n, len(SCALARS)), np.int64)
    np.add.at(scalars, row, hourly.scalars)
    hists = []
    for blobs in (hourly.rtt_hist, hourly.jit_hist):
        sizes = np.fromiter((len(b) for b in blobs), dtype=np.int64, count=len(blobs))
        pairs = np.frombuffer(b"".join(blobs), dtype=HIST_DTYPE)
        owner = np.repeat(row, sizes // HIST_DTYPE.itemsize)
        width = _EDGES_NP.size + 2
        dense_key = owner.astype(np.int64) * width + pairs["bucket"].astype(np.int64)
        cell, inverse = np.unique(dense_key, return_inverse=True)
        counts = np.bincount(
            inverse.reshape(-1), weights=pairs["count"].astype(np.int64), minlength=len(cell)
        )
        o, b = np.divmod(cell, width)
        out = np.empty(len(cell), dtype=HIST_DTYPE)
        out["bucket"], out["count"] = b, counts.astype(np.int64)
        raw, size = out.tobytes(), HIST_DTYPE.itemsize
        cuts = np.searchsorted(o, np.arange(n + 1))
        hists.append([raw[int(cuts[r]) * size : int(cuts[r + 1]) * size] for r in range(n)])
    return RollupColumns(u_key.astype(np.int64), u_day.astype(np.int64), scalars, hists[0], hists[1])

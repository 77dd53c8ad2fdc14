"""How the columnar tier encodes a Parquet file (``store/columnar.py`` decides what goes in which).

Lossless compaction of probe figures: a float column whose values are all exact at a decimal scale is
stored as scaled integers (file metadata ``slaprobe.scale.<column>``), some as differences to a related
column (``slaprobe.diff.<column>``), bit-packed (``DELTA_BINARY_PACKED``); strings and counters as
dictionaries; times delta-encoded; zstd; every file fsynced before it is renamed into place.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from slaprobe.store.journal import SAMPLE_VALUE_COLUMNS

_INT = frozenset({"sent", "received", "duplicates", "reordered", "late", "max_loss_burst", "malformed"})
_TEXT = frozenset({"malformed_reason"})
FLOAT_COLUMNS = tuple(c for c in SAMPLE_VALUE_COLUMNS if c not in _INT and c not in _TEXT)
_FLOAT = FLOAT_COLUMNS
_SCALES = (1, 10, 100, 1_000, 10_000, 100_000, 1_000_000)
ROW_GROUP = 65_536
# samples.parquet is read by (terminal, hour) for pooled hours: row groups of ~6 terminal-days, chosen
# by their statistics (``Tier.read_terminals``). Measured on a 1,820-terminal day, 35 terminals: 8 Ki
# rows 0.031 s (42 of 314 groups), 16 Ki 0.064 s, 64 Ki 0.39 s; the file grows 0.12 -> 0.32 bytes/sample.
KEYED_ROW_GROUP = 8_192
# string columns read back as dictionaries (codes, not a Python string per row)
STRING_COLUMNS = ("terminal", "vantage", "kind", "carrier", "region", "level", "tier", "error", "grp")


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# a column stored as its difference to another (both scaled alike): the RTT figures of one sample are
# close to its minimum, p50 to the mean, PDV and RFC 3550 jitter to the mean jitter; the differences are
# small integers (measured: 7.7 instead of 15.5 bytes per sample for these seven columns)
# Candidates, each an earlier column (the decoder rebuilds in column order); per file the cheapest of
# "as is" and these is kept (see _bits). Where the base is null it counts as 0.
_DIFF_OF: dict[str, tuple[str, ...]] = {
    "rtt_avg_ms": ("rtt_min_ms",),
    "rtt_max_ms": ("rtt_avg_ms", "rtt_min_ms"),
    "rtt_p50_ms": ("rtt_avg_ms", "rtt_min_ms"),
    "jitter_rfc3550_ms": ("jitter_ms",),
    "pdv_ms": ("jitter_ms",),
}


def _bits(stored: np.ndarray) -> float:
    """What bit-packed delta encoding pays for a column, roughly: the mean size of its steps."""
    return float(np.log2(1.0 + np.abs(np.diff(stored).astype(np.float64))).mean()) if len(stored) > 1 else 0.0


SCALE_BLOCK = 1 << 20  # values checked at a time by float_scale: bounded temporaries, an early exit


def _exact(values: np.ndarray, scale: int) -> bool:
    scaled = np.rint(values * scale)
    return bool(np.all(np.abs(scaled) < 2**52)) and np.array_equal(scaled / scale, values)


def float_scale(values: np.ndarray) -> int | None:
    """The smallest of :data:`_SCALES` at which every non-NaN value is exact (None: none is). Each scale
    is tried on the first block before the whole column (a test over all values fails if it fails on
    some), block by block: most scales fail at once and the temporaries stay a block's size."""
    blocks = [values[i : i + SCALE_BLOCK] for i in range(0, len(values), SCALE_BLOCK)] or [values]
    for scale in _SCALES:
        if all(_exact(b[~np.isnan(b)], scale) for b in blocks):
            return scale
    return None


def encode_floats(table: pa.Table) -> tuple[pa.Table, dict[bytes, bytes], list[str]]:
    """Float columns exact at a decimal scale become scaled int64 (lossless, far smaller), some as the
    difference to a related column (:data:`_DIFF_OF`); returns the table, its metadata and the columns
    to delta-encode."""
    meta: dict[bytes, bytes] = {}
    ints: dict[str, tuple[np.ndarray, np.ndarray, int]] = {}  # column -> (ints, valid, scale)
    for c in _FLOAT:
        values = table.column(c).to_numpy(zero_copy_only=False).astype(np.float64)
        valid = ~np.isnan(values)
        if (scale := float_scale(values)) is not None:
            full = np.zeros(len(values), np.int64)
            full[valid] = np.rint(values[valid] * scale).astype(np.int64)
            ints[c] = (full, valid, scale)
            meta[f"slaprobe.scale.{c}".encode()] = str(scale).encode()
    for c, (full, valid, scale) in ints.items():
        stored, cost = full, _bits(full)
        for base in _DIFF_OF.get(c, ()):
            if base in ints and ints[base][2] == scale:
                diff = full - ints[base][0]  # a null base is 0 there, as the decoder reads it
                if (diff_cost := _bits(diff)) < cost:
                    stored, cost = diff, diff_cost
                    meta[f"slaprobe.diff.{c}".encode()] = base.encode()
        table = table.set_column(table.column_names.index(c), c, pa.array(stored, mask=~valid))
    return table, meta, list(ints)


def decode_floats(table: pa.Table, meta: Mapping[bytes, bytes] | None) -> pa.Table:
    meta = meta or {}
    ints: dict[str, np.ndarray] = {}
    for c in _FLOAT:  # bases come before the columns stored as differences to them
        scale = meta.get(f"slaprobe.scale.{c}".encode())
        if scale is None or c not in table.column_names:
            continue
        col = table.column(c).combine_chunks()
        full = col.fill_null(0).to_numpy(zero_copy_only=False).astype(np.int64)
        base = meta.get(f"slaprobe.diff.{c}".encode())
        if base is not None:
            full = full + ints[base.decode()]
        ints[c] = full
        floats = full.astype(np.float64) / float(int(scale))
        arr = pa.array(floats, mask=col.is_null().to_numpy(zero_copy_only=False))
        table = table.set_column(table.column_names.index(c), c, arr)
    return table


def write_parquet(
    table: pa.Table,
    path: Path,
    meta: Mapping[bytes, bytes] | None = None,
    delta: Sequence[str] = (),
    row_group: int = 0,
) -> int:
    """One file, zstd, dictionary-encoded strings and counters, delta-encoded times (and ``delta``
    columns: bit-packed, which beats a dictionary for high-cardinality integers); fsynced."""
    return write_parquet_chunks([table], path, meta, delta, row_group)


def _plain_strings(table: pa.Table) -> pa.Table:
    for i, f in enumerate(table.schema):  # strings are declared plain (the file still dictionary-encodes
        if pa.types.is_dictionary(f.type):  # them): a dictionary type would stop row-group pruning
            table = table.set_column(i, f.name, table.column(i).cast(f.type.value_type))
    return table


def write_parquet_chunks(
    chunks: Iterable[pa.Table],
    path: Path,
    meta: Mapping[bytes, bytes] | None = None,
    delta: Sequence[str] = (),
    row_group: int = 0,
) -> int:
    """:func:`write_parquet` of the concatenation of ``chunks`` (at least one; all of one schema), each
    made plain and written as it comes: only one chunk's columns are ever materialised. Row groups
    are those of one write of the whole table when every chunk but the last holds a multiple of
    ``row_group`` rows."""
    with open(path, "wb") as fh:
        writer = None
        for chunk in chunks:
            table = _plain_strings(chunk)
            if writer is None:
                if meta:
                    table = table.replace_schema_metadata({**(table.schema.metadata or {}), **meta})
                packed = [c for c in (*delta, "time_ns", "hour_ns", "day_ns") if c in table.column_names]
                writer = pq.ParquetWriter(
                    fh,
                    table.schema,
                    compression="zstd",
                    compression_level=6,
                    use_dictionary=[c for c in table.column_names if c not in packed],
                    column_encoding={c: "DELTA_BINARY_PACKED" for c in packed} or None,
                    write_statistics=True,
                )
            writer.write_table(table, row_group_size=row_group or ROW_GROUP)
        if writer is None:
            raise ValueError(f"{path}: no chunk to write")
        writer.close()
        fh.flush()
        os.fsync(fh.fileno())
    return path.stat().st_size

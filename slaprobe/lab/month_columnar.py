"""A synthetic month into the columnar tier: each UTC day handed to the store's bulk day writer.

Why through ``store.columnar_write.write_day`` and not a format of our own: the tier has one writer (it sorts,
encodes, computes the rollups with ``sla.rollup_columns`` and records the day in the manifest only
once its files are in place), so a day written here is the day compaction of the daemon's journal
would have written. This module only turns ``month_bulk.SampleArrays`` into that writer's columns
without building Python strings per row: names (terminal, tags, kind, error) go over as Arrow
dictionary arrays of small code tables.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from slaprobe.heap import release_free_memory
from slaprobe.lab.month_bulk import FLOAT_COLUMNS, INT_COLUMNS, KINDS, OUTCOMES, SampleArrays, concat
from slaprobe.lab.month_output import DayBatch
from slaprobe.store.columnar import MANIFEST, DayInfo, Tier, day_of, heartbeats_table
from slaprobe.store.columnar_write import write_day

_TAGS = ("carrier", "region", "level", "tier")
_KIND_NAMES = pa.array([k.value for k in KINDS], pa.string())
_ERROR_NAMES = pa.array([o.value for o in OUTCOMES], pa.string())


def _coded(codes: np.ndarray, names: pa.Array) -> pa.DictionaryArray:
    return pa.DictionaryArray.from_arrays(pa.array(codes.astype(np.int32)), names)


def day_columns(arrays: SampleArrays, tags: Mapping[str, Mapping[str, str]]) -> dict[str, Any]:
    """The writer's column mapping for these rows (tags per terminal as the daemon's journal has them:
    a terminal without tags, e.g. a reference target, gets empty strings)."""
    out: dict[str, Any] = {
        "terminal": _coded(arrays.terminal, pa.array(arrays.terminals, pa.string())),
        "vantage": _coded(np.zeros(len(arrays), np.int32), pa.array([arrays.vantage], pa.string())),
        "kind": _coded(arrays.kind, _KIND_NAMES),
    }
    for tag in _TAGS:
        values = [tags.get(t, {}).get(tag, "") for t in arrays.terminals]
        table, code = np.unique(np.array(values, dtype=object), return_inverse=True)
        out[tag] = _coded(code.reshape(-1)[arrays.terminal], pa.array(table.tolist(), pa.string()))
    out["time_ns"] = arrays.time_ns
    out["error"] = _coded(arrays.error, _ERROR_NAMES)
    out.update({c: arrays.ints[c] for c in INT_COLUMNS})
    # NaN -> null in the writer; a column absent here (null throughout: per-direction and MOS figures
    # of ICMP) the writer fills with nulls alike
    out.update({c: arrays.floats[c] for c in FLOAT_COLUMNS if c in arrays.floats})
    return out


def by_day(batches: Iterable[DayBatch]) -> Iterator[list[DayBatch]]:
    """Consecutive batches of the same UTC day (``iter_days`` yields a day's vantages together)."""
    day: list[DayBatch] = []
    for b in batches:
        if day and b.day_ns != day[0].day_ns:
            yield day
            day = []
        day.append(b)
    if day:
        yield day


def _columns(batches: Sequence[DayBatch], tags: Mapping[str, Mapping[str, str]]) -> dict[str, Any]:
    parts = [day_columns(b.samples, tags) for b in batches if len(b.samples)]
    if not parts:
        return day_columns(concat([batches[0].samples]), tags)
    if len(parts) == 1:
        return parts[0]
    out: dict[str, Any] = {}
    for c in parts[0]:
        values = [p[c] for p in parts]
        if isinstance(values[0], np.ndarray):
            out[c] = np.concatenate(values)
        else:  # dictionary arrays: unify their code tables
            out[c] = pa.chunked_array(values).unify_dictionaries().combine_chunks()
    return out


def write_days(
    root: str | Path, batches: Iterable[DayBatch], tags: Mapping[str, Mapping[str, str]]
) -> tuple[int, list[DayInfo]]:
    """Every day of ``batches`` into the tier at ``root``; returns (samples written, the days' infos)."""
    n, infos = 0, []
    for day in by_day(batches):
        release_free_memory()
        beats = [h for b in day for h in b.heartbeats]
        columns, when = _columns(day, tags), day_of(day[0].day_ns)
        n += sum(len(b.samples) for b in day)
        del day  # the writer's input is now ``columns`` alone
        infos.append(write_day(root, when, columns, heartbeats_table(beats)))
    return n, infos


def refuse_existing_tier(root: Path, replace: bool) -> None:
    """A tier that already holds days is refused (``write_day`` would refuse each day anyway), or
    emptied with ``replace``: its manifest and day directories only, nothing else under ``root``."""
    from slaprobe.lab.month_output import MonthOutputError

    tier = Tier(root)
    if not tier.exists():
        return
    if not replace:
        raise MonthOutputError(
            f"{root} already exists with a columnar tier of {len(tier.days())} days: writing a month into "
            "it again would mix two months. Choose another --out, delete it, or pass --replace."
        )
    (root / MANIFEST).unlink()
    for d in root.glob("day=*"):
        shutil.rmtree(d)
    for d in root.glob(".day=*.tmp"):
        shutil.rmtree(d)


__all__ = ["by_day", "day_columns", "refuse_existing_tier", "write_days"]

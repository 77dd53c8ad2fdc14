"""The day writer (slaprobe/store/columnar_write.py) against references that do not share its code:
row order from Python's stable ``sorted`` on the tag strings and time, rollups from the per-sample
``kpi.RollupRow.add``, float encodings from ``parquet_codec.encode_floats`` on the whole sorted table.
Inputs come as plain tables, dictionary columns (unsorted, with duplicates and unused entries) and
chunked tables; the days hold ties, tags that change within the day, non-ASCII names, nulls and NaN.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from slaprobe.model import NS_PER_S, Outcome, ProbeKind, Sample
from slaprobe.sla.kpi import HOUR_NS, SCALARS, RollupRow, unpack_hist
from slaprobe.store import columnar_write
from slaprobe.store.columnar import (
    DAY_NS,
    PARTS,
    SERIES_TAGS,
    VALUE_COLUMNS,
    Tier,
    day_start_ns,
    heartbeats_table,
    plain,
    samples_table,
)
from slaprobe.store.columnar_write import write_day
from slaprobe.store.parquet_codec import FLOAT_COLUMNS, encode_floats

DAY = dt.date(2024, 3, 5)
T0 = day_start_ns(DAY)
TAGS = ("carrier", "region", "level", "tier")
Tagged = tuple[Sample, dict[str, str]]  # a sample and its terminal's tags at that time


def _day(seed: int = 7, n: int = 600) -> list[Tagged]:
    """Samples of a few terminals in random order: ties (same series and time), names whose byte
    order differs from their case-folded order, and T1 moving from carrier "zz" to "aa" at noon."""
    rng = random.Random(seed)
    terminals = ["T1", "t0", "Ä9", "B2", "ref:10.0.0.1"]
    out = []
    for k in range(n):
        term = rng.choice(terminals)
        time_ns = T0 + rng.randrange(0, 86_400, 900) * NS_PER_S  # 96 slots: many ties
        sent = rng.choice([0, 5, 5, 5, 10])
        received = min(sent, rng.choice([0, 5, 5, 10]))
        error = Outcome.OK if received else rng.choice([Outcome.TIMEOUT, Outcome.UNREACHABLE])
        rtt = None if not received or k % 11 == 0 else round(rng.uniform(1, 400), 3)
        s = Sample(
            time_ns, term, rng.choice(["v1", "v2"]), rng.choice([ProbeKind.ICMP, ProbeKind.RTP]),
            sent, received, duplicates=k % 3, rtt_min_ms=rtt and rtt - 0.5, rtt_avg_ms=rtt,
            rtt_max_ms=rtt and rtt + 1.25, jitter_ms=rtt and round(rtt / 7, 3),
            pdv_ms=rtt and rng.uniform(0, 5), mos=rtt and 4.1, error=error,
        )  # fmt: skip
        tags = {"carrier": "c", "region": "r", "level": "city", "tier": "gold"}
        if term == "T1":
            tags["carrier"] = "zz" if time_ns < T0 + DAY_NS // 2 else "aa"
        if term.startswith("ref:"):
            tags = {t: "" for t in TAGS}
        out.append((s, tags))
    return out


def _table(rows: Sequence[Tagged]) -> pa.Table:
    """samples_table with per-row tags (a terminal's tags may change within the day)."""
    return pa.concat_tables([samples_table([s], {s.terminal: t}) for s, t in rows])


def _as_dictionaries(table: pa.Table) -> dict[str, Any]:
    """The table as lab month hands it: tags and error as dictionary arrays (here with unsorted,
    duplicated and unused dictionary entries), counters as small numpy ints, floats with NaN."""
    out: dict[str, Any] = {}
    for name in table.column_names:
        col = table.column(name).combine_chunks()
        if pa.types.is_string(col.type):
            values = col.to_pylist()
            if all(v is None for v in values):
                continue  # absent: the writer fills nulls
            names = sorted({v for v in values if v is not None}, reverse=True)
            names = [*names, "unused", *names]  # each value twice: equal strings, different codes
            codes = [names.index(v) + (len(names) // 2 + 1 if i % 2 else 0) for i, v in enumerate(values)]
            out[name] = pa.DictionaryArray.from_arrays(pa.array(codes, pa.int32()), pa.array(names))
        elif pa.types.is_floating(col.type):
            out[name] = col.to_numpy(zero_copy_only=False)  # null -> NaN
        else:
            out[name] = col.to_numpy().astype(np.int16 if name in ("sent", "received") else np.int64)
    return out


def _expected(rows: Sequence[Tagged]) -> list[dict[str, Any]]:
    def key(r: Tagged) -> tuple:
        s, t = r
        return (s.terminal, s.vantage, s.kind.value, *(t[c] for c in TAGS), s.time_ns)

    out = []
    for s, t in sorted(rows, key=key):  # stable: ties keep the input order
        row = {"terminal": s.terminal, "vantage": s.vantage, "kind": s.kind.value, **t, "time_ns": s.time_ns}
        row |= {"error": s.error.value, **{c: getattr(s, c) for c in VALUE_COLUMNS}}
        out.append(row)
    return out


def _read(root: Path, part: str) -> list[dict[str, Any]]:
    return plain(Tier(root).read(DAY.isoformat(), part)).to_pylist()


def _rows(root: Path) -> list[dict[str, Any]]:
    return [a | b for a, b in zip(_read(root, "samples"), _read(root, "detail"), strict=True)]


def test_rows_read_back_in_tier_order_from_every_kind_of_input(tmp_path: Path) -> None:
    rows = _day()
    table = _table(rows)
    chunked = pa.Table.from_batches(table.to_batches(max_chunksize=97))
    want = _expected(rows)
    assert len({(r["terminal"], r["time_ns"]) for r in want}) < len(want)  # ties present
    for name, given in (("plain", table), ("dict", _as_dictionaries(table)), ("chunked", chunked)):
        info = write_day(tmp_path / name, DAY, given, heartbeats_table([]))
        assert _rows(tmp_path / name) == want, name
        problems = [
            {c: r[c] for c in ("terminal", "vantage", "kind", "time_ns", "sent", "received", "error")}
            for r in want
            if r["sent"] - r["received"] > 0 or r["sent"] == 0
        ]
        assert _read(tmp_path / name, "problems") == problems and info.problems == len(problems)
    for part in PARTS:  # the three inputs: the same files, read back
        assert (
            _read(tmp_path / "dict", part)
            == _read(tmp_path / "plain", part)
            == _read(tmp_path / "chunked", part)
        ), part


def test_rollups_equal_the_per_sample_rollups(tmp_path: Path) -> None:
    """T1's carrier changes at noon: its rows are sorted by carrier first, so its hours come out of
    order within its rollup key (the grouping's sort path), and its hours sum both carriers."""
    rows = _day(seed=3, n=900)
    write_day(tmp_path, DAY, _as_dictionaries(_table(rows)), heartbeats_table([]))
    want: dict[tuple, RollupRow] = {}
    for s, _ in rows:
        hour = s.time_ns - s.time_ns % HOUR_NS
        r = want.setdefault(
            (s.terminal, s.vantage, s.kind.value, hour), RollupRow(s.terminal, s.vantage, s.kind, hour)
        )
        r.add(s)
    hourly = _read(tmp_path, "hourly")
    got = {(h["terminal"], h["vantage"], h["kind"], h["hour_ns"]): h for h in hourly}
    assert list(got) == sorted(want)  # one row each, in (terminal, vantage, kind, hour) order
    for k, r in want.items():
        h = got[k]
        assert tuple(h[c] for c in SCALARS) == tuple(getattr(r, c) for c in SCALARS), k
        assert unpack_hist(h["rtt_hist"]) == r.rtt_hist and unpack_hist(h["jit_hist"]) == r.jit_hist
    daily = {(d["terminal"], d["vantage"], d["kind"]): d for d in _read(tmp_path, "daily")}
    for key3, d in daily.items():
        hist: dict[int, int] = {}
        for k, r in want.items():
            if k[:3] == key3:
                for b, c in r.rtt_hist.items():
                    hist[b] = hist.get(b, 0) + c
        assert unpack_hist(d["rtt_hist"]) == hist and d["day_ns"] == T0
    assert len(daily) == len({k[:3] for k in want})


def test_nulls_nan_and_absent_columns(tmp_path: Path) -> None:
    n = 6
    columns: dict[str, Any] = {
        "terminal": pa.array(["b", "a", "b", "a", "a", "b"]),
        "vantage": pa.array(["v"] * n),
        "kind": pa.array(["icmp"] * n),
        "carrier": pa.array(["x", None, "x", "y", "y", None]),  # a null tag sorts after the values
        "region": np.array(["r"] * n, dtype=object),
        "level": ["l"] * n,
        "tier": pa.chunked_array([pa.array(["t"] * 2), pa.array(["t"] * 4)]),
        "time_ns": np.array([T0 + k * NS_PER_S for k in (5, 4, 3, 2, 1, 0)]),
        "error": pa.array(["ok"] * n),
        "sent": np.array([5, 5, 0, 5, 5, 5], np.int8),
        "received": pa.array([5, None, 0, 4, 5, 5], pa.int64()),
        "duplicates": pa.array([None, 1, 2, None, 0, 0], pa.int64()),
        "rtt_avg_ms": np.array([1.5, np.nan, 2.25, 1 / 3, np.nan, 7.0]),
        "jitter_ms": pa.array([0.5, None, float("nan"), 0.25, None, 1.0]),
    }
    write_day(tmp_path, DAY, columns, heartbeats_table([]))
    got = _rows(tmp_path)
    # a: carrier y (t=2, t=1), then null (t=4); b: carrier x (t=3, t=5), then null (t=0)
    assert [(r["terminal"], r["carrier"], r["time_ns"] - T0) for r in got] == [
        ("a", "y", 1 * NS_PER_S), ("a", "y", 2 * NS_PER_S), ("a", None, 4 * NS_PER_S),
        ("b", "x", 3 * NS_PER_S), ("b", "x", 5 * NS_PER_S), ("b", None, 0),
    ]  # fmt: skip
    by_time = {r["time_ns"] - T0: r for r in got}
    assert [by_time[k * NS_PER_S]["received"] for k in range(6)] == [5, 5, 4, 0, None, 5]
    assert [by_time[k * NS_PER_S]["duplicates"] for k in range(6)] == [0, 0, None, 2, 1, None]
    assert [by_time[k * NS_PER_S]["rtt_avg_ms"] for k in range(6)] == [7.0, None, 1 / 3, 2.25, None, 1.5]
    assert [by_time[k * NS_PER_S]["jitter_ms"] for k in range(6)] == [1.0, None, 0.25, None, None, 0.5]
    assert all(r["mos"] is None and r["malformed_reason"] is None for r in got)  # absent columns
    assert [(p["terminal"], p["time_ns"] - T0) for p in _read(tmp_path, "problems")] == [
        ("a", 2 * NS_PER_S), ("a", 4 * NS_PER_S), ("b", 3 * NS_PER_S),
    ]  # fmt: skip  # lost > 0 (received null counts as 0) or sent = 0


def test_an_empty_day_has_every_file_with_the_columns_of_a_full_one(tmp_path: Path) -> None:
    full = _as_dictionaries(_table(_day(n=50)))
    empty = {c: v[:0] for c, v in full.items()}
    info = write_day(tmp_path / "empty", DAY, empty, heartbeats_table([]))
    write_day(tmp_path / "full", DAY, full, heartbeats_table([]))
    assert (info.samples, info.problems, info.hourly) == (0, 0, 0)
    for part in PARTS:
        e, f = (Tier(tmp_path / w).read(DAY.isoformat(), part) for w in ("empty", "full"))
        assert e.num_rows == 0 and e.schema.remove_metadata() == f.schema.remove_metadata(), part
    assert write_day(tmp_path / "nothing", DAY, {}, heartbeats_table([])).samples == 0


@pytest.mark.parametrize("chunk", [7, 1 << 18])
def test_float_encodings_are_those_of_encode_floats(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    """Scales and differences chosen chunk by chunk (a chunk of 7 rows: every choice crosses chunk
    boundaries) equal the whole-table ``encode_floats`` on the same sorted rows."""
    rows = _day(seed=11, n=400)
    rows = [(dataclasses.replace(s, jitter_rfc3550_ms=s.rtt_avg_ms and s.rtt_avg_ms / 3), t) for s, t in rows]
    monkeypatch.setattr(columnar_write, "CHUNK", chunk)
    write_day(tmp_path, DAY, _table(rows), heartbeats_table([]))
    want = _expected(rows)
    floats = pa.table({c: pa.array([r[c] for r in want], pa.float64()) for c in FLOAT_COLUMNS})
    _, meta, _ = encode_floats(floats)
    got = pq.read_schema(Tier(tmp_path).day_dir(DAY.isoformat()) / "detail.parquet").metadata
    assert {k: v for k, v in got.items() if k.startswith(b"slaprobe.")} == meta
    assert b"slaprobe.diff.rtt_avg_ms" in meta and b"slaprobe.scale.pdv_ms" not in meta  # both kinds
    assert _rows(tmp_path) == want


def test_more_series_than_one_sort_key_holds(tmp_path: Path) -> None:
    """~170,000 series over the whole day: series x time span passes 2**63, so the writer sorts by
    time and then by series; the order is still tags then time, ties in input order."""
    rng = np.random.default_rng(5)
    n = 400_000
    names = [f"T{k:06d}" for k in range(200_000)][::-1]  # the dictionary in reverse order
    term = rng.integers(0, len(names), n)
    assert len(np.unique(term)) * DAY_NS >= 2**63  # series x time span: no single int64 key
    time_ns = T0 + rng.integers(0, 86_400, n) * NS_PER_S
    time_ns[:2] = (T0, T0 + DAY_NS - 1)
    sent = rng.integers(0, 1000, n)  # an id per row, to see the ties' order
    columns = {
        "terminal": pa.DictionaryArray.from_arrays(pa.array(term.astype(np.int32)), pa.array(names)),
        **{c: pa.array(["x"] * n) for c in SERIES_TAGS[1:]},
        "time_ns": time_ns,
        "error": pa.array(["ok"] * n),
        "sent": sent,
        "received": sent,
    }
    write_day(tmp_path, DAY, columns, heartbeats_table([]))
    got = Tier(tmp_path).read(DAY.isoformat(), "samples", ["terminal", "time_ns", "sent"])
    keys = sorted(range(n), key=lambda i: (names[term[i]], int(time_ns[i])))
    assert got.column("terminal").to_pylist() == [names[term[i]] for i in keys]
    assert got.column("time_ns").to_numpy().tolist() == [int(time_ns[i]) for i in keys]
    assert got.column("sent").to_numpy().tolist() == [int(sent[i]) for i in keys]

"""The columnar tier's format (slaprobe/store/columnar.py): every field back exactly, rollups computed
from columns equal to the journal's per-sample ones, the day layout, compactness.

Data: ``few_days`` (tests/fixtures/stores.py), written by ``lab month``'s writer in the daemon's shape.
"""

from __future__ import annotations

import datetime as dt
import gc
import sqlite3
from pathlib import Path

import pyarrow as pa
import pytest

from slaprobe.model import NS_PER_S, Outcome, ProbeKind, Sample
from slaprobe.sla.kpi import SCALARS, unpack_hist
from slaprobe.store import columnar
from slaprobe.store.columnar import (
    DAY_NS,
    Tier,
    TierError,
    day_start_ns,
    heartbeats_table,
    samples_table,
)
from slaprobe.store.columnar_write import write_day
from slaprobe.store.journal import JournalStore

DAY = dt.date(2023, 1, 31)  # a whole UTC day of few_days


def _day_tables(journal: JournalStore, day: dt.date) -> tuple[list[Sample], pa.Table, pa.Table]:
    start = day_start_ns(day)
    samples = list(journal.samples(start, start + DAY_NS))
    tags = {
        r[0]: {"carrier": r[1], "region": r[2], "level": r[3], "tier": r[4]}
        for r in journal._db.execute("SELECT terminal, carrier, region, level, tier FROM series")
    }
    beats = list(journal.heartbeats(start, start + DAY_NS))
    return samples, samples_table(samples, tags), heartbeats_table(beats)


def _order(s: Sample) -> tuple:
    return (s.time_ns, s.terminal, s.vantage, s.kind.value)


def test_a_day_reads_back_every_field_exactly(few_days, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with JournalStore(few_days.journal, readonly=True) as journal:
        samples, table, beats = _day_tables(journal, DAY)
        hb_before = list(journal.heartbeats(day_start_ns(DAY), day_start_ns(DAY) + DAY_NS))
    assert len(samples) == 2 * 2 * 1440 and any(s.error != Outcome.OK for s in samples)
    info = write_day(tmp_path / "tier", DAY, table, beats)
    tier = Tier(tmp_path / "tier")
    assert tier.days() == ["2023-01-31"] and info.samples == len(samples)
    back = list(tier.samples(day_start_ns(DAY), day_start_ns(DAY) + DAY_NS))
    assert back == sorted(samples, key=_order)  # dataclass equality: every Sample field
    assert tier.heartbeats(0, 2**62) == sorted(hb_before, key=lambda h: (h.time_ns, h.vantage, h.group))
    assert sorted(p.name for p in tier.day_dir("2023-01-31").iterdir()) == sorted(
        f"{part}.parquet" for part in columnar.PARTS
    )


def test_rollups_from_columns_equal_the_journals_per_sample_rollups(few_days, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """hourly_rollups (bulk producers) and RollupRow.add (the journal as the daemon writes) agree."""
    with JournalStore(few_days.journal, readonly=True) as journal:
        _, table, beats = _day_tables(journal, DAY)
        start = day_start_ns(DAY)
        rows = journal._db.execute(
            f"SELECT r.terminal, r.vantage, r.kind, h.hour_ns, {', '.join('h.' + c for c in SCALARS)},"
            " h.rtt_hist, h.jit_hist FROM sla_hourly h JOIN series r ON r.id = h.series"
            " WHERE h.hour_ns >= ? AND h.hour_ns < ?",
            (start, start + DAY_NS),
        ).fetchall()
    write_day(tmp_path / "tier", DAY, table, beats)
    got = Tier(tmp_path / "tier").read("2023-01-31", "hourly").to_pylist()
    n = len(SCALARS)
    want = {r[:4]: (r[4 : 4 + n], unpack_hist(r[-2]), unpack_hist(r[-1])) for r in rows}
    have = {
        (r["terminal"], r["vantage"], r["kind"], r["hour_ns"]): (
            tuple(r[c] for c in SCALARS),
            unpack_hist(r["rtt_hist"]),
            unpack_hist(r["jit_hist"]),
        )
        for r in got
    }
    assert len(want) == 2 * 2 * 24 and have == want


def test_floats_without_a_decimal_scale_and_nan_round_trip(tmp_path: Path) -> None:
    """Real probe figures are not rounded: they are kept as float64, bit for bit; NaN reads as None
    (as SQLite stores it)."""
    t0 = day_start_ns(DAY)
    rows = [
        Sample(t0 + k * NS_PER_S, "T1", "v1", ProbeKind.ICMP, 5, 5, rtt_min_ms=1 / 3 + k, rtt_avg_ms=2 / 7,
               rtt_max_ms=1e-9 * k, jitter_ms=0.125, mos=4.1)
        for k in range(50)
    ]  # fmt: skip
    rows.append(Sample(t0, "T2", "v1", ProbeKind.ICMP, 5, 0, rtt_avg_ms=float("nan"), error=Outcome.TIMEOUT))
    write_day(tmp_path, DAY, samples_table(rows, {}), heartbeats_table([]))
    back = list(Tier(tmp_path).samples(0, 2**62))
    assert [s.rtt_avg_ms for s in back if s.terminal == "T2"] == [None]
    assert back == sorted(
        [*rows[:-1], Sample(t0, "T2", "v1", ProbeKind.ICMP, 5, 0, error=Outcome.TIMEOUT)], key=_order
    )


def test_a_day_is_written_once_and_holds_only_its_own_times(few_days, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with JournalStore(few_days.journal, readonly=True) as journal:
        _, table, beats = _day_tables(journal, DAY)
    write_day(tmp_path, DAY, table, beats)
    with pytest.raises(TierError, match="already in the tier"):
        write_day(tmp_path, DAY, table, beats)
    with pytest.raises(TierError, match="outside UTC day"):
        write_day(tmp_path, DAY + dt.timedelta(days=1), table, beats)
    assert Tier(tmp_path).days() == ["2023-01-31"]


def test_bytes_per_sample_of_a_closed_day(few_days, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The issue's floor is 20 bytes/sample (goal 10) on a full network; even this 2-terminal day, whose
    file headers weigh more per sample, stays under the floor (the journal: ~100)."""
    with JournalStore(few_days.journal, readonly=True) as journal:
        samples, table, beats = _day_tables(journal, DAY)
    info = write_day(tmp_path, DAY, table, beats)
    assert sum(info.bytes.values()) / len(samples) < 20
    db = sqlite3.connect(few_days.journal)
    assert (
        db.execute("PRAGMA page_count").fetchone()[0]
        * 4096
        / db.execute("SELECT count(*) FROM samples").fetchone()[0]
        > 60
    )


def test_manifest_changes_of_concurrent_writers_are_all_kept(tmp_path: Path) -> None:
    """Read-modify-write of the manifest under the tier's lock: twelve writers, twelve months kept
    (each its own Tier object, as the daemon's thread, a command and a report would be)."""
    import threading

    Tier(tmp_path, create=True).set_reported("2022-12")
    months = [f"2023-{m:02d}" for m in range(1, 13)]
    threads = [threading.Thread(target=Tier(tmp_path).set_reported, args=(m,)) for m in months]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert Tier(tmp_path).reported() == ["2022-12", *months]


def test_pooled_hour_reads_leave_no_reference_cycles(few_days, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A terminal-hour read frees what it decoded when it returns: nothing waits for the garbage
    collector. (pyarrow's Parquet FileMetaData and ParquetSchema refer to each other; a read that
    touched ``metadata.schema`` left one such pair per file, each holding the file's row-group
    statistics, until a collection: ~0.5 GB over a 20,000-terminal month report.)"""
    with JournalStore(few_days.journal, readonly=True) as journal:
        _, table, beats = _day_tables(journal, DAY)
    write_day(tmp_path / "tier", DAY, table, beats)
    tier = Tier(tmp_path / "tier")
    terminal = table.column("terminal")[0].as_py()
    start = day_start_ns(DAY)
    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        for _ in range(3):
            got = tier.read_terminals(
                "2023-01-31", "samples", ["terminal", "time_ns"], [terminal], start, start + DAY_NS
            )
            assert got.num_rows and set(got.column("terminal").to_pylist()) >= {terminal}
            del got
        gc.collect()
        left = sorted({type(o).__module__ + "." + type(o).__qualname__ for o in gc.garbage})
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
    assert left == []

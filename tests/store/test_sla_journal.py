"""The journal's SLA side: rollups kept at insert time equal the pure rollup; old journals rolled up once."""

from __future__ import annotations

import dataclasses
import sqlite3
from pathlib import Path

import numpy as np

from slaprobe.model import Outcome, ProbeKind, Sample
from slaprobe.store.journal import JournalStore
from slaprobe.store.memory import MemoryStore
from slaprobe.store.sla_journal import JournalSlaSource, rollups_after

HOUR = 3600 * 10**9
T0 = 1_670_169_600 * 10**9  # 2022-12-04T16:00Z, an hour boundary


def samples() -> list[Sample]:
    out = []
    for i in range(150):  # 2.5 hours of one terminal, two kinds
        t = T0 + i * 60 * 10**9
        out.append(
            Sample(
                t, "T1", "v1", ProbeKind.ICMP, 5, 5 if i % 7 else 2, rtt_avg_ms=10.0 + i % 9, jitter_ms=0.5
            )
        )
        out.append(Sample(t + 1, "T1", "v1", ProbeKind.RTP, 50, 50, rtt_avg_ms=12.0, mos=4.3))
    out.append(Sample(T0 + 5, "T2", "v1", ProbeKind.ICMP, 0, 0, error=Outcome.NOT_SCHEDULED))
    return out


def _summary(source_or_rows, terminals=("T1", "T2")):  # type: ignore[no-untyped-def]
    """The reduced rollups of hours T0 .. T0+5h (KPI period: the first two hours)."""
    args = (T0 - HOUR, T0 + 5 * HOUR, list(ProbeKind), list(terminals), (T0, T0 + 2 * HOUR))
    if not hasattr(source_or_rows, "rollups"):  # samples: the obvious in-memory implementation
        source_or_rows = MemoryStore(list(source_or_rows))
    return source_or_rows.rollups(*args)


def _same(a, b) -> bool:  # type: ignore[no-untyped-def]
    order = [b.vantages.index(v) for v in a.vantages]
    return (
        a.terminals == b.terminals
        and np.array_equal(a.counts, b.counts[:, order, :])
        and np.array_equal(a.scalars, b.scalars)
        and np.array_equal(a.rtt, b.rtt)
        and np.array_equal(a.jit, b.jit)
    )


def test_rollups_written_in_pieces_equal_the_pure_rollup(tmp_path: Path) -> None:
    data = samples()
    j = JournalStore(tmp_path / "j.sqlite")
    for k in range(0, len(data), 37):  # odd batch sizes split hours across transactions
        j.write_samples(data[k : k + 37])
    src = JournalSlaSource(j)
    got = _summary(src)
    assert _same(got, _summary(data))
    assert got.counts[0, 0, 0:5].tolist() == [0, 120, 120, 120, 0]  # T1: 2 kinds x max 60 per hour, 2.5 h
    assert got.scalars[0, 0] == 240  # samples of T1 in the KPI period (2 hours)
    problems = src.problem_samples(T0, T0 + 5 * HOUR, [ProbeKind.ICMP])
    assert len(problems) == 22 + 1  # every 7th ICMP sample lost packets, plus the unsent one
    hourly, daily, cursor = rollups_after(j, 0)
    assert len(hourly) == 7 and cursor > 0  # T1: 3 hours x 2 kinds, T2: 1
    assert len(daily) == 3  # one UTC day: T1 x 2 kinds, T2
    assert sum(sum(r.rtt_hist.values()) for r in daily) == sum(sum(r.rtt_hist.values()) for r in hourly)
    assert rollups_after(j, cursor) == ([], [], cursor)
    j.close()


def test_journal_without_rollups_is_rolled_up_once(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    j = JournalStore(path)
    j.write_samples(samples())
    j.close()
    db = sqlite3.connect(path)  # make it look like a journal from before the rollup table
    db.execute("DROP TABLE sla_hourly")
    db.commit()
    db.close()
    j = JournalStore(path)  # migration re-creates the table and marks old rows
    src = JournalSlaSource(j)  # rolls them up
    got = _summary(src)
    assert _same(got, _summary(samples()))
    JournalSlaSource(j)  # a second time adds nothing
    assert _same(_summary(src), got)
    j.close()


def test_a_retag_mid_hour_keeps_one_rollup_per_terminal_vantage_kind_hour(tmp_path: Path) -> None:
    """A reload that re-tags T1 half-way through an hour makes a second series row for its samples, but
    the rollups stay keyed as InfluxDB keys them (terminal, vantage, kind, hour), with the counts summed."""
    j = JournalStore(tmp_path / "j.sqlite")
    j.set_terminal_tags({"T1": {"carrier": "telecom"}, "T2": {"carrier": "telecom"}})
    minute = 60 * 10**9
    first = [Sample(T0 + m * minute, t, "v1", ProbeKind.ICMP, 5, 5) for m in range(30) for t in ("T1", "T2")]
    j.write_samples(first)
    j.set_terminal_tags({"T1": {"carrier": "unicom"}})  # re-tag T1 at minute 30
    second = [Sample(T0 + m * minute, "T1", "v1", ProbeKind.ICMP, 5, 3) for m in range(30, 70)]
    j.write_samples(second)
    series = j._db.execute("SELECT count(*) FROM series WHERE terminal = 'T1'").fetchone()[0]
    assert series == 2  # the samples keep the tags they were measured under
    hourly, daily, _ = rollups_after(j, 0)
    keys = [r.key for r in hourly]
    assert len(keys) == len(set(keys)) == 3  # T1: hours 0 and 1; T2: hour 0
    by_key = {r.key: r for r in hourly}
    h0 = by_key[("T1", "v1", ProbeKind.ICMP, T0)]
    # by hand: minutes 0-29 at 5/5 and 30-59 at 3/5 in hour 0; minutes 60-69 at 3/5 in hour 1
    assert (h0.samples, h0.sent, h0.received) == (60, 300, 30 * 5 + 30 * 3)
    h1 = by_key[("T1", "v1", ProbeKind.ICMP, T0 + HOUR)]
    assert (h1.samples, h1.sent, h1.received) == (10, 50, 30)
    assert sorted((r.terminal, r.hour_ns) for r in daily) == [
        ("T1", T0 - T0 % (24 * HOUR)),
        ("T2", T0 - T0 % (24 * HOUR)),
    ]
    rows = j._db.execute("SELECT count(*), count(DISTINCT series) FROM sla_hourly").fetchone()
    assert rows == (3, 2)
    j.close()


def test_rollups_split_by_an_older_version_are_folded_on_open(tmp_path: Path, monkeypatch) -> None:
    """Journals written before the canonical keying hold one rollup row per series of a re-tagged
    terminal; a writable open folds them into one per (terminal, vantage, kind, hour), totals kept, and
    moves the shipper's rollup cursor back so InfluxDB gets the full totals."""
    from slaprobe.store import rollup_tables
    from slaprobe.store.shipper import CURSOR_ROLLUPS

    path = tmp_path / "old.sqlite"
    minute = 60 * 10**9
    with monkeypatch.context() as m:  # the old keying: every series its own rollup rows
        m.setattr(rollup_tables, "canonical_series", lambda db, ids: {i: i for i in ids})
        j = JournalStore(path)
        j.set_terminal_tags({"T1": {"carrier": "telecom"}})
        j.write_samples([Sample(T0 + k * minute, "T1", "v1", ProbeKind.ICMP, 5, 5) for k in range(30)])
        j.set_terminal_tags({"T1": {"carrier": "unicom"}})
        j.write_samples([Sample(T0 + k * minute, "T1", "v1", ProbeKind.ICMP, 5, 2) for k in range(30, 90)])
        j.set_cursor(CURSOR_ROLLUPS, j.last_sample_id())  # everything was shipped (and overwritten)
        assert len(rollups_after(j, 0)[0]) == 3  # hour 0 twice: the defect
        j.close()
    j = JournalStore(path)
    hourly, daily, _ = rollups_after(j, 0)
    got = sorted((r.hour_ns, r.samples, r.sent, r.received) for r in hourly)
    # by hand: hour 0 = 30 x 5/5 + 30 x 5/2; hour 1 = 30 x 5/2
    assert got == [(T0, 60, 300, 150 + 60), (T0 + HOUR, 30, 150, 60)]
    assert len(daily) == 1
    assert j.get_cursor(CURSOR_ROLLUPS) == j.last_sample_id() - 1  # the next shipment re-sends them
    assert len(rollups_after(j, j.get_cursor(CURSOR_ROLLUPS))[0]) == 2
    j.close()
    with JournalStore(path) as again:  # folded once: nothing left to fold
        assert rollup_tables.merge_split_rollups(again._db) == 0


# ---------------------------------------------------------------- heartbeats: unstored

_OLD_HEARTBEATS = """
CREATE TABLE heartbeats (
    id INTEGER PRIMARY KEY, time_ns INTEGER NOT NULL, vantage TEXT NOT NULL, grp TEXT NOT NULL,
    interval_s REAL NOT NULL, due INTEGER NOT NULL, probed INTEGER NOT NULL, late INTEGER NOT NULL,
    skipped INTEGER NOT NULL, duration_s REAL NOT NULL, reference_ok INTEGER NOT NULL,
    reference_total INTEGER NOT NULL
);
INSERT INTO heartbeats VALUES (1, {t}, 'v1', 'default/icmp', 60.0, 3, 3, 0, 0, 1.5, 1, 1);
"""


def _old_journal(path: Path) -> None:
    """A journal as written before ``heartbeats.unstored`` existed (schema version 1, same as today)."""
    JournalStore(path).close()
    db = sqlite3.connect(path)
    db.executescript("DROP TABLE heartbeats;" + _OLD_HEARTBEATS.format(t=T0))
    db.commit()
    db.close()


def test_unstored_round_trips_and_untrusts_its_cycle(tmp_path: Path) -> None:
    from slaprobe.model import Heartbeat

    beats = [
        Heartbeat(T0, "v1", "default/icmp", 60.0, 3, 3, 0, 0, 1.5, 1, 1),
        Heartbeat(T0 + 60 * 10**9, "v1", "default/icmp", 60.0, 3, 3, 0, 0, 1.5, 1, 1, unstored=2),
    ]
    with JournalStore(tmp_path / "j.sqlite") as j:
        j.write_heartbeats(beats)
        assert list(j.heartbeats(0, 2**62)) == beats
        assert [h for _, h in j.heartbeat_rows_after(0, 10)] == beats  # what the shipper forwards
        cols = JournalSlaSource(j).sla_heartbeats(0, 2**62)
    assert cols.trusted.tolist() == [True, False]


def test_old_journal_gains_unstored_column(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    _old_journal(path)
    with JournalStore(path, readonly=True) as ro:  # read-only: no migration, reads 0
        (hb,) = ro.heartbeats(0, 2**62)
        assert hb.unstored == 0
        assert JournalSlaSource(ro).sla_heartbeats(0, 2**62).trusted.tolist() == [True]
    with JournalStore(path) as j:  # writable: ALTER TABLE, old rows 0, new rows keep their count
        (hb,) = j.heartbeats(0, 2**62)
        assert hb.unstored == 0
        j.write_heartbeats([dataclasses.replace(hb, time_ns=T0 + 1, unstored=4)])
        assert [h.unstored for h in j.heartbeats(0, 2**62)] == [0, 4]
        assert JournalSlaSource(j).sla_heartbeats(0, 2**62).trusted.tolist() == [True, False]
    db = sqlite3.connect(path)
    assert db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == ("1",)
    db.close()

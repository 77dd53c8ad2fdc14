"""The SQLite journal: exact round trips, the bad-row index, cursors, and no corruption on kill -9."""

from __future__ import annotations

import dataclasses
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from slaprobe.model import NS_PER_S, Heartbeat, Outcome, ProbeKind, Sample, outcome_for
from slaprobe.store import journal as journal_module
from slaprobe.store.journal import JournalError, JournalStore
from tests.helpers import write_lock_free

ROOT = Path(__file__).resolve().parents[2]


def _sample(i: int, received: int = 5, terminal: str = "T1", kind: ProbeKind = ProbeKind.ICMP) -> Sample:
    return Sample(
        time_ns=i * 60 * NS_PER_S + 123,
        terminal=terminal,
        vantage="v1",
        kind=kind,
        sent=5,
        received=received,
        rtt_min_ms=1.25,
        rtt_avg_ms=2.5,
        rtt_max_ms=4.0,
        rtt_p50_ms=2.0,
        jitter_ms=0.5,
        error=outcome_for(5, received),
    )


def test_round_trip_is_exact(tmp_path: Path) -> None:
    with JournalStore(tmp_path / "j.sqlite") as j:
        j.set_terminal_tags(
            {"T1": {"carrier": "telecom", "region": "haikou", "level": "city", "tier": "basic"}}
        )
        written = [_sample(i, received=i % 6) for i in range(50)]
        written.append(
            Sample(
                7,
                "T2",
                "v2",
                ProbeKind.STAMP,
                100,
                97,
                duplicates=1,
                reordered=2,
                loss_fwd=0.01,
                loss_rev=0.02,
                jitter_fwd_ms=0.3,
                jitter_rev_ms=0.4,
                max_loss_burst=2,
                r_factor=90.1,
                mos=4.3,
                error=Outcome.PARTIAL,
            )
        )
        j.write_samples(written)
        back = list(j.samples(0, 2**62))
        assert sorted(back, key=lambda s: (s.time_ns, s.terminal)) == sorted(
            written, key=lambda s: (s.time_ns, s.terminal)
        )
        bad = list(j.bad_samples(0, 2**62))
        assert bad == [s for s in back if s.received < s.sent]
        rows = j.rows_after(0, 3)
        assert [r.id for r in rows] == [1, 2, 3]
        assert rows[0].tags == {"carrier": "telecom", "region": "haikou", "level": "city", "tier": "basic"}
        assert list(j.samples(0, 2**62, terminals=["T2"])) == [written[-1]]
        assert list(j.samples(0, 2**62, kinds=[ProbeKind.STAMP])) == [written[-1]]


def test_not_sent_samples_are_bad_rows_but_not_loss(tmp_path: Path) -> None:
    with JournalStore(tmp_path / "j.sqlite") as j:
        s = Sample(1, "T1", "v1", ProbeKind.ICMP, 0, 0, error=Outcome.NOT_SCHEDULED)
        j.write_samples([s])
        (back,) = j.bad_samples(0, 10)
        assert back == s and back.loss is None


def test_heartbeats_and_cursors(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    hb = Heartbeat(10, "v1", "default/icmp", 60.0, 1820, 1800, 3, 20, 58.2, 2, 2)
    with JournalStore(path) as j:
        j.write_heartbeats([hb])
        j.set_cursor("influx", 42, 99)
    with JournalStore(path) as j:
        assert list(j.heartbeats(0, 100)) == [hb]
        assert list(j.heartbeats(0, 100, vantage="other")) == []
        assert j.get_cursor("influx") == 42 and j.get_cursor("none") == 0


def test_tag_change_makes_a_new_series(tmp_path: Path) -> None:
    with JournalStore(tmp_path / "j.sqlite") as j:
        j.set_terminal_tags({"T1": {"carrier": "telecom"}})
        j.write_samples([_sample(0)])
        j.set_terminal_tags({"T1": {"carrier": "unicom"}})
        j.write_samples([_sample(1)])
        assert [r.tags["carrier"] for r in j.rows_after(0, 10)] == ["telecom", "unicom"]


def test_foreign_or_newer_files_are_refused(tmp_path: Path) -> None:
    other = tmp_path / "other.sqlite"
    db = sqlite3.connect(other)
    db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)")
    db.execute("INSERT INTO meta VALUES ('schema_version', '99')")
    db.commit()
    db.close()
    with pytest.raises(JournalError, match="schema version 99"):
        JournalStore(other)
    with pytest.raises(JournalError, match="no journal here"):
        JournalStore(tmp_path / "missing.sqlite", readonly=True)


WRITER = """
import sys
from slaprobe.model import Sample, ProbeKind
from slaprobe.store.journal import JournalStore
j = JournalStore(sys.argv[1])
i = 0
print("ready", flush=True)
while True:
    j.write_samples([Sample(i * 1000 + k, f"T{k}", "v1", ProbeKind.ICMP, 5, 5) for k in range(500)])
    i += 1
"""


def test_kill_9_mid_write_never_corrupts_and_keeps_whole_batches(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    for round_ in range(3):
        proc = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(path)], cwd=ROOT, stdout=subprocess.PIPE, text=True
        )
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        time.sleep(0.3 + 0.2 * round_)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        with JournalStore(path) as j:
            assert j.integrity_check() == "ok"
            count = j.count_samples()
            assert count > 0 and count % 500 == 0  # only whole batches: a batch is one transaction


def test_heartbeat_unstored_round_trips_and_old_journals_read_zero(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    refused = Heartbeat(10, "v1", "default/icmp", 60.0, 1820, 1820, 0, 0, 58.2, 2, 2, unstored=400)
    with JournalStore(path) as j:
        j.write_heartbeats([refused])
        assert list(j.heartbeats(0, 100)) == [refused] and not refused.healthy
        assert j.heartbeat_rows_after(0, 10)[0][1].unstored == 400
        assert j.latest_heartbeats() == [refused]
    old = tmp_path / "old.sqlite"  # a journal written before the column existed
    with JournalStore(old) as j:
        j.write_heartbeats([dataclasses.replace(refused, unstored=0)])
    db = sqlite3.connect(old)
    db.execute("ALTER TABLE heartbeats DROP COLUMN unstored")
    db.commit()
    db.close()
    with JournalStore(old, readonly=True) as j:  # read-only: read as 0, the file is left alone
        (hb,) = j.heartbeats(0, 100)
        assert hb.unstored == 0 and hb.healthy
    with JournalStore(old) as j:  # writable: the column is added in place
        j.write_heartbeats([refused])
        assert [h.unstored for h in j.heartbeats(0, 100)] == [0, 400]


def test_malformed_columns_round_trip_and_old_journals_gain_them(tmp_path: Path) -> None:
    """``malformed`` / ``malformed_reason`` (a STAMP peer answering in a form we cannot read) are stored;
    a journal written before they existed reads 0 / None read-only and gets the columns when opened
    for writing."""
    bad = Sample(NS_PER_S, "T1", "v1", ProbeKind.STAMP, sent=20, received=0, error=Outcome.MALFORMED,
                 malformed=20, malformed_reason="38-byte reply")  # fmt: skip
    old = tmp_path / "old.sqlite"
    with JournalStore(old) as j:
        j.write_samples([_sample(0)])
    db = sqlite3.connect(old)
    db.execute("ALTER TABLE samples DROP COLUMN malformed")
    db.execute("ALTER TABLE samples DROP COLUMN malformed_reason")
    db.commit()
    db.close()
    with JournalStore(old, readonly=True) as j:
        (s,) = j.samples(0, 10 * NS_PER_S)
        assert (s.malformed, s.malformed_reason) == (0, None)
    with JournalStore(old) as j:
        j.write_samples([bad])
        got = list(j.samples(0, 10 * NS_PER_S))
    assert got == [_sample(0), bad]
    assert not got[1].measured and got[1].loss is None


def test_a_terminal_removed_by_a_reload_keeps_its_tags(tmp_path: Path) -> None:
    """Samples of terminals that left the inventory, still in flight at the reload, keep their tags."""
    a = {"carrier": "telecom", "region": "haikou", "level": "city", "tier": "basic"}
    b = {"carrier": "unicom", "region": "sanya", "level": "village", "tier": "premium"}
    with JournalStore(tmp_path / "j.sqlite") as j:
        j.set_terminal_tags({"T1": a, "T2": a})
        j.write_samples([_sample(0, terminal="T1"), _sample(0, terminal="T2")])
        j.set_terminal_tags({"T2": b, "T3": b})  # reload: T1 removed, T2 re-tagged, T3 added
        j.write_samples([_sample(1, terminal=t) for t in ("T1", "T2", "T3")])
        got = [(r.sample.terminal, r.tags) for r in j.rows_after(0, 10)]
    assert got == [("T1", a), ("T2", a), ("T1", a), ("T2", b), ("T3", b)]


def test_a_full_disk_refuses_whole_batches_and_names_the_cause(tiny_disk: Path) -> None:
    with JournalStore(tiny_disk / "j.sqlite") as j:
        stored = 0
        with pytest.raises(sqlite3.OperationalError) as caught:
            for i in range(10_000):
                j.write_samples([_sample(i, terminal=f"T{k}") for k in range(100)])
                stored += 100
        # the cause itself, not "cannot rollback - no transaction is active" (SQLite rolled back already)
        assert "full" in str(caught.value), caught.value
        assert 0 < stored < 1_000_000 and j.count_samples() == stored  # the refused batch left nothing
        assert j.integrity_check() == "ok"


@pytest.mark.parametrize(
    ("prune", "left"),
    [
        # shipper: rows up to an id, oldest first (samples 1..250 are ids 1..250)
        (lambda j: j.delete_through("samples", 180), list(range(180, 250))),
        # retention: rows dated before a time (sample i is dated minute i)
        (lambda j: j.delete_samples_before(130 * 60 * NS_PER_S), list(range(130, 250))),
    ],
    ids=["delete_through", "delete_samples_before"],
)
def test_bulk_deletes_leave_the_journal_writable_between_batches(
    tmp_path: Path, monkeypatch, prune, left
) -> None:  # type: ignore[no-untyped-def]
    """Pruning runs in bounded transactions: at every pause another connection (the daemon's writer)
    takes the write lock at once, with no busy wait."""
    path = tmp_path / "j.sqlite"
    monkeypatch.setattr(journal_module, "DELETE_BATCH", 40)
    monkeypatch.setattr(journal_module, "DELETE_WINDOW", 40)
    free: list[bool] = []
    monkeypatch.setattr(journal_module, "_pause", lambda: free.append(write_lock_free(path)))
    with JournalStore(path) as j:
        for chunk in range(5):
            j.write_samples([_sample(i) for i in range(chunk * 50, chunk * 50 + 50)])
        prune(j)
        kept = [s.time_ns for s in j.samples(0, 2**62)]
    assert kept == [_sample(i).time_ns for i in left]
    # a pause after each full batch of 40 rows (delete_batches) or ids (delete_ids; ids 1..180 are
    # 5 windows: 4 pauses)
    assert free == [True] * ((250 - len(left)) // 40)


def _beat(i: int) -> Heartbeat:
    return Heartbeat(i * 60 * NS_PER_S, "v1", "default/icmp", 60.0, 1, 1, 0, 0, 0.5, 1, 1)


@pytest.mark.parametrize(
    ("table", "write", "empty"),
    [
        # compaction or shipper pruning emptied the table
        ("samples", lambda j, i: j.write_samples([_sample(i)]), lambda j: j.delete_through("samples", 10)),
        (
            "heartbeats",
            lambda j, i: j.write_heartbeats([_beat(i)]),
            lambda j: j.delete_through("heartbeats", 10),
        ),
        ("samples", lambda j, i: j.write_samples([_sample(i)]), lambda j: j.delete_ids("samples", 1, 10)),
        # retention by date removed every row
        ("samples", lambda j, i: j.write_samples([_sample(i)]), lambda j: j.delete_samples_before(10**18)),
    ],
    ids=["samples-through", "heartbeats-through", "samples-ids", "samples-retention"],
)
def test_ids_are_never_handed_out_twice(tmp_path: Path, table: str, write, empty) -> None:  # type: ignore[no-untyped-def]
    """SQLite gives a new row max(id) + 1: after deletes emptied a table it would start again at 1, below
    the shipper's cursor (those rows would never reach InfluxDB) and below the ids a compacted day
    recorded. New rows continue above every id the table ever had, across a restart too."""
    path = tmp_path / "j.sqlite"
    with JournalStore(path) as j:
        for i in range(10):
            write(j, i)
        assert j.id_range(table) == (1, 10)
        j.set_cursor("shipper", 10)
        empty(j)
        assert j.id_range(table) == (0, 0)
        write(j, 10)
        write(j, 11)
        assert j.id_range(table) == (11, 12)
    with JournalStore(path) as j:  # restarted daemon
        write(j, 12)
        assert j.id_range(table) == (11, 13) and j.count_after(table, j.get_cursor("shipper")) == 3


def test_a_late_row_removed_by_retention_does_not_give_its_id_again(tmp_path: Path) -> None:
    """Retention is by date: the newest row (a late one, dated long ago) may go while older ids stay."""
    with JournalStore(tmp_path / "j.sqlite") as j:
        j.write_samples([_sample(i) for i in range(100, 110)])  # ids 1..10
        j.write_samples([_sample(5)])  # id 11, dated before all of them
        assert j.delete_samples_before(50 * 60 * NS_PER_S) == (1, _sample(5).time_ns)
        j.write_samples([_sample(110)])
        assert [r.id for r in j.rows_after(10, 10)] == [12]

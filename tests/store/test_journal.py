"""The SQLite journal: exact round trips, the bad-row index, cursors, and no corruption on kill -9."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from slaprobe.model import NS_PER_S, Heartbeat, Outcome, ProbeKind, Sample, outcome_for
from slaprobe.store.journal import JournalError, JournalStore

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

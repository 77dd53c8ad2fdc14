"""The journal's SLA side: rollups kept at insert time equal the pure rollup; old journals rolled up once."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from slaprobe.model import Outcome, ProbeKind, Sample
from slaprobe.sla.kpi import SCALARS, rollup_samples
from slaprobe.store.journal import JournalStore
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


def _as_tuples(cols) -> set:  # type: ignore[no-untyped-def]
    n = len(cols)
    return {
        (cols.terminals[cols.t[i]], cols.vantages[cols.v[i]], int(cols.k[i]), int(cols.hour_ns[i]),
         tuple(int(cols.scalars[s][i]) for s in SCALARS))
        for i in range(n)
    }  # fmt: skip


def test_rollups_written_in_pieces_equal_the_pure_rollup(tmp_path: Path) -> None:
    data = samples()
    j = JournalStore(tmp_path / "j.sqlite")
    for k in range(0, len(data), 37):  # odd batch sizes split hours across transactions
        j.write_samples(data[k : k + 37])
    src = JournalSlaSource(j)
    got = src.rollups(T0 - HOUR, T0 + 5 * HOUR, list(ProbeKind))
    from slaprobe.sla.inputs import rollup_columns

    want = rollup_columns(rollup_samples(data).values())
    assert _as_tuples(got) == _as_tuples(want)
    assert sorted(got.rtt_hist.tolist()) == sorted(want.rtt_hist.tolist())
    problems = src.problem_samples(T0, T0 + 5 * HOUR, [ProbeKind.ICMP])
    assert len(problems) == 22 + 1  # every 7th ICMP sample lost packets, plus the unsent one
    rows, cursor = rollups_after(j, 0)
    assert len(rows) == 7 and cursor > 0  # T1: 3 hours x 2 kinds, T2: 1
    assert rollups_after(j, cursor) == ([], cursor)
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
    got = src.rollups(T0 - HOUR, T0 + 5 * HOUR, list(ProbeKind))
    from slaprobe.sla.inputs import rollup_columns

    assert _as_tuples(got) == _as_tuples(rollup_columns(rollup_samples(samples()).values()))
    JournalSlaSource(j)  # a second time adds nothing
    assert _as_tuples(src.rollups(T0 - HOUR, T0 + 5 * HOUR, list(ProbeKind))) == _as_tuples(got)
    j.close()

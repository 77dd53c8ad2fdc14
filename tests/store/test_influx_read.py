"""InfluxSlaSource answers each SlaSource question exactly like the journal, on the same synthetic month.

The month (tests/fixtures/stores.py ``sla_month``) went into the journal and into a real influxd from the
same Sample objects, so the journal's answers are the expected values: problem rows (read by InfluxDB per
flagged terminal-day), presence (from daily counts, hour by hour only on days with hours missing), period
sums and histograms — over the whole window and over windows that cut UTC days and hours in the middle.
"""

from __future__ import annotations

import numpy as np
import pytest

from slaprobe.inventory import load_inventory
from slaprobe.model import ProbeKind
from slaprobe.sla.engine import month_period, window_for
from slaprobe.sla.inputs import KIND_CODES, SampleColumns
from slaprobe.sla.kpi import HOUR_NS
from slaprobe.sla.rollups import DAY_NS, RollupSummary
from slaprobe.sla.rule import rule_from
from slaprobe.store.influx import InfluxClient
from slaprobe.store.influx_read import InfluxSlaSource
from slaprobe.store.journal import JournalStore
from slaprobe.store.sla_journal import JournalSlaSource

pytestmark = pytest.mark.influx

KINDS = tuple(ProbeKind)


def _rows(cols: SampleColumns) -> list[tuple]:
    return sorted(
        (
            cols.terminals[cols.t[i]],
            cols.vantages[cols.v[i]],
            KIND_CODES[cols.k[i]].value,
            int(cols.time_ns[i]),
            int(cols.sent[i]),
            int(cols.received[i]),
            bool(cols.measured[i]),
        )
        for i in range(len(cols))
    )


def _presence(s: RollupSummary) -> dict[tuple[str, str, int], int]:
    t, v, h = np.nonzero(s.counts)
    return {
        (s.terminals[a], s.vantages[b], s.start_ns + int(c) * HOUR_NS): int(s.counts[a, b, c])
        for a, b, c in zip(t, v, h, strict=True)
    }


@pytest.fixture(scope="module")
def sources(sla_month):  # type: ignore[no-untyped-def]
    journal = JournalStore(sla_month.journal)
    client = InfluxClient(sla_month.influx)
    ids = sorted(t.id for t in load_inventory(sla_month.out_dir / "terminals.csv").terminals)
    yield JournalSlaSource(journal), InfluxSlaSource(client), ids
    journal.close()
    client.close()


def _windows() -> list[tuple[int, int, tuple[int, int]]]:
    """(start, end, period): the month's window, and one that starts and ends inside UTC days."""
    period = month_period("2023-02")
    window = window_for(rule_from("mef10.3"), period)
    cut_start = period.start_ns + 5 * DAY_NS + 7 * HOUR_NS
    cut_end = cut_start + 9 * DAY_NS + 13 * HOUR_NS
    return [
        (window.start_ns, window.end_ns, (period.start_ns, period.end_ns)),
        (cut_start, cut_end, (cut_start + 3 * HOUR_NS, cut_end - 5 * HOUR_NS)),
    ]


@pytest.mark.parametrize("which", [0, 1], ids=["month", "cut-window"])
def test_problem_rows_equal_the_journal(sources, which: int) -> None:  # type: ignore[no-untyped-def]
    journal, influx, _ = sources
    start, end, _period = _windows()[which]
    expected = _rows(journal.problem_samples(start, end, KINDS))
    assert _rows(influx.problem_samples(start, end, KINDS)) == expected
    assert any(r[4] > r[5] for r in expected), "lossy rows expected"


@pytest.mark.parametrize("which", [0, 1], ids=["month", "cut-window"])
def test_rollups_equal_the_journal(sources, which: int) -> None:  # type: ignore[no-untyped-def]
    journal, influx, ids = sources
    start, end, period = _windows()[which]
    a = journal.rollups(start, end, KINDS, ids, period)
    b = influx.rollups(start, end, KINDS, ids, period)
    assert _presence(b) == _presence(a)
    assert np.array_equal(b.scalars, a.scalars)
    assert np.array_equal(b.rtt, a.rtt) and np.array_equal(b.jit, a.jit)
    # both paths of the daily presence ran: whole days, and days with hours missing (probe-host outage)
    hours = {}
    for terminal, vantage, hour in _presence(a):
        hours.setdefault((terminal, vantage, hour - hour % DAY_NS), set()).add(hour)
    assert any(len(h) == 24 for h in hours.values())
    assert any(
        0 < len(h) < 24 and min(h) % DAY_NS == 0 and max(h) % DAY_NS == 23 * HOUR_NS for h in hours.values()
    )


def test_problem_rows_of_days_with_unmeasured_samples(tmp_path, influxd, influx_db) -> None:  # type: ignore[no-untyped-def]
    """Days with unmeasured samples are read with ``error`` (a lossy sample may be a send_error)."""
    from slaprobe.config import InfluxConfig, ShipperConfig
    from slaprobe.model import Outcome, Sample
    from slaprobe.store.shipper import Shipper
    from tests.sla.scenario import PERIOD, build

    memory = build(
        {
            "T1": {"v1": [(600, "XXpp..")], "v2": [(700, "??..")]},  # loss on v1, not sent on v2: same day
            "T2": {"v1": [(100, "pp1..")], "v2": [(1300, "X")]},  # loss only
        },
        vantages=("v1", "v2"),
    )
    samples = list(memory.samples(0, 2**62))
    at = PERIOD.start_ns + 900 * 60 * 10**9  # T3: partly sent, then the stack refused
    samples.append(Sample(at, "T3", "v1", ProbeKind.ICMP, 5, 2, error=Outcome.SEND_ERROR))
    samples.append(Sample(at + 60 * 10**9, "T3", "v1", ProbeKind.ICMP, 5, 3))
    journal = JournalStore(tmp_path / "j.sqlite")
    journal.write_samples(samples)
    client = InfluxClient(InfluxConfig(url=influxd.url, database=influx_db, api="v1"))
    Shipper(journal, client, ShipperConfig(batch_size=700, keep_shipped_days=0)).drain()
    start, end = min(s.time_ns for s in samples), max(s.time_ns for s in samples) + 1
    expected = _rows(JournalSlaSource(journal).problem_samples(start, end, KINDS))
    got = _rows(InfluxSlaSource(client).problem_samples(start, end, KINDS))
    journal.close()
    client.close()
    assert got == expected
    assert ("T3", "v1", "icmp", at, 0, 0, False) in got  # the send_error is not measured
    assert ("T3", "v1", "icmp", at + 60 * 10**9, 5, 3, True) in got
    assert sum(1 for r in got if r[0] == "T1" and not r[6]) == 2  # the two '?' of v2
    assert sum(1 for r in got if r[0] == "T2") == 4  # p, p, 1 on v1 and X on v2


def test_heartbeat_unstored_field(tmp_path, influxd, influx_db) -> None:  # type: ignore[no-untyped-def]
    """``unstored`` travels journal -> shipper -> InfluxDB and untrusts its cycle; points written before
    the field existed lack it and read as 0, exactly like the journal's old rows."""
    from slaprobe.config import InfluxConfig, ShipperConfig
    from slaprobe.model import Heartbeat
    from slaprobe.store.influx import InfluxStore
    from slaprobe.store.shipper import Shipper

    t0 = 1_670_169_600 * 10**9
    beats = [
        Heartbeat(t0, "v1", "default/icmp", 60.0, 3, 3, 0, 0, 1.5, 1, 1),
        Heartbeat(t0 + 60 * 10**9, "v1", "default/icmp", 60.0, 3, 3, 0, 0, 1.5, 1, 1, unstored=2),
    ]
    journal = JournalStore(tmp_path / "j.sqlite")
    journal.write_heartbeats(beats)
    cfg = InfluxConfig(url=influxd.url, database=influx_db, api="v1")
    client = InfluxClient(cfg)
    Shipper(journal, client, ShipperConfig(batch_size=700, keep_shipped_days=0)).drain()
    old = t0 + 120 * 10**9  # an older slaprobe's point: no unstored field
    influxd.write_lines(
        influx_db,
        "heartbeat,group=default/icmp,vantage=v1 interval_s=60.0,due=3i,probed=3i,late=0i,skipped=0i,"
        f"duration_s=1.5,reference_ok=1i,reference_total=1i {old // 10**6}",
    )
    cols = InfluxSlaSource(client).sla_heartbeats(0, 2**62)
    store = InfluxStore(cfg)
    read_back = list(store.heartbeats(0, 2**62))
    store.close()
    journal.close()
    client.close()
    assert cols.time_ns.tolist() == [t0, t0 + 60 * 10**9, old]
    assert cols.trusted.tolist() == [True, False, True]
    assert [h.unstored for h in read_back] == [0, 2, 0]

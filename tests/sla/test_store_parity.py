"""The same synthetic month in the journal and in a real influxd: byte-identical reports, ground truth.

The month (tests/fixtures/stores.py ``sla_month``) has outages, blackouts, degraded links, skipped
probes, a probe-host outage on one of two vantages, maintenance windows with an outage inside, terminals
opened mid-month and outages crossing both month boundaries. Its ground truth is known by construction
(slaprobe/lab/month.py) for the default rule.
"""

from __future__ import annotations

import pytest

from slaprobe.inventory import load_inventory
from slaprobe.report.availability_json import render_json
from slaprobe.sla.engine import month_period, report_month
from slaprobe.sla.maintenance import load_maintenance
from slaprobe.sla.rule import rule_from
from slaprobe.store.influx import InfluxClient
from slaprobe.store.influx_read import InfluxSlaSource
from slaprobe.store.journal import JournalStore
from slaprobe.store.sla_journal import JournalSlaSource

pytestmark = pytest.mark.influx


_CACHE: dict[str, tuple] = {}


def _reports(sla_month, preset: str):  # type: ignore[no-untyped-def]
    """(report from the journal, report from InfluxDB) for a preset, computed once per session."""
    if preset in _CACHE:
        return _CACHE[preset]
    period = month_period("2023-02")
    inventory = load_inventory(sla_month.out_dir / "terminals.csv")
    windows = load_maintenance(sla_month.out_dir / "maintenance.yaml", period.tz)
    rule = rule_from(preset)
    journal = JournalStore(sla_month.journal)
    client = InfluxClient(sla_month.influx)
    try:
        from_journal = report_month(JournalSlaSource(journal), inventory.terminals, rule, period, windows)
        from_influx = report_month(InfluxSlaSource(client), inventory.terminals, rule, period, windows)
    finally:
        journal.close()
        client.close()
    _CACHE[preset] = (from_journal, from_influx)
    return from_journal, from_influx


@pytest.mark.parametrize("preset", ["mef10.3", "y1540"])
def test_journal_and_influxdb_give_byte_identical_json(sla_month, preset: str) -> None:  # type: ignore[no-untyped-def]
    from_journal, from_influx = _reports(sla_month, preset)
    a, b = render_json(from_journal), render_json(from_influx)
    assert a == b
    assert from_journal.outages, "the month should contain outages"
    assert any(o.evidence for o in from_journal.outages)


def test_ground_truth_is_recovered_exactly(sla_month) -> None:  # type: ignore[no-untyped-def]
    from_journal, _ = _reports(sla_month, "mef10.3")
    truth = sla_month.plan.truth["terminals"]
    got = {
        r.terminal: {
            "in_service_s": r.in_service_s,
            "maintenance_s": r.maintenance_s,
            "unknown_s": r.unknown_s,
            "unavailable_s": r.unavailable_s,
            "available_s": r.available_s,
            "high_loss_intervals": r.high_loss_intervals,
            "outages": [[o.start_ns, o.end_ns, o.period_s] for o in r.outages],
        }
        for r in from_journal.results
    }
    assert got == truth
    # the month really exercises the boundary and maintenance cases
    assert any(o.start_ns < from_journal.period.start_ns for o in from_journal.outages)
    assert any(o.end_ns > from_journal.period.end_ns for o in from_journal.outages)
    assert sum(r.maintenance_s for r in from_journal.results) > 0


def test_the_shipper_path_gives_the_same_report(tmp_path, influxd, influx_db) -> None:  # type: ignore[no-untyped-def]
    """Production path: daemon -> journal -> shipper -> InfluxDB (rollups included) -> same JSON."""
    from slaprobe.config import InfluxConfig, ShipperConfig
    from slaprobe.store.shipper import Shipper
    from tests.sla.scenario import PERIOD, build, terminal

    memory = build(
        {
            "T1": {"v1": [(600, "XXXXXX..XX"), (900, "pppp")], "v2": [(600, "XXXXXXXXXX")]},
            "T2": {"v1": [(100, "?????")], "v2": [(1430, "X" * 20)]},
        },
        vantages=("v1", "v2"),
        vantage_events={"v2": [(300, "_" * 30)]},
    )
    journal = JournalStore(tmp_path / "j.sqlite")
    # like the daemon: each cycle's samples, then its heartbeat (cycle_heartbeat's "default/icmp");
    # samples of a vantage that sent no heartbeat (its host was down) were never written
    for hb in sorted(memory.heartbeats(0, 2**62), key=lambda h: (h.time_ns, h.vantage)):
        end = hb.time_ns + round(hb.interval_s * 10**9)
        journal.write_samples([s for s in memory.samples(hb.time_ns, end) if s.vantage == hb.vantage])
        journal.write_heartbeats([hb])
    cfg = InfluxConfig(url=influxd.url, database=influx_db, api="v1")
    client = InfluxClient(cfg)
    Shipper(journal, client, ShipperConfig(batch_size=700, keep_shipped_days=0)).drain()
    rule = rule_from("mef10.3", lookaround_s=3600)
    terms = [terminal("T1"), terminal("T2")]
    a = render_json(report_month(JournalSlaSource(journal), terms, rule, PERIOD))
    b = render_json(report_month(InfluxSlaSource(client), terms, rule, PERIOD))
    journal.close()
    client.close()
    assert a == b
    assert '"unavailable_s":600' in a  # T1 is down 10 minutes (both vantages saw it)

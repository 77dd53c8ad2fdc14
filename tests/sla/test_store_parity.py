"""The same synthetic month in the journal and in a real influxd: byte-identical reports, ground truth.

The month (tests/fixtures/stores.py ``sla_month``) has outages, blackouts, degraded links, skipped
probes, a probe-host outage on one of two vantages, maintenance windows with an outage inside, terminals
opened mid-month and outages crossing both month boundaries. Its ground truth is known by construction
(slaprobe/lab/month.py) for the default rule, and its journal has the daemon's shape (compared with a real
daemon's in tests/lab/test_month_vs_daemon.py). The shipper path is checked on the real daemon itself.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from slaprobe.inventory import load_inventory
from slaprobe.lab.month_cycles import measured_sample
from slaprobe.model import NS_PER_S, ProbeKind, Sample
from slaprobe.probes.base import ProbeTarget
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


class _ScriptedIcmp:
    """An ICMP engine answering from a script instead of the network: ``terminal`` loses every echo in
    the cycles starting in [down_from, down_to) (UTC seconds). Its samples are built like the real
    engine's (``lab.month_cycles.measured_sample``: the columns ``probes/icmp.py`` fills)."""

    kind = ProbeKind.ICMP

    def __init__(self, terminal: str, down_from: int, down_to: int) -> None:
        self.terminal, self.down_from, self.down_to = terminal, down_from, down_to

    async def start(self) -> None:
        pass

    async def close(self) -> None:
        pass

    async def probe(self, target: ProbeTarget, vantage: str) -> Sample:
        now_ns = time.time_ns()
        down = target.terminal == self.terminal and self.down_from <= now_ns // NS_PER_S < self.down_to
        await asyncio.sleep(0.05)
        return measured_sample(
            ProbeKind.ICMP, now_ns, target.terminal, vantage, 5, 0 if down else 5, 3.0, 0.4
        )


def test_the_daemon_ships_what_it_journals_and_both_report_the_script(tmp_path, influxd, influx_db) -> None:  # type: ignore[no-untyped-def]
    """Production path, for real: the Daemon (APScheduler cycles, CycleRunner, journal sinks, its own
    shipper thread; only the probe engine scripted) -> journal -> shipper -> InfluxDB -> the same JSON.

    1 s cycles and a 1 s Δt: T1 loses everything for 8 cycles (>= n = 5), so exactly one outage of
    8 s, at the scripted seconds; T2 answers throughout (figures from the script, not the engine)."""
    import datetime as dt
    from ipaddress import ip_address

    import yaml

    from slaprobe.config import load_config
    from slaprobe.daemon import Daemon
    from slaprobe.inventory import Inventory, write_csv
    from slaprobe.sla.engine import Period
    from slaprobe.store.shipper import Shipper
    from slaprobe.terminal import Level, Terminal

    terms = [
        Terminal(tid, tid, ip_address(addr), "telecom", "haikou", Level.CITY, "standard", dt.date(2020, 1, 1))
        for tid, addr in (("T1", "198.18.0.1"), ("T2", "198.18.0.2"))
    ]
    write_csv(terms, tmp_path / "inv.csv")
    (tmp_path / "slaprobe.yaml").write_text(
        yaml.safe_dump(
            {
                "vantage": "v1",
                "inventory": str(tmp_path / "inv.csv"),
                "state_dir": str(tmp_path / "state"),
                "schedule": {"interval_s": 1.0, "slot_ms": 10.0},
                "store": {"kind": "influx"},
                "influx": {"url": influxd.url, "database": influx_db, "api": "v1"},
                "sla": {"timezone": "UTC"},
            }
        )
    )
    config = load_config(tmp_path / "slaprobe.yaml")
    down_from = int(time.time()) + 6
    down_to = down_from + 8
    daemon = Daemon(config, inventory=Inventory(tuple(terms)))
    daemon.engines[ProbeKind.ICMP] = _ScriptedIcmp("T1", down_from, down_to)  # type: ignore[assignment]

    async def run() -> int:
        asyncio.get_running_loop().call_at(
            asyncio.get_running_loop().time() + (down_to + 7.5 - time.time()), daemon.stop
        )
        return await daemon.run()

    assert asyncio.run(run()) == 0
    journal = JournalStore(config.journal_path)
    beats = sorted(h.time_ns for h in journal.heartbeats(0, 2**62))
    assert len(beats) >= 18 and {h.group for h in journal.heartbeats(0, 2**62)} == {"default/icmp"}
    client = InfluxClient(config.influx)
    Shipper(journal, client, config.shipper).drain()  # whatever the daemon's shipper had not sent yet
    hour = 3600 * NS_PER_S  # the engine reports whole hours; the time around the run is UNKNOWN
    period = Period("run", beats[0] // hour * hour, -(-(beats[-1] + NS_PER_S) // hour) * hour, "UTC")
    # no grace: with 1 s cycles the default 5 s would stretch the last heartbeat over 5 unprobed seconds
    rule = rule_from("mef10.3", interval_s=1, lookaround_s=3600, heartbeat_grace_s=0.0)
    from_journal = report_month(JournalSlaSource(journal), terms, rule, period)
    from_influx = report_month(InfluxSlaSource(client), terms, rule, period)
    journal.close()
    client.close()
    assert render_json(from_journal) == render_json(from_influx)
    (outage,) = from_journal.outages
    assert (outage.terminal, outage.start_ns, outage.end_ns) == (
        "T1",
        down_from * NS_PER_S,
        down_to * NS_PER_S,
    )
    by_terminal = {r.terminal: r for r in from_journal.results}
    assert by_terminal["T1"].unavailable_s == 8 and by_terminal["T2"].unavailable_s == 0
    judged = len(beats)
    assert by_terminal["T2"].available_s == judged and by_terminal["T1"].available_s == judged - 8


def test_the_columnar_tier_gives_the_same_json_before_and_after_compaction(sla_month, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The same month from the journal, InfluxDB, journal + tier half compacted, the tier alone, and the
    tier after retention dropped every raw detail file: one byte-identical JSON (issue #14)."""
    import datetime as dt
    import shutil

    from slaprobe.store.columnar import Tier
    from slaprobe.store.columnar_read import ColumnarSlaSource, TieredSlaSource
    from slaprobe.store.compact import compact

    from_journal, from_influx = _reports(sla_month, "mef10.3")
    expected = render_json(from_journal)
    assert render_json(from_influx) == expected
    period = month_period("2023-02")
    inventory = load_inventory(sla_month.out_dir / "terminals.csv")
    windows = load_maintenance(sla_month.out_dir / "maintenance.yaml", period.tz)
    rule = rule_from("mef10.3")
    shutil.copy(sla_month.journal, tmp_path / "journal.sqlite")
    tier = Tier(tmp_path / "columnar", create=True)

    def json_from(source) -> str:  # type: ignore[no-untyped-def]
        return render_json(report_month(source, inventory.terminals, rule, period, windows))

    with JournalStore(tmp_path / "journal.sqlite") as journal:
        assert compact(journal, tier, dt.date(2023, 2, 14)).days  # mid-month: both tiers feed the report
        assert json_from(TieredSlaSource(JournalSlaSource(journal), tier)) == expected
        compact(journal, tier, dt.date(2023, 3, 10))  # everything (the window ends 2023-03-01)
        assert journal.count_samples() == 0
        assert json_from(TieredSlaSource(JournalSlaSource(journal), tier)) == expected
    assert json_from(ColumnarSlaSource(tier)) == expected
    for day in tier.days():
        assert tier.drop_raw(day) > 0
    assert not list(tier.day_dir(tier.days()[0]).glob("detail.parquet"))
    assert json_from(ColumnarSlaSource(tier)) == expected

"""``slaprobe status`` reads the daemon's view from its journal: cycles, backlog, last write, last error."""

from __future__ import annotations

import json

from click.testing import CliRunner

from slaprobe.cli import cli
from slaprobe.config import InfluxConfig, ShipperConfig
from slaprobe.model import NS_PER_S, Heartbeat, ProbeKind, Sample
from slaprobe.status import collect_status, render_status
from slaprobe.store.influx import InfluxClient
from slaprobe.store.journal import JournalStore
from slaprobe.store.shipper import Shipper
from tests.store.influx_doubles import nothing_listening

T0 = 1_700_000_000 * NS_PER_S


def _journal(path):
    j = JournalStore(path)
    j.write_samples([Sample(T0 + i * NS_PER_S, f"t{i}", "probe-1", ProbeKind.ICMP, 5, 5) for i in range(30)])
    j.write_heartbeats(
        [
            Heartbeat(T0, "probe-1", "default/icmp", 60.0, 30, 28, 3, 2, 41.0),
            Heartbeat(T0 + 60 * NS_PER_S, "probe-1", "default/icmp", 60.0, 30, 30, 0, 0, 40.0, 1, 1),
        ]
    )
    return j


def _shipper(path, url: str) -> Shipper:
    cfg = ShipperConfig(min_backoff_s=0.05, max_backoff_s=0.1, keep_shipped_days=0)
    return Shipper(JournalStore(path), InfluxClient(InfluxConfig(url=url, database="statusdb")), cfg)


def test_status_before_and_after_shipping(tmp_path, influxd):
    path = tmp_path / "journal.sqlite"
    _journal(path)
    with nothing_listening() as port:
        _shipper(path, f"http://127.0.0.1:{port}").drain(max_seconds=0.3)
    st = collect_status(path, "influx", 100.0)
    assert (st.samples_total, st.backlog_samples, st.backlog_heartbeats) == (30, 30, 2)
    assert st.last_write_ns is None and "Connection refused" in st.last_error
    latest = [(h.group, h.time_ns, h.probed) for h in st.heartbeats]
    assert latest == [("default/icmp", T0 + 60 * NS_PER_S, 30)]
    text = render_status(st, T0 + 90 * NS_PER_S)
    assert "probe-1/default/icmp: 2023-11-14 22:14:20 UTC (30 s ago)" in text
    assert "due 30, probed 30, late 0, skipped 0, reference 1/1" in text
    assert "backlog 30 samples + 2 heartbeats; last successful write never" in text

    influxd.create_database("statusdb")
    _shipper(path, influxd.url).drain()
    st = collect_status(path, "influx", 100.0)
    assert (st.backlog_samples, st.backlog_heartbeats) == (0, 0) and st.last_write_ns is not None


def test_status_command_json(tmp_path):
    _journal(tmp_path / "journal.sqlite").close()
    cfg = tmp_path / "slaprobe.yaml"
    cfg.write_text(f"state_dir: {tmp_path}\nstore:\n  kind: influx\n")
    result = CliRunner().invoke(cli, ["status", "--json", "--config", str(cfg)])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["backlog_samples"] == 30 and data["heartbeats"][0]["late"] == 0


def test_status_without_journal_says_so(tmp_path):
    cfg = tmp_path / "slaprobe.yaml"
    cfg.write_text(f"state_dir: {tmp_path}/nothing\n")
    result = CliRunner().invoke(cli, ["status", "--config", str(cfg)])
    assert result.exit_code == 2 and "no journal here" in result.output

"""``slaprobe status`` reads the daemon's view from its journal: cycles, backlog, last write, last error."""

from __future__ import annotations

import json
import time

from click.testing import CliRunner

from slaprobe.cli import cli
from slaprobe.config import InfluxConfig, ShipperConfig
from slaprobe.model import NS_PER_S, Heartbeat, ProbeKind, Sample
from slaprobe.status import collect_status, render_status
from slaprobe.store.influx import InfluxClient
from slaprobe.store.journal import NOTE_STORE_FAULTS, JournalStore
from slaprobe.store.shipper import CURSOR_SAMPLES, NOTE_LAST_ERROR, Shipper
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


NOW = T0 + 2 * 86_400 * NS_PER_S
MIN = 60 * NS_PER_S


def _faulty_journal(path):
    """Cycles of two groups, some of whose samples the journal refused (heartbeat ``unstored``)."""
    j = JournalStore(path)

    def hb(t_ns: int, group: str, unstored: int) -> Heartbeat:
        return Heartbeat(t_ns, "probe-1", group, 60.0, 150, 150, 0, 0, 40.0, unstored=unstored)

    j.write_heartbeats(
        [
            hb(NOW - 30 * 60 * MIN, "default/icmp", 100),  # 30 h ago: only in the total
            hb(NOW - 3 * 60 * MIN, "default/icmp", 40),  # 3 h ago: last day
            hb(NOW - 50 * MIN, "default/icmp", 7),  # last hour: the last loss
            hb(NOW - 49 * MIN, "default/icmp", 0),  # the recovery
            hb(NOW - 10 * MIN, "default/icmp", 0),
            hb(NOW - 20 * MIN, "province/icmp", 0),
            hb(NOW - 5 * MIN, "province/icmp", 3),  # still failing: nothing stored after it
        ]
    )
    return j


def test_status_sums_refused_samples_per_cycle_and_names_the_recovery(tmp_path):
    _faulty_journal(tmp_path / "journal.sqlite").close()
    st = collect_status(tmp_path / "journal.sqlite", "embedded", now_ns=NOW)
    got = [
        (f.group, f.refused_1h, f.refused_24h, f.refused_total, f.last_loss_ns, f.recovered_ns)
        for f in st.store_faults
    ]
    assert got == [
        ("default/icmp", 7, 47, 147, NOW - 50 * MIN, NOW - 49 * MIN),
        ("province/icmp", 3, 3, 3, NOW - 5 * MIN, None),
    ]
    text = render_status(st, NOW)
    assert (
        "probe-1/default/icmp: refused 7 samples in the last hour, 47 in the last day (147 in all);"
        " last loss 2023-11-16 21:23:20 UTC (3000 s ago); recovered 2023-11-16 21:24:20 UTC (2940 s ago)"
    ) in text
    assert "probe-1/province/icmp: refused 3 samples in the last hour" in text and "STILL FAILING" in text


def test_status_without_faults_says_nothing_about_them(tmp_path):
    _journal(tmp_path / "journal.sqlite").close()
    st = collect_status(tmp_path / "journal.sqlite", "embedded", now_ns=NOW)
    assert st.store_faults == [] and st.daemon_store is None
    assert "refused" not in render_status(st, NOW)


def test_status_reads_the_daemons_loss_note(tmp_path):
    j = _faulty_journal(tmp_path / "journal.sqlite")
    note = {
        "vantage": "probe-1",
        "lost_samples": 5198,
        "lost_heartbeats": 2,
        "failing_since_ns": NOW - 60 * MIN,
        "recovered_ns": NOW - 49 * MIN,
    }
    j.set_note(NOTE_STORE_FAULTS, json.dumps(note))
    j.close()
    st = collect_status(tmp_path / "journal.sqlite", "embedded", now_ns=NOW)
    assert st.daemon_store == note
    assert "daemon probe-1: lost 5198 samples and 2 heartbeats since it started" in render_status(st, NOW)


def test_an_influx_error_older_than_the_last_write_is_marked_stale(tmp_path):
    j = _journal(tmp_path / "journal.sqlite")
    j.set_note(NOTE_LAST_ERROR, json.dumps({"time_ns": NOW - 120 * MIN, "message": "Connection refused"}))
    j.set_cursor(CURSOR_SAMPLES, 30, NOW - 60 * MIN)
    j.close()
    st = collect_status(tmp_path / "journal.sqlite", "influx", now_ns=NOW)
    assert (st.last_error_stale, st.last_error_age_s) == (True, 7200.0)
    assert "(7200 s ago) [stale: a later write succeeded]: Connection refused" in render_status(st, NOW)

    j = JournalStore(tmp_path / "journal.sqlite")
    j.set_cursor(CURSOR_SAMPLES, 30, NOW - 180 * MIN)  # the last write came before the error
    j.close()
    st = collect_status(tmp_path / "journal.sqlite", "influx", now_ns=NOW)
    assert (st.last_error_stale, st.last_error_age_s) == (False, 7200.0)
    assert "stale" not in render_status(st, NOW)


def test_status_json_keeps_old_fields_and_adds_faults(tmp_path):
    now = time.time_ns()
    j = JournalStore(tmp_path / "journal.sqlite")
    hb = Heartbeat(now - 10 * MIN, "probe-1", "default/icmp", 60.0, 9, 9, 0, 0, 1.0, unstored=9)
    j.write_heartbeats([hb])
    j.close()
    cfg = tmp_path / "slaprobe.yaml"
    cfg.write_text(f"state_dir: {tmp_path}\n")
    result = CliRunner().invoke(cli, ["status", "--json", "--config", str(cfg)])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert {"backlog_samples", "last_error", "dropped", "heartbeats"} <= set(data)
    fault = data["store_faults"][0]
    assert (fault["group"], fault["refused_1h"], fault["refused_24h"], fault["recovered_ns"]) == (
        "default/icmp",
        9,
        9,
        None,
    )
    assert data["last_error_stale"] is False and data["pruned"] == []

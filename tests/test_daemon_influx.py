"""The daemon with ``store.kind: influx`` on the lab, under systemd's notify protocol.

One story, as an operator would live it: the daemon starts with a wrong InfluxDB password — it still
says READY, keeps probing and journaling, pings the watchdog, and its log names the cause; SIGHUP is
announced as RELOADING then READY; it stops with STOPPING. Restarted with the right password it replays
the backlog, and afterwards InfluxDB holds exactly what the journal holds.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import yaml

from slaprobe import sample_network
from slaprobe.inventory import write_csv
from slaprobe.lab import LabProfile
from slaprobe.store.journal import JournalStore
from slaprobe.store.shipper import CURSOR_SAMPLES
from tests.helpers import ROOT
from tests.store.test_shipper import influx_points, journal_points

INTERVAL_S = 5.0


def _config(tmp_path: Path, netns: str, url: str, password: str) -> Path:
    cfg = tmp_path / "slaprobe.yaml"
    cfg.write_text(
        yaml.safe_dump(
            {
                "vantage": "probe-influx",
                "inventory": str(tmp_path / "inv.csv"),
                "state_dir": str(tmp_path / "state"),
                "netns": netns,
                "schedule": {"interval_s": INTERVAL_S, "slot_ms": 50.0},
                "store": {"kind": "influx"},
                "influx": {"url": url, "database": "daemondb", "username": "slp-admin", "password": password},
                "shipper": {"min_backoff_s": 0.2, "max_backoff_s": 1.0, "keep_shipped_days": 0},
                "log": {"format": "text", "level": "info"},
            }
        )
    )
    return cfg


class NotifySocket:
    """What systemd does: an AF_UNIX datagram socket whose path goes into NOTIFY_SOCKET."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.messages: list[dict[str, str]] = []

    def wait_for(self, key: str, timeout: float) -> dict[str, str]:
        deadline = time.monotonic() + timeout
        for msg in self.messages:
            if key in msg:
                self.messages.remove(msg)
                return msg
        while time.monotonic() < deadline:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                data = self.sock.recv(4096).decode()
            except TimeoutError:
                break
            msg = dict(line.split("=", 1) for line in data.splitlines())
            if key in msg:
                return msg
            self.messages.append(msg)
        raise AssertionError(f"no {key} from the daemon in {timeout} s; got {self.messages}")


def _start(cfg: Path, log: Path, notify: NotifySocket) -> subprocess.Popen[bytes]:
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "NOTIFY_SOCKET": str(notify.path)}
    env["WATCHDOG_USEC"] = "2000000"  # ping every second
    return subprocess.Popen(
        [sys.executable, "-m", "slaprobe", "run", "--config", str(cfg)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log.open("ab"),
    )


def _stop(proc: subprocess.Popen[bytes], notify: NotifySocket, log: Path) -> None:
    proc.send_signal(signal.SIGTERM)
    notify.wait_for("STOPPING", 10)
    assert proc.wait(40) == 0, log.read_text()[-3000:]


def test_wrong_password_keeps_journaling_then_replays_exactly(tmp_path, lab_factory, influxd_auth):
    influxd_auth.create_database("daemondb")
    terminals = sample_network.generate(60)
    write_csv(terminals, tmp_path / "inv.csv")
    lab = lab_factory(LabProfile.build(terminals=[(t.id, str(t.address)) for t in terminals]))
    notify = NotifySocket(tmp_path / "notify.sock")
    log = tmp_path / "daemon.log"
    journal = tmp_path / "state" / "journal.sqlite"

    daemon = _start(_config(tmp_path, lab.netns, influxd_auth.url, "wrong-password"), log, notify)
    try:
        assert notify.wait_for("READY", 30)["READY"] == "1"
        notify.wait_for("WATCHDOG", 5)
        time.sleep(2 * INTERVAL_S + 1)
        daemon.send_signal(signal.SIGHUP)
        reload = notify.wait_for("RELOADING", 10)
        assert int(reload["MONOTONIC_USEC"]) > 0
        notify.wait_for("READY", 10)
        time.sleep(INTERVAL_S)
    finally:
        _stop(daemon, notify, log)
    text = log.read_text()
    assert "InfluxDB write failed (auth)" in text and "credentials rejected (HTTP 401" in text
    with JournalStore(journal, readonly=True) as j:
        backlog = j.count_after("samples", j.get_cursor(CURSOR_SAMPLES))
        assert backlog >= 2 * 60 and backlog == j.count_samples()  # probed and journaled, nothing shipped
    assert influx_points(influxd_auth, "daemondb") == []

    daemon = _start(_config(tmp_path, lab.netns, influxd_auth.url, influxd_auth.admin[1]), log, notify)
    try:
        notify.wait_for("READY", 30)
        time.sleep(INTERVAL_S + 2)
    finally:
        _stop(daemon, notify, log)
    with JournalStore(journal, readonly=True) as j:
        assert j.count_after("samples", j.get_cursor(CURSOR_SAMPLES)) == 0
        assert j.count_samples() > backlog
    assert influx_points(influxd_auth, "daemondb") == journal_points(journal)

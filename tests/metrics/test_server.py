"""/metrics before the first cycle and on a port already taken: the daemon must run on either way."""

from __future__ import annotations

import logging
import socket
import urllib.request
from pathlib import Path

import pytest

from slaprobe import sample_network
from slaprobe.config import load_config
from slaprobe.daemon import Daemon
from slaprobe.inventory import Inventory
from slaprobe.metrics import DaemonCollector, MetricsServer
from tests.fixtures.influx import free_port


def _daemon(tmp_path: Path) -> Daemon:
    cfg = load_config(None, {"state_dir": str(tmp_path / "state"), "vantage": "m-test"})
    return Daemon(cfg, inventory=Inventory(tuple(sample_network.generate(3))))


def test_metrics_before_the_first_cycle_list_no_terminal_state(tmp_path: Path) -> None:
    daemon = _daemon(tmp_path)
    server = MetricsServer(f"127.0.0.1:{free_port()}", DaemonCollector(daemon))
    server.start()
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/metrics", timeout=5) as resp:
            text = resp.read().decode()
    finally:
        server.stop()
        daemon.store.close()
    assert "# TYPE slaprobe_terminal_up gauge" in text
    assert "slaprobe_terminal_up{" not in text  # nothing judged yet: unknown, not "up"
    assert 'slaprobe_cycles_total{vantage="m-test"} 0.0' in text
    assert 'slaprobe_samples_dropped_total{reason="store_refused",vantage="m-test"} 0.0' in text
    assert "slaprobe_journal_backlog_samples" not in text  # embedded store: no shipper, no backlog


def test_a_port_in_use_is_logged_and_does_not_raise(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    daemon = _daemon(tmp_path)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = MetricsServer(f"127.0.0.1:{port}", DaemonCollector(daemon))
        with caplog.at_level(logging.ERROR, logger="slaprobe.metrics"):
            server.start()
        server.stop()
    daemon.store.close()
    assert f"cannot listen on 127.0.0.1:{port}" in caplog.text

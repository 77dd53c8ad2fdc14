"""The daemon's live set-up from its config: maintenance windows read at start and on SIGHUP, a broken
file refused at start (exit 2 naming it) but never stopping a running daemon; the restart grace."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from slaprobe.config import Config, LiveConfig, SlaConfig
from slaprobe.configload import ConfigError
from slaprobe.live.wiring import build_tracker, reload_maintenance
from tests.sla.scenario import terminal

GOOD = "windows:\n  - start: 2022-12-05T10:00:00+08:00\n    end: 2022-12-05T12:00:00+08:00\n    all: true\n"


def test_maintenance_is_read_at_start_and_reloaded(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "maintenance.yaml"
    path.write_text(GOOD, encoding="utf-8")
    config = Config(sla=SlaConfig(maintenance=str(path)))
    tracker = build_tracker(config, [terminal("T1")])
    assert len(tracker.maintenance) == 1
    path.write_text(GOOD + GOOD.replace("windows:\n", ""), encoding="utf-8")
    reload_maintenance(tracker, config)
    assert len(tracker.maintenance) == 2
    path.write_text("windows:\n  - start: nonsense\n", encoding="utf-8")
    with caplog.at_level(logging.ERROR):
        reload_maintenance(tracker, config)  # never raises into the daemon
    assert len(tracker.maintenance) == 2 and "keeping the 2 in use" in caplog.text
    with pytest.raises(ConfigError, match=r"sla\.maintenance"):
        build_tracker(config, [terminal("T1")])


def test_restart_grace_defaults_to_two_intervals_of_the_rule() -> None:
    """live.restart_grace_s unset: two Δt of the configured rule (Δt 300 s -> 600 s); set: as given."""
    five_minutes = SlaConfig(interval_s=300)
    assert build_tracker(Config(sla=five_minutes), [terminal("T1")]).restart_grace_ns == 600 * 10**9
    given = Config(sla=five_minutes, live=LiveConfig(restart_grace_s=45.0))
    assert build_tracker(given, [terminal("T1")]).restart_grace_ns == 45 * 10**9

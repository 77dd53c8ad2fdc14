"""``slaprobe run --vantage --shard K/N --region``: per-host overrides of one shared config file.

The daemon itself is replaced by a recorder here: what is under test is that the options reach the
config through the same checks as the file (the daemon's use of ``shard`` is tested in test_daemon).
"""

from __future__ import annotations

import pytest
from click.testing import CliRunner

import slaprobe.cli as cli_module


@pytest.fixture
def recorded(monkeypatch):
    seen = []
    monkeypatch.setattr(cli_module, "run_daemon", lambda config: seen.append(config) or 0)
    return seen


def _run(tmp_path, *args: str):
    cfg = tmp_path / "slaprobe.yaml"
    cfg.write_text("vantage: probe-1\nshard:\n  regions: [haikou]\n")
    return CliRunner().invoke(cli_module.cli, ["run", "--config", str(cfg), *args])


def test_shard_and_vantage_override_the_file(tmp_path, recorded):
    result = _run(tmp_path, "--shard", "2/3", "--vantage", "probe-b")
    assert result.exit_code == 0, result.output
    (config,) = recorded
    assert (config.vantage, config.shard.index, config.shard.count) == ("probe-b", 2, 3)
    assert config.shard.regions == ["haikou"]  # kept from the file


def test_regions_override(tmp_path, recorded):
    assert _run(tmp_path, "--region", "sanya", "--region", "danzhou").exit_code == 0
    assert recorded[0].shard.regions == ["sanya", "danzhou"] and recorded[0].shard.count == 1


@pytest.mark.parametrize("bad", ["3/2", "0/2", "x", "1/"])
def test_bad_shard_is_refused(tmp_path, recorded, bad):
    result = _run(tmp_path, "--shard", bad)
    assert result.exit_code == 2 and "K/N" in result.output and not recorded


def test_bad_vantage_is_refused_like_in_the_file(tmp_path, recorded):
    result = _run(tmp_path, "--vantage", "a b")
    assert result.exit_code == 2 and "vantage" in result.output and not recorded

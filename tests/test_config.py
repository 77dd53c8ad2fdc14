"""Config loading: the example file is complete, and every kind of mistake is named precisely."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import yaml

from slaprobe.config import Config, load_config, with_overrides
from slaprobe.configload import ConfigError
from tests.helpers import ROOT, run_cli

EXAMPLE = ROOT / "config" / "slaprobe.example.yaml"


def _keys(cls: type) -> set[str]:
    out = set()
    for f in dataclasses.fields(cls):
        key = f.metadata.get("key", f.name)
        if key.startswith("__"):
            continue
        out.add(key)
    return out


def _walk(cls: type, data: dict, path: str = "") -> list[str]:
    """Keys of the dataclass that the example omits (the example must show every option)."""
    missing = []
    for f in dataclasses.fields(cls):
        key = f.metadata.get("key", f.name)
        if key.startswith("__"):
            continue
        if key not in data:
            missing.append(path + key)
            continue
        tp = f.default_factory if f.default_factory is not dataclasses.MISSING else None
        value = tp() if tp else None
        if dataclasses.is_dataclass(value) and isinstance(data[key], dict):
            missing.extend(_walk(type(value), data[key], f"{path}{key}."))
    return missing


def test_example_config_shows_every_option_with_its_default() -> None:
    data = yaml.safe_load(EXAMPLE.read_text())
    assert _walk(Config, data) == []
    loaded = load_config(EXAMPLE)
    defaults = Config()
    # Every value in the example is the built-in default, except the documented example group/inventory.
    for section in ("probes", "shard", "store", "influx", "shipper", "sla", "log", "alerts", "metrics"):
        assert getattr(loaded, section) == getattr(defaults, section), section
    assert loaded.schedule.interval_s == defaults.schedule.interval_s


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("schedule: {bogus: 1}", "schedule.bogus: unknown key"),
        ("schedule: {interval_s: -1}", "schedule.interval_s: -1.0 is below the minimum 1.0"),
        ("schedule: {interval_s: fast}", "schedule.interval_s: expected a number, got 'fast'"),
        ("probes: {default: [icmp, ping]}", "probes.default[1]: expected one of"),
        ("probes: {icmp: {count: 0}}", "probes.icmp: icmp.count: must be an integer >= 1"),
        ("store: {kind: postgres}", "store.kind: 'postgres' is not one of 'embedded', 'influx'"),
        ("shard: {index: 3, count: 2}", "shard.index: 3 is larger than shard.count 2"),
        ("vantage: 'probe 1'", "vantage: 'probe 1' must be non-empty"),
        ("- a\n- b", "the file must be a YAML mapping"),
        ("alerts: {receivers: [{type: pager}]}", "alerts.receivers[0].type: 'pager' is not one of"),
        ("alerts: {receivers: [{url: 'http://x'}]}", "alerts.receivers[0].type: required key is missing"),
        ("alerts: {receivers: [{type: webhook}]}", "alerts.receivers[0].url: '' is not an http(s)://host"),
        ("alerts: {receivers: [{type: alertmanager, url: 'am:9093'}]}", "alerts.receivers[0].url: 'am:9093'"),
        ("alerts: {receivers: [{type: smtp, to: [a@b]}]}", "alerts.receivers[0].host: required for an smtp"),
        ("alerts: {receivers: [{type: smtp, host: m}]}", "alerts.receivers[0].to: an smtp receiver needs"),
        ("alerts: {receivers: [{type: smtp, host: m, to: [a], lang: fr}]}", "alerts.receivers[0].lang: 'fr'"),
        (
            "alerts: {receivers: [{type: webhook, url: 'http://x', bogus: 1}]}",
            "alerts.receivers[0].bogus: unknown",
        ),
        (
            "alerts: {receivers: [{type: webhook, url: 'http://x', name: a},"
            " {type: smtp, host: m, to: [b], name: a}]}",
            "alerts.receivers: the name 'a' is given twice",
        ),
        ("alerts: {group_by: [city]}", "alerts.group_by[0]: 'city' is not one of region"),
        ("alerts: {repeat_interval_s: 5}", "alerts.repeat_interval_s: 5.0 is below the minimum 60.0"),
        ("metrics: {listen: '9363'}", "metrics.listen: '9363' is not host:port"),
        ("metrics: {port: 9363}", "metrics.port: unknown key"),
        ("schedule: [1", "invalid YAML"),
    ],
)
def test_config_errors_name_file_key_and_problem(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert str(path) in message
    assert expected in message


def test_all_problems_are_reported_at_once(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("schedule: {bogus: 1, interval_s: 0}\nlog: {level: loud}\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert len(info.value.problems) == 3


def test_run_with_bad_config_exits_2_and_stores_nothing(tmp_path: Path) -> None:
    state = tmp_path / "state"
    path = tmp_path / "bad.yaml"
    path.write_text(f"state_dir: {state}\nschedule: {{interval_s: 0}}\n")
    proc = run_cli("run", "--config", str(path))
    assert proc.returncode == 2
    assert "schedule.interval_s" in proc.stderr
    assert not state.exists()


def test_secrets_come_from_environment_or_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = tmp_path / "token"
    secret.write_text("from-file\n")
    cfg = load_config(None, {"influx": {"token_file": str(secret), "password_env": "X_PW"}})
    monkeypatch.setenv("X_PW", "from-env")
    assert cfg.influx.resolved_token() == "from-file"
    assert cfg.influx.resolved_password() == "from-env"


def test_run_overrides_apply() -> None:
    cfg = with_overrides(load_config(None), vantage="probe-2", shard="2/3", regions=["haikou"])
    assert (cfg.vantage, cfg.shard.index, cfg.shard.count, cfg.shard.regions) == ("probe-2", 2, 3, ["haikou"])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("schedule: {interval_s: .nan}", "schedule.interval_s: expected a finite number, got nan"),
        ("schedule: {spread: .inf}", "schedule.spread: expected a finite number, got inf"),
        (
            "schedule: {reference_targets: [not-an-ip]}",
            "schedule.reference_targets[0]: 'not-an-ip' is not an IP",
        ),
        ("sla: {timezone: Mars/Olympus}", "sla.timezone: 'Mars/Olympus' is not an IANA time zone"),
        (
            "influx: {url: 'localhost:8086'}",
            "influx.url: 'localhost:8086' is not an http(s)://host[:port] URL",
        ),
        ("influx: {url: 'http://h:99999'}", "influx.url: 'http://h:99999' is not"),
        (
            "vantage: a\nvantage: b\n",
            "line 2, column 1: invalid YAML: duplicate key 'vantage' (first given on line 1)",
        ),
        (
            "sla:\n  preset: y1540\n  quorum: 0.5\n  preset: strict\n",
            "duplicate key 'preset' (first given on line 2)",
        ),
    ],
)
def test_values_that_type_check_but_mean_nothing_are_refused(
    tmp_path: Path, text: str, expected: str
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(path) in str(info.value)
    assert expected in str(info.value)


def test_yaml_merge_keys_may_still_be_overridden(tmp_path: Path) -> None:
    path = tmp_path / "ok.yaml"
    path.write_text("schedule:\n  <<: {interval_s: 30}\n  interval_s: 20\n")
    assert load_config(path).schedule.interval_s == 20


@pytest.mark.parametrize(
    "line", ["schedule: {interval_s: .nan}", "schedule: {reference_targets: [not-an-ip]}"]
)
def test_run_with_meaningless_values_exits_2_and_creates_no_journal(tmp_path: Path, line: str) -> None:
    state = tmp_path / "state"
    path = tmp_path / "bad.yaml"
    path.write_text(f"state_dir: {state}\n{line}\n")
    proc = run_cli("run", "--config", str(path))
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and str(path) in proc.stderr
    assert not state.exists()


def test_every_bad_probe_setting_is_reported_at_once(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        "probes: {icmp: {dscp: 64, count: 0}, stamp: {port: 0, rate_pps: -1}, rtp: {codec: opus}}"
    )
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.problems == [
        "probes.icmp: icmp.count: must be an integer >= 1, got 0",
        "probes.icmp: icmp.dscp: must be an integer 0..63, got 64",
        "probes.rtp: rtp.codec: unknown 'opus' (known: g711, g711-noplc, g722, g729, h264)",
        "probes.stamp: stamp.port: must be 1..65535, got 0",
        "probes.stamp: stamp: stream setting rate_pps=-1.0: must be in (0, 10000]",
    ]


def test_alert_receivers_get_names_and_metrics_listen_parses(tmp_path: Path) -> None:
    from slaprobe.config import receiver_names, split_listen

    path = tmp_path / "ok.yaml"
    path.write_text(
        "alerts:\n  receivers:\n    - {type: alertmanager, url: 'http://127.0.0.1:9093'}\n"
        "    - {type: webhook, url: 'https://ops.example/hook'}\n    - {type: webhook, url: 'http://h/2'}\n"
        "    - {type: smtp, host: mail, to: [noc@example.org], from: probe@example.org}\n"
        "metrics: {listen: '[::1]:9363'}\n"
    )
    cfg = load_config(path)
    assert receiver_names(cfg.alerts) == ["alertmanager", "webhook", "webhook-2", "smtp"]
    assert cfg.alerts.receivers[3].sender == "probe@example.org"
    assert split_listen(cfg.metrics.listen) == ("::1", 9363)
    assert cfg.alert_queue_path == Path(cfg.state_dir) / "alerts.sqlite"

"""``slaprobe report`` end to end on the shared synthetic month: both stores, every format, the hand-over."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from slaprobe.cli import cli
from slaprobe.sla.availability_file import read_availability

pytestmark = pytest.mark.influx


@pytest.fixture(scope="module")
def config(sla_month, tmp_path_factory) -> Path:  # type: ignore[no-untyped-def]
    d = tmp_path_factory.mktemp("report-cli")
    cfg = {
        "state_dir": str(sla_month.journal.parent),
        "inventory": str(sla_month.out_dir / "terminals.csv"),
        "store": {"kind": "embedded", "journal": sla_month.journal.name},
        "influx": {"url": sla_month.influx.url, "database": sla_month.influx.database, "api": "v1"},
        "sla": {"maintenance": str(sla_month.out_dir / "maintenance.yaml")},
    }
    path = d / "slaprobe.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def _run(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_json_is_identical_from_both_stores_and_documented_keys(config: Path, sla_month) -> None:  # type: ignore[no-untyped-def]
    embedded = _run("report", "--config", str(config), "--month", "2023-02", "--format", "json")
    influx = _run(
        "report", "--config", str(config), "--month", "2023-02", "--format", "json", "--store", "influx"
    )
    assert embedded == influx
    d = json.loads(embedded)
    assert list(d) == [
        "schema", "month", "timezone", "period", "rule", "filters", "targets", "excluded", "province",
        "carriers", "regions", "levels", "tiers", "terminals", "outages", "vantages", "warnings",
    ]  # fmt: skip
    assert d["rule"]["name"] == "mef10.3" and d["period"]["start"] == "2023-02-01T00:00:00+08:00"
    p = d["province"]
    assert p["available_s"] + p["unavailable_s"] + p["unknown_s"] + p["maintenance_s"] == p["in_service_s"]
    # identical answers prove nothing if both are empty (every interval UNKNOWN): the figures must be the
    # month's ground truth, which the lab built from its script without the engine
    truth = sla_month.plan.truth["terminals"]
    keys = (
        "in_service_s",
        "maintenance_s",
        "unknown_s",
        "unavailable_s",
        "available_s",
        "high_loss_intervals",
    )
    assert {t["terminal"]: {k: t[k] for k in keys} for t in d["terminals"]} == {
        tid: {k: v[k] for k in keys} for tid, v in truth.items()
    }
    outages = sorted((o["terminal"], o["start_ns"], o["end_ns"], o["period_s"]) for o in d["outages"])
    assert outages == sorted((tid, *o) for tid, v in truth.items() for o in v["outages"])
    assert outages, "the month has scripted outages"
    assert p["unavailable_s"] == sum(v["unavailable_s"] for v in truth.values()) > 0
    assert p["available_s"] == sum(v["available_s"] for v in truth.values())
    assert p["unknown_s"] < p["in_service_s"] // 10  # a probe-host outage, not a blind month


@pytest.mark.parametrize(("fmt", "lang", "needle"), [
    ("table", "zh", "全省汇总"), ("table", "en", "Province summary"), ("markdown", "en", "## Outages"),
    ("csv", "zh", "# evidence: 中断证据"),
])  # fmt: skip
def test_formats(config: Path, fmt: str, lang: str, needle: str) -> None:
    out = _run("report", "--config", str(config), "--month", "2023-02", "--format", fmt, "--lang", lang)
    assert needle in out
    assert "mef10.3" in out  # the rule is printed on every report


def test_carrier_filter_and_handover(config: Path, tmp_path: Path) -> None:
    whole = json.loads(_run("report", "--config", str(config), "--month", "2023-02", "--format", "json"))
    carrier = whole["carriers"][0]["key"]
    only = json.loads(
        _run(
            "report", "--config", str(config), "--month", "2023-02", "--format", "json", "--carrier", carrier
        )
    )
    assert {t["carrier"] for t in only["terminals"]} == {carrier}
    assert only["province"]["available_s"] == whole["carriers"][0]["available_s"]
    assert only["filters"] == {"carrier": carrier}
    handover = tmp_path / "availability.jsonl"
    out = tmp_path / "r.txt"
    _run(
        "report",
        "--config",
        str(config),
        "--month",
        "2023-02",
        "--availability-out",
        str(handover),
        "--out",
        str(out),
    )
    assert out.read_text(encoding="utf-8").startswith("可用性报告 2023-02")
    ((month, terminals),) = read_availability(handover).items()
    assert str(month) == "2023-02"
    assert {k: v.available_s for k, v in terminals.items()} == {
        t["terminal"]: t["available_s"] for t in whole["terminals"]
    }


def test_errors_name_the_problem(config: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["report", "--config", str(config), "--month", "2023-13"])
    assert result.exit_code == 2 and "--month '2023-13'" in result.output
    result = CliRunner().invoke(
        cli,
        ["report", "--config", str(config), "--month", "2023-02", "--journal", str(tmp_path / "none.sqlite")],
    )
    assert result.exit_code == 2 and "none.sqlite: no journal here" in result.output

"""``slaprobe report``: a month with nothing judged exits 1 saying what the store holds (issue #10 item 5).

The journal holds one scenario day (2022-12-05, tests/sla/scenario.py) of two terminals, with an hour
of data on either side (local 2022-12-04 23:00 .. 2022-12-06 01:00, 1,560 minutes): T1 all good, T2
with 145 minutes not sent. December is judged on those minutes only: (1560 + 1415) / (2 x 31 x 1440)
= 2975 / 89280 = 3.33221 % -> "insufficient data" for both, and a loud warning.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from slaprobe.cli import cli
from slaprobe.inventory import write_csv
from slaprobe.store.journal import JournalStore
from tests.sla.scenario import build, terminal

TERMINALS = [terminal("T1"), terminal("T2")]
CONTRACT = Path(__file__).resolve().parents[2] / "config" / "contract.example.yaml"


def _files(tmp_path: Path, heartbeats_only: bool = False) -> Path:
    store = build({"T1": {"v1": []}, "T2": {"v1": [(600, "?" * 145)]}})
    journal = JournalStore(tmp_path / "journal.sqlite")
    try:
        if not heartbeats_only:
            journal.write_samples(list(store.samples(0, 2**62)))
        journal.write_heartbeats(list(store.heartbeats(0, 2**62)))
    finally:
        journal.close()
    write_csv(TERMINALS, tmp_path / "inv.csv")  # the inventory writer the project has
    cfg = {"state_dir": str(tmp_path), "inventory": str(tmp_path / "inv.csv"), "vantage": "v1"}
    cfg["sla"] = {"contract": str(CONTRACT)}  # tier targets: standard 99.9 %
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg))
    return tmp_path / "c.yaml"


def _report(config: Path, *args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(cli, ["report", "--config", str(config), *args])


def test_partly_measured_month_reports_its_share_and_warns(tmp_path: Path) -> None:
    result = _report(_files(tmp_path), "--month", "2022-12", "--format", "json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["coverage"]["measured_pct"] == 3.3322  # 2975 / 89280, truncated
    assert [t["judged_s"] for t in doc["terminals"]] == [1560 * 60, 1415 * 60]
    assert doc["coverage"]["sufficient"] is False
    assert [t["target_status"] for t in doc["terminals"]] == ["insufficient_data"] * 2
    assert "WARNING 2022-12: measured share 3.3322 %" in result.stderr


@pytest.mark.parametrize(
    ("month", "heartbeats_only", "found"),
    [
        ("2022-11", False, "no heartbeats and no samples (any kind) of the 2 terminals in service"),
        ("2022-12", True, "heartbeats but no samples (any kind) of the 2 terminals in service"),
    ],
)
def test_nothing_judged_exits_1_unless_allowed(
    tmp_path: Path, month: str, heartbeats_only: bool, found: str
) -> None:
    config = _files(tmp_path, heartbeats_only)
    result = _report(config, "--month", month)
    assert result.exit_code == 1
    assert (
        f"{month}: no availability can be judged from the embedded store ({tmp_path / 'journal.sqlite'})"
        in result.stderr
    )
    assert found in result.stderr and "--allow-empty" in result.stderr
    assert result.stdout == ""
    allowed = _report(config, "--month", month, "--format", "json", "--allow-empty")
    assert allowed.exit_code == 0, allowed.output
    doc = json.loads(allowed.stdout)
    assert doc["province"]["availability"] is None and doc["coverage"]["measured_pct"] == 0.0
    assert doc["province"]["insufficient_data"] == 2 and doc["province"]["below_target"] == 0
    assert "WARNING" in allowed.stderr


def test_reconcile_from_the_store_names_the_months_nobody_measured(tmp_path: Path) -> None:
    # The journal holds December 5 only: January..November of the year to date have nothing judged.
    config = _files(tmp_path)
    args = ["reconcile", "--config", str(config), "--month", "2022-12", "--format", "json"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 1
    months = ", ".join(f"2022-{m:02d}" for m in range(1, 12))
    assert f"{months}: no availability can be judged from the embedded store" in result.stderr
    allowed = CliRunner().invoke(cli, [*args, "--allow-empty"])
    assert allowed.exit_code == 0, allowed.output
    doc = json.loads(allowed.stdout)
    telecom = next(c for c in doc["carriers"] if c["carrier"] == "telecom")
    # both terminals measured 3 % of December: below the 90 % minimum, settled as the example's 'pay'
    assert [(u["settled_as"], u["terminal_months"], u["terminal_days"]) for u in telecom["unmeasured"]] == [
        ("pay", 2, 62)
    ]
    assert "WARNING 2022-12: 2 terminal-month(s) (62 terminal-days)" in allowed.stderr


def test_a_month_before_any_terminal_opened_owes_nothing_and_is_not_an_error(tmp_path: Path) -> None:
    """Nothing was in service in 2020-06 (the terminals open on 2021-01-01): there was nothing to measure,
    so the month is reported with zero terminal-time, exit 0, instead of "no data" (which would make every
    year-to-date reconciliation of a network's first year need --allow-empty)."""
    result = _report(_files(tmp_path), "--month", "2020-06", "--format", "json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert all(t["judged_s"] == 0 for t in doc["terminals"])

"""Retention of the columnar tier (slaprobe/store/retention.py): raw detail after ``store.raw_days``,
whole days after ``store.sla_days``, never a day an unreported month reads unless that month is forced;
and the report of pruned days is unchanged (the engine reads nothing that retention drops)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import yaml
from click.testing import CliRunner

from slaprobe.cli import cli
from slaprobe.inventory import load_inventory
from slaprobe.report.availability_json import render_json
from slaprobe.sla.engine import Period, report_month
from slaprobe.sla.rule import rule_from
from slaprobe.store.columnar import Tier, day_start_ns
from slaprobe.store.columnar_read import TieredSlaSource
from slaprobe.store.compact import compact
from slaprobe.store.journal import JournalStore
from slaprobe.store.retention import apply_tier_retention, mark_reported, months_needing
from slaprobe.store.sla_journal import JournalSlaSource

NOW = day_start_ns(dt.date(2023, 3, 20))  # every few_days day is ~48 days old
DAYS = ["2023-01-30", "2023-01-31", "2023-02-01"]


def _compacted(few_days, tmp_path: Path) -> tuple[Path, Tier]:  # type: ignore[no-untyped-def]
    journal = few_days.copy(tmp_path)
    tier = Tier(tmp_path / "columnar", create=True)
    with JournalStore(journal) as j:
        assert compact(j, tier, dt.date(2023, 2, 2)).days == DAYS
    return journal, tier


def test_months_a_day_belongs_to_include_the_report_lookaround() -> None:
    # by hand, Asia/Shanghai (UTC+8): 2023-01-31 UTC ends at 2023-02-01 08:00 local, and the February
    # report reads a day before the month
    assert months_needing("2023-01-31", "Asia/Shanghai") == ["2023-01", "2023-02"]
    assert months_needing("2023-01-15", "Asia/Shanghai") == ["2023-01"]
    assert months_needing("2023-01-01", "UTC") == ["2022-12", "2023-01"]


def test_unreported_months_keep_their_days_unless_forced_by_name(few_days, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _, tier = _compacted(few_days, tmp_path)
    held = apply_tier_retention(tier, NOW, raw_days=10, sla_days=0, timezone="Asia/Shanghai")
    assert held.raw_dropped == [] and sorted(held.held) == DAYS
    assert all(tier.has_raw(d) for d in DAYS)
    partly = apply_tier_retention(tier, NOW, 10, 0, "Asia/Shanghai", force=["2023-01"])
    assert partly.raw_dropped == [] and set(partly.held["2023-02-01"]) == {"2023-02"}
    forced = apply_tier_retention(tier, NOW, 10, 0, "Asia/Shanghai", force=["2023-01", "2023-02"])
    assert forced.raw_dropped == DAYS and forced.bytes_freed > 0
    assert not any(tier.has_raw(d) for d in DAYS) and tier.days() == DAYS


def test_reported_months_are_pruned_and_old_days_dropped_whole(few_days, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _, tier = _compacted(few_days, tmp_path)
    for month in ("2023-01", "2023-02"):
        mark_reported(tier, month)
    assert apply_tier_retention(tier, NOW, 100, 0, "Asia/Shanghai").raw_dropped == []  # not old enough
    result = apply_tier_retention(tier, NOW, 10, 48, "Asia/Shanghai")
    # ages in days at NOW: 2023-01-30 -> 49, 01-31 -> 48, 02-01 -> 47 (sla_days 48 keeps the last two)
    assert result.days_dropped == ["2023-01-30"] and result.raw_dropped == ["2023-01-31", "2023-02-01"]
    assert tier.days() == ["2023-01-31", "2023-02-01"]
    assert not tier.day_dir("2023-01-30").exists()


def test_the_report_is_unchanged_after_raw_detail_is_pruned(few_days, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    start = day_start_ns(dt.date(2023, 1, 31))
    period = Period("2023-01-31/2023-02-01", start, start + 2 * 86_400 * 10**9, "UTC")
    terminals = load_inventory(few_days.out_dir / "terminals.csv").terminals
    rule = rule_from("mef10.3")
    with JournalStore(few_days.journal, readonly=True) as j:
        expected = render_json(report_month(JournalSlaSource(j), terminals, rule, period))
    assert '"outages":[]' not in expected.replace(" ", "")  # the days hold outages to get right
    journal, tier = _compacted(few_days, tmp_path)
    with JournalStore(journal, readonly=True) as j:
        source = TieredSlaSource(JournalSlaSource(j), tier)
        assert render_json(report_month(source, terminals, rule, period)) == expected
        for day in DAYS:
            tier.drop_raw(day)
        assert render_json(report_month(source, terminals, rule, period)) == expected


def test_store_retention_command_names_what_it_keeps(few_days, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _compacted(few_days, tmp_path)
    config = tmp_path / "slaprobe.yaml"
    config.write_text(yaml.safe_dump({"state_dir": str(tmp_path), "store": {"raw_days": 10}}))
    run = CliRunner().invoke(cli, ["store", "retention", "--config", str(config), "--json"])
    assert run.exit_code == 0, run.output
    out = json.loads(run.output)
    assert out["raw_dropped"] == [] and sorted(out["held"]) == DAYS  # 2023 is long past: old enough
    run = CliRunner().invoke(
        cli, ["store", "retention", "--config", str(config), "--force", "2023-01", "--force", "2023-02"]
    )
    assert run.exit_code == 0 and "dropped raw detail of 3 days" in run.output
    bad = CliRunner().invoke(cli, ["store", "retention", "--config", str(config), "--force", "January"])
    assert bad.exit_code == 2


def test_a_full_month_report_marks_the_month_reported(few_days, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    journal, tier = _compacted(few_days, tmp_path)
    args = ["report", "--journal", str(journal), "--inventory", str(few_days.out_dir / "terminals.csv")]
    args += ["--month", "2023-02", "--format", "json", "--allow-empty"]
    filtered = CliRunner().invoke(cli, [*args, "--carrier", "telecom"])
    assert filtered.exit_code == 0, filtered.output
    assert tier.reported() == []  # a carrier's view is not the month's report
    run = CliRunner().invoke(cli, args)
    assert run.exit_code == 0, run.output
    assert tier.reported() == ["2023-02"]


def test_the_daemons_compaction_and_retention_runs(few_days, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """What the daemon's loop calls (slaprobe/storage.py): closed days before today - compact_keep_days."""
    from slaprobe.config import load_config
    from slaprobe.storage import run_compaction, run_tier_retention

    few_days.copy(tmp_path)
    path = tmp_path / "slaprobe.yaml"
    path.write_text(
        yaml.safe_dump({"state_dir": str(tmp_path), "store": {"compact_keep_days": 1, "raw_days": 30}})
    )
    config = load_config(path)
    now = day_start_ns(dt.date(2023, 2, 2)) + 3600 * 10**9  # 2023-02-02 01:00 UTC
    assert run_compaction(config, now_ns=now).days == ["2023-01-30", "2023-01-31"]  # yesterday stays
    later = day_start_ns(dt.date(2023, 2, 5))
    assert run_compaction(config, now_ns=later).days == ["2023-02-01", "2023-02-02"]
    assert run_tier_retention(config, now_ns=later).raw_dropped == []  # 30 days not passed
    mark_reported(Tier(tmp_path / "columnar"), "2023-01")
    mark_reported(Tier(tmp_path / "columnar"), "2023-02")
    dropped = run_tier_retention(config, now_ns=day_start_ns(dt.date(2023, 3, 3))).raw_dropped
    assert dropped == ["2023-01-30", "2023-01-31"]  # older than 30 days on 2023-03-03

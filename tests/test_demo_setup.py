"""What ``slaprobe demo`` leaves behind scores the demo's year with the example evaluation inputs, without
the lab: the follow-up ``slaprobe evaluation --year Y --inputs demo-state/evaluation-inputs.yaml`` it prints.

Expectations are the seed's 2022 scores (shared/seed/evaluation-report-2022.txt: 20 / 25 / 53 = 98), less
what a demo cannot have: a year of measurements, so 产出质量 (4 points) is insufficient data and missing.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from click.testing import CliRunner

from slaprobe import demo
from slaprobe.cli import cli
from slaprobe.config import load_config
from slaprobe.store.journal import JournalStore

TODAY = dt.date(2026, 12, 5)


def test_demo_inputs_are_the_example_moved_to_the_demo_year() -> None:
    example = demo.EXAMPLE_EVALUATION_INPUTS.read_text(encoding="utf-8").splitlines()
    moved = demo.demo_evaluation_inputs(2031).splitlines()
    assert moved[0].startswith("# Written by `slaprobe demo`")
    changed = [(a, b) for a, b in zip(example, moved[1:], strict=True) if a != b]
    assert changed == [
        (
            "year: 2022                        # must be the evaluated year",
            "year: 2031                        # must be the evaluated year",
        )
    ]


def test_the_demo_evaluation_scores_its_year(tmp_path: Path) -> None:
    state = tmp_path / "demo-state"
    config = demo.write_demo_setup(state, demo.opened_this_month(demo.example_inventory(), TODAY), 10, TODAY)
    with JournalStore(load_config(config).journal_path):
        pass  # the demo's journal; the daemon's samples would not change what this test checks
    inputs = state / demo.EVALUATION_INPUTS_NAME
    args = ["evaluation", "--config", str(config), "--year", "2026", "--inputs", str(inputs)]
    result = CliRunner().invoke(cli, [*args, "--format", "json"])
    assert result.exit_code == 0, result.output
    sc = json.loads(result.stdout)["scorecard"]
    assert [p["points"] for p in sc["parts"]] == ["20.00", "25.00", "49.00"]  # 53 - 4 (产出质量)
    assert (sc["whole"], sc["missing_points"]) == (94, "4")
    (quality,) = [i for i in sc["indicators"] if i["code"] == "performance.output.quality"]
    assert quality["points"] is None

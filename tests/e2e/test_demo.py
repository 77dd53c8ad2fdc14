"""``slaprobe demo`` shows the point of the product: its closing report lists the scripted outage as an
outage, and the README's follow-up commands work exactly as written from the directory it ran in.

A short run (40 terminals, 5 s cycles, 1.5 minutes): the demo scripts an outage of its last terminal from
4 cycles after the start for 9 cycles (20 s .. 65 s), with Δt = 5 s and n = 3. Expectations come from that
script (slaprobe/demo.py constants, restated here by hand), not from the report's own figures.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from slaprobe import sample_network
from tests.fixtures.lab import _require_lab_privileges
from tests.helpers import ROOT

pytestmark = pytest.mark.lab

TERMINALS, CYCLE_S, MINUTES = 40, 5, 1.5
OUTAGE_S = 9 * CYCLE_S  # the demo's script: nine cycles
VICTIM = sample_network.generate(1820)[TERMINALS - 1].id  # the last of the first 40 (no Sansha among them)


def _slaprobe(cwd: Path, *args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT), SLAPROBE_CONFIG_SEARCH="1")
    env.pop("SLAPROBE_CONFIG", None)
    return subprocess.run(
        [sys.executable, "-m", "slaprobe", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_demo_ends_with_the_outage_in_its_report_and_the_follow_up_commands_work(tmp_path: Path) -> None:
    _require_lab_privileges()
    demo = _slaprobe(
        tmp_path,
        "demo", "--terminals", str(TERMINALS), "--interval", str(CYCLE_S), "--minutes", str(MINUTES),
        timeout=MINUTES * 60 + 120,
    )  # fmt: skip
    assert demo.returncode == 0, demo.stderr[-3000:]
    out = demo.stdout
    assert (tmp_path / "demo-state" / "slaprobe.yaml").is_file()
    # the live lines count what the journal holds: it only grows, and ends at the journal's count
    totals = [int(m) for m in re.findall(r"journal\s+(\d+) samples", out)]
    assert len(totals) >= 10 and totals == sorted(totals) and totals[-1] > 0, out
    # the closing report: the rule and why, then the victim's outage
    closing = out[out.index("SLA report of what was probed") :]
    assert "Δt 5 s" in closing and "n = 3" in closing
    month = re.search(r"--month (\d{4}-\d{2})", closing).group(1)

    report = _slaprobe(tmp_path, "report", "--month", month, "--format", "json")
    assert report.returncode == 0, report.stderr
    assert "demo-state/slaprobe.yaml" in report.stderr  # says which config it found
    data = json.loads(report.stdout)
    (outage,) = [o for o in data["outages"] if o["terminal"] == VICTIM]
    assert abs(outage["duration_s"] - OUTAGE_S) <= 2 * CYCLE_S, outage
    assert {o["terminal"] for o in data["outages"]} == {VICTIM}
    assert len(data["terminals"]) == TERMINALS
    # ...and the same outage is in the table the demo printed
    outage_lines = [
        line for line in closing.splitlines() if VICTIM in line and outage["start"][11:19] in line
    ]
    assert outage_lines, closing

    for args in (
        ("reconcile", "--month", month, "--lang", "en"),
        ("status",),
        ("samples", "--since", "1h", "--terminal", VICTIM),
    ):
        done = _slaprobe(tmp_path, *args)
        assert done.returncode == 0, (args, done.stderr[-2000:])
        assert done.stdout.strip(), args
    status = _slaprobe(tmp_path, "status", "--json")
    assert json.loads(status.stdout)["samples_total"] == totals[-1]
    # the printed evaluation follow-up scores the demo's year with the example inputs it left behind
    evaluation = re.search(r" evaluation (--year (\d{4}) --inputs (\S+) --lang en)$", out, re.MULTILINE)
    assert evaluation and evaluation.group(3) == "demo-state/evaluation-inputs.yaml", out[-800:]
    done = _slaprobe(tmp_path, "evaluation", *evaluation.group(1).split(), "--format", "json")
    assert done.returncode == 0, done.stderr[-2000:]
    scored = json.loads(done.stdout)
    assert scored["year"] == int(evaluation.group(2)) == int(month[:4])
    assert scored["scorecard"]["parts"][0]["points"] == "20.00"  # the seed's 项目决策: review scores
    reconcile = _slaprobe(tmp_path, "reconcile", "--month", month, "--format", "json")
    deductions = [d for c in json.loads(reconcile.stdout)["carriers"] for d in c["deductions"]]
    assert VICTIM in {d["terminal"] for d in deductions}, deductions

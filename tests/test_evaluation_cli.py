"""``report --year Y --evaluation`` and ``slaprobe evaluation`` take the same ``--inputs`` and print the same
scorecard in every format; a bad inputs file is refused by both with the same message.

Expectations: the seed's 2022 result (shared/seed/evaluation-report-2022.txt: 98 points, 优秀) from the
example inputs and a measured year (tests/sla/test_scorecard.py), and each command's own output compared
with the other's.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner

from slaprobe.cli import cli
from slaprobe.sla.availability_file import write_availability
from tests.sla.test_scorecard import CONTRACT, INVENTORY, SEED_INPUTS, _measured_year

REPORT = ["report", "--year", "2022", "--evaluation"]
EVALUATION = ["evaluation", "--year", "2022"]


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> list[str]:  # type: ignore[no-untyped-def]
    handover = tmp_path_factory.mktemp("year") / "availability.jsonl"
    write_availability(handover, _measured_year())
    return ["--contract", CONTRACT, "--inventory", INVENTORY, "--availability", str(handover)]


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout if result.exit_code == 0 else result.output


def _ok(*args: str) -> str:
    code, out = _run(*args)
    assert code == 0, out
    return out


@pytest.mark.parametrize("fmt", ["json", "csv", "html"])  # the three code paths (xlsx below)
def test_report_year_shows_the_evaluation_scorecard(files: list[str], fmt: str) -> None:
    given = ["--inputs", SEED_INPUTS, *files, "--format", fmt]
    report, evaluation = _ok(*REPORT, *given), _ok(*EVALUATION, *given)
    if fmt == "html":  # the page's generation minute is its only moving part
        report, evaluation = (re.sub(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC", "T", t) for t in (report, evaluation))
        assert f"填报数据：{SEED_INPUTS}。" in report
    assert report == evaluation
    if fmt == "json":
        sc = json.loads(report)["scorecard"]
        assert (sc["whole"], sc["grade_zh"], sc["missing_points"]) == (98, "优秀", "0")
        without = json.loads(_ok(*REPORT, *files, "--format", "json"))["scorecard"]
        assert without["whole"] < 98 and without["missing_points"] != "0"  # --inputs was not ignored


def test_report_year_workbook_is_the_evaluation_workbook(files: list[str], tmp_path: Path) -> None:
    books = []
    for name, command in (("r", REPORT), ("e", EVALUATION)):
        out = tmp_path / f"{name}.xlsx"
        _ok(*command, "--inputs", SEED_INPUTS, *files, "--format", "xlsx", "--out", str(out))
        wb = openpyxl.load_workbook(out)
        books.append({ws.title: list(ws.iter_rows(values_only=True)) for ws in wb.worksheets})
    assert books[0] == books[1]
    grade = books[0]["得分及等级"]
    assert ("综合得分（取整）", None, 98) in [row[:3] for row in grade], grade


def test_both_commands_refuse_a_bad_inputs_file_alike(files: list[str], tmp_path: Path) -> None:
    bad = tmp_path / "inputs.yaml"
    bad.write_text(Path(SEED_INPUTS).read_text(encoding="utf-8").replace("year: 2022", "year: 2021", 1))
    for command in (REPORT, EVALUATION):
        code, out = _run(*command, "--inputs", str(bad), *files)
        assert code == 2 and f"{bad}: year: 2021, but the evaluation is for 2022" in out, (command, out)
        code, out = _run(*command, "--inputs", str(tmp_path / "absent.yaml"), *files)
        assert code == 2 and f"{tmp_path / 'absent.yaml'}" in out, (command, out)


def test_inputs_belong_to_the_year_evaluation() -> None:
    code, out = _run("report", "--month", "2022-12", "--inputs", SEED_INPUTS)
    assert code == 2 and "--inputs goes with --year YYYY --evaluation" in out

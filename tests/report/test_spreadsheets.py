"""``--format xlsx`` of report and evaluation read back with openpyxl and checked cell by cell against the
JSON of the same command; every CSV output starts with a UTF-8 BOM and round-trips through csv.

The month report reads a journal the real journal writer wrote; the evaluation reads a hand-over file the
real hand-over writer wrote (issue #12).
"""

from __future__ import annotations

import codecs
import json
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
import yaml
from click.testing import CliRunner

from slaprobe.cli import cli
from slaprobe.inventory import write_csv
from slaprobe.report.xlsx import csv_rows, csv_text, truncate_ratio
from slaprobe.sla.availability_file import write_availability
from slaprobe.store.journal import JournalStore
from tests.sla.scenario import build, terminal
from tests.sla.test_scorecard import CONTRACT, INVENTORY, SEED_INPUTS, _measured_year


def _ok(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.fixture(scope="module")
def month_config(tmp_path_factory) -> Path:  # type: ignore[no-untyped-def]
    d = tmp_path_factory.mktemp("month")
    store = build({"T1": {"v1": [(600, "x" * 10)]}, "T2": {"v1": []}})
    with JournalStore(d / "journal.sqlite") as j:
        j.write_samples(list(store.samples(0, 2**62)))
        j.write_heartbeats(list(store.heartbeats(0, 2**62)))
    write_csv([terminal("T1"), terminal("T2", carrier="unicom", region="sanya")], d / "inv.csv")
    cfg = {"state_dir": str(d), "inventory": str(d / "inv.csv"), "vantage": "v1"}
    (d / "c.yaml").write_text(yaml.safe_dump(cfg))
    return d / "c.yaml"


def _report(config: Path, *args: str) -> str:
    return _ok("report", "--config", str(config), "--month", "2022-12", "--allow-empty", *args)


def _pct(value: float | None) -> object:
    """What the workbook holds for a JSON percentage: the ratio, or "-" when there is none."""
    return "-" if value is None else float(Decimal(str(value)) / 100)


def _approx(x: float) -> object:
    """Hours and minutes are floats; the XML keeps 16 significant digits of them."""
    return pytest.approx(x, rel=1e-14)


def _rows(ws) -> list[list[object]]:  # type: ignore[no-untyped-def]
    return [list(r) for r in ws.iter_rows(values_only=True)]


def test_report_xlsx_matches_its_json(month_config: Path, tmp_path: Path) -> None:
    d = json.loads(_report(month_config, "--format", "json"))
    out = tmp_path / "r.xlsx"
    _report(month_config, "--format", "xlsx", "--lang", "en", "--out", str(out))
    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames[:8] == [
        "Report", "Province summary", "By carrier", "By region", "By level", "By tier", "Terminals",
        "Outages",
    ]  # fmt: skip
    assert "Outage evidence" in wb.sheetnames
    summary = _rows(wb["Province summary"])
    assert summary[0][:4] == ["Group", "Terminals", "Availability %", "Downtime h"]
    p = d["province"]
    assert summary[1][1:4] == [p["terminals"], _pct(p["availability"]), _approx(p["downtime_s"] / 3600)]
    assert wb["Province summary"]["C2"].number_format == "0.0000%"
    carriers = {r[0]: r for r in _rows(wb["By carrier"])[1:]}
    assert {k: (r[1], r[2]) for k, r in carriers.items()} == {
        c["key"]: (c["terminals"], _pct(c["availability"])) for c in d["carriers"]
    }
    terms = {r[0]: r for r in _rows(wb["Terminals"])[1:]}
    assert terms.keys() == {t["terminal"] for t in d["terminals"]}
    for t in d["terminals"]:
        row = terms[t["terminal"]]
        assert row[6:9] == [_pct(t["availability"]), _approx(t["unavailable_s"] / 60), t["outages"]]
        assert row[11] == _approx(t["in_service_s"] / 3600)
    outages = _rows(wb["Outages"])[1:]
    assert [(r[0], r[2], r[4]) for r in outages] == [
        (o["start"], _approx(o["duration_s"] / 60), o["terminal"]) for o in d["outages"]
    ]
    assert len(outages) == 1  # T1's ten minutes of total loss
    evidence = _rows(wb["Outage evidence"])[1:]
    assert [(r[0], r[3], r[4]) for r in evidence] == [
        (o["terminal"], e["sent"], e["received"]) for o in d["outages"] for e in o["evidence"]
    ]
    zh = tmp_path / "zh.xlsx"
    _report(month_config, "--format", "xlsx", "--out", str(zh))
    assert openpyxl.load_workbook(zh).sheetnames[1] == "全省汇总"  # Chinese by default


@pytest.fixture(scope="module")
def year_files(tmp_path_factory) -> list[str]:  # type: ignore[no-untyped-def]
    handover = tmp_path_factory.mktemp("year") / "availability.jsonl"
    write_availability(handover, _measured_year())
    return ["--contract", CONTRACT, "--inventory", INVENTORY, "--availability", str(handover)]


def _figure(cell: object, text: str | None, unit: str) -> None:
    """A scorecard target/actual cell against its JSON text (percent: the ratio truncated to 4 places)."""
    if text is None:
        assert cell in ("-", "缺失", "missing")
    elif unit == "percent":
        assert cell == float(truncate_ratio(Decimal(text) / 100, 4))
    elif unit == "money":
        assert cell == float(Decimal(text))
    else:  # date
        assert cell.date().isoformat() == text  # type: ignore[attr-defined]


def test_evaluation_xlsx_matches_its_json(year_files: list[str], tmp_path: Path) -> None:
    args = ["evaluation", "--year", "2022", "--inputs", SEED_INPUTS, *year_files]
    d = json.loads(_ok(*args, "--format", "json"))
    out = tmp_path / "e.xlsx"
    _ok(*args, "--format", "xlsx", "--out", str(out))
    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames == ["得分及等级", "评分表", "产出指标", "覆盖率", "可用性", "开通终端", "说明"]
    sc = d["scorecard"]
    parts = _rows(wb["得分及等级"])
    assert parts[0] == ["一级指标", "分值", "得分", "缺失分值"]
    assert [r[1:] for r in parts[1:4]] == [
        [float(p["weight"]), float(p["points"]), float(p["missing_points"])] for p in sc["parts"]
    ]
    assert parts[4][1:] == [float(sc["weight"]), float(sc["total"]), float(sc["missing_points"])]
    assert (parts[5][2], parts[6][2]) == (sc["whole"], sc["grade_zh"]) == (98, "优秀")
    lines = _rows(wb["评分表"])
    assert lines[0][:4] == ["代码", "一级指标", "二级指标", "三级指标"]
    assert [r[0] for r in lines[1:]] == [i["code"] for i in sc["indicators"]]
    for row, ind in zip(lines[1:], sc["indicators"], strict=True):
        assert row[3] == ind["name"]["zh"] and row[4] == float(ind["weight"])
        assert row[8] == ("缺失" if ind["points"] is None else float(ind["points"]))
        if ind["unit"] == "none":
            assert (row[5], row[6], row[7]) == (None, "-", "-")
        else:
            assert row[5] == ("≥" if ind["at_least"] else "≤")
            _figure(row[6], ind["target"], ind["unit"])
            _figure(row[7], ind["actual"], ind["unit"])
        assert row[11] == ind["basis"]["zh"]
    coverage = _rows(wb["覆盖率"])[1:]
    groups = [*d["coverage"]["groups"], d["coverage"]["total"]]
    assert [(r[2], r[3], r[4]) for r in coverage] == [
        (g["planned"], g["open"], float(truncate_ratio(Decimal(g["rate_percent"]) / 100, 4))) for g in groups
    ]
    avail = _rows(wb["可用性"])[1:]
    lines_a = [*d["availability"]["groups"], d["availability"]]
    assert [(r[1], r[2], r[5]) for r in avail] == [
        (
            a["terminals"],
            _approx((a["available_s"] + a["unavailable_s"]) / 3600),
            float(truncate_ratio(Decimal(a["rate_percent"]) / 100, 4)),
        )
        for a in lines_a
    ]
    opened = _rows(wb["开通终端"])
    assert opened[-1][2] == d["open_terminals"]["total"] == 1820
    cost = _rows(wb["产出指标"])[4]
    assert (cost[2], cost[3]) == (float(d["cost"]["budget"]), float(d["cost"]["paid"]))


def test_xlsx_goes_to_a_file_never_the_terminal(
    month_config: Path, year_files: list[str], tmp_path: Path
) -> None:
    unwritable = str(tmp_path / "no-such-dir" / "x.xlsx")
    for args in (
        ["report", "--config", str(month_config), "--month", "2022-12", "--format", "xlsx"],
        ["evaluation", "--year", "2022", "--format", "xlsx", *year_files],
    ):
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 2
        assert "--format xlsx writes a binary workbook: give --out FILE" in result.output
        result = CliRunner().invoke(cli, [*args, "--out", unwritable])
        assert result.exit_code == 2 and f"{unwritable}: cannot write the workbook" in result.output


def _check_csv(path: Path) -> None:
    data = path.read_bytes()
    assert data.startswith(codecs.BOM_UTF8), path
    rows = csv_rows(data)
    assert rows[0][0].startswith("# ")  # the BOM is not part of the first cell
    assert csv_text(rows).encode("utf-8") == data  # round trip: parse, write again, same bytes


def test_every_csv_starts_with_a_bom_and_round_trips(
    month_config: Path, year_files: list[str], tmp_path: Path
) -> None:
    report = tmp_path / "report.csv"
    _report(month_config, "--format", "csv", "--out", str(report))
    evaluation = tmp_path / "evaluation.csv"
    _ok(
        "evaluation",
        "--year",
        "2022",
        "--inputs",
        SEED_INPUTS,
        *year_files,
        "--format",
        "csv",
        "--out",
        str(evaluation),
    )
    reconcile = tmp_path / "reconcile.csv"
    _ok("reconcile", "--quarter", "2022Q4", *year_files, "--format", "csv", "--out", str(reconcile))
    for path in (report, evaluation, reconcile):
        _check_csv(path)
    assert any(r[:2] == ["项目绩效", "项目效益"] for r in csv_rows(evaluation.read_bytes()))

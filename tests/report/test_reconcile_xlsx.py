"""``reconcile --format xlsx`` opened with openpyxl and checked cell by cell against ``--format json``;
the CSV starts with a UTF-8 BOM and lists every terminal's fee."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import openpyxl
from click.testing import CliRunner

from slaprobe.cli import cli
from tests.test_settle import files  # noqa: F401  (the fixture: contract, inventory, hand-over file)


def _run(files: dict[str, str], *args: str):  # type: ignore[no-untyped-def]  # noqa: F811
    base = ["--contract", files["contract"], "--inventory", files["inv"], "--availability", files["avail"],
            "--quarter", "2022Q1", "--settlements", str(Path(files["inv"]).parent / "settled")]  # fmt: skip
    res = CliRunner().invoke(cli, ["reconcile", *base, *args])
    assert res.exit_code == 0, res.output
    return res


def _num(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


def test_xlsx_equals_the_json_cell_by_cell(files: dict[str, str], tmp_path: Path) -> None:  # noqa: F811
    doc = json.loads(_run(files, "--format", "json", "--invoice", files["bad"]).stdout)
    out = tmp_path / "q1.xlsx"
    _run(files, "--format", "xlsx", "--out", str(out), "--invoice", files["bad"])
    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames == [
        "按运营商结算", "按档次计费终端天数", "服务单价依据（全省开通终端数）",
        "未测量时长（每终端月最低测量覆盖率 90%）", "扣减明细及原因", "分期付款及余额",
        "终端服务费明细", "账单差异",
    ]  # fmt: skip

    summary = list(wb["按运营商结算"].values)
    assert summary[0] == (
        "运营商",
        "终端数",
        "应付服务费",
        "扣减",
        "实付服务费",
        "年初至今实付服务费",
        "已支付",
        "应付余额",
    )
    keys = ("gross", "deducted", "net", "net_year_to_date", "paid_to_date", "balance_due")
    for row, c in zip(summary[1:], doc["carriers"], strict=False):
        assert row[:2] == (c["carrier"], c["terminals"])
        assert [Decimal(str(v)) for v in row[2:]] == [_num(c[k]) for k in keys]
    assert [Decimal(str(v)) for v in summary[-1][2:]] == [_num(doc[k]) for k in keys]

    tiers = list(wb["按档次计费终端天数"].values)[1:]
    expected_tiers = [(c["carrier"], t["tier"], t["terminals"], t["terminal_days"], _num(t["gross"]))
                      for c in doc["carriers"] for t in c["tiers"]]  # fmt: skip
    assert [(r[0], r[1], r[2], r[3], Decimal(str(r[5]))) for r in tiers] == expected_tiers

    deductions = list(wb["扣减明细及原因"].values)[1:]
    expected = [(d["month"], d["carrier"], d["terminal"], d["kind"], _num(d["amount"]))
                for c in doc["carriers"] for d in c["deductions"]]  # fmt: skip
    assert [(r[0], r[1], r[2] or None, r[3], Decimal(str(r[4]))) for r in deductions] == expected

    fees = list(wb["终端服务费明细"].values)
    assert fees[0][:4] == ("月份", "终端", "运营商", "档次") and len(fees) - 1 == len(doc["fees"])
    for row, f in zip(fees[1:], doc["fees"], strict=True):
        assert row[:8] == (f["month"], f["terminal"], f["carrier"], f["tier"], f["version"],
                           f["billed_from"], f["billed_to"], f["days"])  # fmt: skip
        assert [Decimal(str(v)) for v in row[8:12]] == [
            _num(f[k]) for k in ("unit_price", "gross", "deducted", "net")
        ]
        assert isinstance(row[9], int | float)  # numbers as numbers
    assert len(list(wb["账单差异"].values)) - 1 == len(doc["discrepancies"])


def test_csv_has_a_bom_and_the_fee_listing(files: dict[str, str]) -> None:  # noqa: F811
    raw = _run(files, "--format", "csv").stdout_bytes
    assert raw.startswith(b"\xef\xbb\xbf") and not raw.startswith(b"\xef\xbb\xbf" * 2)
    text = raw.decode("utf-8-sig")
    assert "# 终端服务费明细" in text
    # Q1: 10 terminals, T06 from February and T10 until 10 March: 10 x 3 - 1 = 29 terminal-months
    block = text.split("# 终端服务费明细")[1].strip().split("\n\n")[0].splitlines()
    assert len(block) - 1 == 29

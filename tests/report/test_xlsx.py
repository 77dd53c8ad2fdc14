"""The generic xlsx writer and the BOM CSV helper, checked by reading the files back with openpyxl / csv."""

from __future__ import annotations

import codecs
import datetime as dt
import io
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import openpyxl
import pytest

from slaprobe.report.xlsx import Fmt, Sheet, csv_rows, csv_text, sheet_names, write_workbook


def _read(path: Path) -> openpyxl.Workbook:
    return openpyxl.load_workbook(path)


def test_cells_keep_their_types_and_formats(tmp_path: Path) -> None:
    target = tmp_path / "out.xlsx"
    rows = [
        ["海口市", 1820, Decimal("21000000.00"), Fraction(8999, 10000), "=1+1", None],
        ["001", 3, Decimal("0.5"), 0.999999, "a\x01b", dt.date(2022, 12, 31)],
    ]
    write_workbook(
        target,
        [Sheet("汇总", ["区域", "终端", "金额", "可用率", "备注", "日期"], rows, {3: Fmt.PERCENT})],
    )
    ws = _read(target)["汇总"]
    assert [c.value for c in ws[1]] == ["区域", "终端", "金额", "可用率", "备注", "日期"]
    assert ws.freeze_panes == "A2"
    a2, b2, c2, d2, e2 = (ws.cell(2, i) for i in range(1, 6))
    assert (a2.value, b2.value, c2.value) == ("海口市", 1820, 21000000)
    assert c2.number_format == "#,##0.00" and d2.number_format == "0.00%"
    assert d2.value == pytest.approx(0.8999)
    assert e2.value == "=1+1" and e2.data_type == "s"  # text, never a formula
    # "001" stays text; 0.999999 is cut to 0.9999 (99.99 %), never shown as 100.00 %.
    assert ws.cell(3, 1).value == "001" and ws.cell(3, 1).data_type == "s"
    assert ws.cell(3, 4).value == pytest.approx(0.9999)
    assert ws.cell(3, 5).value == "a\ufffdb"
    assert ws.cell(3, 6).value == dt.datetime(2022, 12, 31)
    assert ws.column_dimensions["A"].width >= 8  # "海口市" is 6 columns wide + margin


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        (["a/b:c*d?e[f]g\\h"], ["a_b_c_d_e_f_g_h"]),
        (["x" * 40], ["x" * 31]),
        (["Sum", "sum", "SUM"], ["Sum", "sum~2", "SUM~3"]),
        (["'quoted'", "", "   "], ["quoted", "Sheet", "Sheet~2"]),
        (["y" * 31, "y" * 31], ["y" * 31, "y" * 29 + "~2"]),
    ],
)
def test_sheet_names_excel_accepts(names: list[str], expected: list[str]) -> None:
    assert sheet_names(names) == expected


def test_bad_names_still_open(tmp_path: Path) -> None:
    buf = io.BytesIO()
    write_workbook(buf, [Sheet("a/b", ["h"], [[1]]), Sheet("A/B", ["h"], [[2]])])
    wb = openpyxl.load_workbook(io.BytesIO(buf.getvalue()))
    assert wb.sheetnames == ["a_b", "A_B~2"]


def test_unknown_format_column_and_long_rows_are_caller_errors() -> None:
    with pytest.raises(ValueError, match="'nope', which is not a header"):
        write_workbook(io.BytesIO(), [Sheet("s", ["a"], [[1]], {"nope": Fmt.MONEY})])
    with pytest.raises(ValueError, match="row 2: 2 cells for 1 headers"):
        write_workbook(io.BytesIO(), [Sheet("s", ["a"], [[1, 2]])])


def test_csv_has_bom_and_round_trips(tmp_path: Path) -> None:
    rows = [["区域", "说明"], ["海口市", 'a,"b"\nc'], ["", "99.90%"]]
    text = csv_text(rows)
    path = tmp_path / "x.csv"
    path.write_text(text, encoding="utf-8")
    data = path.read_bytes()
    assert data.startswith(codecs.BOM_UTF8) and not data.startswith(codecs.BOM_UTF8 * 2)
    assert csv_rows(data) == rows
    assert csv_rows(text) == rows

"""Spreadsheets a finance office can open: a small generic xlsx writer (openpyxl) and CSV with a BOM.

API
---
``write_workbook(target, sheets)``
    Write ``sheets`` (a sequence of :class:`Sheet`) as one .xlsx to ``target`` (a path, written through a
    temporary file and renamed, or a binary file object).
``Sheet(name, headers, rows, formats={}, notes=())``
    One worksheet: a header row (frozen, bold), then ``rows``, then the ``notes`` one per row after a blank
    row. ``formats`` maps a column (its index or its header text) to a :class:`Fmt`.
``Fmt``
    TEXT, INTEGER, MONEY (#,##0.00), NUMBER1 (0.0), NUMBER2 (0.00), PERCENT (0.00 %), PERCENT4
    (0.0000 %), DATE, DATETIME.
``Formatted(value, fmt)``
    One cell with its own format, for a column whose rows differ (a target that is a percentage in one
    row and an amount in the next).
``csv_text(rows)`` / ``csv_rows(data)``
    Rows to CSV text that starts with a UTF-8 BOM, and back (bytes or str, BOM or not).

Why these rules:

* **Numbers are numbers.** A finance officer sums a column; a number stored as text sums to 0. int, float,
  Decimal and Fraction cells are stored as numbers; Decimal defaults to MONEY (two decimals shown, the
  stored value exact as given). A column marked PERCENT takes *ratios* (0.999 for 99.9 %).
* **A percentage is never shown rounded up.** Excel rounds what it displays: 0.89996 under "0.00%" shows
  90.00 % although the target of 90 % was missed. A PERCENT/PERCENT4 cell is therefore stored truncated
  (toward zero) to the digits its format shows, so the cell and what it shows agree and never overstate.
* **Text stays text.** A str cell is stored as a string even when it looks like a formula ("=1+1") or a
  number ("001"), and control characters Excel refuses are replaced by U+FFFD, never a crash.
* **Sheet names Excel accepts:** at most 31 characters, none of ``[]:*?/\\``, not blank, not starting or
  ending with an apostrophe, unique regardless of case; a name is cleaned the same way every time and a
  clash gets a "~2" suffix, so the caller's names never make the file unopenable.
* **CSV for Chinese Windows Excel:** without a BOM Excel reads UTF-8 as the ANSI code page (GBK) and
  garbles every Chinese label; with ``utf-8-sig`` it reads it right, and Python's csv module reads it back
  unchanged after the BOM is dropped.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import enum
import io
import os
import re
import tempfile
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, TypeAlias

if TYPE_CHECKING:
    from openpyxl.worksheet.worksheet import Worksheet

Cell: TypeAlias = "str | int | float | Decimal | Fraction | bool | dt.date | Formatted | None"

BOM = "\ufeff"
MAX_SHEET_NAME = 31
_BAD_SHEET_CHARS = re.compile(r"[\[\]:*?/\\]")
# XML 1.0 forbids these; openpyxl raises IllegalCharacterError on them.
_ILLEGAL_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_MIN_WIDTH, _MAX_WIDTH = 6, 60


class Fmt(enum.Enum):
    """A column's number format; ``places`` is how many decimals of the *ratio* a percent cell keeps."""

    TEXT = ("@", None)
    INTEGER = ("0", None)
    MONEY = ("#,##0.00", None)
    NUMBER1 = ("0.0", None)
    NUMBER2 = ("0.00", None)
    PERCENT = ("0.00%", 4)
    PERCENT4 = ("0.0000%", 6)
    DATE = ("yyyy-mm-dd", None)
    DATETIME = ("yyyy-mm-dd hh:mm:ss", None)

    @property
    def number_format(self) -> str:
        return self.value[0]

    @property
    def places(self) -> int | None:
        return self.value[1]


@dataclass(frozen=True, slots=True)
class Formatted:
    """A cell value with its own format (overrides the column's)."""

    value: str | int | float | Decimal | Fraction | bool | dt.date | None
    fmt: Fmt


@dataclass(frozen=True, slots=True)
class Sheet:
    name: str
    headers: Sequence[str]
    rows: Sequence[Sequence[Cell]]
    formats: Mapping[int | str, Fmt] = field(default_factory=dict)
    notes: Sequence[str] = ()

    def column_formats(self) -> dict[int, Fmt]:
        """``formats`` keyed by column index; a header key that names no column is a caller bug."""
        out: dict[int, Fmt] = {}
        for key, fmt in self.formats.items():
            if isinstance(key, int):
                out[key] = fmt
            elif key in self.headers:
                out[list(self.headers).index(key)] = fmt
            else:
                raise ValueError(f"sheet {self.name!r}: format for {key!r}, which is not a header")
        return out


def sheet_names(names: Iterable[str]) -> list[str]:
    """Excel-valid, case-insensitively unique sheet names for ``names`` (see the module doc)."""
    out: list[str] = []
    taken: set[str] = set()
    for raw in names:
        base = _BAD_SHEET_CHARS.sub("_", _ILLEGAL_XML.sub("", raw)).strip().strip("'").strip()
        base = base[:MAX_SHEET_NAME] or "Sheet"
        name, n = base, 1
        while name.casefold() in taken:
            n += 1
            suffix = f"~{n}"
            name = base[: MAX_SHEET_NAME - len(suffix)] + suffix
        taken.add(name.casefold())
        out.append(name)
    return out


def truncate_ratio(value: Decimal | Fraction | float | int, places: int) -> Decimal:
    """``value`` cut toward zero to ``places`` decimals: 0.899996 -> 0.8999 at 4 places."""
    exact = Fraction(value)
    scale = 10**places
    whole = int(exact * scale)  # int() truncates toward zero
    return (Decimal(whole) / Decimal(scale)).quantize(Decimal(1).scaleb(-places), rounding=ROUND_DOWN)


def display_width(text: str) -> int:
    """Columns a text takes: CJK wide/full-width characters count two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _cell_value(value: Cell, fmt: Fmt | None) -> tuple[object, str | None]:
    """(value openpyxl stores, number format or None for General)."""
    if isinstance(value, Formatted):
        value, fmt = value.value, value.fmt
    if value is None:
        return None, None
    if isinstance(value, str):
        return _ILLEGAL_XML.sub("\ufffd", value), Fmt.TEXT.number_format
    if isinstance(value, bool):
        return value, None
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:  # Excel has no time zones: keep the instant readable as text
            return value.isoformat(), Fmt.TEXT.number_format
        return value, (fmt or Fmt.DATETIME).number_format
    if isinstance(value, dt.date):
        return value, (fmt or Fmt.DATE).number_format
    if fmt is not None and fmt.places is not None:
        return truncate_ratio(value, fmt.places), fmt.number_format
    if isinstance(value, Fraction):
        value = Decimal(value.numerator) / Decimal(value.denominator)
    if isinstance(value, Decimal):
        return value, (fmt or Fmt.MONEY).number_format
    return value, None if fmt is None else fmt.number_format


def _shown(value: object) -> str:
    if isinstance(value, Decimal):
        return f"{value:,.2f}"
    if isinstance(value, float):
        return f"{value:.6g}"
    return "" if value is None else str(value)


def _fill(ws: Worksheet, sheet: Sheet) -> None:
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    formats = sheet.column_formats()
    widths = [display_width(str(h)) for h in sheet.headers]
    bold = Font(bold=True)
    for col, header in enumerate(sheet.headers, start=1):
        cell = ws.cell(row=1, column=col, value=_ILLEGAL_XML.sub("\ufffd", str(header)))
        cell.data_type = "s"
        cell.font = bold
    for r, row in enumerate(sheet.rows, start=2):
        if len(row) > len(sheet.headers):
            n = len(sheet.headers)
            raise ValueError(f"sheet {sheet.name!r} row {r}: {len(row)} cells for {n} headers")
        for c, raw in enumerate(row):
            value, number_format = _cell_value(raw, formats.get(c))
            cell = ws.cell(row=r, column=c + 1, value=value)
            if isinstance(value, str):
                cell.data_type = "s"  # never a formula
            if number_format is not None:
                cell.number_format = number_format
            widths[c] = max(widths[c], display_width(_shown(value)))
    if sheet.notes:
        start = len(sheet.rows) + 3
        for i, note in enumerate(sheet.notes):
            cell = ws.cell(row=start + i, column=1, value=_ILLEGAL_XML.sub("\ufffd", note))
            cell.data_type = "s"
    for c, width in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(c)].width = min(_MAX_WIDTH, max(_MIN_WIDTH, width + 2))
    ws.freeze_panes = "A2"


def workbook_bytes(sheets: Sequence[Sheet]) -> bytes:
    """The .xlsx file of ``sheets`` as bytes (at least one sheet)."""
    from openpyxl import Workbook

    if not sheets:
        raise ValueError("a workbook needs at least one sheet")
    wb = Workbook()
    wb.remove(wb.active)
    for name, sheet in zip(sheet_names(s.name for s in sheets), sheets, strict=True):
        _fill(wb.create_sheet(title=name), sheet)
    wb.properties.creator = "slaprobe"
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def write_workbook(target: str | os.PathLike[str] | BinaryIO, sheets: Sequence[Sheet]) -> None:
    """Write ``sheets`` as an .xlsx to ``target``; a path is replaced atomically (no half-written file)."""
    data = workbook_bytes(sheets)
    if not isinstance(target, (str, os.PathLike)):
        target.write(data)
        return
    path = Path(target)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent or ".")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# ---------------------------------------------------------------------------------------------- CSV


def csv_text(rows: Iterable[Sequence[object]], lineterminator: str = "\n") -> str:
    """CSV text of ``rows`` starting with a BOM (U+FEFF): written as UTF-8 it is the utf-8-sig encoding
    Excel on Chinese Windows needs. None cells are empty; everything else is ``str()``."""
    buf = io.StringIO()
    buf.write(BOM)
    writer = csv.writer(buf, lineterminator=lineterminator)
    for row in rows:
        writer.writerow(["" if c is None else c for c in row])
    return buf.getvalue()


def csv_rows(data: bytes | str) -> list[list[str]]:
    """Rows of CSV ``data`` (bytes in UTF-8 with or without BOM, or text with or without a leading BOM)."""
    if isinstance(data, bytes):
        if data.startswith(codecs.BOM_UTF8):
            data = data[len(codecs.BOM_UTF8) :]
        data = data.decode("utf-8")
    return list(csv.reader(io.StringIO(data.removeprefix(BOM), newline="")))

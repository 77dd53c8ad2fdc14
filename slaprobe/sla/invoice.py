"""A carrier's bill as a CSV file: what `slaprobe reconcile --invoice` checks against the settlement.

One header row, then any mix of three row kinds (the columns a row fills decide its kind):

* terminal row — ``carrier,terminal`` and optionally ``tier``, ``billed_from``, ``billed_to`` (inclusive
  dates; a missing one defaults to the period's bound; a row with neither just claims service in the
  period, and its days and amount are checked), ``terminal_days``, ``amount``;
* tier row — ``carrier,tier`` (no terminal) with ``count`` (terminals billed), ``terminal_days``, ``amount``;
* carrier total — ``carrier`` and ``amount`` only.

Amounts are gross fees before deductions (the province applies deductions, the carrier bills service),
written as plain decimals (``12345.67``: no thousands separators, no currency sign). Every bad row is
reported at once with its line number and column.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path

from slaprobe.configload import ConfigError
from slaprobe.textio import TextEncodingError, read_text

COLUMNS = ("carrier", "terminal", "tier", "count", "terminal_days", "billed_from", "billed_to", "amount")

_PLAIN_DECIMAL = re.compile(r"[+-]?[0-9]+(\.[0-9]+)?")  # what finance writes: 12345.67, -0.5


class InvoiceError(ConfigError):
    """Every problem of an invoice file, each naming its line and column."""


@dataclass(frozen=True, slots=True)
class InvoiceLine:
    line: int  # line number in the file (the header is line 1)
    carrier: str
    terminal: str | None = None
    tier: str | None = None
    count: int | None = None
    terminal_days: int | None = None
    billed_from: dt.date | None = None
    billed_to: dt.date | None = None
    amount: Decimal | None = None

    @property
    def kind(self) -> str:
        if self.terminal:
            return "terminal"
        return "tier" if self.tier else "carrier"


@dataclass(frozen=True, slots=True)
class Invoice:
    lines: tuple[InvoiceLine, ...]
    source: str = ""

    @property
    def carriers(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(x.carrier for x in self.lines))


def load_invoice(path: str | Path) -> Invoice:
    p = Path(path)
    try:
        text = read_text(p)  # spreadsheets write BOMs, GB18030 ("ANSI") or UTF-16 ("Unicode text")
    except OSError as exc:
        raise InvoiceError(str(p), [f"cannot read: {exc.strerror or exc}"]) from exc
    except TextEncodingError as exc:
        raise InvoiceError(str(p), [exc.problem]) from None
    return parse_invoice(text, str(p))


def parse_invoice(text: str, source: str = "<invoice>") -> Invoice:
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip() for h in reader.fieldnames or []]
    problems: list[str] = []
    unknown = [h for h in header if h not in COLUMNS]
    if unknown:
        problems.append(f"line 1: unknown column(s) {', '.join(unknown)} (allowed: {', '.join(COLUMNS)})")
    if "carrier" not in header:
        problems.append("line 1: the 'carrier' column is required")
    if problems:
        raise InvoiceError(source, problems)
    reader.fieldnames = header
    lines: list[InvoiceLine] = []
    for row in reader:
        number = reader.line_num
        cells = {k: (v or "").strip() for k, v in row.items() if k is not None}
        if not any(cells.values()):
            continue
        row_problems: list[str] = []
        if row.get(None):  # type: ignore[call-overload]
            row_problems.append("more cells than columns (a thousands separator or an unquoted comma?)")
        line = _parse_row(number, cells, row_problems)
        problems.extend(f"line {number}: {p}" for p in row_problems)
        if line is not None and not row_problems:
            lines.append(line)
    if problems:
        raise InvoiceError(source, problems)
    return Invoice(tuple(lines), source)


def _parse_row(number: int, cells: dict[str, str], problems: list[str]) -> InvoiceLine | None:
    carrier = cells.get("carrier", "")
    if not carrier:
        problems.append("carrier: empty")
    line = InvoiceLine(
        number,
        carrier,
        cells.get("terminal") or None,
        cells.get("tier") or None,
        _int(cells, "count", problems),
        _int(cells, "terminal_days", problems),
        _date(cells, "billed_from", problems),
        _date(cells, "billed_to", problems),
        _amount(cells, problems),
    )
    if line.billed_from and line.billed_to and line.billed_to < line.billed_from:
        problems.append(f"billed_to: {line.billed_to} is before billed_from {line.billed_from}")
    if line.kind == "terminal" and line.count is not None:
        problems.append("count: a terminal row bills one terminal; leave count empty")
    if line.kind != "terminal" and (line.billed_from or line.billed_to):
        problems.append("billed_from/billed_to: only terminal rows carry dates")
    if line.kind == "tier" and line.count is None and line.amount is None and line.terminal_days is None:
        problems.append("a tier row needs count, terminal_days or amount")
    if line.kind == "carrier" and line.amount is None:
        problems.append("a row with neither terminal nor tier must carry the carrier's total amount")
    return line


def _int(cells: dict[str, str], key: str, problems: list[str]) -> int | None:
    text = cells.get(key, "")
    if not text:
        return None
    if not (text.isascii() and text.isdigit()):  # "²".isdigit() is True, int("²") is not
        problems.append(f"{key}: expected a whole number ≥ 0, got {text!r}")
        return None
    return int(text)


def _date(cells: dict[str, str], key: str, problems: list[str]) -> dt.date | None:
    text = cells.get(key, "")
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        problems.append(f"{key}: expected a date YYYY-MM-DD, got {text!r}")
        return None


def _amount(cells: dict[str, str], problems: list[str]) -> Decimal | None:
    text = cells.get("amount", "")
    if not text:
        return None
    value = None
    if _PLAIN_DECIMAL.fullmatch(text):  # Decimal() also takes "1_8_0000.00", "1e5", "NaN", "٣"
        try:
            value = Decimal(text)
        except InvalidOperation:
            value = None
    if value is None or not value.is_finite():
        problems.append(f"amount: expected a plain decimal such as 12345.67, got {text!r}")
        return None
    return value

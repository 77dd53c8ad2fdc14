"""Plain tables and their text / CSV / Markdown forms, for the money and evaluation reports.

A report is a list of titled tables plus notes; each output format lays the same cells out its own way,
so the figures in every format are the same strings. Text alignment counts CJK characters as two
columns (east-asian wide), so Chinese labels line up in a terminal.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field

from slaprobe.report.xlsx import csv_text


@dataclass(frozen=True, slots=True)
class Table:
    title: str
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    numeric: frozenset[int] = field(default_factory=frozenset)  # right-aligned column indexes


@dataclass(frozen=True, slots=True)
class Document:
    title: str
    tables: tuple[Table, ...]
    notes: tuple[str, ...] = ()


def display_width(text: str) -> int:
    if text.isascii():
        return len(text)
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int, right: bool) -> str:
    fill = " " * (width - display_width(text))
    return fill + text if right else text + fill


def render_text(doc: Document) -> str:
    out = [doc.title, "=" * display_width(doc.title)]
    for table in doc.tables:
        out += ["", table.title]
        if not table.rows:
            out.append("  -")
            continue
        widths = [
            max(display_width(r[i]) for r in (table.headers, *table.rows)) for i in range(len(table.headers))
        ]
        for row in (table.headers, *table.rows):
            cells = [_pad(c, widths[i], i in table.numeric) for i, c in enumerate(row)]
            out.append("  " + "  ".join(cells).rstrip())
    if doc.notes:
        out.append("")
        out += [f"* {n}" for n in doc.notes]
    return "\n".join(out) + "\n"


def render_markdown(doc: Document) -> str:
    out = [f"# {doc.title}"]
    for table in doc.tables:
        out += ["", f"## {table.title}", ""]
        if not table.rows:
            out.append("-")
            continue
        out.append("| " + " | ".join(_md(h) for h in table.headers) + " |")
        out.append(
            "|" + "|".join("---:" if i in table.numeric else "---" for i in range(len(table.headers))) + "|"
        )
        out += ["| " + " | ".join(_md(c) for c in row) + " |" for row in table.rows]
    if doc.notes:
        out.append("")
        out += [f"- {n}" for n in doc.notes]
    return "\n".join(out) + "\n"


def _md(text: str) -> str:
    return text.replace("|", "\\|")


def render_csv(doc: Document) -> str:
    """Every table as its own block: a ``# title`` row, the header row, the rows, then an empty line.
    Starts with a UTF-8 BOM (``xlsx.csv_text``) so Excel on Chinese Windows reads the labels right."""
    rows: list[Sequence[str]] = []
    for table in doc.tables:
        rows += [[f"# {table.title}"], table.headers, *table.rows, []]
    rows += [[f"# {note}"] for note in doc.notes]
    return csv_text(rows)


def render(doc: Document, fmt: str) -> str:
    renderers = {"table": render_text, "markdown": render_markdown, "csv": render_csv}
    return renderers[fmt](doc)


def table(
    title: str, headers: Sequence[str], rows: Sequence[Sequence[object]], numeric: Sequence[int] = ()
) -> Table:
    return Table(title, tuple(headers), tuple(tuple(str(c) for c in r) for r in rows), frozenset(numeric))

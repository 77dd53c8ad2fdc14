"""Settled statements: what produced a settled figure, and the check that it has not silently changed.

``reconcile ... --settle [--by NAME]`` writes ``<settlements dir>/<period>.json`` recording the sha256 of
every input (contract, inventory, inventory history, availability — the hand-over file, or for figures
computed from the store a digest of the per-terminal monthly figures read from it —, maintenance,
invoice), the tool version, who settled and when, and the settled figures (province and per carrier).

Any later ``reconcile`` of that period (settling again or not) recomputes the digests and figures and,
if anything differs, reports drift instead of a new figure: each changed input (old and new digest)
and each figure that moved (old → new). A carrier will dispute a figure that changed after it was
agreed; the finance office must learn it from the tool, not from the carrier.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from slaprobe import __version__
from slaprobe.sla.availability_file import availability_lines
from slaprobe.sla.reconcile import MonthlyAvailability

FORMAT = "slaprobe settlement statement v1"
IGNORED_WHEN_ABSENT = ("invoice",)  # checking a bill later (or not) does not change a settled figure


class DriftError(Exception):
    """A settled period's inputs or figures differ from its statement (the CLI exits 3)."""


def file_digest(path: str | Path) -> str:
    h = hashlib.sha256()
    with Path(path).open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def availability_digest(data: MonthlyAvailability) -> str:
    """Digest of monthly per-terminal figures in the hand-over file's canonical line format."""
    h = hashlib.sha256()
    for line in availability_lines(data):
        h.update(line.encode() + b"\n")
    return h.hexdigest()


@dataclass(frozen=True)
class InputRecord:
    name: str  # contract, inventory, inventory_history, availability, maintenance, invoice
    source: str  # a path, or a description of the store range
    sha256: str


def figures(doc: Mapping[str, Any]) -> dict[str, Any]:
    """The settled figures of a statement JSON document (province and per carrier)."""
    keys = ("gross", "deducted", "net", "net_year_to_date", "paid_to_date", "balance_due")
    return {
        **{k: doc.get(k) for k in keys},
        "carriers": {c["carrier"]: {k: c.get(k) for k in keys} for c in doc.get("carriers", [])},
    }


def statement_path(directory: str | Path, period: str) -> Path:
    return Path(directory) / f"{period}.json"


def write_statement(
    path: Path, period: str, inputs: list[InputRecord], doc: Mapping[str, Any], by: str
) -> dict[str, Any]:
    record = {
        "format": FORMAT,
        "period": period,
        "contract": doc.get("contract"),
        "settled_by": by,
        "settled_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "tool_version": __version__,
        "inputs": {i.name: {"source": i.source, "sha256": i.sha256} for i in inputs},
        "figures": figures(doc),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(record, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)
    return record


def read_statement(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DriftError(f"{path}: cannot read the settled statement ({exc})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise DriftError(f"{path}: not a slaprobe settlement statement (format {FORMAT!r} expected)")
    return data


def drift(statement: Mapping[str, Any], inputs: list[InputRecord], doc: Mapping[str, Any]) -> list[str]:
    """Every difference between a statement and the present inputs and figures (empty: no drift)."""
    out: list[str] = []
    now = {i.name: i for i in inputs}
    for name, then in statement.get("inputs", {}).items():
        cur = now.get(name)
        if cur is None:
            if name not in IGNORED_WHEN_ABSENT:
                out.append(f"input {name}: settled with {then['source']}, not given now")
        elif cur.sha256 != then["sha256"]:
            out.append(
                f"input {name} changed: {cur.source} sha256 {cur.sha256[:16]}… "
                f"(settled: {then['source']} sha256 {then['sha256'][:16]}…)"
            )
    for name in now.keys() - statement.get("inputs", {}).keys() - set(IGNORED_WHEN_ABSENT):
        out.append(f"input {name}: {now[name].source} given now, not when settled")
    out += _figure_diff(statement.get("figures", {}), figures(doc), "")
    return out


def figure_drift(statement: Mapping[str, Any], doc: Mapping[str, Any]) -> list[str]:
    """Only the figures: for an earlier settled period, whose inputs have legitimately grown since."""
    return _figure_diff(statement.get("figures", {}), figures(doc), "")


def _figure_diff(then: Mapping[str, Any], now: Mapping[str, Any], prefix: str) -> list[str]:
    out: list[str] = []
    for key in sorted(then.keys() | now.keys()):
        a, b = then.get(key), now.get(key)
        if isinstance(a, Mapping) or isinstance(b, Mapping):
            out += _figure_diff(a or {}, b or {}, f"{prefix}{key}.")
        elif a != b:
            out.append(f"figure {prefix}{key}: settled {a}, now {b}")
    return out

"""A terminal's dated history: tier, carrier and in-service changes, for billing periods that span them.

The inventory says what a terminal is today; money needs what it was on each day. An optional history
CSV (``reconcile --inventory-history FILE``) lists changes, one per row::

    terminal,effective_from,tier,carrier,status,note
    T00017,2022-05-15,premium,,,upgraded to a main venue
    T00230,2022-09-01,,unicom,,handed over with its region
    T00311,2022-07-01,,,closed,
    T00311,2022-08-10,,,open,

An empty cell keeps the value before the change; ``status`` closes (``closed``) or reopens (``open``) the
terminal. The inventory row is the state at its ``in_service_from``. Applying the history gives one
``Terminal`` record per slice of time (same id, disjoint in-service dates), which the money code bills
slice by slice: a month spanning a change shows two lines with their own tier, carrier and days. The
SLA engine still judges the terminal's month as a whole; each slice takes that month's availability.
Every bad row is reported at once with its row number; nothing is applied half-way.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from slaprobe.configload import ConfigError
from slaprobe.inventory import Inventory
from slaprobe.terminal import Terminal
from slaprobe.textio import TextEncodingError, read_text

COLUMNS = ("terminal", "effective_from", "tier", "carrier", "status", "note")
STATUSES = ("", "open", "closed")


class HistoryError(ConfigError):
    """Every problem of a history file, each naming its row."""


@dataclass(frozen=True, slots=True)
class Change:
    row: int
    terminal: str
    effective_from: dt.date
    tier: str = ""
    carrier: str = ""
    status: str = ""
    note: str = ""


def load_history(path: str | Path, inventory: Inventory) -> tuple[Change, ...]:
    p = Path(path)
    try:
        text = read_text(p)  # UTF-8 with or without BOM, UTF-16, or GB18030 (Chinese Excel)
    except OSError as exc:
        raise HistoryError(str(p), [f"cannot read: {exc.strerror or exc}"]) from exc
    except TextEncodingError as exc:
        raise HistoryError(str(p), [exc.problem]) from None
    return parse_history(text, inventory, str(p))


def parse_history(text: str, inventory: Inventory, source: str = "<history>") -> tuple[Change, ...]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [h.strip() for h in reader.fieldnames or []]
    problems: list[str] = []
    missing = [c for c in ("terminal", "effective_from") if c not in header]
    if missing:
        raise HistoryError(source, [f"header: missing column(s) {', '.join(missing)}"])
    unknown = [c for c in header if c not in COLUMNS]
    if unknown:
        problems.append(f"header: unknown column(s) {', '.join(unknown)} (known: {', '.join(COLUMNS)})")
    out: list[Change] = []
    seen: dict[tuple[str, dt.date], int] = {}
    for n, raw in enumerate(reader, start=2):
        row = {k.strip(): (v or "").strip() for k, v in raw.items() if k is not None}
        where = f"row {n}"
        tid = row.get("terminal", "")
        t = inventory.get(tid)
        if t is None:
            problems.append(f"{where}: terminal {tid!r} is not in the inventory {inventory.source}")
            continue
        try:
            day = dt.date.fromisoformat(row.get("effective_from", ""))
        except ValueError:
            problems.append(f"{where}: effective_from {row.get('effective_from')!r} is not a date YYYY-MM-DD")
            continue
        if day <= t.in_service_from or (t.in_service_to is not None and day > t.in_service_to):
            problems.append(
                f"{where}: effective_from {day} must be after {tid}'s in_service_from {t.in_service_from}"
                + (f" and not after its in_service_to {t.in_service_to}" if t.in_service_to else "")
            )
        tier, carrier, status = row.get("tier", ""), row.get("carrier", ""), row.get("status", "")
        if tier and tier not in inventory.tiers:
            problems.append(f"{where}: tier {tier!r} is unknown (known: {', '.join(inventory.tiers)})")
        if carrier and carrier not in inventory.carriers:
            known = ", ".join(inventory.carriers)
            problems.append(f"{where}: carrier {carrier!r} is unknown (known: {known})")
        if status not in STATUSES:
            problems.append(f"{where}: status {status!r} must be open, closed or empty")
        if not (tier or carrier or status):
            problems.append(f"{where}: changes nothing (give tier, carrier or status)")
        if (tid, day) in seen:
            problems.append(f"{where}: {tid} already changes on {day} (row {seen[tid, day]})")
        seen[tid, day] = n
        out.append(Change(n, tid, day, tier, carrier, status, row.get("note", "")))
    if problems:
        raise HistoryError(source, problems)
    return tuple(sorted(out, key=lambda c: (c.terminal, c.effective_from)))


def apply_history(terminals: Sequence[Terminal], changes: Sequence[Change]) -> tuple[Terminal, ...]:
    """One record per slice of each terminal's life (terminals without changes are returned as they are)."""
    by_id: dict[str, list[Change]] = {}
    for c in changes:
        by_id.setdefault(c.terminal, []).append(c)
    out: list[Terminal] = []
    for t in terminals:
        mine = by_id.get(t.id)
        if not mine:
            out.append(t)
            continue
        current, is_open, start = t, True, t.in_service_from
        for c in mine:
            if is_open:
                last = c.effective_from - dt.timedelta(days=1)
                out.append(dataclasses.replace(current, in_service_from=start, in_service_to=last))
            current = dataclasses.replace(
                current, tier=c.tier or current.tier, carrier=c.carrier or current.carrier
            )
            is_open = {"closed": False, "open": True}.get(c.status, is_open)  # a tier change keeps the state
            start = c.effective_from
        if is_open:
            out.append(dataclasses.replace(current, in_service_from=start, in_service_to=t.in_service_to))
    return tuple(out)

"""Renderer for ``slaprobe inventory summary``."""

from __future__ import annotations

import datetime as dt
import json

from slaprobe.inventory import InventorySummary


def render_summary(summary: InventorySummary, day: dt.date, fmt: str = "table") -> str:
    if fmt == "json":
        data = {
            "date": day.isoformat(),
            "total": summary.total,
            "open": summary.open,
            "not_yet_open": summary.not_yet_open,
            "retired": summary.retired,
            "by": {dim: dict(sorted(c.items())) for dim, c in summary.by.items()},
        }
        return json.dumps(data, ensure_ascii=False, indent=2) + "\n"
    lines = [
        f"terminals: {summary.total}  open on {day}: {summary.open}  "
        f"not yet open: {summary.not_yet_open}  retired: {summary.retired}"
    ]
    for dim, counts in summary.by.items():
        lines.append(f"\nby {dim}:")
        width = max((len(k) for k in counts), default=0)
        lines.extend(f"  {k:<{width}}  {v:>6}" for k, v in sorted(counts.items()))
    return "\n".join(lines) + "\n"

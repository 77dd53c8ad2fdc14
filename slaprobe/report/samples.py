"""Renderers for raw samples (``slaprobe probe``, ``slaprobe samples``): an aligned text table and JSON.

Renderers only format; every figure comes from the Sample (loss from ``Sample.loss``, which is None
for probes that were not sent, so "not measured" never prints as 100 % loss).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from slaprobe.model import NS_PER_S, Sample


def sample_records(
    samples: Iterable[Sample], addresses: Mapping[str, str] | None = None
) -> list[dict[str, Any]]:
    """JSON-ready dicts: every Sample field, plus ``loss`` (ratio, None if not measured), ``time`` (UTC
    ISO 8601) and ``address`` when ``addresses`` maps the terminal id to one."""
    out = []
    for s in samples:
        rec: dict[str, Any] = {}
        if addresses is not None and s.terminal in addresses:
            rec["address"] = addresses[s.terminal]
        rec.update(s.to_dict())
        rec["time"] = _iso(s.time_ns)
        rec["loss"] = s.loss
        out.append(rec)
    return out


def render_samples_json(samples: Iterable[Sample], addresses: Mapping[str, str] | None = None) -> str:
    return json.dumps(sample_records(samples, addresses), indent=2, ensure_ascii=False)


_COLUMNS: tuple[tuple[str, str], ...] = (
    ("kind", "kind"),
    ("sent", "sent"),
    ("received", "recv"),
    ("loss", "loss%"),
    ("rtt_min_ms", "min ms"),
    ("rtt_avg_ms", "avg ms"),
    ("rtt_max_ms", "max ms"),
    ("rtt_p50_ms", "p50 ms"),
    ("jitter_ms", "jitter ms"),
    ("pdv_ms", "pdv ms"),
    ("duplicates", "dup"),
    ("late", "late"),
    ("error", "result"),
)


def render_samples_table(
    samples: Sequence[Sample],
    addresses: Mapping[str, str] | None = None,
    *,
    show_time: bool = False,
    show_vantage: bool = False,
) -> str:
    """One row per sample; numbers right-aligned, missing values as ``-``. Stored samples show their time
    and vantage (which probe host saw it): without them a row cannot be matched to an outage."""
    head: list[str] = []
    if show_time:
        head.append("time (UTC)")
    head.append("terminal")
    if show_vantage:
        head.append("vantage")
    if addresses is not None:
        head.append("address")
    head.extend(label for _, label in _COLUMNS)
    rows = [head]
    for s in samples:
        row: list[str] = []
        if show_time:
            row.append(_iso(s.time_ns))
        row.append(s.terminal)
        if show_vantage:
            row.append(s.vantage)
        if addresses is not None:
            row.append(addresses.get(s.terminal, "-"))
        for key, _ in _COLUMNS:
            row.append(_cell(s, key))
        rows.append(row)
    left = len(head) - len(_COLUMNS) + 1  # text columns: time/terminal/vantage/address and kind
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    lines = []
    for r in rows:
        cells = [
            c.ljust(w) if i < left or i == len(head) - 1 else c.rjust(w)
            for i, (c, w) in enumerate(zip(r, widths, strict=True))
        ]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def _cell(s: Sample, key: str) -> str:
    if key == "loss":
        loss = s.loss
        return "-" if loss is None else f"{loss * 100:.1f}"
    value = getattr(s, key)
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def _iso(time_ns: int) -> str:
    secs, ns = divmod(time_ns, NS_PER_S)
    stamp = dt.datetime.fromtimestamp(secs, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{stamp}.{ns // 1000:06d}Z"

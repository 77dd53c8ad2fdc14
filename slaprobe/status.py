"""``slaprobe status``: the daemon's own view, read from its journal (works while it runs or not).

What an operator asks first when numbers look wrong: is the daemon probing (last heartbeat per vantage
and group, cycle time, late and skipped terminals), and is InfluxDB getting the samples (backlog of
unshipped rows, last successful write, last error, rows dropped at the disk cap or refused by InfluxDB).
Everything comes from the journal, where the daemon and the shipper persist it.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from slaprobe.model import NS_PER_S, Heartbeat
from slaprobe.store.journal import JournalStore
from slaprobe.store.shipper import (
    COUNT_DROPPED,
    COUNT_REJECTED,
    CURSOR_HEARTBEATS,
    CURSOR_SAMPLES,
    NOTE_LAST_ERROR,
)


@dataclass
class Status:
    journal: str
    store_kind: str  # embedded | influx
    used_mb: float
    cap_mb: float | None
    samples_total: int
    backlog_samples: int
    backlog_heartbeats: int
    last_write_ns: int | None  # last batch InfluxDB acknowledged
    last_error_ns: int | None
    last_error: str
    dropped: int
    rejected: int
    heartbeats: list[Heartbeat] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        out = asdict(self)
        out["heartbeats"] = [h.to_dict() for h in self.heartbeats]
        return out


def collect_status(
    journal_path: str | Path, store_kind: str = "influx", cap_mb: float | None = None
) -> Status:
    """Read the status from a journal file (read-only; raises JournalError if there is none)."""
    j = JournalStore(journal_path, readonly=True)
    try:
        cursors = j.cursor_info()
        sample_cursor = cursors.get(CURSOR_SAMPLES, (0, None))
        hb_cursor = cursors.get(CURSOR_HEARTBEATS, (0, None))
        lo, hi = j.id_range("samples")
        note = j.get_note(NOTE_LAST_ERROR)
        err = json.loads(note) if note else {}
        return Status(
            journal=str(journal_path),
            store_kind=store_kind,
            used_mb=j.used_bytes() / 2**20,
            cap_mb=cap_mb,
            samples_total=(hi - lo + 1) if hi else 0,
            backlog_samples=j.count_after("samples", sample_cursor[0]),
            backlog_heartbeats=j.count_after("heartbeats", hb_cursor[0]),
            last_write_ns=sample_cursor[1] if CURSOR_SAMPLES in cursors else None,
            last_error_ns=err.get("time_ns"),
            last_error=err.get("message", ""),
            dropped=cursors.get(COUNT_DROPPED, (0, None))[0],
            rejected=cursors.get(COUNT_REJECTED, (0, None))[0],
            heartbeats=j.latest_heartbeats(),
        )
    finally:
        j.close()


def _when(ns: int | None, now_ns: int) -> str:
    if ns is None:
        return "never"
    stamp = dt.datetime.fromtimestamp(ns / NS_PER_S, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return f"{stamp} ({max(0, now_ns - ns) / NS_PER_S:.0f} s ago)"


def render_status(st: Status, now_ns: int) -> str:
    cap = f" of {st.cap_mb:.0f} MB cap" if st.cap_mb else ""
    lines = [f"journal {st.journal}: {st.used_mb:.1f} MB{cap}, {st.samples_total} samples"]
    if st.heartbeats:
        lines.append("probe cycles (latest per vantage / group):")
        for h in st.heartbeats:
            ref = f", reference {h.reference_ok}/{h.reference_total}" if h.reference_total else ""
            lines.append(
                f"  {h.vantage}/{h.group}: {_when(h.time_ns, now_ns)}; every {h.interval_s:g} s, took"
                f" {h.duration_s:.1f} s; due {h.due}, probed {h.probed}, late {h.late},"
                f" skipped {h.skipped}{ref}"
            )
    else:
        lines.append("probe cycles: no heartbeat yet")
    if st.store_kind == "influx":
        lines.append(
            f"InfluxDB shipping: backlog {st.backlog_samples} samples + {st.backlog_heartbeats} heartbeats;"
            f" last successful write {_when(st.last_write_ns, now_ns)}"
        )
        if st.last_error:
            lines.append(f"  last error {_when(st.last_error_ns, now_ns)}: {st.last_error}")
        if st.dropped or st.rejected:
            lost = f"{st.dropped} dropped at the journal cap, {st.rejected} refused by InfluxDB"
            lines.append(f"  LOST: {lost}")
    else:
        lines.append("store: embedded (the journal is the store; nothing is shipped)")
    return "\n".join(lines)

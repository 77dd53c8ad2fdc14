"""``slaprobe status``: the daemon's own view, read from its journal (works while it runs or not).

What an operator asks first when numbers look wrong: is the daemon probing (last heartbeat per vantage
and group, cycle time, late and skipped terminals), and is InfluxDB getting the samples (backlog of
unshipped rows, last successful write, last error, rows dropped at the disk cap or refused by InfluxDB).
Everything comes from the journal, where the daemon and the shipper persist it.

Store faults are shown beside that, never mixed up with it: samples the journal itself refused (disk
full), summed per vantage and cycle over the last hour and day from the heartbeats' ``unstored``, the
last cycle that lost samples and the first one after it that stored everything; the daemon's own loss
totals from the meta note it writes on recovery; and what the embedded store pruned by retention. An
InfluxDB error older than the last successful write is marked stale, with its age, so an error that
has long been fixed is not read as the cause of today's problem.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from slaprobe.model import NS_PER_S, Heartbeat
from slaprobe.store.journal import NOTE_STORE_FAULTS, JournalStore
from slaprobe.store.shipper import (
    COUNT_DROPPED,
    COUNT_REJECTED,
    CURSOR_HEARTBEATS,
    CURSOR_SAMPLES,
    NOTE_LAST_ERROR,
)

HOUR_NS = 3600 * NS_PER_S
DAY_NS = 24 * HOUR_NS


@dataclass
class CycleFaults:
    """Samples the journal refused for one (vantage, cycle), from its heartbeats."""

    vantage: str
    group: str
    refused_1h: int
    refused_24h: int
    refused_total: int
    last_loss_ns: int  # the latest cycle that lost samples
    recovered_ns: int | None  # the first later cycle that stored everything (None: still failing)


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
    last_error_age_s: float | None = None
    last_error_stale: bool = False  # a write succeeded after the last error
    store_faults: list[CycleFaults] = field(default_factory=list)
    daemon_store: dict[str, object] | None = None  # the daemon's note: lost totals, failing/recovered
    pruned: list[dict[str, object]] = field(default_factory=list)  # embedded-store retention prunes
    columnar: dict[str, object] | None = None  # the columnar tier's closed days (tier_summary), if any

    def to_dict(self) -> dict[str, object]:
        out = asdict(self)
        out["heartbeats"] = [h.to_dict() for h in self.heartbeats]
        return out


def collect_status(
    journal_path: str | Path,
    store_kind: str = "influx",
    cap_mb: float | None = None,
    now_ns: int | None = None,
    tier: str | Path | None = None,
) -> Status:
    """Read the status from a journal file (read-only; raises JournalError if there is none) and the
    columnar tier at ``tier``, if there is one."""
    from slaprobe.store.retention import pruned_ranges

    now_ns = time.time_ns() if now_ns is None else now_ns
    j = JournalStore(journal_path, readonly=True)
    try:
        cursors = j.cursor_info()
        sample_cursor = cursors.get(CURSOR_SAMPLES, (0, None))
        hb_cursor = cursors.get(CURSOR_HEARTBEATS, (0, None))
        lo, hi = j.id_range("samples")
        note = j.get_note(NOTE_LAST_ERROR)
        err = json.loads(note) if note else {}
        daemon_note = j.get_note(NOTE_STORE_FAULTS)
        last_write_ns = sample_cursor[1] if CURSOR_SAMPLES in cursors else None
        error_ns = err.get("time_ns")
        faults = [
            CycleFaults(v, g, *f["refused"], f["last_loss_ns"], f["recovered_ns"])  # type: ignore[misc]
            for (v, g), f in j.store_faults((now_ns - HOUR_NS, now_ns - DAY_NS, 0)).items()
        ]
        return Status(
            journal=str(journal_path),
            store_kind=store_kind,
            used_mb=j.used_bytes() / 2**20,
            cap_mb=cap_mb,
            samples_total=(hi - lo + 1) if hi else 0,
            backlog_samples=j.count_after("samples", sample_cursor[0]),
            backlog_heartbeats=j.count_after("heartbeats", hb_cursor[0]),
            last_write_ns=last_write_ns,
            last_error_ns=error_ns,
            last_error=err.get("message", ""),
            dropped=cursors.get(COUNT_DROPPED, (0, None))[0],
            rejected=cursors.get(COUNT_REJECTED, (0, None))[0],
            heartbeats=j.latest_heartbeats(),
            last_error_age_s=None if error_ns is None else max(0, now_ns - error_ns) / NS_PER_S,
            last_error_stale=error_ns is not None and last_write_ns is not None and last_write_ns > error_ns,
            store_faults=faults,
            daemon_store=json.loads(daemon_note) if daemon_note else None,
            pruned=pruned_ranges(j),
            columnar=tier_summary(tier) if tier is not None else None,
        )
    finally:
        j.close()


def tier_summary(path: str | Path) -> dict[str, object] | None:
    """Days, samples and bytes of the columnar tier (``store/columnar.py``), None if there is none."""
    from slaprobe.store.columnar import Tier

    tier = Tier(path)
    if not tier.exists():
        return None
    days = tier.manifest()["days"]
    samples = sum(int(d["samples"]) for d in days.values())
    size = sum(int(b) for d in days.values() for b in d["bytes"].values())
    return {
        "dir": str(path),
        "days": len(days),
        "first_day": min(days, default=None),
        "last_day": max(days, default=None),
        "raw_days": sum(1 for d in days.values() if d.get("raw")),
        "samples": samples,
        "bytes": size,
        "bytes_per_sample": round(size / samples, 2) if samples else None,
        "reported": tier.reported(),
    }


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
            stale = " [stale: a later write succeeded]" if st.last_error_stale else ""
            lines.append(f"  last error {_when(st.last_error_ns, now_ns)}{stale}: {st.last_error}")
        if st.dropped or st.rejected:
            lost = f"{st.dropped} dropped at the journal cap, {st.rejected} refused by InfluxDB"
            lines.append(f"  LOST: {lost}")
    else:
        lines.append("store: embedded (the journal is the store; nothing is shipped)")
    if st.columnar and st.columnar["days"]:
        c = st.columnar
        lines.append(
            f"columnar tier {c['dir']}: {c['days']} UTC days {c['first_day']} .. {c['last_day']}"
            f" ({c['raw_days']} with raw detail), {c['samples']} samples,"
            f" {int(c['bytes']) / 2**20:.1f} MB ({c['bytes_per_sample']} bytes/sample)"  # type: ignore[call-overload]
        )
    lines.extend(_fault_lines(st, now_ns))
    return "\n".join(lines)


def _fault_lines(st: Status, now_ns: int) -> list[str]:
    """Samples the journal refused, the daemon's totals and retention prunes: only when there are any."""
    lines: list[str] = []
    for f in st.store_faults:
        state = f"recovered {_when(f.recovered_ns, now_ns)}" if f.recovered_ns else "STILL FAILING"
        lines.append(
            f"  {f.vantage}/{f.group}: refused {f.refused_1h} samples in the last hour, {f.refused_24h} in"
            f" the last day ({f.refused_total} in all); last loss {_when(f.last_loss_ns, now_ns)}; {state}"
        )
    if lines:
        lines.insert(0, "journal write faults (samples NOT stored: disk full or I/O error):")
    d = st.daemon_store
    if d:
        lines.append(
            f"daemon {d.get('vantage', '?')}: lost {d.get('lost_samples', 0)} samples and"
            f" {d.get('lost_heartbeats', 0)} heartbeats since it started; failing from"
            f" {_when(d.get('failing_since_ns'), now_ns)}, recovered {_when(d.get('recovered_ns'), now_ns)}"  # type: ignore[arg-type]
        )
    for p in st.pruned:
        lines.append(
            f"retention pruned {p['samples']} samples of {p['first_day']} .. {p['last_day']} (UTC days)"
            f" {_when(p['at_ns'], now_ns)}: reports of those days cannot be re-judged"  # type: ignore[arg-type]
        )
    return lines

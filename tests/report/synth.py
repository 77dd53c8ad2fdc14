"""A small synthetic month (March 2022, Asia/Shanghai) with known events, for the report tests.

Eight terminals, two carriers, four regions, one vantage probing every terminal every minute. The
events, and what the availability rule (mef10.3: Δt 60 s, C 0.75, n 5) must make of them, are stated
here as ground truth, independent of the engine:

* T0001 (haikou) answers nothing 2022-03-10 09:00–12:00 local: one outage of exactly 3 h;
* T0006 (dongfang) answers nothing 2022-03-20 22:00 – 03-21 01:30: one outage of 3 h 30 min across
  midnight (2 h on the 20th, 1 h 30 min on the 21st);
* T0007 (dingan) answers nothing 2022-03-05 08:00–08:04: four high-loss minutes, no outage;
* T0004 (sanya) loses 2 of 5 echoes all day 2022-03-12: loss 40 % < C, no outage;
* the vantage sends no heartbeat 2022-03-25 02:00–04:00: 2 h UNKNOWN for every terminal in service;
* T0008 (dingan) opens on 2022-03-15 (not in service before);
* announced maintenance for region sanya 2022-03-08 02:00–04:00 (``MAINTENANCE_YAML``): 2 h excluded for
  each of its two terminals.

Everything else answers all 5 echoes, with RTTs around 8 ms (telecom) and 15 ms (unicom).
"""

from __future__ import annotations

import csv
import datetime as dt
import random
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

from slaprobe.model import NS_PER_S, Heartbeat, ProbeKind, Sample, outcome_for
from slaprobe.scheduler import CycleStats, cycle_heartbeat

TZ = ZoneInfo("Asia/Shanghai")
MONTH = "2022-03"
START = dt.datetime(2022, 3, 1, tzinfo=TZ)
END = dt.datetime(2022, 4, 1, tzinfo=TZ)
VANTAGE = "v1"

# id, name, carrier, region, level, tier, in service from
TERMINALS: tuple[tuple[str, str, str, str, str, str, str], ...] = (
    ("T0001", "海口 市县会场", "telecom", "haikou", "city", "standard", "2021-01-01"),
    ("T0002", "海口 乡镇 1", "telecom", "haikou", "township", "basic", "2021-01-01"),
    ("T0003", "三亚 市县会场", "telecom", "sanya", "city", "standard", "2021-01-01"),
    ("T0004", "三亚 乡镇 1", "telecom", "sanya", "township", "basic", "2021-01-01"),
    ("T0005", "东方 市县会场", "unicom", "dongfang", "city", "standard", "2021-01-01"),
    ("T0006", "东方 乡镇 1", "unicom", "dongfang", "township", "basic", "2021-01-01"),
    ("T0007", "定安 市县会场", "unicom", "dingan", "city", "standard", "2021-01-01"),
    ("T0008", "定安 乡镇 1", "unicom", "dingan", "township", "basic", "2022-03-15"),
)


def local(day: int, hour: int, minute: int = 0) -> int:
    return int(dt.datetime(2022, 3, day, hour, minute, tzinfo=TZ).timestamp()) * NS_PER_S


BLACKOUTS: dict[str, list[tuple[int, int]]] = {
    "T0001": [(local(10, 9), local(10, 12))],
    "T0006": [(local(20, 22), local(21, 1, 30))],
    "T0007": [(local(5, 8), local(5, 8, 4))],
}
LOSSY: dict[str, tuple[int, int, int]] = {"T0004": (local(12, 0), local(13, 0), 3)}  # start, end, received
HEARTBEAT_GAP = (local(25, 2), local(25, 4))
EXPECTED_OUTAGES = {("T0001", local(10, 9), 3 * 3600), ("T0006", local(20, 22), 3 * 3600 + 1800)}
UNKNOWN_GAP_S = 2 * 3600
MAINTENANCE_YAML = """\
windows:
  - start: "2022-03-08T02:00:00+08:00"
    end: "2022-03-08T04:00:00+08:00"
    regions: [sanya]
    reason: 机房电力检修
"""
MAINTENANCE_S = 2 * 3600 * 2


def write_inventory(path: Path) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["id", "name", "address", "carrier", "region", "level", "tier", "in_service_from"])
        for i, (tid, name, carrier, region, level, tier, since) in enumerate(TERMINALS, 1):
            w.writerow([tid, name, f"198.18.0.{i}", carrier, region, level, tier, since])
    return path


def in_service(tid: str, t_ns: int) -> bool:
    return t_ns >= _SINCE_NS[tid]


_SINCE_NS = {
    row[0]: int(dt.datetime.combine(dt.date.fromisoformat(row[6]), dt.time(), TZ).timestamp()) * NS_PER_S
    for row in TERMINALS
}


def samples(step_s: int = 60, kinds: tuple[ProbeKind, ...] = (ProbeKind.ICMP,)) -> Iterator[Sample]:
    """Every probe of the month, time-ordered; RTTs and jitter from a seeded pool (reproducible)."""
    rnd = random.Random(2022)
    pool = [(1 + rnd.lognormvariate(-2.0, 0.6), rnd.lognormvariate(-0.5, 0.7)) for _ in range(4099)]
    start = int(START.timestamp()) * NS_PER_S
    end = int(END.timestamp()) * NS_PER_S
    n = 0
    for t in range(start, end, step_s * NS_PER_S):
        for tid, _name, carrier, *_ in TERMINALS:
            if t < _SINCE_NS[tid]:
                continue
            received = 5
            if any(a <= t < b for a, b in BLACKOUTS.get(tid, ())):
                received = 0
            lossy = LOSSY.get(tid)
            if lossy and lossy[0] <= t < lossy[1]:
                received = lossy[2]
            base = 8.0 if carrier == "telecom" else 15.0
            answered = received > 0
            for kind in kinds:
                factor, jit = pool[n % len(pool)]
                n += 1
                rtt = base * factor
                extra = {}
                if kind is ProbeKind.RTP:
                    extra = {"mos": 4.3 if answered else None, "r_factor": 90.0 if answered else None}
                yield Sample(
                    time_ns=t + 7 * NS_PER_S,
                    terminal=tid,
                    vantage=VANTAGE,
                    kind=kind,
                    sent=5,
                    received=received,
                    rtt_min_ms=rtt * 0.9 if answered else None,
                    rtt_avg_ms=rtt if answered else None,
                    rtt_max_ms=rtt * 1.2 if answered else None,
                    rtt_p50_ms=rtt if answered else None,
                    jitter_ms=jit if answered else None,
                    error=outcome_for(5, received),
                    **extra,
                )


def heartbeats(step_s: int = 60, kinds: tuple[ProbeKind, ...] = tuple(ProbeKind)) -> Iterator[Heartbeat]:
    """One heartbeat per cycle and probe kind, named and built as the daemon writes them
    (``scheduler.cycle_heartbeat``: group ``"default/<kind>"``); two reference targets answer."""
    start = int(START.timestamp()) * NS_PER_S
    end = int(END.timestamp()) * NS_PER_S
    for t in range(start, end, step_s * NS_PER_S):
        if HEARTBEAT_GAP[0] <= t < HEARTBEAT_GAP[1]:
            continue
        due = sum(1 for row in TERMINALS if in_service(row[0], t))
        stats = CycleStats(due=due, probed=due, reference_ok=2, reference_total=2)
        for kind in kinds:
            yield cycle_heartbeat(
                vantage=VANTAGE,
                group="default",
                kind=kind,
                interval_s=float(step_s),
                start_ns=t,
                stats=stats,
                duration_s=2.5,
            )


def tags() -> dict[str, dict[str, str]]:
    return {
        tid: {"carrier": carrier, "region": region, "level": level, "tier": tier}
        for tid, _n, carrier, region, level, tier, _s in TERMINALS
    }

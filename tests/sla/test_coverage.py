"""Which heartbeats vouch for which terminal: cycle names (group/kind), counted kinds, legacy names.

One terminal T1 in scheduling group "default", one vantage, 60 s cycles and one answered ICMP sample
per minute 10:00 .. 11:59 local on 2022-12-05 (120 minutes); the heartbeats vary. Judged seconds are
counted by hand from which cycles exist: a cycle at minute m covers [m, m + 1 min + 5 s grace).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import pytest

from slaprobe.model import NS_PER_S, ProbeKind, Sample
from slaprobe.scheduler import CycleStats, cycle_heartbeat
from slaprobe.sla.engine import report_month
from slaprobe.sla.rule import rule_from
from slaprobe.store.memory import MemoryStore
from tests.sla.scenario import PERIOD, at, terminal

DAY_S = 86_400
ICMP, STAMP = ProbeKind.ICMP, ProbeKind.STAMP


@dataclass
class Beats:
    """Heartbeats of minutes [first, last) named ``name`` (None: ``cycle_name(group, kind)``)."""

    first: int
    last: int
    kind: ProbeKind = ICMP
    group: str = "default"
    name: str | None = None
    interval_s: float = 60.0


@dataclass
class Case:
    id: str
    beats: list[Beats]
    judged_min: int
    rule: dict = field(default_factory=dict)
    warns: tuple[str, ...] = ()


CASES = [
    Case("default/icmp covers its group", [Beats(600, 720)], 120),
    Case("another group's cycles do not cover T1", [Beats(600, 720, group="province")], 0),
    Case("an uncounted kind vouches for nothing", [Beats(600, 720, STAMP)], 0, {"kinds": ["icmp"]}),
    Case("every kind counted: the stamp cycle vouches", [Beats(600, 720, STAMP)], 120),
    Case(
        "union over counted kinds: icmp for the first hour, stamp for the second",
        [Beats(600, 660), Beats(660, 720, STAMP)],
        120,
    ),
    Case(
        # an upgrade at 11:00: legacy names before, cycle names after; legacy covers every kind, so the
        # two stitch without a gap, and the report names the legacy group
        "legacy names then cycle names: no gap, a warning",
        [Beats(600, 660, name="default"), Beats(660, 720)],
        120,
        warns=("heartbeat group(s) 'default' name no probe kind",),
    ),
    Case(
        "a cycle longer than Δt covers nothing and is named",
        [Beats(600, 720, interval_s=120.0)],
        0,
        warns=("vantage v1 cycle default/icmp: probing cycle longer than Δt 60 s",),
    ),
]  # fmt: skip


def store(case: Case) -> MemoryStore:
    samples = [
        Sample(at(m) + 2 * NS_PER_S, "T1", "v1", kind, 5, 5, rtt_avg_ms=9.0)
        for m in range(600, 720)
        for kind in (ICMP, STAMP)
    ]
    beats = []
    for b in case.beats:
        for m in range(b.first, b.last, max(1, int(b.interval_s) // 60)):
            hb = cycle_heartbeat(
                vantage="v1",
                group=b.group,
                kind=b.kind,
                interval_s=b.interval_s,
                start_ns=at(m),
                stats=CycleStats(due=1, probed=1),
                duration_s=3.0,
            )
            beats.append(dataclasses.replace(hb, group=b.name) if b.name else hb)
    return MemoryStore(samples, beats)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_coverage(case: Case) -> None:
    rule = rule_from("mef10.3", lookaround_s=3600, **case.rule)
    report = report_month(store(case), [terminal()], rule, PERIOD)
    (r,) = report.results
    assert (r.unknown_s, r.available_s, r.unavailable_s) == (
        DAY_S - case.judged_min * 60,
        case.judged_min * 60,
        0,
    )
    for needle in case.warns:
        assert any(needle in w for w in report.warnings), report.warnings
    if not case.warns:
        assert not [w for w in report.warnings if "no probe kind" in w or "longer than" in w]

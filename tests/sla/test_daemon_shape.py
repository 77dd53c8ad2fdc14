"""The SLA engine judges data shaped exactly as the daemon writes it, from the journal and from InfluxDB.

Each case is a short daemon run on 2022-12-05 (Asia/Shanghai, UTC+8: local hours are UTC hours) written
the way the daemon writes it: one cycle per scheduling group and probe kind, the cycle's samples, then
its heartbeat from ``scheduler.cycle_heartbeat`` (group ``"default/icmp"``), unsent probes from
``scheduler.not_measured_sample`` stamped at the moment the cycle was cut (as ``CycleRunner`` does), and
a cycle whose samples the store refused has ``unstored > 0`` and no rows. The journal is shipped to a real
influxd by the production shipper; both stores must give byte-identical JSON and the figures below.

Rule mef10.3 (Δt 60 s, C 0.75, n 5, CHLI p 3, heartbeat grace 5 s), one hour of lookaround. Unless a
case says otherwise: 10 s cycles from 10:51:00 to 11:08:00 (last cycle starts 11:07:50), so the daemon
probes only 9 minutes of hour 10 and 8 of hour 11 (54 and 48 samples per terminal, fewer than the
hour's 60 intervals: the hour count alone would not show that intervals hold several samples). Terminal
number i (T1, T2) is probed 1 + 5 (i - 1) s into each cycle with 5 echoes.

Hand derivation of the shared figures: heartbeats cover [10:51:00, 11:08:05), so intervals 10:51 ..
11:07 are judged (17 x 60 = 1,020 s) and the rest of the day is UNKNOWN: 86,400 - 1,020 = 85,380 s.
Minutes are counted from local midnight (10:51 = 651).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import pytest

from slaprobe.config import InfluxConfig, ShipperConfig
from slaprobe.model import NS_PER_S, ProbeKind, Sample
from slaprobe.report.availability_json import render_json
from slaprobe.scheduler import CycleStats, cycle_heartbeat, not_measured_sample
from slaprobe.sla.engine import MonthReport, report_month
from slaprobe.sla.rule import rule_from
from slaprobe.store.influx import InfluxClient
from slaprobe.store.influx_read import InfluxSlaSource
from slaprobe.store.journal import JournalStore
from slaprobe.store.shipper import Shipper
from slaprobe.store.sla_journal import JournalSlaSource
from tests.sla.scenario import MIN_NS, PERIOD, at, terminal

pytestmark = pytest.mark.influx

DAY_S = 86_400
RUN = (651 * 60, 668 * 60)  # 10:51:00 .. 11:08:00 local, in seconds from local midnight
JUDGED_S = 17 * 60
ICMP, STAMP = ProbeKind.ICMP, ProbeKind.STAMP


def sec(h: int, m: int, s: int = 0) -> int:
    return h * 3600 + m * 60 + s


@dataclass
class Want:
    unknown_s: int = DAY_S - JUDGED_S
    unavailable_s: int = 0
    hli: int = 0
    chli: int = 0
    outages: list[tuple[int, int, int]] = field(default_factory=list)  # (start min, end min, duration s)


@dataclass
class Run:
    id: str
    want: dict[str, Want]  # per terminal
    cycle_s: int = 10
    span: tuple[int, int] = RUN
    outages: dict[str, tuple[int, int]] = field(default_factory=dict)  # terminal -> [a, b) s: total loss
    cut_at: int | None = None  # SIGTERM: the running cycle stops dispatching at this second
    unstored: tuple[int, ...] = ()  # cycle starts (s) whose samples the store refused
    kinds: tuple[ProbeKind, ...] = (ICMP,)
    beats: dict[ProbeKind, tuple[int, int]] = field(default_factory=dict)  # kind -> cycles with heartbeats
    legacy_names: bool = False  # heartbeats named "default" (before the kind was part of the key)
    present: dict[str, tuple[int, int]] = field(default_factory=dict)  # terminal -> [a, b) s it is a target
    rule: dict = field(default_factory=dict)
    warning: str | None = None  # a report warning must contain this


OUTAGE = {"T1": (sec(10, 55, 30), sec(11, 3, 30))}
# 10:55 holds 3 answered (:01 :11 :21) and 3 lost (:31 :41 :51) probes: 15 of 30 echoes lost = 50 % <= C;
# 10:56 .. 11:02 lose everything (7 high-loss intervals); 11:03 loses :01 :11 :21 only: 50 % again.
# One outage 10:56 -> 11:03, back-dated: 420 s. (Pooling lossy rows alone: 9 high, 540 s.)
OUTAGE_WANT = Want(unavailable_s=420, hli=7, outages=[(656, 663, 420)])  # CHLI counts available time only

CASES = [
    Run("partly probed hours: outage crossing the hour, edges pooled", {"T1": OUTAGE_WANT}, outages=OUTAGE),
    Run(
        # 10:56 .. 10:59 lost (4 high-loss intervals, CHLI counts the 3rd and 4th); both edges 50 %:
        # no run of 5, no outage (lossy rows alone would make 6 high intervals: a 360 s outage)
        "edge intervals with 50 % loss are not high-loss",
        {"T1": Want(hli=4, chli=2)},
        outages={"T1": (sec(10, 55, 30), sec(11, 0, 30))},
    ),
    Run(
        # the last cycle (11:07:50) is cut at 11:07:53: T1 (slot :51) was probed, T2 (slot :56) gets a
        # not_scheduled row stamped 11:07:53, in interval 11:07 with T2's five answered samples -> judged
        "SIGTERM mid-cycle: answered + not_scheduled in one interval is judged",
        {"T1": Want(), "T2": Want()},
        cut_at=sec(11, 7, 53),
    ),
    Run(
        "heartbeats named default/icmp are judged (outage case, 60 s cycles)",
        {
            # 60 s cycles 10:00 .. 12:00, outage 10:30 .. 10:40: 120 intervals judged, 600 s down
            "T1": Want(unknown_s=DAY_S - 7200, unavailable_s=600, hli=10, outages=[(630, 640, 600)])
        },
        cycle_s=60,
        span=(sec(10, 0), sec(12, 0)),
        outages={"T1": (sec(10, 30), sec(10, 40))},
    ),
    Run(
        # icmp cycles have heartbeats only until 10:59:50 (covering to 11:00:05): 10:51 .. 10:59 judged
        # (540 s); the stamp cycles' heartbeats say nothing about the icmp rows of 11:00 .. 11:07
        "stamp heartbeats do not vouch for an icmp rule",
        {"T1": Want(unknown_s=DAY_S - 540)},
        kinds=(ICMP, STAMP),
        beats={ICMP: (RUN[0], sec(11, 0)), STAMP: RUN},
        rule={"kinds": ["icmp"]},
    ),
    Run(
        "with every kind counted, the stamp cycles do vouch",
        {"T1": Want()},
        kinds=(ICMP, STAMP),
        beats={ICMP: (RUN[0], sec(11, 0)), STAMP: RUN},
    ),
    Run(
        # the 11:05:20 cycle's sample was refused (unstored = 1): its span is not trusted, the spans
        # around it reach 11:05:25 and start again 11:05:30, so interval 11:05 is UNKNOWN
        "a cycle with unstored samples vouches for nothing",
        {"T1": Want(unknown_s=DAY_S - JUDGED_S + 60)},
        unstored=(sec(11, 5, 20),),
    ),
    Run(
        # T2 is added by a reload at 10:55 and removed at 11:04 (cycles 10:55:00 .. 11:03:50 probe it, at
        # :06 of each): hours 10 and 11 both hold its samples, but only 10:55 .. 11:03 were looked at
        # (540 s); the minutes of those hours before its first and after its last probe count for nobody
        "a terminal added and removed mid-hour is judged from its first to its last probe only",
        {"T1": Want(), "T2": Want(unknown_s=DAY_S - 540)},
        present={"T2": (sec(10, 55), sec(11, 4))},
    ),
    Run(
        "legacy heartbeat names (no kind) cover every kind of the group, with a warning",
        {"T1": OUTAGE_WANT},
        outages=OUTAGE,
        legacy_names=True,
        warning="'default'",
    ),
]


def write_run(run: Run, journal: JournalStore) -> None:
    """The run, cycle by cycle: samples first, then the cycle's heartbeat (the daemon's order)."""
    terminals = sorted(run.want)
    for c in range(run.span[0], run.span[1], run.cycle_s):
        targets = [
            t for t in terminals if run.present.get(t, (0, DAY_S))[0] <= c < run.present.get(t, (0, DAY_S))[1]
        ]
        for kind in run.kinds:
            stats = CycleStats(due=len(targets), reference_total=0)
            samples: list[Sample] = []
            for tid in targets:
                slot = c + 1 + 5 * terminals.index(tid)
                if run.cut_at is not None and c <= run.cut_at <= slot:
                    stats.skipped += 1
                    samples.append(not_measured_sample(at(0) + run.cut_at * NS_PER_S, tid, "v1", kind))
                    continue
                stats.probed += 1
                a, b = run.outages.get(tid, (0, 0))
                received = 0 if a <= slot < b else 5
                rtt = 20.0 if received else None
                samples.append(Sample(at(0) + slot * NS_PER_S, tid, "v1", kind, 5, received, rtt_avg_ms=rtt))
            if c in run.unstored:
                stats.unstored, samples = len(samples), []
            journal.write_samples(samples)
            lo, hi = run.beats.get(kind, run.span)
            if not lo <= c < hi:
                continue
            hb = cycle_heartbeat(
                vantage="v1",
                group="default",
                kind=kind,
                interval_s=float(run.cycle_s),
                start_ns=at(0) + c * NS_PER_S,
                stats=stats,
                duration_s=run.cycle_s / 2,
            )
            journal.write_heartbeats([dataclasses.replace(hb, group="default") if run.legacy_names else hb])


def reports(run: Run, tmp_path, influxd, influx_db) -> tuple[MonthReport, MonthReport]:  # type: ignore[no-untyped-def]
    journal = JournalStore(tmp_path / "journal.sqlite")
    client = InfluxClient(InfluxConfig(url=influxd.url, database=influx_db, api="v1"))
    try:
        write_run(run, journal)
        Shipper(journal, client, ShipperConfig(batch_size=700, keep_shipped_days=0)).drain()
        rule = rule_from("mef10.3", lookaround_s=3600, **run.rule)
        terms = [terminal(t) for t in sorted(run.want)]
        from_journal = report_month(JournalSlaSource(journal), terms, rule, PERIOD)
        from_influx = report_month(InfluxSlaSource(client), terms, rule, PERIOD)
    finally:
        journal.close()
        client.close()
    return from_journal, from_influx


@pytest.mark.parametrize("run", CASES, ids=[c.id for c in CASES])
def test_daemon_shaped_run(run: Run, tmp_path, influxd, influx_db) -> None:  # type: ignore[no-untyped-def]
    from_journal, from_influx = reports(run, tmp_path, influxd, influx_db)
    assert render_json(from_journal) == render_json(from_influx)
    for report in (from_journal, from_influx):
        got = {
            r.terminal: {
                "unknown_s": r.unknown_s,
                "unavailable_s": r.unavailable_s,
                "available_s": r.available_s,
                "hli": r.high_loss_intervals,
                "chli": r.consecutive_high_loss,
                "outages": [
                    ((o.start_ns - at(0)) // MIN_NS, (o.end_ns - at(0)) // MIN_NS, o.duration_s)
                    for o in r.outages
                ],
            }
            for r in report.results
        }
        want = {
            tid: {
                "unknown_s": w.unknown_s,
                "unavailable_s": w.unavailable_s,
                "available_s": DAY_S - w.unknown_s - w.unavailable_s,
                "hli": w.hli,
                "chli": w.chli,
                "outages": w.outages,
            }
            for tid, w in run.want.items()
        }
        assert got == want
        legacy = [w for w in report.warnings if "name no probe kind" in w]
        if run.warning:
            assert len(legacy) == 1 and run.warning in legacy[0]
        else:
            assert not legacy

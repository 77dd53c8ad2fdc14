"""Live outages equal the month report's, for the same samples from the daemon's own builders.

Four hours of one probe host (Δt 60 s cycles, one reference target) over 14 terminals, written with the
builders ``lab month`` shares with the daemon (``lab.month_cycles``: slot offsets, ``not_measured_sample``,
``cycle_heartbeat``). The same cycles go, in the daemon's order (samples the store accepted, then the
heartbeat), into a real journal and into the tracker; the report is ``report_month`` over the journal's
SLA read path. Scripted (window minutes k; DOWN = total loss, HIGH = 4 of 5 lost, SKIPPED = not sent):

* T1 DOWN 30-49; T2 HIGH 40-46 with a SKIPPED minute at 43 (an UNKNOWN gap inside the run);
* T3 DOWN 100-110 while the probe host is down 103-106 (no samples, no heartbeats: UNKNOWN);
* T4 a 4-minute blackout 60-63 (no outage); T5 DOWN 4, GOOD 1, DOWN 4 ... 70-99 (flapping: none);
* T6 DOWN 55-69 (crosses a UTC hour: the tracker's windows are per hour); T7 DOWN 146-159 across a
  mass event 150-156 (all 14 terminals DOWN: UNKNOWN for all, a probe-host event);
* T8 DOWN 178-190 while the reference target fails 180-185 (heartbeats untrusted: UNKNOWN);
* T9 DOWN 205-215 inside its maintenance window 200-220 (nothing); T10 DOWN 195-203 into it (outage
  195..200, the maintenance minutes skipped, resolved after);
* T11 DOWN 222-230 while the store refuses the whole cycle at 225 (heartbeat ``unstored``: UNKNOWN);
* T12 DOWN from 230 to the end of the data (still open).
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np

from slaprobe.lab.month_cycles import (
    DOWN,
    HIGH,
    SKIPPED,
    CycleSettings,
    cycle_heartbeats,
    cycle_samples,
    layout_segments,
)
from slaprobe.live.events import EventKind
from slaprobe.live.tracker import LiveTracker
from slaprobe.model import NS_PER_S, Outcome, ProbeKind
from slaprobe.sla.engine import day_period, report_month
from slaprobe.sla.maintenance import MaintenanceWindow
from slaprobe.sla.rule import rule_from
from slaprobe.store.journal import JournalStore
from slaprobe.store.sla_journal import JournalSlaSource
from tests.sla.scenario import terminal

K = 240
DT_NS = 60 * NS_PER_S
START_NS = int(dt.datetime(2022, 12, 5, tzinfo=dt.UTC).timestamp()) * NS_PER_S
VANTAGE = "probe-1"
HOST_DOWN = (103, 107)
REF_FAILED = range(180, 186)
UNSTORED = 225


def _codes(n_terms: int) -> np.ndarray:
    c = np.zeros((n_terms, K), dtype=np.int64)
    c[0, 30:50] = DOWN
    c[1, 40:47] = HIGH
    c[1, 43] = SKIPPED
    c[2, 100:111] = DOWN
    c[3, 60:64] = DOWN
    for a in range(70, 100, 5):  # (ends before the host outage: its gap would join two runs)
        c[4, a : a + 4] = DOWN
    c[5, 55:70] = DOWN
    c[:, 150:157] = DOWN
    c[6, 146:160] = DOWN
    c[7, 178:191] = DOWN
    c[8, 205:216] = DOWN
    c[9, 195:204] = DOWN
    c[10, 222:231] = DOWN
    c[11, 230:] = DOWN
    c[:, HOST_DOWN[0] : HOST_DOWN[1]] = -1
    return c


def _cycles(terms: list, settings: CycleSettings):  # type: ignore[no-untyped-def]
    """Per window minute: (samples the store accepted, the heartbeat), in the daemon's order."""
    codes = _codes(len(terms))
    segs = layout_segments(terms, [0] * len(terms), [K] * len(terms), K, (ProbeKind.ICMP,), settings)
    rtt = np.full((len(terms), 1), 12.0)
    jit = np.full((len(terms), 1), 1.0)
    out = []
    for k in range(K):
        col = codes[:, k : k + 1]
        samples = cycle_samples(
            terms, segs, col, k, START_NS, DT_NS, VANTAGE, settings, 5, rtt, jit, HOST_DOWN
        )
        beats = cycle_heartbeats(segs, col, k, START_NS, DT_NS, VANTAGE, settings, HOST_DOWN)
        if k in REF_FAILED:
            samples = [
                dataclasses.replace(s, received=0, error=Outcome.TIMEOUT)
                if s.terminal.startswith("ref:")
                else s
                for s in samples
            ]
            beats = [dataclasses.replace(b, reference_ok=0) for b in beats]
        if k == UNSTORED:  # the store refused the cycle's samples: counted in its heartbeat, never stored
            beats = [dataclasses.replace(b, unstored=len(samples)) for b in beats]
            samples = []
        out += [(samples, hb) for hb in beats]
    return out


def _at(k: int) -> int:
    return START_NS + k * DT_NS


def test_live_outages_equal_the_month_report(tmp_path) -> None:  # type: ignore[no-untyped-def]
    terms = [terminal(f"T{i}") for i in range(1, 15)]
    settings = CycleSettings(references=("192.0.2.1",))
    steps = _cycles(terms, settings)
    windows = [MaintenanceWindow(_at(200), _at(220), terminals=frozenset({"T9", "T10"}))]
    rule = rule_from("mef10.3")

    journal = JournalStore(tmp_path / "journal.sqlite")
    tracker = LiveTracker(rule, terms, maintenance=windows)
    events = []
    for samples, hb in steps:
        if samples:
            journal.write_samples(samples)
        journal.write_heartbeats([hb])
        tracker.add_samples(samples)
        events += tracker.add_heartbeat(hb, now_ns=hb.time_ns + DT_NS)

    report = report_month(JournalSlaSource(journal), terms, rule, day_period(dt.date(2022, 12, 5)), windows)
    journal.close()

    resolved = sorted(
        (e.key, e.start_ns, e.end_ns) for e in events if e.kind is EventKind.TERMINAL_OUTAGE and not e.firing
    )
    still_open = sorted(
        (e.key, e.start_ns) for e in tracker.open_events() if e.kind is EventKind.TERMINAL_OUTAGE
    )
    data_end = _at(K)
    closed_in_report = sorted(
        (o.terminal, o.start_ns, o.end_ns) for o in report.outages if o.end_ns < data_end
    )
    open_in_report = sorted((o.terminal, o.start_ns) for o in report.outages if o.end_ns == data_end)
    assert resolved == closed_in_report
    assert still_open == open_in_report
    # and both are what the script says (hand-derived from the module docstring)
    want = [
        ("T1", _at(30), _at(50)),
        ("T10", _at(195), _at(200)),
        ("T11", _at(222), _at(231)),
        ("T2", _at(40), _at(47)),
        ("T3", _at(100), _at(111)),
        ("T6", _at(55), _at(70)),
        ("T7", _at(146), _at(160)),
        ("T8", _at(178), _at(191)),
    ]
    assert resolved == sorted(want)
    assert still_open == [("T12", _at(230))]
    # probe-host problems: the host outage, the mass event, the failed reference target, the refused cycle
    host = sorted(
        ((e.start_ns - START_NS) // DT_NS, (e.end_ns - START_NS) // DT_NS)
        for e in events
        if e.kind is EventKind.PROBE_HOST and not e.firing
    )
    assert host == [(103, 107), (150, 157), (180, 186), (225, 226)]
    # the live decision never precedes the data that decides it, and comes within one cycle of it
    for e in events:
        if e.kind is EventKind.TERMINAL_OUTAGE and e.firing:
            assert e.at_ns >= e.start_ns + rule.consecutive * DT_NS

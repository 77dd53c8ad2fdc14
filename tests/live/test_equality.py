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
import json
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import openpyxl
import pytest
from click.testing import CliRunner
from click.testing import Result as CliResult

from slaprobe.cli import cli
from slaprobe.inventory import write_csv
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
from slaprobe.report.xlsx import csv_rows
from slaprobe.sla.engine import day_period, report_month
from slaprobe.sla.maintenance import MaintenanceWindow, dump_windows
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


@dataclasses.dataclass
class Run:
    terms: list
    journal: Path
    events: list
    tracker: LiveTracker
    windows: list


RULE = rule_from("mef10.3")


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Run:  # type: ignore[no-untyped-def]
    """The four hours, stored in a real journal and fed to the tracker cycle by cycle."""
    tmp = tmp_path_factory.mktemp("live-eq")
    terms = [terminal(f"T{i}") for i in range(1, 15)]
    settings = CycleSettings(references=("192.0.2.1",))
    windows = [MaintenanceWindow(_at(200), _at(220), terminals=frozenset({"T9", "T10"}))]
    journal = JournalStore(tmp / "journal.sqlite")
    tracker = LiveTracker(RULE, terms, maintenance=windows)
    events = []
    for samples, hb in _cycles(terms, settings):
        if samples:
            journal.write_samples(samples)
        journal.write_heartbeats([hb])
        tracker.add_samples(samples)
        events += tracker.add_heartbeat(hb, now_ns=hb.time_ns + DT_NS)
    journal.close()
    write_csv(terms, tmp / "terminals.csv")
    (tmp / "maintenance.yaml").write_text(dump_windows(windows, ZoneInfo("Asia/Shanghai")), "utf-8")
    return Run(terms, tmp / "journal.sqlite", events, tracker, windows)


def _live(run: Run) -> tuple[list, list]:
    resolved = sorted(
        (e.key, e.start_ns, e.end_ns)
        for e in run.events
        if e.kind is EventKind.TERMINAL_OUTAGE and not e.firing
    )
    still_open = sorted(
        (e.key, e.start_ns) for e in run.tracker.open_events() if e.kind is EventKind.TERMINAL_OUTAGE
    )
    return resolved, still_open


def test_live_outages_equal_the_month_report(run: Run) -> None:
    journal = JournalStore(run.journal, readonly=True)
    report = report_month(
        JournalSlaSource(journal), run.terms, RULE, day_period(dt.date(2022, 12, 5)), run.windows
    )
    journal.close()
    resolved, still_open = _live(run)
    closed_in_report = sorted((o.terminal, o.start_ns, o.end_ns) for o in report.outages if not o.ongoing)
    open_in_report = sorted((o.terminal, o.start_ns) for o in report.outages if o.ongoing)
    assert resolved == closed_in_report
    assert still_open == open_in_report
    assert [o.end_ns for o in report.outages if o.ongoing] == [_at(K)]  # the data ends inside it
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
        for e in run.events
        if e.kind is EventKind.PROBE_HOST and not e.firing
    )
    assert host == [(103, 107), (150, 157), (180, 186), (225, 226)]
    # a firing event is decided after its n-th high-loss interval closed, not before
    for e in run.events:
        if e.kind is EventKind.TERMINAL_OUTAGE and e.firing:
            assert e.at_ns >= e.start_ns + RULE.consecutive * DT_NS


def _outages(run: Run, *args: str) -> CliResult:
    return CliRunner().invoke(
        cli,
        [
            "outages", "--journal", str(run.journal), "--store", "embedded",
            "--inventory", str(run.journal.parent / "terminals.csv"),
            "--maintenance", str(run.journal.parent / "maintenance.yaml"), *args,
        ],
    )  # fmt: skip


def test_outages_command_lists_the_live_outages(run: Run) -> None:
    """``slaprobe outages --format json`` over the four hours: the same outages, T12 open."""
    res = _outages(run, "--since", "2022-12-05T00:00Z", "--until", "2022-12-05T04:00Z", "--format", "json")
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)
    assert doc["schema"] == "slaprobe.outages/1"
    resolved, still_open = _live(run)
    got_resolved = sorted(
        (o["terminal"], o["start_ns"], o["end_ns"]) for o in doc["outages"] if o["status"] == "resolved"
    )
    got_open = sorted((o["terminal"], o["start_ns"]) for o in doc["outages"] if o["status"] == "open")
    assert got_resolved == resolved
    assert got_open == still_open and doc["open"] == 1
    t1 = next(o for o in doc["outages"] if o["terminal"] == "T1")
    # evidence: 20 measured intervals of total loss, 5 packets each
    assert (t1["sent"], t1["received"], len(t1["evidence"])) == (100, 0, 20)
    assert t1["start_local"] == "2022-12-05T08:30:00+08:00"
    t2 = next(o for o in doc["outages"] if o["terminal"] == "T2")
    assert [e["note"] for e in t2["evidence"]].count("not_measured") == 1  # the skipped minute 43


def test_outages_since_until_and_filters(run: Run, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """--since/--until keep the outages overlapping the range (and the open one); csv and xlsx render."""
    res = _outages(run, "--since", "2022-12-05T03:00Z", "--until", "2022-12-05T03:51Z", "--format", "csv")
    assert res.exit_code == 0, res.output
    rows = csv_rows(res.output)
    # 03:00-03:51 = minutes 180-230: T8 (178-191), T10 (195-200), T11 (222-231), T12 (open from 230)
    assert sorted((r[0], r[6]) for r in rows[1:]) == [
        ("T10", "resolved"), ("T11", "resolved"), ("T12", "open"), ("T8", "resolved"),
    ]  # fmt: skip
    out = tmp_path / "outages.xlsx"
    res = _outages(run, "--since", "2022-12-05T00:00Z", "--format", "xlsx", "--out", str(out))
    assert res.exit_code == 0, res.output
    book = openpyxl.load_workbook(out)
    assert book.sheetnames == ["outages", "evidence"]
    assert book["outages"].max_row - 1 >= 9  # the nine outages (notes rows follow)
    res = _outages(run, "--since", "2022-12-05T00:00Z", "--carrier", "nosuch")
    assert res.exit_code == 2 and "--carrier 'nosuch'" in res.output
    res = _outages(run, "--since", "2022-12-05T04:00Z", "--until", "2022-12-05T03:00Z")
    assert res.exit_code == 2 and "--until must be later than --since" in res.output

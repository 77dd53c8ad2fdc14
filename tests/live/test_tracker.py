"""The live tracker, case by case: hand-written minutes in, the events worked out by hand out.

Scenarios use tests/sla/scenario.py (rule mef10.3: Δt 60 s, C 0.75, n 5; one character per minute;
``X`` total loss, ``x`` 4 of 5 lost, ``.`` answered, ``?`` not sent, ``_`` the probe host down, ``u`` its
reference targets failed). Each is fed cycle by cycle as the daemon stores it (tests/live/feed.py).
Expected events are (kind, firing, key, start minute, end minute) derived from the strings in the
comments; every case also checks that the report's outages for the same store are the same periods.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from slaprobe.live.events import EventKind, LiveEvent
from slaprobe.live.tracker import LiveTracker, StateError
from slaprobe.model import NS_PER_S
from slaprobe.sla.engine import report_month
from slaprobe.sla.maintenance import MaintenanceWindow
from slaprobe.sla.rule import rule_from
from tests.live.feed import cycles, feed_all
from tests.sla.scenario import MIN_NS, PERIOD, at, build, terminal

RULE = rule_from("mef10.3")
OUT, HOST = EventKind.TERMINAL_OUTAGE, EventKind.PROBE_HOST


@dataclass
class Case:
    name: str
    lines: dict[str, str]  # terminal -> minutes from minute 10 on
    want: list[tuple[EventKind, bool, str, int, int | None]]
    host: str = ""  # the vantage's own minutes from minute 10 on ('_' down, 'u' reference failed)
    maintenance: list[tuple[int, int]] = field(default_factory=list)  # minutes [start, end)
    extra: int = 0  # more terminals answering always (for mass events)


START = 10
CASES = [
    # 4 high-loss intervals cost nothing: no event at all
    Case("four high-loss intervals: no outage", {"T1": "....XXXX......"}, []),
    # XXXXX at minutes 14-18: unavailable from 14 (back-dated); ..... from 19: resolved, end 19
    Case(
        "n high-loss intervals: outage back-dated to the first",
        {"T1": "....XXXXX........"},
        [(OUT, True, "T1", 14, None), (OUT, False, "T1", 14, 19)],
    ),
    # XX??XXX: the two unsent minutes (16, 17) are UNKNOWN and skipped: 5 judged high-loss = one outage
    # 14..21, the gap inside counts for nobody
    Case(
        "UNKNOWN gap inside a run neither breaks nor extends it",
        {"T1": "....XX??XXX........"},
        [(OUT, True, "T1", 14, None), (OUT, False, "T1", 14, 21)],
    ),
    # XXXX.XXXX.XXXX. : runs of 4 never reach n
    Case("flapping shorter than n: no outage", {"T1": "....XXXX.XXXX.XXXX......"}, []),
    # XXXXX then ....X....X (good runs of 4 inside the outage keep it) then ..... : one outage 14..28
    Case(
        "short good runs inside an outage keep it open",
        {"T1": "....XXXXX....X....X........"},
        [(OUT, True, "T1", 14, None), (OUT, False, "T1", 14, 29)],
    ),
    # XXXXXXXX at 14-21 with maintenance over 14-22: nothing judged, no outage
    Case(
        "outage inside a maintenance window: nothing",
        {"T1": "....XXXXXXXX........"},
        [],
        maintenance=[(14, 22)],
    ),
    # XXX at 14-16, maintenance 17-19 (also X, skipped), XX at 20-21: 5 judged high-loss -> 14..22
    Case(
        "maintenance inside a run is skipped like UNKNOWN",
        {"T1": "....XXXXXXXX........"},
        [(OUT, True, "T1", 14, None), (OUT, False, "T1", 14, 22)],
        maintenance=[(17, 20)],
    ),
    # 12 terminals all lose everything at 14-20: a mass event of the vantage (>= 10 and >= 80 %):
    # UNKNOWN for everyone, one probe-host event 14..21, no terminal outage
    Case(
        "mass event: probe-host event only",
        {f"T{i}": "....XXXXXXX........" for i in range(1, 13)},
        [(HOST, True, "v1", 14, None), (HOST, False, "v1", 14, 21)],
    ),
    # the host is down 17-19 (no heartbeat, no sample) inside T1's X at 14-21: judged XXX (14-16) and XX
    # (20-21), the gap is UNKNOWN and the run goes on: outage 14..22; the probe host fires for 17..20
    Case(
        "heartbeat gap: probe-host event, the run goes on across it",
        {"T1": "....XXXXXXXX........"},
        [
            (HOST, True, "v1", 17, None),
            (HOST, False, "v1", 17, 20),
            (OUT, True, "T1", 14, None),
            (OUT, False, "T1", 14, 22),
        ],
        host=".......___.........",
    ),
    # the reference targets fail 14-20 while every sample is lost ('u'): the probe host lost its own
    # uplink; UNKNOWN for the terminal, a probe-host event, never a carrier outage
    Case(
        "reference targets failed: probe-host event only",
        {"T1": "....XXXXXXX........"},
        [(HOST, True, "v1", 14, None), (HOST, False, "v1", 14, 21)],
        host="....uuuuuuu........",
    ),
]


def _minutes(ns: int | None) -> int | None:
    return None if ns is None else (ns - at(0)) // MIN_NS


def _scenario(case: Case):  # type: ignore[no-untyped-def]
    ids = [*case.lines, *(f"E{i}" for i in range(case.extra))]
    terms = [terminal(tid) for tid in ids]
    store = build(
        {tid: {"v1": [(START, case.lines.get(tid, ""))]} for tid in ids},
        vantage_events={"v1": [(START, case.host)]},
        first_min=0,
        last_min=60,
    )
    windows = [MaintenanceWindow(at(a), at(b), all=True) for a, b in case.maintenance]
    return terms, store, windows


def _key(e: LiveEvent) -> tuple:
    return (e.kind, e.firing, e.key, _minutes(e.start_ns), _minutes(e.end_ns))


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_tracker_case(case: Case) -> None:
    terms, store, windows = _scenario(case)
    tracker = LiveTracker(RULE, terms, maintenance=windows)
    events = feed_all(tracker, store._samples, store._heartbeats)
    got = sorted((_key(e) for e in events), key=lambda k: (k[0].value, k[2], not k[1]))
    want = sorted(case.want, key=lambda k: (k[0].value, k[2], not k[1]))
    assert got == want
    # every event is decided from closed intervals only: a firing outage no earlier than the end of its
    # n-th high-loss interval, a resolution no earlier than the end of the n-th good one
    for e in events:
        if e.kind is OUT:
            decided = e.start_ns + RULE.consecutive * MIN_NS if e.firing else e.end_ns + 5 * MIN_NS
            assert e.at_ns >= decided
    report = report_month(store, terms, RULE, PERIOD, windows)
    live = {(e.key, e.start_ns, e.end_ns) for e in events if e.kind is OUT and not e.firing}
    assert {(o.terminal, o.start_ns, o.end_ns) for o in report.outages} == live


def test_state_survives_a_restart_and_the_gap_is_unknown() -> None:
    """XXX at 14-16, the daemon stops after minute 16 and starts again at 20 (no heartbeat 17-19), XX at
    20-21: the saved state carries the run across the restart: one outage 14..22, as the report has it."""
    terms = [terminal("T1")]
    store = build(
        {"T1": {"v1": [(START, "....XXX...XX........")]}},
        vantage_events={"v1": [(17, "___")]},
        first_min=0,
        last_min=50,
    )
    steps = cycles(store._samples, store._heartbeats)
    before = [s for s in steps if s[1].time_ns < at(17)]
    after = [s for s in steps if s[1].time_ns >= at(17)]
    first = LiveTracker(RULE, terms)
    events = [e for batch, hb in before for e in first.feed(batch, hb, hb.time_ns + 60 * NS_PER_S)]
    assert events == []
    state = first.to_dict()
    assert state["runs"]["T1"]["pending"]  # three high-loss intervals pending
    second = LiveTracker(RULE, terms)
    second.load(state)
    events = [e for batch, hb in after for e in second.feed(batch, hb, hb.time_ns + 60 * NS_PER_S)]
    outages = [_key(e) for e in events if e.kind is OUT]
    assert outages == [(OUT, True, "T1", 14, None), (OUT, False, "T1", 14, 22)]
    hosts = [_key(e) for e in events if e.kind is HOST]
    assert hosts == [(HOST, True, "v1", 17, None), (HOST, False, "v1", 17, 20)]
    report = report_month(store, terms, RULE, PERIOD)
    assert [(o.start_ns, o.end_ns) for o in report.outages] == [(at(14), at(22))]


def test_open_outage_is_reported_open_and_saved() -> None:
    """XXXXXX from minute 14 to the end of the data: firing from 14, never resolved; open_events and
    state_of say so."""
    terms = [terminal("T1")]
    store = build({"T1": {"v1": [(START, "...." + "X" * 50)]}}, first_min=0, last_min=40)
    tracker = LiveTracker(RULE, terms)
    events = feed_all(tracker, store._samples, store._heartbeats)
    assert [_key(e) for e in events] == [(OUT, True, "T1", 14, None)]
    assert tracker.state_of("T1") == (True, at(14))
    assert [_key(e) for e in tracker.open_events()] == [(OUT, True, "T1", 14, None)]
    ev = events[0]
    assert ev.labels["carrier"] == "telecom" and ev.labels["vantage"] == "v1"
    assert "v1 0/5" in ev.evidence["decisive_run"]


def test_two_vantages_need_a_majority() -> None:
    """Quorum 0.5 (a strict majority): T1 lost by v1 alone at 14-20 is not down (1 of 2); T2 lost by both
    at 14-20 is down 14..21. The tracker closes an interval only when both vantages have written it."""
    terms = [terminal("T1"), terminal("T2")]
    lost = [(START, "....XXXXXXX........")]
    store = build(
        {"T1": {"v1": lost}, "T2": {"v1": lost, "v2": lost}}, vantages=("v1", "v2"), first_min=0, last_min=40
    )
    tracker = LiveTracker(RULE, terms)
    events = feed_all(tracker, store._samples, store._heartbeats)
    assert sorted(_key(e)[1:] for e in events) == [(False, "T2", 14, 21), (True, "T2", 14, None)]
    report = report_month(store, terms, RULE, PERIOD)
    assert [(o.terminal, o.start_ns, o.end_ns) for o in report.outages] == [("T2", at(14), at(21))]


def test_five_minute_blocks_pool_their_cycles() -> None:
    """y1540 (Δt 300 s, n 1) over 60 s cycles: an interval closes only when its fifth cycle is stored, and
    its loss is pooled over the five. T1 loses minutes 10-13 (20 of 25 packets: 0.8 > C) -> down 10..15;
    T2 loses minutes 20-22 (15 of 25: 0.6, not high) -> nothing."""
    rule = rule_from("y1540")
    terms = [terminal("T1"), terminal("T2")]
    store = build({"T1": {"v1": [(10, "XXXX")]}, "T2": {"v1": [(20, "XXX")]}}, first_min=0, last_min=40)
    tracker = LiveTracker(rule, terms)
    events = feed_all(tracker, store._samples, store._heartbeats)
    assert sorted(_key(e)[1:] for e in events) == [(False, "T1", 10, 15), (True, "T1", 10, None)]
    firing = next(e for e in events if e.firing)
    assert firing.at_ns >= at(15)  # decided once the block's last cycle (14:00) was stored
    report = report_month(store, terms, rule, PERIOD)
    assert [(o.terminal, o.start_ns, o.end_ns) for o in report.outages] == [("T1", at(10), at(15))]


def test_a_state_saved_under_another_rule_is_refused() -> None:
    """Runs counted with n = 5 mean nothing under n = 2: the daemon logs it and starts afresh."""
    saved = LiveTracker(RULE, [terminal("T1")]).to_dict()
    other = LiveTracker(rule_from("mef10.3", consecutive=2), [terminal("T1")])
    with pytest.raises(StateError, match="rule changed"):
        other.load(saved)
    with pytest.raises(StateError, match=r"slaprobe\.live/1"):
        other.load({"format": "something else"})

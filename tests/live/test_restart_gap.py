"""Probe-host events around the daemon's start: what an operator is paged for, and what not.

Rule mef10.3 (Δt 60 s, n 5), vantage v1, cycles of 60 s unless said otherwise; times are scenario minutes
(tests/sla/scenario.py). Each "process" is a tracker fed cycle by cycle the way the daemon feeds it: it
first expects its cycles (``expect_cycles``, as ``Daemon.run`` does), then gets each cycle's sample and
heartbeat in the order the cycles end; ``now`` is the cycle's end. A restart is a new tracker loading the
JSON state the previous one left. Events are written (firing, start minute, end minute); expectations
are worked out by hand in each docstring. The report is not involved: these intervals are UNKNOWN for
it whatever is announced.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import pytest

from slaprobe.live.events import EventKind, LiveEvent
from slaprobe.live.tracker import LiveTracker
from slaprobe.model import NS_PER_S, ProbeKind, Sample
from slaprobe.scheduler import CycleStats, cycle_heartbeat
from slaprobe.sla.rule import rule_from
from tests.sla.scenario import MIN_NS, at, terminal

RULE = rule_from("mef10.3")
HOST = EventKind.PROBE_HOST


def _minute(ns: int | None) -> float | None:
    return None if ns is None else (ns - at(0)) / MIN_NS


def _cycle(tracker: LiveTracker, cycle: str, minute: float, cycle_s: float) -> list[LiveEvent]:
    """One cycle (``group`` or ``group/kind``, icmp by default) starting at ``minute``: its terminal
    answered (5/5), then its heartbeat."""
    group, _, kind_name = cycle.partition("/")
    kind = ProbeKind(kind_name or "icmp")
    start = at(0) + round(minute * MIN_NS)
    tid = {"a": "T1", "b": "T2", "default": "T1"}[group]
    sample = Sample(start + NS_PER_S, tid, "v1", kind, 5, 5, rtt_avg_ms=20.0, jitter_ms=1.0)
    hb = cycle_heartbeat(
        vantage="v1", group=group, kind=kind, interval_s=cycle_s, start_ns=start,
        stats=CycleStats(due=1, probed=1), duration_s=1.0,
    )  # fmt: skip
    return tracker.feed([sample], hb, now_ns=start + round(cycle_s * NS_PER_S))


def _process(
    tracker: LiveTracker, cycles: dict[str, Sequence[float]], cycle_s: float = 60.0
) -> list[tuple[float | None, bool, float | None, float | None]]:
    """Run ``cycles`` (group -> cycle start minutes) through ``tracker``; its probe-host events as
    (minute decided, firing, start minute, end minute). The process starts 10 s before its first cycle."""
    first = min(m for starts in cycles.values() for m in starts)
    names = [g if "/" in g else f"{g}/icmp" for g in cycles]
    tracker.expect_cycles("v1", names, at(0) + round(first * MIN_NS) - 10 * NS_PER_S)
    order = sorted((m + cycle_s / 60, g, m) for g, starts in cycles.items() for m in starts)
    out = []
    for _, group, minute in order:
        for e in _cycle(tracker, group, minute, cycle_s):
            assert e.kind is HOST, e  # every terminal answers: only the probe host can be in question
            out.append((_minute(e.at_ns), e.firing, _minute(e.start_ns), _minute(e.end_ns)))
    return out


def _restarted(tracker: LiveTracker, **kwargs: float) -> LiveTracker:
    """A new process: the state the daemon saved in the journal (as JSON), loaded into a new tracker."""
    again = LiveTracker(RULE, tracker.terminals, **kwargs)
    again.load(json.loads(json.dumps(tracker.to_dict())))
    return again


def _minutes(a: float, b: float, step: float = 1.0) -> list[float]:
    out, m = [], a
    while m < b:
        out.append(m)
        m += step
    return out


def test_a_first_start_announces_nothing_before_its_first_cycles() -> None:
    """Group a's first cycle is at 10, group b's only at 12 (its engine was slower to start). Intervals
    10 and 11 lack b's heartbeat because the daemon had not probed b yet: no event (before the change:
    firing 10, resolved 10..12 at every start). They are still judged (for a's terminal). Later, in the
    same process, b misses its cycles 20, 21, 22 while a goes on: a real heartbeat gap, announced as
    before: firing from 20 and resolved 20..23, decided when b's cycle 23 ends (minute 24)."""
    tracker = LiveTracker(RULE, [terminal("T1", group="a"), terminal("T2", group="b")])
    events = _process(tracker, {"a": _minutes(10, 40), "b": [*_minutes(12, 20), *_minutes(23, 40)]})
    assert events == [(24.0, True, 20.0, None), (24.0, False, 20.0, 23.0)]
    assert tracker.judged_intervals == 30  # 10 .. 39
    assert tracker.hosts["v1"].gap is None and tracker.open_events() == []


@pytest.mark.parametrize(
    ("restart", "grace_s", "want"),
    [
        # stopped after its cycle 16 (intervals up to 16 judged), back at 18: interval 17 UNKNOWN, 60 s,
        # shorter than the default grace (two Δt = 120 s): nothing
        (18, None, []),
        # back at 19: 17 and 18 UNKNOWN, 120 s, not shorter than the grace: one event, already over,
        # decided when the first new cycle (19) ends, at 20
        (19, None, [(20.0, True, 17.0, None), (20.0, False, 17.0, 19.0)]),
        # back at 27: ten minutes blind, announced once with its bounds
        (27, None, [(28.0, True, 17.0, None), (28.0, False, 17.0, 27.0)]),
        # restart_grace_s 0: every gap is announced, even one interval
        (18, 0.0, [(19.0, True, 17.0, None), (19.0, False, 17.0, 18.0)]),
        # restart_grace_s 600: nine minutes (17..26) are not announced, ten (17..27) are
        (26, 600.0, []),
        (27, 600.0, [(28.0, True, 17.0, None), (28.0, False, 17.0, 27.0)]),
    ],
)
def test_a_restart_gap_is_announced_once_already_resolved_or_not_at_all(
    restart: int, grace_s: float | None, want: list[tuple]
) -> None:
    before = LiveTracker(RULE, [terminal("T1")])
    assert _process(before, {"default": _minutes(10, 17)}) == []
    after = _restarted(before, restart_grace_s=grace_s) if grace_s is not None else _restarted(before)
    assert _process(after, {"default": _minutes(restart, restart + 15)}) == want
    assert after.open_events() == [] and after.hosts["v1"].gap is None


def test_the_interval_a_restarted_daemon_starts_inside_is_part_of_the_gap() -> None:
    """30 s cycles. Stopped after its cycle 16:30 (covered up to 17:00), back with its first cycle at 20:30:
    interval 20 is covered only from 20:30, so it is UNKNOWN too. The gap is 17..21 (four minutes), one
    event already resolved, decided once interval 21 (the first the new process covers) is judged, at
    the end of cycle 21:30 (minute 22); no firing alert is left for the start interval 20."""
    before = LiveTracker(RULE, [terminal("T1")])
    assert _process(before, {"default": _minutes(10, 17, 0.5)}, cycle_s=30.0) == []
    after = _restarted(before)
    events = _process(after, {"default": _minutes(20.5, 30, 0.5)}, cycle_s=30.0)
    assert events == [(22.0, True, 17.0, None), (22.0, False, 17.0, 21.0)]


def test_the_gap_starts_where_the_old_process_stopped_judging() -> None:
    """Group default probes icmp and stamp (the rule counts both). The old process stopped after icmp's
    cycle 16 but stamp's cycle 16 never finished, so it judged intervals up to 15 only. The new process
    (back at 20) holds none of the old rows in memory: for it, 16 has no heartbeat like 17..19, and the
    gap it announces is 16..20 (the first interval not judged before the stop .. the first it covers),
    once, when interval 20 closes (minute 21)."""
    before = LiveTracker(RULE, [terminal("T1")])
    old = {"default/icmp": _minutes(10, 17), "default/stamp": _minutes(10, 16)}
    assert _process(before, old) == []
    assert before.next_interval == at(16) // MIN_NS
    after = _restarted(before)
    events = _process(after, {"default/icmp": _minutes(20, 25), "default/stamp": _minutes(20, 25)})
    assert events == [(21.0, True, 16.0, None), (21.0, False, 16.0, 20.0)]


def test_a_second_restart_inside_the_gap_still_announces_all_of_it() -> None:
    """30 s cycles. Stopped after 16:30; the second process runs only its cycles 20:30 and 21:00 (a
    restart loop): it judges 17..20 (all UNKNOWN, all before its first cycle) and stops before any
    interval it covers is judged, so it announces nothing and saves the gap so far (17..20, four
    no_heartbeat intervals). The third process starts at 25:00: interval 21 (covered only for its first
    half) .. 24 extend the gap; one event for the whole gap 17..25, decided when interval 25 closes (cycle
    25:30 ends, at 26), not one per restart."""
    first = LiveTracker(RULE, [terminal("T1")])
    assert _process(first, {"default": _minutes(10, 17, 0.5)}, cycle_s=30.0) == []
    second = _restarted(first)
    assert _process(second, {"default": [20.5, 21.0]}, cycle_s=30.0) == []
    m17 = at(17) // MIN_NS
    assert second.to_dict()["hosts"]["v1"]["gap"] == [m17, m17 + 3, {"no_heartbeat": 4}]
    third = _restarted(second)
    events = _process(third, {"default": _minutes(25, 30, 0.5)}, cycle_s=30.0)
    assert events == [(26.0, True, 17.0, None), (26.0, False, 17.0, 25.0)]


def test_a_heartbeat_gap_while_the_daemon_runs_fires_at_once_and_resolves_later() -> None:
    """Group a's cycles stop after 16 while b goes on (a hung cycle); a comes back at 32. a holds the
    intervals open until it lags b by stale_s (600 s): after b's cycle 27 (end 28) the intervals 17..27
    are judged and the problem fires from 17, decided at 28, while a is still silent. It is resolved
    when a's cycle 32 covers interval 32: 17..32, decided at 33."""
    tracker = LiveTracker(RULE, [terminal("T1", group="a"), terminal("T2", group="b")])
    events = _process(tracker, {"a": [*_minutes(10, 17), *_minutes(32, 40)], "b": _minutes(10, 40)})
    assert events == [(28.0, True, 17.0, None), (33.0, False, 17.0, 32.0)]


def test_a_problem_open_when_the_daemon_stopped_goes_on_across_the_restart() -> None:
    """The reference targets fail from 14 (an untrusted heartbeat): the problem fires at 14 and is still
    open when the daemon stops after 16. The restart gap 17..19 extends it (it was announced, and the
    receivers know it fires); it is resolved at the first clean interval, 20: one firing, one resolved."""
    before = LiveTracker(RULE, [terminal("T1")])
    events: list[tuple] = []
    before.expect_cycles("v1", ["default/icmp"], at(10) - 10 * NS_PER_S)
    for m in range(10, 17):
        start = at(m)
        bad = CycleStats(due=1, probed=1, reference_ok=0 if m >= 14 else 1, reference_total=1)
        hb = cycle_heartbeat(
            vantage="v1", group="default", kind=ProbeKind.ICMP, interval_s=60.0, start_ns=start,
            stats=bad, duration_s=1.0,
        )  # fmt: skip
        sample = Sample(start + NS_PER_S, "T1", "v1", ProbeKind.ICMP, 5, 5, rtt_avg_ms=20.0)
        for e in before.feed([sample], hb, now_ns=start + MIN_NS):
            events.append((_minute(e.at_ns), e.firing, _minute(e.start_ns), _minute(e.end_ns)))
    assert events == [(15.0, True, 14.0, None)]
    after = _restarted(before)
    assert [(e.firing, _minute(e.start_ns)) for e in after.open_events() if e.kind is HOST] == [(True, 14.0)]
    assert _process(after, {"default": _minutes(20, 25)}) == [(21.0, False, 14.0, 20.0)]

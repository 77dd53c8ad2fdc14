"""``lab month`` lays the month out as the daemon's cycles: keys, slot times, skips, references, host
outages, openings. Expected slot offsets are worked out by hand from the daemon's rule (targets spread
over 0.9 × 60 s = 540 slots of 100 ms, target i at floor(i × 540 / n) slots, references first)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import Counter
from ipaddress import ip_address

import numpy as np

from slaprobe.lab.month import MonthPlan, MonthProfile, heartbeats_for, plan_month, samples_for
from slaprobe.lab.month_cycles import REFERENCE_KINDS, CycleSettings
from slaprobe.model import NS_PER_S, Outcome, ProbeKind
from slaprobe.terminal import Level, Terminal

S = NS_PER_S
MARCH = dt.date(2023, 3, 1)
QUIET = dataclasses.replace(
    MonthProfile(),
    outages_per_terminal=0,
    blackouts_per_terminal=0,
    degraded_share=0,
    skipped_per_terminal=0,
    opened_mid_month=0,
    maintenance_windows=0,
    outages_in_maintenance=0,
    host_outage_minutes=0,
    boundary_outages=False,
)
REF = CycleSettings(60.0, references=("198.18.200.1",))


def _t(tid: str, group: str = "default", opened: dt.date = dt.date(2020, 1, 1), **kw: object) -> Terminal:
    return Terminal(
        tid, tid, ip_address("198.18.0.1"), "telecom", "haikou", Level.VILLAGE, "basic", opened,
        group=group, **kw,  # type: ignore[arg-type]
    )  # fmt: skip


TERMS = [_t("P", "province"), _t("D1"), _t("D2"), _t("D3", opened=dt.date(2023, 3, 10))]


def _interval(plan: MonthPlan, day: int, hour: int = 0) -> int:
    """Window interval index of a local (UTC+8) day/hour of March 2023."""
    local = dt.datetime(2023, 3, day, hour, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    return (int(local.timestamp()) * S - plan.start_ns) // plan.interval_ns


def _offsets_s(samples, plan: MonthPlan) -> dict[str, set[float]]:  # type: ignore[no-untyped-def]
    out: dict[str, set[float]] = {}
    for s in samples:
        out.setdefault(s.terminal, set()).add(((s.time_ns - plan.start_ns) % plan.interval_ns) / S)
    return out


def test_cycles_are_keyed_group_kind_and_slots_follow_the_spread() -> None:
    plan = plan_month(TERMS, "2023-03", QUIET)
    rng = np.random.default_rng(1)
    day5, day10 = _interval(plan, 5), _interval(plan, 10)
    # before D3 opens: default = [ref, D1, D2] -> 0, 18, 36 s; province = [ref, P] -> 0, 27 s
    before = samples_for(plan, day5, day5 + 60, "probe-1", rng, REF)
    assert _offsets_s(before, plan) == {"ref:198.18.200.1": {0.0}, "P": {27.0}, "D1": {18.0}, "D2": {36.0}}
    assert Counter(s.terminal for s in before) == {"ref:198.18.200.1": 120, "P": 60, "D1": 60, "D2": 60}
    # from D3's opening day (local midnight) on: default = [ref, D1, D2, D3] -> 0, 13.5, 27, 40.5 s
    after = samples_for(plan, day10, day10 + 60, "probe-1", rng, REF)
    assert _offsets_s(after, plan) == {
        "ref:198.18.200.1": {0.0}, "P": {27.0}, "D1": {13.5}, "D2": {27.0}, "D3": {40.5},
    }  # fmt: skip
    assert not [s for s in samples_for(plan, day10 - 60, day10, "probe-1", rng, REF) if s.terminal == "D3"]
    beats = heartbeats_for(plan, day10 - 1, day10 + 1, "probe-1", REF)
    assert [(b.group, b.due, b.probed, b.skipped, b.reference_ok, b.reference_total) for b in beats] == [
        ("default/icmp", 2, 2, 0, 1, 1),
        ("province/icmp", 1, 1, 0, 1, 1),
        ("default/icmp", 3, 3, 0, 1, 1),
        ("province/icmp", 1, 1, 0, 1, 1),
    ]
    assert [b.time_ns for b in beats] == [plan.start_ns + (day10 + k) * 60 * S for k in (-1, -1, 0, 0)]
    assert {b.interval_s for b in beats} == {60.0} and {b.unstored for b in beats} == {0}
    # a heartbeat covers its cycle: from its start to the last slot plus one probe (4 × 200 ms + 1 s)
    assert beats[2].duration_s == 40.5 + 1.8


def test_without_references_the_first_target_takes_slot_zero() -> None:
    plan = plan_month(TERMS[:3], "2023-03", QUIET)
    a = _interval(plan, 5)
    got = _offsets_s(samples_for(plan, a, a + 2, "probe-1", np.random.default_rng(1)), plan)
    assert got == {"P": {0.0}, "D1": {0.0}, "D2": {27.0}}
    assert {b.reference_total for b in heartbeats_for(plan, a, a + 2, "probe-1")} == {0}


def test_skipped_probes_are_not_measured_in_their_own_slot() -> None:
    plan = plan_month(TERMS[:3], "2023-03", dataclasses.replace(QUIET, skipped_per_terminal=20.0))
    skips = {(ti, e[0]) for ti, p in enumerate(plan.plans) for e in p.events if e[2] == 4}
    assert len(skips) > 20
    samples = samples_for(plan, 0, plan.count, "probe-1", np.random.default_rng(1), REF)
    beats = heartbeats_for(plan, 0, plan.count, "probe-1", REF)
    slot = {"P": 27 * S, "D1": 18 * S, "D2": 36 * S}  # [ref, P] and [ref, D1, D2]
    names = [t.id for t in plan.terminals]
    got = {
        (names.index(s.terminal), (s.time_ns - plan.start_ns) // plan.interval_ns): s
        for s in samples
        if s.terminal in names
    }
    for ti, i in skips:
        s = got[ti, i]
        assert (s.sent, s.received, s.error) == (0, 0, Outcome.NOT_SCHEDULED)
        assert s.time_ns == plan.start_ns + i * plan.interval_ns + slot[s.terminal]
    skipped = Counter(
        (b.time_ns - plan.start_ns) // plan.interval_ns for b in beats for _ in range(b.skipped)
    )
    assert skipped == Counter(i for _, i in skips)
    assert all(b.probed + b.skipped == b.due for b in beats)
    assert sum(s.error is Outcome.NOT_SCHEDULED for s in samples) == len(skips)


def test_the_down_probe_host_writes_nothing_the_other_vantage_everything() -> None:
    prof = dataclasses.replace(QUIET, vantages=("v1", "v2"), host_outage_minutes=30, host_outage_day=7)
    plan = plan_month(TERMS[:3], "2023-03", prof)
    h0 = _interval(plan, 7, 3)
    assert plan.host_down == (h0, h0 + 30)
    for vantage, want in (("v1", 0), ("v2", 30)):
        samples = samples_for(plan, h0, h0 + 30, vantage, np.random.default_rng(1))
        beats = heartbeats_for(plan, h0, h0 + 30, vantage)
        assert len(samples) == 3 * want and len(beats) == 2 * want
    around = heartbeats_for(plan, h0 - 1, h0 + 31, "v1")
    assert [(b.time_ns - plan.start_ns) // plan.interval_ns for b in around] == [h0 - 1] * 2 + [h0 + 30] * 2


def test_each_probe_kind_of_a_terminal_is_its_own_cycle_references_only_for_icmp() -> None:
    terms = [_t("M", probes=(ProbeKind.ICMP, ProbeKind.STAMP)), _t("I")]
    plan = plan_month(terms, "2023-03", QUIET)
    a = _interval(plan, 5)
    beats = heartbeats_for(plan, a, a + 1, "probe-1", REF)
    assert [(b.group, b.due, b.reference_total) for b in beats] == [
        ("default/icmp", 2, 1),
        ("default/stamp", 1, 0),
    ]
    samples = samples_for(plan, a, a + 1, "probe-1", np.random.default_rng(1), REF)
    assert sorted((s.terminal, s.kind.value) for s in samples) == [
        ("I", "icmp"), ("M", "icmp"), ("M", "stamp"), ("ref:198.18.200.1", "icmp"),
    ]  # fmt: skip
    stamp = next(s for s in samples if s.kind is ProbeKind.STAMP)
    assert stamp.time_ns == plan.start_ns + a * plan.interval_ns  # alone in its cycle: slot 0


def test_reference_kinds_are_the_daemons() -> None:
    from slaprobe.daemon import REFERENCE_KINDS as DAEMON

    assert REFERENCE_KINDS == DAEMON


def test_a_cycle_whose_terminals_are_not_open_yet_still_runs_with_nothing_due() -> None:
    """The daemon schedules every terminal's cycle and takes those in service at each start: a group that
    opens on the 10th has heartbeats with due 0 before (its reference target still probed)."""
    plan = plan_month([_t("D1"), _t("Q", "late", opened=dt.date(2023, 3, 10))], "2023-03", QUIET)
    day10 = _interval(plan, 10)
    beats = heartbeats_for(plan, day10 - 1, day10 + 1, "probe-1", REF)
    assert [(b.group, b.due, b.probed, b.duration_s) for b in beats] == [
        ("default/icmp", 1, 1, 27.0 + 1.8),
        ("late/icmp", 0, 0, 1.8),
        ("default/icmp", 1, 1, 27.0 + 1.8),
        ("late/icmp", 1, 1, 27.0 + 1.8),
    ]
    samples = samples_for(plan, day10 - 1, day10, "probe-1", np.random.default_rng(1), REF)
    assert Counter(s.terminal for s in samples) == {"D1": 1, "ref:198.18.200.1": 2}

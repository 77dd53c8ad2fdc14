"""Table-driven availability cases with hand-computed expectations (see scenario.py for the notation).

One local day (2022-12-05, UTC+8), Δt 60 s, in service all day (86,400 s) unless stated. Expected
``available_s`` is always in_service − maintenance − unknown − unavailable, so each row states the other
four plus the high-loss interval count (HLI), the CHLI count (p = 3) and the outages as
(start minute, end minute, duration_s, seconds inside the day).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import pytest

from slaprobe.sla.engine import Period, report_month
from slaprobe.sla.maintenance import MaintenanceWindow
from slaprobe.sla.rule import rule_from
from tests.sla.scenario import MIN_NS, PERIOD, at, build, terminal

DAY_S = 86_400


@dataclass
class Case:
    id: str
    events: list[tuple[int, str]]
    unavailable_s: int = 0
    unknown_s: int = 0
    maintenance_s: int = 0
    hli: int = 0
    chli: int = 0
    outages: list[tuple[int, int, int, int]] = field(default_factory=list)
    preset: str = "mef10.3"
    rule: dict = field(default_factory=dict)
    vantage_events: list[tuple[int, str]] = field(default_factory=list)
    maintenance: list[tuple[int, int]] = field(default_factory=list)  # (start minute, end minute)


CASES = [
    Case("clean day", []),
    Case("4-minute blackout: high loss, still available", [(600, "XXXX")], hli=4, chli=2),
    Case(
        "5-minute blackout: back-dated outage", [(600, "XXXXX")], 300, hli=5, outages=[(600, 605, 300, 300)]
    ),
    Case("80 % loss is high (> C)", [(600, "xxxxx")], 300, hli=5, outages=[(600, 605, 300, 300)]),
    Case("exactly C (75 %) is not high", [(600, "ccccc")]),
    Case("flapping around C never makes n in a row", [(600, "xcxcxcxcxc")], hli=5),
    Case(
        "3 good minutes inside an outage do not end it",
        [(600, "XXXXXX...XXXXXX")],
        900,
        hli=12,
        outages=[(600, 615, 900, 900)],
    ),
    Case(
        "5 good minutes end it (back-dated): two outages",
        [(600, "XXXXXX.....XXXXXX")],
        720,
        hli=12,
        outages=[(600, 606, 360, 360), (611, 617, 360, 360)],
    ),
    Case("CHLI counts the 3rd and later of each run", [(600, "XXX.XXXX")], hli=7, chli=3),
    Case(
        "an UNKNOWN gap neither breaks nor extends a run",
        [(600, "XXX"), (613, "XXX")],
        360,
        600,
        hli=6,
        outages=[(600, 616, 360, 360)],
        vantage_events=[(603, "_" * 10)],
    ),
    Case("probe-host outage is UNKNOWN, not down", [], unknown_s=5400, vantage_events=[(600, "_" * 90)]),
    Case(
        "failed reference targets make the loss UNKNOWN",
        [(600, "X" * 30)],
        unknown_s=1800,
        vantage_events=[(600, "u" * 30)],
    ),
    Case("probes not sent are UNKNOWN", [(600, "?????")], unknown_s=300),
    Case("no sample under a healthy heartbeat: answered", [(600, "nnnnn")]),
    Case("partial loss below C", [(600, "ppppp")]),
    Case(
        "outage crossing a maintenance window stays one outage",
        [(600, "X" * 16)],
        360,
        maintenance_s=600,
        hli=6,
        outages=[(600, 616, 360, 360)],
        maintenance=[(603, 613)],
    ),
    Case(
        "outage inside maintenance costs nothing",
        [(600, "X" * 20)],
        maintenance_s=1800,
        maintenance=[(595, 625)],
    ),
    Case(
        "4 high minutes after maintenance ends: still available",
        [(600, "X" * 24)],
        maintenance_s=1200,
        hli=4,
        chli=2,
        maintenance=[(600, 620)],
    ),
    Case(
        "outage crossing the day's end is clipped, listed whole",
        [(1430, "X" * 20)],
        600,
        hli=10,
        outages=[(1430, 1450, 1200, 600)],
    ),
    Case(
        "outage crossing the day's start is clipped, listed whole",
        [(-10, "X" * 20)],
        600,
        hli=10,
        outages=[(-10, 10, 1200, 600)],
    ),
    Case(
        "state carried in: 3 high minutes after midnight are still down",
        [(-10, "X" * 13)],
        180,
        hli=3,
        outages=[(-10, 3, 780, 180)],
    ),
    Case(
        "state carried out: a run completed after midnight back-dates",
        [(1437, "X" * 8)],
        180,
        hli=3,
        outages=[(1437, 1445, 480, 180)],
    ),
    Case(
        "strict: one minute of total loss is down",
        [(600, "X")],
        60,
        hli=1,
        outages=[(600, 601, 60, 60)],
        preset="strict",
    ),
    Case("strict: 80 % loss is not total loss", [(600, "x")], preset="strict"),
    Case(
        "y1540: 4 lost minutes of a 5-minute block pool to 80 %",
        [(600, "XXXX")],
        300,
        hli=1,
        outages=[(600, 605, 300, 300)],
        preset="y1540",
    ),
    Case("y1540: 3 lost minutes pool to 60 %: available", [(600, "XXX")], preset="y1540"),
    Case(
        "one lost echo of one sent is down by default",
        [(600, "11111")],
        300,
        hli=5,
        outages=[(600, 605, 300, 300)],
    ),
    Case("min_probes 2: one lost echo is UNKNOWN", [(600, "11111")], unknown_s=300, rule={"min_probes": 2}),
    Case(
        "n = 3 makes a 3-minute blackout an outage",
        [(600, "XXX")],
        180,
        hli=3,
        outages=[(600, 603, 180, 180)],
        rule={"consecutive": 3},
    ),
]


def run(case: Case):
    store = build({"T1": {"v1": case.events}}, vantage_events={"v1": case.vantage_events})
    rule = rule_from(case.preset, lookaround_s=3600, **case.rule)
    windows = [MaintenanceWindow(at(a), at(b), terminals=frozenset({"T1"})) for a, b in case.maintenance]
    return report_month(store, [terminal()], rule, PERIOD, windows)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_case(case: Case) -> None:
    report = run(case)
    r = report.results[0]
    got = {
        "unavailable_s": r.unavailable_s,
        "unknown_s": r.unknown_s,
        "maintenance_s": r.maintenance_s,
        "available_s": r.available_s,
        "hli": r.high_loss_intervals,
        "chli": r.consecutive_high_loss,
        "in_service_s": r.in_service_s,
        "outages": [
            ((o.start_ns - at(0)) // MIN_NS, (o.end_ns - at(0)) // MIN_NS, o.duration_s, o.period_s)
            for o in r.outages
        ],
    }
    want = {
        "unavailable_s": case.unavailable_s,
        "unknown_s": case.unknown_s,
        "maintenance_s": case.maintenance_s,
        "available_s": DAY_S - case.unavailable_s - case.unknown_s - case.maintenance_s,
        "hli": case.hli,
        "chli": case.chli,
        "in_service_s": DAY_S,
        "outages": case.outages,
    }
    assert got == want


def test_outage_evidence_shows_each_vantage_and_interval() -> None:
    store = build({"T1": {"v1": [(600, "XXXXXX..XX")], "v2": [(600, "XXXXXXp.XX")]}}, vantages=("v1", "v2"))
    report = report_month(store, [terminal()], rule_from("mef10.3", lookaround_s=3600), PERIOD)
    (o,) = report.outages
    assert ((o.start_ns - at(0)) // MIN_NS, (o.end_ns - at(0)) // MIN_NS) == (600, 610)
    rows = [((e.start_ns - at(0)) // MIN_NS, e.vantage, e.sent, e.received, e.note) for e in o.evidence]
    assert rows[:2] == [(600, "v1", 5, 0, ""), (600, "v2", 5, 0, "")]
    # the hour's high-loss rows share it with answered ones: all of it was fetched and pooled, so the
    # answered minute shows its packets (without pooling it would read "no_loss_recorded")
    assert (606, "v1", 5, 5, "") in rows
    assert (606, "v2", 5, 4, "") in rows
    assert len(rows) == 20  # 10 intervals x 2 vantages


# ---------------------------------------------------------------- several vantages (quorum > 0.5)


@pytest.mark.parametrize(
    ("seen", "unavailable_s", "unknown_s", "hli"),
    [
        ({"v1": "X" * 10}, 0, 0, 0),  # two vantages disagree: not down
        ({"v1": "X" * 10, "v2": "X" * 10}, 600, 0, 10),  # both see it
        ({"v1": "X" * 10, "v2": "_" * 10}, 600, 0, 10),  # v2 not looking: v1 alone judges
        ({"v1": "_" * 10, "v2": "_" * 10}, 0, 600, 0),  # nobody looking
        ({"v1": "X" * 10, "v2": "X" * 10, "v3": ""}, 600, 0, 10),  # 2 of 3
        ({"v1": "X" * 10, "v2": "", "v3": ""}, 0, 0, 0),  # 1 of 3
    ],
    ids=["disagree", "agree", "one-blind", "all-blind", "2-of-3", "1-of-3"],
)
def test_quorum(seen: dict[str, str], unavailable_s: int, unknown_s: int, hli: int) -> None:
    vantages = sorted(set(seen) | {"v2"})
    per_terminal = {v: [(600, s)] for v, s in seen.items() if "_" not in s}
    host = {v: [(600, s)] for v, s in seen.items() if "_" in s}
    store = build({"T1": per_terminal}, vantages=vantages, vantage_events=host)
    r = report_month(store, [terminal()], rule_from("mef10.3", lookaround_s=3600), PERIOD).results[0]
    assert (r.unavailable_s, r.unknown_s, r.high_loss_intervals) == (unavailable_s, unknown_s, hli)


# ---------------------------------------------------------------- mass events


@pytest.mark.parametrize(("down", "unknown_each", "unavailable_each"), [(12, 600, 0), (9, 0, 600)])
def test_mass_event(down: int, unknown_each: int, unavailable_each: int) -> None:
    """12 terminals on one vantage; >= 10 and >= 80 % down together is the probe host, not them."""
    ids = [f"T{i:02d}" for i in range(1, 13)]
    events = {tid: {"v1": [(600, "X" * 10)] if k < down else []} for k, tid in enumerate(ids)}
    store = build(events)
    report = report_month(store, [terminal(t) for t in ids], rule_from("mef10.3", lookaround_s=3600), PERIOD)
    for k, r in enumerate(report.results):
        if k < down:
            assert (r.unknown_s, r.unavailable_s) == (unknown_each, unavailable_each)
        else:
            assert (r.unknown_s, r.unavailable_s) == (0, 0)
    assert report.mass_event_intervals == {"v1": 10 if unknown_each else 0}


# ---------------------------------------------------------------- in service


def test_opened_and_retired_mid_period() -> None:
    """Three-day period Dec 4-6: T1 opens Dec 5, T2 retires after Dec 5; only loss in service counts.

    Both lose the last 300 minutes of Dec 4 and 10 minutes at 01:40 on Dec 6.
    T1 (from Dec 5): Dec 4 ignored, Dec 6 counted: 600 s down. T2 (to Dec 5): Dec 4 counted: 18,000 s.
    """
    tz = PERIOD.tz
    start = int(dt.datetime(2022, 12, 4, tzinfo=tz).timestamp()) * 10**9
    period = Period("2022-12-04/06", start, start + 3 * 86_400 * 10**9, PERIOD.timezone)
    outside = [(-300, "X" * 300), (1440 + 100, "X" * 10)]
    store = build(
        {"T1": {"v1": outside}, "T2": {"v1": outside}, "T3": {"v1": []}},
        first_min=-1440 - 60,
        last_min=2880 + 60,
    )
    terms = [
        terminal("T1", opened=dt.date(2022, 12, 5)),
        terminal("T2", retired=dt.date(2022, 12, 5)),
        terminal("T3", opened=dt.date(2022, 12, 8)),  # not yet open: not in the report
    ]
    report = report_month(store, terms, rule_from("mef10.3", lookaround_s=3600), period)
    got = {r.terminal: (r.in_service_s, r.available_s, r.unavailable_s) for r in report.results}
    assert got == {"T1": (172_800, 172_200, 600), "T2": (172_800, 154_800, 18_000)}


def test_interval_weighted_province() -> None:
    """Province availability = Σ available / Σ judged, not the mean of two percentages."""
    store = build({"T1": {"v1": [(600, "X" * 60)]}, "T2": {"v1": [(0, "?" * 720)]}})
    report = report_month(
        store, [terminal("T1"), terminal("T2")], rule_from("mef10.3", lookaround_s=3600), PERIOD
    )
    p = report.province
    assert (p.available_s, p.unavailable_s, p.unknown_s) == (86_400 - 3600 + 43_200, 3600, 43_200)
    # T1 95.8333 %, T2 100 %; weighted: 126000 / 129600 = 97.2222 %, the mean would be 97.9167 %
    assert round(p.availability, 4) == 97.2222
    assert (p.worst_terminal, p.outages, p.extra["mttr_s"], p.extra["mtbf_s"]) == ("T1", 1, 3600.0, 126000.0)


def test_filter_to_nobody_still_has_a_province_line() -> None:
    store = build({"T1": {"v1": []}})
    report = report_month(store, [terminal()], rule_from("mef10.3", lookaround_s=3600), PERIOD)
    empty = report.filtered(carrier="nobody")
    assert (empty.terminals, empty.province.terminals, empty.province.availability) == ((), 0, None)


def test_evidence_says_why_a_heartbeat_did_not_vouch() -> None:
    """Minutes 603-604: the probe host's heartbeats exist but its reference targets all failed; minute
    606: no heartbeat at all. The outage's evidence must tell the two apart (a carrier disputing the
    outage reads "our reference targets failed", not "the probe host was down")."""
    store = build({"T1": {"v1": [(600, "X" * 10)]}}, vantage_events={"v1": [(603, "uu"), (606, "_")]})
    report = report_month(store, [terminal()], rule_from("mef10.3", lookaround_s=3600), PERIOD)
    (o,) = report.outages
    notes = {(e.start_ns - at(0)) // MIN_NS: e.note for e in o.evidence}
    assert notes[603] == notes[604] == "reference_failed"
    assert notes[606] == "no_heartbeat"
    assert notes[600] == notes[609] == ""  # measured: 5 sent, 0 received


def test_heartbeats_of_a_group_no_terminal_has_are_reported() -> None:
    """The daemon probed group 'default' but the report's inventory calls the group 'province': nothing
    can be judged, and the report says why instead of a silent month of UNKNOWN."""
    store = build({"T1": {"v1": [(600, "..")]}})
    report = report_month(
        store, [terminal(group="province")], rule_from("mef10.3", lookaround_s=3600), PERIOD
    )
    assert report.results[0].unknown_s == DAY_S
    text = " ".join(report.warnings)
    assert "scheduling group(s) 'default' match no terminal" in text
    assert "no heartbeat of scheduling group(s) 'province'" in text

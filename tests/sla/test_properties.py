"""Properties of the availability engine (hypothesis), over random event scripts of scenario.py."""

from __future__ import annotations

import datetime as dt
import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from slaprobe.report.availability_json import render_json
from slaprobe.sla.engine import Period, day_period, report_month
from slaprobe.sla.rule import rule_from
from slaprobe.store.memory import MemoryStore
from tests.sla.scenario import PERIOD, build, terminal

RULE = rule_from("mef10.3", lookaround_s=3600)
CHARS = ".XxcpP?n"

event = st.tuples(
    st.integers(min_value=-60, max_value=1500),
    st.integers(min_value=1, max_value=40),
    st.sampled_from("XxcpX?n1"),
)
script = st.lists(event, max_size=8)
host = st.lists(st.tuples(st.integers(-60, 1500), st.integers(1, 30), st.sampled_from("_u")), max_size=2)

SETTINGS = settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _events(items: list[tuple[int, int, str]]) -> list[tuple[int, str]]:
    return [(start, ch * length) for start, length, ch in items]


def _report(t1: list, h: list, store_hook=None):
    store = build(
        {"T1": {"v1": _events(t1)}, "T2": {"v1": [(700, "X" * 7)]}}, vantage_events={"v1": _events(h)}
    )
    if store_hook:
        store = store_hook(store)
    return report_month(store, [terminal("T1"), terminal("T2")], RULE, PERIOD)


@SETTINGS
@given(script, host)
def test_availability_stays_in_range(t1, h) -> None:
    report = _report(t1, h)
    for r in report.results:
        assert r.available_s + r.unavailable_s + r.unknown_s + r.maintenance_s == r.in_service_s
        if r.availability is not None:
            assert 0.0 <= r.availability <= 100.0
    assert report.province.availability is None or 0.0 <= report.province.availability <= 100.0


@SETTINGS
@given(script, host, st.integers(min_value=0, max_value=1439))
def test_adding_a_down_interval_never_raises_availability(t1, h, minute) -> None:
    before = _report(t1, h).results[0]
    after = _report([*t1, (minute, 1, "X")], h).results[0]
    # the new event overrides whatever the minute was; only compare when it was a judged good minute
    if after.unknown_s == before.unknown_s:
        assert after.available_s <= before.available_s
        assert after.unavailable_s >= before.unavailable_s


@SETTINGS
@given(script, host, st.integers(0, 2**32))
def test_sample_order_and_duplicates_do_not_matter(t1, h, seed: int) -> None:
    rnd = random.Random(seed)

    def shuffle_and_duplicate(store: MemoryStore) -> MemoryStore:
        samples = list(store._samples)
        samples += rnd.sample(samples, k=min(len(samples), 200))
        rnd.shuffle(samples)
        beats = list(store._heartbeats)
        beats += rnd.sample(beats, k=min(len(beats), 50))
        rnd.shuffle(beats)
        return MemoryStore(samples, beats)

    assert render_json(_report(t1, h)) == render_json(_report(t1, h, shuffle_and_duplicate))


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(st.integers(-60, 2940), st.integers(1, 90), st.sampled_from("XxX?p")),
        max_size=8,
    ),
    st.lists(st.tuples(st.integers(-60, 2940), st.integers(1, 90), st.sampled_from("_u")), max_size=2),
)
def test_days_recombine_to_the_whole(t1, h) -> None:
    """Two days computed one by one add up to the two-day period (lookaround covering all the data)."""
    rule = rule_from("mef10.3", lookaround_s=3 * 86_400)
    store = build({"T1": {"v1": _events(t1)}}, vantage_events={"v1": _events(h)}, last_min=2880 + 60)
    d1, d2 = day_period(dt.date(2022, 12, 5)), day_period(dt.date(2022, 12, 6))
    whole = Period("2022-12-05/06", d1.start_ns, d2.end_ns, d1.timezone)
    parts = [report_month(store, [terminal()], rule, p).results[0] for p in (d1, d2)]
    total = report_month(store, [terminal()], rule, whole).results[0]
    for name in ("in_service_s", "available_s", "unavailable_s", "unknown_s", "maintenance_s"):
        assert getattr(total, name) == sum(getattr(p, name) for p in parts), name
    assert total.high_loss_intervals == sum(p.high_loss_intervals for p in parts)
    assert total.consecutive_high_loss == sum(p.consecutive_high_loss for p in parts)
    spans = {(o.start_ns, o.end_ns, o.duration_s) for p in parts for o in p.outages}
    assert spans == {(o.start_ns, o.end_ns, o.duration_s) for o in total.outages}
    assert sum(o.period_s for p in parts for o in p.outages) == sum(o.period_s for o in total.outages)

"""``lab month``: the example profile is the defaults; the truth of a hand-placed plan is what a person
works out from the calendar; runs are reproducible; small networks are mixed; a second run is refused."""

from __future__ import annotations

import dataclasses
import datetime as dt
import sqlite3
from ipaddress import ip_address
from pathlib import Path

import pytest

from slaprobe.lab.month import (
    MonthProfile,
    load_month_profile,
    month_network,
    plan_month,
    write_month,
)
from slaprobe.store.journal import JournalStore
from slaprobe.terminal import Level, Terminal

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "lab-month.example.yaml"
CST = dt.timezone(dt.timedelta(hours=8))  # Asia/Shanghai has no DST: the calendar below is plain +08:00
MIN, DAY = 60, 86_400

# Nothing random: only the profile's fixed placements (boundary outages, maintenance windows, the
# probe-host outage, an outage inside maintenance) and one terminal opened on a known day.
QUIET = dataclasses.replace(
    MonthProfile(),
    outages_per_terminal=0,
    blackouts_per_terminal=0,
    degraded_share=0,
    skipped_per_terminal=0,
    opened_mid_month=0,
    maintenance_windows=2,
    outages_in_maintenance=1,
)


def _terminal(tid: str, carrier: str, region: str, opened: dt.date) -> Terminal:
    return Terminal(
        tid, tid, ip_address("198.18.0.1"), carrier, region, Level.VILLAGE, "basic", in_service_from=opened
    )


def _ns(*args: int) -> int:
    return int(dt.datetime(*args, tzinfo=CST).timestamp()) * 1_000_000_000


def test_example_profile_lists_every_default() -> None:
    assert load_month_profile(EXAMPLE) == MonthProfile()


def test_truth_of_a_hand_placed_plan() -> None:
    """December 2022 (31 days, UTC+8), three terminals; every figure worked out from the calendar:

    * A (telecom, sanya): the first boundary outage, Nov 30 23:30 .. Dec 1 00:45 -> 45 min in the
      month; the telecom maintenance window (window 0 goes to the first carrier), Dec 3 02:00-04:00,
      with an outage inside it that costs nothing;
    * B (unicom, baisha): the second boundary outage, Dec 31 23:20 .. Jan 1 00:20 -> 40 min in the month;
    * C (unicom, lingao), opened Dec 10: the region window (window 1 goes to the second region in sorted
      order: baisha, lingao, sanya), Dec 20 02:00-04:00;
    * every terminal in service on Dec 12 03:00-04:30 is UNKNOWN then (the only vantage's host is down).
    """
    terms = [
        _terminal("A", "telecom", "sanya", dt.date(2020, 1, 1)),
        _terminal("B", "unicom", "baisha", dt.date(2020, 1, 1)),
        _terminal("C", "unicom", "lingao", dt.date(2022, 12, 10)),
    ]
    plan = plan_month(terms, "2022-12", QUIET)
    month_s, c_s = 31 * DAY, 22 * DAY  # C: Dec 10 00:00 to Jan 1 00:00
    expected = {
        "A": {
            "in_service_s": month_s,
            "maintenance_s": 120 * MIN,
            "unknown_s": 90 * MIN,
            "unavailable_s": 45 * MIN,
            "available_s": month_s - 120 * MIN - 90 * MIN - 45 * MIN,
            "high_loss_intervals": 45,
            "outages": [[_ns(2022, 11, 30, 23, 30), _ns(2022, 12, 1, 0, 45), 45 * MIN]],
        },
        "B": {
            "in_service_s": month_s,
            "maintenance_s": 0,
            "unknown_s": 90 * MIN,
            "unavailable_s": 40 * MIN,
            "available_s": month_s - 90 * MIN - 40 * MIN,
            "high_loss_intervals": 40,
            "outages": [[_ns(2022, 12, 31, 23, 20), _ns(2023, 1, 1, 0, 20), 40 * MIN]],
        },
        "C": {
            "in_service_s": c_s,
            "maintenance_s": 120 * MIN,
            "unknown_s": 90 * MIN,
            "unavailable_s": 0,
            "available_s": c_s - 120 * MIN - 90 * MIN,
            "high_loss_intervals": 0,
            "outages": [],
        },
    }
    assert plan.truth["terminals"] == expected
    assert plan.truth["host_outage"] == [_ns(2022, 12, 12, 3, 0), _ns(2022, 12, 12, 4, 30)]
    windows = {(w.start_ns, w.end_ns, tuple(w.carriers), tuple(w.regions)) for w in plan.maintenance}
    assert windows == {
        (_ns(2022, 12, 3, 2, 0), _ns(2022, 12, 3, 4, 0), ("telecom",), ()),
        (_ns(2022, 12, 20, 2, 0), _ns(2022, 12, 20, 4, 0), (), ("lingao",)),
    }
    # the outage placed inside A's maintenance window (two intervals in from each edge)
    (inside,) = [e for e in plan.plans[0].events if plan.start_ns + e[0] * 60 * 10**9 >= _ns(2022, 12, 2)]
    ivl_ns = 60 * 10**9
    assert plan.start_ns + inside[0] * ivl_ns == _ns(2022, 12, 3, 2, 2)
    assert plan.start_ns + inside[1] * ivl_ns == _ns(2022, 12, 3, 3, 58)


def _journal_rows(path: Path) -> tuple[list, list]:
    db = sqlite3.connect(path)
    try:
        samples = db.execute(
            "SELECT s.*, r.terminal, r.kind FROM samples s JOIN series r ON r.id = s.series ORDER BY s.id"
        ).fetchall()
        beats = db.execute("SELECT * FROM heartbeats ORDER BY id").fetchall()
    finally:
        db.close()
    return samples, beats


def test_same_seed_same_journal_other_seed_other_month(tmp_path: Path) -> None:
    """Reproducible down to every stored row; the seed is really used."""
    terms = month_network(4, seed=3)
    profile = dataclasses.replace(MonthProfile(), outages_per_terminal=3.0, degraded_share=0.5, seed=5)
    paths = []
    for name, prof in (("a", profile), ("b", profile), ("c", dataclasses.replace(profile, seed=6))):
        plan = plan_month(terms, "2021-02", prof)
        plan.count = 3 * 24 * 60  # the day before the month and its first two days are enough
        with JournalStore(tmp_path / f"{name}.sqlite") as js:
            write_month(plan, js)
        paths.append(tmp_path / f"{name}.sqlite")
    a, b, c = (_journal_rows(p) for p in paths)
    assert a == b
    assert a[0] and a[1]
    assert a[0] != c[0]


@pytest.mark.parametrize("n", [2, 3, 5, 10, 30, 68, 200])
def test_small_networks_cover_both_carriers_and_several_regions(n: int) -> None:
    terms = month_network(n, seed=2022)
    assert len(terms) == len({t.id for t in terms}) == n
    assert {t.carrier for t in terms} == {"telecom", "unicom"}
    assert len({t.region for t in terms}) >= min(n, 3)
    if n >= 5:
        assert {t.tier for t in terms} == {"premium", "standard", "basic"}
    assert terms[0].group == "province"  # the province venue: its own scheduling group


def test_full_size_networks_are_the_example_network() -> None:
    from slaprobe import sample_network

    assert month_network(1820, seed=1) == sample_network.generate(1820, seed=1)


def test_cli_refuses_a_second_run_and_replaces_on_request(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from slaprobe.cli import cli

    (tmp_path / "p.yaml").write_text("interval_s: 3600\n")
    args = ["lab", "month", "--terminals", "3", "--month", "2022-02", "--profile", str(tmp_path / "p.yaml")]
    args += ["--out", str(tmp_path / "m")]
    runner = CliRunner()
    first = runner.invoke(cli, args)
    assert first.exit_code == 0, first.output
    second = runner.invoke(cli, args)
    assert second.exit_code == 1 and "already exists" in second.output and "--replace" in second.output
    third = runner.invoke(cli, [*args, "--replace"])
    assert third.exit_code == 0 and third.output.splitlines()[-1] == first.output.splitlines()[-1]

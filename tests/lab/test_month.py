"""``lab month``: the example profile is the defaults; plans are deterministic; truth adds up."""

from __future__ import annotations

from pathlib import Path

from slaprobe import sample_network
from slaprobe.lab.month import MonthProfile, load_month_profile, plan_month

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "lab-month.example.yaml"


def test_example_profile_lists_every_default() -> None:
    assert load_month_profile(EXAMPLE) == MonthProfile()


def test_plan_is_deterministic_and_truth_adds_up() -> None:
    terms = sample_network.generate(40, seed=3)
    a, b = plan_month(terms, "2022-12", MonthProfile()), plan_month(terms, "2022-12", MonthProfile())
    assert a.truth == b.truth
    for t in a.truth["terminals"].values():
        parts = t["available_s"] + t["unavailable_s"] + t["unknown_s"] + t["maintenance_s"]
        assert parts == t["in_service_s"] <= 31 * 86_400
        assert t["unavailable_s"] == sum(o[2] for o in t["outages"])
    # the probe-host outage of the only vantage is UNKNOWN time for every terminal in service then
    assert all(
        t["unknown_s"] >= 90 * 60 for t in a.truth["terminals"].values() if t["in_service_s"] == 31 * 86_400
    )

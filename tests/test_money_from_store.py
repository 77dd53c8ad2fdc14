"""The money commands settle what the SLA engine computes from the store, month by month: the figures
must be exactly those of the hand-over file that ``report --availability-out`` writes, identical
whether the samples are read from the journal or from InfluxDB, and equal to figures derived by hand
from the lab month's ground truth and the contract's numbers (so two empty answers cannot agree).

Hand derivation (contract config/contract.example.yaml moved to 2023; the lab month, February 2023):
two premium telecom terminals in service all year, 2 open at year end -> band ``from_open: 0``,
3,400.00 per terminal-month. Q1 gross: 2 x 3 x 3,400 = 20,400.00. Only February is measured (January
and March hold one lookaround day each: below ``min_measured_percent`` 50, unjudged, no deduction).
February availability = available / (available + unavailable) from the lab's truth: T00001 in
[95, 99) -> 20 % of 3,400 = 680.00; T00002 in [99.5, 99.9) -> 5 % = 170.00; no outage longer than 4 h;
the carrier cap is 10 % of February's 6,800.00 = 680.00 < 850.00, so 680.00 is deducted: net 19,720.00.
"""

from __future__ import annotations

import json
from decimal import Decimal
from fractions import Fraction

import pytest
import yaml
from click.testing import CliRunner

from slaprobe.cli import cli
from slaprobe.sla.availability_file import read_availability
from tests.helpers import ROOT


@pytest.fixture(scope="module")
def setup(sla_month, tmp_path_factory):  # type: ignore[no-untyped-def]
    out = tmp_path_factory.mktemp("money")
    contract = out / "contract.yaml"
    text = (ROOT / "config" / "contract.example.yaml").read_text(encoding="utf-8")
    contract.write_text(text.replace("year: 2022", "year: 2023").replace("2022Q", "2023Q"), encoding="utf-8")
    config = out / "slaprobe.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "inventory": str(sla_month.out_dir / "terminals.csv"),
                "state_dir": str(sla_month.journal.parent),
                "influx": {"url": sla_month.influx.url, "database": sla_month.influx.database, "api": "v1"},
                "sla": {
                    "contract": str(contract),
                    "maintenance": str(sla_month.out_dir / "maintenance.yaml"),
                },
            }
        )
    )
    handover = out / "availability.jsonl"
    runner = CliRunner()
    refused = []
    for m in range(1, 13):  # the store holds February (and its edges): empty months need --allow-empty
        args = ["report", "--config", str(config), "--month", f"2023-{m:02d}", "--format", "json",
                "--availability-out", str(handover)]  # fmt: skip
        res = runner.invoke(cli, args)
        if res.exit_code == 1:
            assert "no heartbeats and no samples" in res.stderr, res.output
            refused.append(m)
            res = runner.invoke(cli, [*args, "--allow-empty"])
        assert res.exit_code == 0, res.output
    assert refused == [4, 5, 6, 7, 8, 9, 10, 11, 12], refused
    return config, handover


def _json(*args: str) -> dict:
    res = CliRunner().invoke(cli, [*args, "--format", "json"])
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)  # warnings about unmeasured time go to stderr


def test_evaluation_from_the_store_equals_the_handover(setup) -> None:  # type: ignore[no-untyped-def]
    config, handover = setup
    from_store = _json("report", "--config", str(config), "--year", "2023", "--evaluation")
    from_file = _json(
        "evaluation", "--config", str(config), "--year", "2023", "--availability", str(handover)
    )
    from_influx = _json(
        "report", "--config", str(config), "--year", "2023", "--evaluation", "--store", "influx"
    )
    # the evaluation names where its availability came from; everything else must match
    for doc in (from_store, from_file, from_influx):
        doc.pop("availability_source", None)
    assert from_store == from_file == from_influx
    assert from_store["year"] == 2023


def test_reconcile_from_the_store_equals_the_handover(setup) -> None:  # type: ignore[no-untyped-def]
    config, handover = setup
    args = ("reconcile", "--config", str(config), "--quarter", "2023Q1")
    from_store = _json(*args)
    from_file = _json(*args, "--availability", str(handover))
    for doc in (from_store, from_file):
        doc.pop("availability_source", None)
    assert from_store == from_file
    # April..June hold nothing: settling Q2 says so, from either source, unless told to settle them
    # as unmeasured (then the contract's treatment, 'pay' in the example, bills them on their own line)
    for source in ((), ("--availability", str(handover))):
        q2 = ("reconcile", "--config", str(config), "--quarter", "2023Q2", *source)
        refused = CliRunner().invoke(cli, list(q2))
        assert refused.exit_code == 1 and "2023-04, 2023-05, 2023-06: no availability" in refused.stderr
        settled = _json(*q2, "--allow-empty")
        assert {u["settled_as"] for c in settled["carriers"] for u in c["unmeasured"]} == {"pay"}


def _feb_percent(truth: dict) -> Fraction:
    return Fraction(100 * truth["available_s"], truth["available_s"] + truth["unavailable_s"])


def test_figures_equal_the_ground_truth_and_the_contract(setup, sla_month) -> None:  # type: ignore[no-untyped-def]
    config, handover = setup
    truth = sla_month.plan.truth["terminals"]
    assert sorted(truth) == ["T00001", "T00002"]
    feb = {str(m): v for m, v in read_availability(handover).items()}["2023-02"]
    assert {t: (a.available_s, a.unavailable_s) for t, a in feb.items()} == {
        t: (v["available_s"], v["unavailable_s"]) for t, v in truth.items()
    }
    percent = {t: _feb_percent(v) for t, v in truth.items()}
    assert 95 <= percent["T00001"] < 99 and Fraction(995, 10) <= percent["T00002"] < Fraction(999, 10)
    for store in ("embedded", "influx"):
        doc = _json("reconcile", "--config", str(config), "--quarter", "2023Q1", "--store", store)
        (telecom,) = [c for c in doc["carriers"] if c["carrier"] == "telecom"]
        assert (telecom["gross"], telecom["deducted"], telecom["net"]) == ("20400.00", "680.00", "19720.00")
        assert (doc["gross"], doc["deducted"], doc["net"]) == ("20400.00", "680.00", "19720.00")
        lines = {(d["month"], d["terminal"], d["kind"]): d for d in telecom["deductions"]}
        assert {k: d["amount"] for k, d in lines.items()} == {
            ("2023-02", "T00001", "availability"): "680.00",
            ("2023-02", "T00002", "availability"): "170.00",
            ("2023-02", None, "carrier_cap"): "-170.00",
        }
        for tid in truth:
            shown = Decimal(lines[("2023-02", tid, "availability")]["availability_percent"])
            assert abs(Fraction(shown) - percent[tid]) < Fraction(1, 10**6)


def test_reconcile_maintenance_option(setup, tmp_path) -> None:  # type: ignore[no-untyped-def]
    # all of February announced as maintenance for T00001: its month counts nothing, so its 680.00
    # availability deduction goes; T00002's 170.00 stays (under the 10 % cap of 6,800.00 = 680.00):
    # net = 20,400.00 - 170.00 = 20,230.00
    config, handover = setup
    windows = tmp_path / "feb.yaml"
    window = {"start": "2023-02-01 00:00", "end": "2023-03-01 00:00", "terminals": ["T00001"], "reason": "x"}
    windows.write_text(yaml.safe_dump({"windows": [window]}))
    args = ("reconcile", "--config", str(config), "--quarter", "2023Q1", "--settlements", str(tmp_path / "s"))
    doc = _json(*args, "--maintenance", str(windows))
    assert (doc["gross"], doc["deducted"], doc["net"]) == ("20400.00", "170.00", "20230.00")
    res = CliRunner().invoke(cli, [*args, "--maintenance", str(windows), "--availability", str(handover)])
    assert res.exit_code == 2 and "already holds the maintenance" in res.output


def test_report_year_needs_evaluation_semantics() -> None:
    res = CliRunner().invoke(cli, ["report", "--year", "2023", "--month", "2023-01", "--evaluation"])
    assert res.exit_code == 2 and "--evaluation takes --year" in res.output
    res = CliRunner().invoke(cli, ["report"])
    assert res.exit_code == 2 and "--month" in res.output

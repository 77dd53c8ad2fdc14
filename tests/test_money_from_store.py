"""The money commands settle what the SLA engine computes from the store, month by month: the figures
must be exactly those of the hand-over file that ``report --availability-out`` writes, and identical
whether the samples are read from the journal or from InfluxDB."""

from __future__ import annotations

import json

import pytest
import yaml
from click.testing import CliRunner

from slaprobe.cli import cli
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
                "sla": {"contract": str(contract)},
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


def test_report_year_needs_evaluation_semantics() -> None:
    res = CliRunner().invoke(cli, ["report", "--year", "2023", "--month", "2023-01", "--evaluation"])
    assert res.exit_code == 2 and "--evaluation takes --year" in res.output
    res = CliRunner().invoke(cli, ["report"])
    assert res.exit_code == 2 and "--month" in res.output

"""`slaprobe reconcile` and `slaprobe evaluation` end to end: files in, rendered settlement out."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from slaprobe.cli import cli
from slaprobe.sla.availability_file import write_availability
from tests.sla.money_data import SMALL
from tests.sla.test_reconcile import BAD_Q1, GOOD_Q1, PAYMENTS, TERMINALS, scenario


@pytest.fixture
def files(tmp_path: Path) -> dict[str, str]:
    rows = []
    for t in TERMINALS:
        row = {"id": t.id, "address": str(t.address), "carrier": t.carrier, "region": t.region}
        row |= {"level": t.level.value, "tier": t.tier, "in_service_from": t.in_service_from.isoformat()}
        if t.in_service_to:
            row["in_service_to"] = t.in_service_to.isoformat()
        rows.append(row)
    out = {
        k: str(tmp_path / n) for k, n in [("inv", "inv.yaml"), ("contract", "c.yaml"), ("avail", "a.jsonl")]
    }
    Path(out["inv"]).write_text(yaml.safe_dump({"tiers": ["gold", "basic"], "terminals": rows}))
    Path(out["contract"]).write_text(yaml.safe_dump({**SMALL, "payments": PAYMENTS}))
    write_availability(out["avail"], scenario())
    for name, text in (("good", GOOD_Q1), ("bad", BAD_Q1)):
        out[name] = str(tmp_path / f"{name}.csv")
        Path(out[name]).write_text(text)
    return out


def _run(files: dict[str, str], *args: str) -> tuple[int, str]:
    """Exit code and stdout (stderr too when the command failed: that is where errors go)."""
    base = ["--contract", files["contract"], "--inventory", files["inv"], "--availability", files["avail"]]
    result = CliRunner().invoke(cli, [*args, *base])
    return result.exit_code, result.stdout if result.exit_code == 0 else result.output


def test_reconcile_quarter_json(files: dict[str, str]) -> None:
    code, out = _run(files, "reconcile", "--quarter", "2022Q1", "--format", "json")
    assert code == 0, out
    data = json.loads(out)
    assert (data["period"], data["net"], data["paid_to_date"], data["balance_due"]) == (
        "2022Q1",
        "18456.50",
        "10000.00",
        "8456.50",
    )


def test_reconcile_year_table(files: dict[str, str]) -> None:
    # April..December hold no measurement at all: settling them needs --allow-empty (then the
    # contract's default treatment 'pay' bills them in full, on the statement's unmeasured line).
    code, out = _run(files, "reconcile", "--year", "2022", "--lang", "en")
    assert code == 1
    assert "2022-04, 2022-05, 2022-06, 2022-07, 2022-08, 2022-09, 2022-10, 2022-11, 2022-12: no " in out
    assert "--allow-empty" in out
    code, out = _run(files, "reconcile", "--year", "2022", "--lang", "en", "--allow-empty")
    assert code == 0, out
    assert "Reconciliation 2022" in out and "54826.50" in out  # 80826.50 - 26000.00


def test_reconcile_with_invoices(files: dict[str, str]) -> None:
    code, out = _run(files, "reconcile", "--quarter", "2022Q1", "--invoice", files["good"], "--lang", "en")
    assert code == 0 and "no discrepancy" in out
    code, out = _run(files, "reconcile", "--quarter", "2022Q1", "--invoice", files["bad"], "--format", "json")
    assert code == 0
    kinds = {d["kind"] for d in json.loads(out)["discrepancies"]}
    assert {"not_in_inventory", "billed_before_opening", "duplicate", "count_mismatch"} <= kinds


def test_evaluation(files: dict[str, str]) -> None:
    code, out = _run(files, "evaluation", "--year", "2022", "--format", "json")
    assert code == 0, out
    data = json.loads(out)
    assert data["open_terminals"]["total"] == 9  # T06 in, T10 retired on 2022-03-10
    assert data["months"][0] == "2022-01" and len(data["months"]) == 12


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("reconcile", "--quarter", "2022Q1", "--year", "2022"), "exactly one of --quarter, --year, --month"),
        (("reconcile", "--quarter", "2022Q9"), "not a period"),
        (("reconcile", "--quarter", "2023Q1"), "outside the contract year 2022"),
        (("evaluation", "--year", "2021"), "is for 2022, not 2021"),
    ],
)
def test_usage_errors(files: dict[str, str], args: tuple[str, ...], message: str) -> None:
    code, out = _run(files, *args)
    assert code == 2 and message in out


def test_bad_contract_names_file_and_key(files: dict[str, str]) -> None:
    text = Path(files["contract"]).read_text().replace("price: '310.00'", "price: 310.5")
    Path(files["contract"]).write_text(text)
    code, out = _run(files, "reconcile", "--year", "2022")
    assert code == 2
    assert (
        f"{files['contract']}: tiers.basic.monthly_price[0].price: money must be written as a string" in out
    )

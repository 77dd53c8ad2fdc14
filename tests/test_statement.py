"""``reconcile --settle``: a statement records every input's sha256 and the figures; editing the
inventory afterwards is reported as drift (exit 3) naming the input and the figures, never a new figure."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from click.testing import CliRunner

from slaprobe.cli import cli
from tests.test_settle import files  # noqa: F401  (the fixture: contract, inventory, hand-over file)


def _run(files: dict[str, str], settlements: Path, *args: str):  # type: ignore[no-untyped-def]  # noqa: F811
    base = ["--contract", files["contract"], "--inventory", files["inv"], "--availability", files["avail"],
            "--settlements", str(settlements), "--quarter", "2022Q1", "--format", "json"]  # fmt: skip
    return CliRunner().invoke(cli, ["reconcile", *base, *args])


def test_settled_statement_detects_an_edited_inventory(files: dict[str, str], tmp_path: Path) -> None:  # noqa: F811
    settlements = tmp_path / "settled"
    res = _run(files, settlements, "--settle", "--by", "finance officer")
    assert res.exit_code == 0, res.output
    statement = json.loads((settlements / "2022Q1.json").read_text(encoding="utf-8"))
    digest = hashlib.sha256(Path(files["inv"]).read_bytes()).hexdigest()
    assert statement["inputs"]["inventory"] == {"source": files["inv"], "sha256": digest}
    assert set(statement["inputs"]) == {"contract", "inventory", "availability"}
    assert statement["settled_by"] == "finance officer" and statement["tool_version"]
    assert statement["figures"]["net"] == "18456.50"  # tests/sla/test_reconcile.py's Q1, by hand

    again = _run(files, settlements)  # same inputs: same figure, exit 0
    assert again.exit_code == 0 and json.loads(again.stdout)["net"] == "18456.50"

    # T06 opened 2022-02-15; say 2022-03-01 instead: February's month-end count falls from 10 to 9, so
    # gold is back in the 1,000 band: 5 x 1000 = 5000 instead of 5 x 900 + 900 x 14/28 = 4950 -> +50
    inv = Path(files["inv"])
    inv.write_text(inv.read_text().replace("2022-02-15", "2022-03-01"))
    drifted = _run(files, settlements)
    assert drifted.exit_code == 3
    assert "2022Q1 was settled by finance officer" in drifted.stderr
    assert f"input inventory changed: {files['inv']}" in drifted.stderr
    assert "figure gross: settled 19460.00, now 19510.00" in drifted.stderr
    assert drifted.stdout == ""  # no new figure
    assert "input contract" not in drifted.stderr


def test_a_later_period_refuses_to_absorb_a_changed_settled_quarter(
    files: dict[str, str],  # noqa: F811
    tmp_path: Path,
) -> None:
    settlements = tmp_path / "settled"
    assert _run(files, settlements, "--settle").exit_code == 0  # 2022Q1
    inv = Path(files["inv"])
    inv.write_text(inv.read_text().replace("2022-02-15", "2022-03-01"))  # moves Q1's gross by +50 (above)
    args = ["--contract", files["contract"], "--inventory", files["inv"], "--availability", files["avail"],
            "--settlements", str(settlements), "--quarter", "2022Q2", "--allow-empty"]  # fmt: skip
    res = CliRunner().invoke(cli, ["reconcile", *args])
    assert res.exit_code == 3
    assert "2022Q1, settled by" in res.stderr and "2022Q2 builds on it" in res.stderr
    assert "figure gross: settled 19460.00, now 19510.00" in res.stderr

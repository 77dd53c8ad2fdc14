"""``report`` / ``samples`` as a reader: never writes the journal, refuses damaged ones and nonsense
selections with exit 2 and a message naming the file or option (issue #11)."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from slaprobe.cli import cli
from slaprobe.inventory import write_csv
from slaprobe.store.journal import JournalStore
from slaprobe.store.retention import NOTE_PRUNED
from tests.sla.scenario import build, terminal

TERMINALS = [terminal("T1"), terminal("T2", carrier="unicom", region="sanya")]


def _setup(tmp_path: Path) -> tuple[Path, Path]:
    store = build({"T1": {"v1": [(600, "x" * 10)]}, "T2": {"v1": []}})
    journal = tmp_path / "journal.sqlite"
    with JournalStore(journal) as j:
        j.write_samples(list(store.samples(0, 2**62)))
        j.write_heartbeats(list(store.heartbeats(0, 2**62)))
    write_csv(TERMINALS, tmp_path / "inv.csv")  # the inventory writer the project has
    cfg = {"state_dir": str(tmp_path), "inventory": str(tmp_path / "inv.csv"), "vantage": "v1"}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg))
    return tmp_path / "c.yaml", journal


def _report(config: Path, *args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(cli, ["report", "--config", str(config), "--allow-empty", *args])


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_healthy_report_leaves_the_journal_byte_identical(tmp_path: Path) -> None:
    config, journal = _setup(tmp_path)
    before = _digest(journal)
    result = _report(config, "--month", "2022-12", "--format", "json")
    assert result.exit_code == 0, result.output
    assert _digest(journal) == before


def _zero_bytes(journal: Path) -> None:
    journal.write_bytes(b"")


def _no_meta_row(journal: Path) -> None:
    import sqlite3

    db = sqlite3.connect(journal)
    db.execute("DELETE FROM meta")
    db.commit()
    db.close()


def _dropped_table(journal: Path) -> None:
    import sqlite3

    db = sqlite3.connect(journal)
    db.execute("DROP TABLE heartbeats")
    db.commit()
    db.close()


def _truncated(journal: Path) -> None:
    data = journal.read_bytes()
    journal.write_bytes(data[: len(data) // 2])


def _garbage(journal: Path) -> None:
    journal.write_bytes(b"this is a spreadsheet, not a journal\n" * 200)


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (_zero_bytes, "not a slaprobe journal"),
        (_no_meta_row, "journal schema version none"),
        (_dropped_table, "cannot read the journal"),
        (_truncated, "journal"),
        (_garbage, "not a slaprobe journal"),
    ],
)
def test_a_damaged_journal_is_refused_and_left_as_it_was(tmp_path: Path, damage, message: str) -> None:  # type: ignore[no-untyped-def]
    config, journal = _setup(tmp_path)
    damage(journal)
    for side in ("-wal", "-shm"):
        Path(f"{journal}{side}").unlink(missing_ok=True)
    shutil.copy(journal, tmp_path / "before")
    result = _report(config, "--month", "2022-12")
    assert result.exit_code == 2, result.output
    assert str(journal) in result.output and message in result.output
    assert "Traceback" not in result.output
    assert journal.read_bytes() == (tmp_path / "before").read_bytes()  # nothing rewritten, nothing created


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--month", "2999-12"], "--month '2999-12': the year must be 1971..2200"),
        (
            ["--month", "2022-12", "--carrier", "mobile"],
            "--carrier 'mobile': no terminal of the inventory has it (known: telecom, unicom)",
        ),
        (
            ["--month", "2022-12", "--region", "atlantis"],
            "--region 'atlantis': no terminal of the inventory has it (known: haikou, sanya)",
        ),
    ],
)
def test_nonsense_selections_exit_2_naming_the_option(tmp_path: Path, args: list[str], message: str) -> None:
    config, _ = _setup(tmp_path)
    result = _report(config, *args)
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output


def test_reconcile_refuses_a_year_past_2200(tmp_path: Path) -> None:
    config, _ = _setup(tmp_path)
    result = CliRunner().invoke(cli, ["reconcile", "--config", str(config), "--month", "2999-12"])
    assert result.exit_code == 2 and "year must be 1971..2200" in result.output


def test_samples_table_shows_time_and_vantage(tmp_path: Path) -> None:
    config, _ = _setup(tmp_path)
    result = CliRunner().invoke(
        cli, ["samples", "--config", str(config), "--terminal", "T1", "--since", "2022-12-05T10:00:00Z",
              "--until", "2022-12-05T10:02:00Z"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    header, first, *_ = result.output.splitlines()
    assert header.split()[:4] == ["time", "(UTC)", "terminal", "vantage"]
    assert first.split()[1:3] == ["T1", "v1"] and first.startswith("2022-12-05T")


def test_a_report_over_days_pruned_by_retention_is_refused(tmp_path: Path) -> None:
    """Without the pruned problem rows every interval would read as available: refuse, name the days."""
    config, journal = _setup(tmp_path)
    record = {"first_day": "2022-11-20", "last_day": "2022-12-02", "samples": 9, "at_ns": 0}
    with JournalStore(journal) as j:
        j.set_note(NOTE_PRUNED, json.dumps([record]))
    result = _report(config, "--month", "2022-12", "--format", "json")
    assert result.exit_code == 2, result.output
    assert "UTC days 2022-11-20 .. 2022-12-02 were pruned" in result.output
    assert "2022-12 cannot be re-judged" in result.output
    html = _report(config, "--month", "2022-12", "--format", "html", "--out", str(tmp_path / "r.html"))
    assert html.exit_code == 2 and "were pruned" in html.output, html.output
    assert _report(config, "--month", "2023-01", "--format", "json").exit_code == 0  # untouched month


def test_report_json_is_byte_identical_before_and_after_store_compact(few_days, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The CLI path: the same month from the journal, then from journal + columnar tier after
    `slaprobe store compact` moved three of its four UTC days (README "Storage")."""
    from slaprobe.store.columnar import Tier

    journal = few_days.copy(tmp_path)
    args = ["--journal", str(journal), "--inventory", str(few_days.out_dir / "terminals.csv")]
    args += ["--month", "2023-02", "--format", "json", "--allow-empty"]
    before = CliRunner().invoke(cli, ["report", *args])
    assert before.exit_code == 0, before.output
    assert not (tmp_path / "columnar").exists()  # a report creates nothing beside a journal-only store
    moved = CliRunner().invoke(cli, ["store", "compact", "--journal", str(journal), "--before", "2023-02-02"])
    assert moved.exit_code == 0 and "compacted 3 UTC days" in moved.output, moved.output
    after = CliRunner().invoke(cli, ["report", *args])
    assert after.exit_code == 0, after.output
    assert after.output == before.output and '"outages"' in after.output
    assert Tier(tmp_path / "columnar").reported() == ["2023-02"]

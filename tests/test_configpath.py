"""The config search path: --config / $SLAPROBE_CONFIG win, else ./slaprobe.yaml, ./demo-state/slaprobe.yaml,
/etc/slaprobe/slaprobe.yaml; the file found is named on stderr; SLAPROBE_CONFIG_SEARCH=0 turns it off."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from slaprobe.cli import cli
from slaprobe.configpath import find_config


@pytest.mark.parametrize(
    ("present", "expected"),
    [
        ((), None),
        (("demo-state/slaprobe.yaml",), "demo-state/slaprobe.yaml"),
        (("slaprobe.yaml", "demo-state/slaprobe.yaml"), "slaprobe.yaml"),
    ],
)
def test_first_existing_file_wins(tmp_path: Path, monkeypatch, present, expected) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SLAPROBE_CONFIG_SEARCH", "1")
    for name in present:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("{}\n")
    search = (Path("slaprobe.yaml"), Path("demo-state") / "slaprobe.yaml")
    assert find_config(search) == (Path(expected) if expected else None)


def test_search_can_be_turned_off(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "slaprobe.yaml").write_text("{}\n")
    monkeypatch.setenv("SLAPROBE_CONFIG_SEARCH", "0")
    assert find_config((Path("slaprobe.yaml"),)) is None


def _demo_like(tmp_path: Path, journal: str) -> None:
    (tmp_path / "demo-state").mkdir()
    (tmp_path / "demo-state" / "slaprobe.yaml").write_text(
        yaml.safe_dump({"state_dir": str(tmp_path / "state"), "store": {"journal": journal}})
    )


def test_status_finds_the_demo_config_and_says_so(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SLAPROBE_CONFIG_SEARCH", "1")
    monkeypatch.delenv("SLAPROBE_CONFIG", raising=False)
    _demo_like(tmp_path, "nothing-here.sqlite")
    result = CliRunner().invoke(cli, ["status"])
    # the journal named by the found config does not exist: the error names it, so the config was used
    assert result.exit_code == 2
    assert "demo-state/slaprobe.yaml (found on the search path" in result.output
    assert "nothing-here.sqlite" in result.output


def test_status_takes_a_journal(tmp_path: Path, monkeypatch) -> None:
    from slaprobe.store.journal import JournalStore

    monkeypatch.chdir(tmp_path)
    JournalStore(tmp_path / "j.sqlite").close()
    result = CliRunner().invoke(cli, ["status", "--journal", str(tmp_path / "j.sqlite"), "--json"])
    assert result.exit_code == 0, result.output
    assert '"journal": "' + str(tmp_path / "j.sqlite") in result.output

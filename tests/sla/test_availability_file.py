"""The monthly availability hand-over file: exact round trip, empty months kept, bad lines named."""

from __future__ import annotations

from pathlib import Path

import pytest

from slaprobe.configload import ConfigError
from slaprobe.sla.availability_file import read_availability, write_availability
from slaprobe.sla.periods import Month
from tests.sla.test_reconcile import scenario


def test_round_trip(tmp_path: Path) -> None:
    data = scenario()  # Q1 filled (with outages), Apr..Dec computed but empty
    f = tmp_path / "a.jsonl"
    write_availability(f, data)
    back = read_availability(f)
    assert back == data
    assert back[Month(2022, 7)] == {}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"month": "2022-13"}\n', "line 1: ValueError"),
        ('{"terminal": "T1"}\n', "line 1: KeyError"),
        ("not json\n", "line 1: JSONDecodeError"),
        ('{"month": "2022-01"}\n{"month": "2022-01", "terminal": "T1", "available_s": 1.5}\n', "line 2"),
    ],
)
def test_bad_lines(tmp_path: Path, text: str, message: str) -> None:
    f = tmp_path / "a.jsonl"
    f.write_text(text)
    with pytest.raises(ConfigError) as info:
        read_availability(f)
    assert message in str(info.value) and str(f) in str(info.value)


def test_duplicate_terminal_month(tmp_path: Path) -> None:
    f = tmp_path / "a.jsonl"
    write_availability(f, scenario())
    lines = f.read_text().splitlines()
    f.write_text("\n".join([*lines, lines[0]]) + "\n")
    with pytest.raises(ConfigError, match="appears twice for 2022-01"):
        read_availability(f)

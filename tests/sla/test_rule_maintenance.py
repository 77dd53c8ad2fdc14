"""Rule presets and validation; maintenance files (parsing, errors, which terminals, which intervals)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from slaprobe.model import ProbeKind
from slaprobe.sla.maintenance import MaintenanceError, load_maintenance, maintenance_mask, parse_windows
from slaprobe.sla.rule import PRESETS, RuleError, rule_from
from tests.sla.scenario import terminal

TZ = ZoneInfo("Asia/Shanghai")


def test_presets() -> None:
    assert [(r.interval_s, r.threshold, r.consecutive) for r in PRESETS.values()] == [
        (60, 0.75, 5),
        (300, 0.75, 1),
        (60, 1.0, 1),
    ]
    assert rule_from() is PRESETS["mef10.3"]
    custom = rule_from("mef10.3", consecutive=3, kinds=["icmp"])
    assert (custom.name, custom.consecutive, custom.kinds) == ("mef10.3+custom", 3, (ProbeKind.ICMP,))
    assert "n = 3" in custom.describe() and custom.to_dict()["kinds"] == ["icmp"]


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"interval_s": 7}, "interval_s = 7"),
        ({"threshold": 1.5}, "threshold = 1.5"),
        ({"consecutive": 0}, "consecutive = 0"),
        ({"quorum": 1.0}, "quorum = 1.0"),
        ({"bogus": 1}, "unknown key 'bogus'"),
        ({"kinds": ["ping"]}, "kinds"),
    ],
)
def test_rule_errors_name_the_key(kwargs: dict, needle: str) -> None:
    with pytest.raises(RuleError, match=needle):
        rule_from("mef10.3", **kwargs)


def test_unknown_preset() -> None:
    with pytest.raises(RuleError, match=r"'mef'.*mef10.3, strict, y1540"):
        rule_from("mef")


def test_maintenance_file(tmp_path: Path) -> None:
    f = tmp_path / "m.yaml"
    f.write_text(
        "windows:\n"
        "  - {start: '2022-12-10 02:00', end: '2022-12-10 04:00', carriers: [telecom], reason: core}\n"
        "  - {start: '2022-12-11T00:00:00+00:00', end: '2022-12-11T00:30:00+00:00', terminals: [T7]}\n"
    )
    w1, w2 = load_maintenance(f, TZ)
    assert w1.start_ns == int(dt.datetime(2022, 12, 10, 2, tzinfo=TZ).timestamp()) * 10**9
    assert w1.applies_to(terminal("T1", carrier="telecom")) and not w1.applies_to(
        terminal("T1", carrier="unicom")
    )
    assert w2.start_ns == int(dt.datetime(2022, 12, 11, tzinfo=dt.UTC).timestamp()) * 10**9
    assert w2.applies_to(terminal("T7")) and not w2.applies_to(terminal("T8"))


def test_maintenance_overlap_marks_partial_intervals() -> None:
    (w,) = parse_windows(
        {"windows": [{"start": "2022-12-10 02:00:30", "end": "2022-12-10 02:02:00", "all": True}]}, TZ
    )
    start = int(dt.datetime(2022, 12, 10, 2, tzinfo=TZ).timestamp()) * 10**9
    mask = maintenance_mask([w], terminal(), start, 60 * 10**9, 4)
    assert mask.tolist() == [True, True, False, False]  # 02:00 (touched) and 02:01; 02:02 is after the end
    assert not np.any(maintenance_mask([w], terminal(), start + 10 * 60 * 10**9, 60 * 10**9, 4))


@pytest.mark.parametrize(
    ("entry", "needle"),
    [
        (
            {"start": "2022-12-10 02:00", "end": "2022-12-10 01:00", "all": True},
            r"windows\[0\]: end must be after",
        ),
        ({"start": "2022-12-10 02:00", "end": "2022-12-10 03:00"}, r"windows\[0\]: names no terminals"),
        ({"start": "yesterday", "end": "2022-12-10 03:00", "all": True}, r"windows\[0\].start: 'yesterday'"),
        ({"end": "2022-12-10 03:00", "all": True}, r"windows\[0\]: 'start' is required"),
        ({"start": "2022-12-10", "end": "2022-12-11", "sites": 1}, r"windows\[0\]: unknown key\(s\) sites"),
    ],
)
def test_maintenance_errors_name_entry_and_key(entry: dict, needle: str) -> None:
    with pytest.raises(MaintenanceError, match=f"m.yaml: {needle}"):
        parse_windows({"windows": [entry]}, TZ, "m.yaml")

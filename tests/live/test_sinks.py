"""The built-in sinks: one JSON line per event, failures counted and logged (never raised), bad lines
named by file and line when read back."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from slaprobe.live.events import EventKind, LiveEvent
from slaprobe.live.sinks import JsonLinesSink, LogSink, read_events

NS = 1_000_000_000
EVENT = LiveEvent(
    EventKind.TERMINAL_OUTAGE, True, "T1", "v1", 1_670_198_400 * NS, labels={"t": "T1"}, summary="T1 down"
)


def test_json_lines_round_trip(tmp_path: Path) -> None:
    sink = JsonLinesSink(tmp_path / "ev.jsonl")
    sink.publish([EVENT])
    sink.publish([LiveEvent(EventKind.PROBE_HOST, False, "v1", "v1", 0, end_ns=60 * NS)])
    rows = read_events(tmp_path / "ev.jsonl")
    assert [(r["kind"], r["status"], r["key"]) for r in rows] == [
        ("terminal_outage", "firing", "T1"),
        ("probe_host", "resolved", "v1"),
    ]
    assert rows[0]["start"] == "2022-12-05T00:00:00Z" and rows[0]["end"] is None
    assert rows[1]["end_ns"] == 60 * NS and sink.written == 2


def test_an_unwritable_file_is_counted_and_logged(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    sink = JsonLinesSink(tmp_path / "missing-dir" / "ev.jsonl")
    with caplog.at_level(logging.ERROR):
        sink.publish([EVENT, EVENT])  # must not raise
    assert sink.failed == 2 and sink.written == 0
    assert "missing-dir/ev.jsonl" in caplog.text and "2 event(s) not written" in caplog.text


def test_log_sink_writes_one_info_line_per_event(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="slaprobe.live"):
        LogSink().publish([EVENT, EVENT])
    lines = [r for r in caplog.records if r.name == "slaprobe.live"]
    assert len(lines) == 2 and all(r.levelno == logging.INFO for r in lines)
    assert "terminal_outage firing: T1 down" in lines[0].getMessage()


def test_a_bad_line_is_named(tmp_path: Path) -> None:
    p = tmp_path / "ev.jsonl"
    p.write_text('{"kind": "probe_host"}\nnot json\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"ev.jsonl:2: not a JSON event line"):
        read_events(p)

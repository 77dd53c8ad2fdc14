"""Sample renderers: every figure printed comes from the Sample; "not measured" never prints as loss."""

from __future__ import annotations

import json

from slaprobe.model import Outcome, ProbeKind, Sample
from slaprobe.report.samples import render_samples_json, render_samples_table, sample_records

T0 = 1_700_000_000_123_456_789  # 2023-11-14T22:13:20.123456789Z

MEASURED = Sample(
    time_ns=T0,
    terminal="T0001",
    vantage="probe-a",
    kind=ProbeKind.ICMP,
    sent=5,
    received=3,
    late=1,
    rtt_min_ms=1.25,
    rtt_avg_ms=2.5,
    rtt_max_ms=4.0,
    rtt_p50_ms=2.25,
    jitter_ms=0.125,
    pdv_ms=2.75,
    error=Outcome.PARTIAL,
)
NOT_SENT = Sample(time_ns=T0, terminal="T0002", vantage="probe-a", kind=ProbeKind.ICMP, sent=0, received=0,
                  error=Outcome.SEND_ERROR)  # fmt: skip


def test_records_carry_every_field_loss_time_and_address() -> None:
    recs = sample_records([MEASURED, NOT_SENT], {"T0001": "198.18.0.1"})
    assert recs[0]["address"] == "198.18.0.1" and "address" not in recs[1]
    assert recs[0]["loss"] == 0.4  # 1 - 3/5
    assert recs[1]["loss"] is None  # not measured is not 100 % loss
    assert recs[0]["time"] == "2023-11-14T22:13:20.123456Z"
    assert recs[0]["kind"] == "icmp" and recs[1]["error"] == "send_error"
    assert {k: recs[0][k] for k in ("sent", "received", "late", "rtt_p50_ms")} == {
        "sent": 5, "received": 3, "late": 1, "rtt_p50_ms": 2.25,
    }  # fmt: skip


def test_json_round_trips_to_the_same_samples() -> None:
    data = json.loads(render_samples_json([MEASURED, NOT_SENT]))
    for rec, sample in zip(data, (MEASURED, NOT_SENT), strict=True):
        fields = {k: v for k, v in rec.items() if k not in ("loss", "time", "address")}
        assert Sample.from_dict(fields) == sample


def test_table_rows() -> None:
    lines = render_samples_table([MEASURED, NOT_SENT], {"T0001": "198.18.0.1"}, show_time=True).splitlines()
    assert lines[0].split() == [
        "time", "(UTC)", "terminal", "address", "kind", "sent", "recv", "loss%", "min", "ms", "avg", "ms",
        "max", "ms", "p50", "ms", "jitter", "ms", "pdv", "ms", "dup", "late", "result",
    ]  # fmt: skip
    assert lines[1].split() == [
        "2023-11-14T22:13:20.123456Z", "T0001", "198.18.0.1", "icmp", "5", "3", "40.0",
        "1.250", "2.500", "4.000", "2.250", "0.125", "2.750", "0", "1", "partial",
    ]  # fmt: skip
    assert lines[2].split()[2:] == [
        "-",
        "icmp",
        "0",
        "0",
        "-",
        "-",
        "-",
        "-",
        "-",
        "-",
        "-",
        "0",
        "0",
        "send_error",
    ]

"""Line-protocol encoding: expected lines are written out by hand from the line-protocol rules.

The real server's reading of the same escapes is checked in test_influx.py (round trip through influxd).
"""

from __future__ import annotations

import math

import pytest

from slaprobe.model import Heartbeat, Outcome, ProbeKind, Sample
from slaprobe.store.lineproto import (
    LineProtocolError,
    encode_fields,
    heartbeat_line,
    sample_line,
    series_key,
)

TAGS = {"carrier": "telecom", "region": "hz", "level": "city", "tier": "standard"}


def test_full_sample_line_field_types_and_ms_timestamp():
    s = Sample(
        time_ns=1_700_000_000_123_456_789,
        terminal="T-001",
        vantage="probe-1",
        kind=ProbeKind.ICMP_JITTER,
        sent=20,
        received=17,
        duplicates=1,
        late=2,
        rtt_min_ms=1,  # an int in a float field must still be written as a float
        rtt_avg_ms=2.5,
        jitter_ms=1e-05,
        max_loss_burst=3,
        error=Outcome.PARTIAL,
    )
    assert sample_line(s, TAGS) == (
        "icmp_jitter,carrier=telecom,level=city,region=hz,terminal=T-001,tier=standard,vantage=probe-1 "
        "sent=20i,received=17i,lost=3i,duplicates=1i,reordered=0i,late=2i,max_loss_burst=3i,"
        'rtt_min_ms=1.0,rtt_avg_ms=2.5,jitter_ms=1e-05,error="partial" 1700000000123'
    )


def test_not_sent_sample_has_zero_lost_and_no_rtt_fields():
    s = Sample(1_000_000, "t", "v", ProbeKind.ICMP, sent=0, received=0, error=Outcome.NOT_SCHEDULED)
    assert sample_line(s, {}) == (
        "icmp,terminal=t,vantage=v sent=0i,received=0i,lost=0i,duplicates=0i,reordered=0i,late=0i,"
        'max_loss_burst=0i,error="not_scheduled" 1'
    )


def test_tag_escaping_of_space_comma_equals_and_empty_tags_left_out():
    key = series_key("icmp", [("terminal", "a b,c=d"), ("region", "杭州"), ("tier", ""), ("level", None)])
    assert key == "icmp,region=杭州,terminal=a\\ b\\,c\\=d"


def test_measurement_escaping():
    assert series_key("my m,x", []) == "my\\ m\\,x"


def test_string_field_escaping_quote_and_backslash():
    assert encode_fields({"error": 'a"b\\c'}, {"error": "s"}) == 'error="a\\"b\\\\c"'


@pytest.mark.parametrize("value", ["a\\b", "trailing\\"])
def test_backslash_in_tag_is_refused_with_the_tag_named(value):
    with pytest.raises(LineProtocolError, match="tag terminal"):
        series_key("icmp", [("terminal", value)])


def test_newline_in_tag_or_string_field_is_refused():
    with pytest.raises(LineProtocolError, match="region"):
        series_key("icmp", [("region", "a\nb")])
    with pytest.raises(LineProtocolError, match="error"):
        encode_fields({"error": "x\ny"}, {"error": "s"})


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_non_finite_float_is_refused(value):
    with pytest.raises(LineProtocolError, match="rtt_avg_ms"):
        encode_fields({"rtt_avg_ms": value}, {"rtt_avg_ms": "f"})


def test_point_without_fields_is_refused():
    with pytest.raises(LineProtocolError, match="at least one field"):
        encode_fields({"mos": None}, {"mos": "f"})


def test_heartbeat_line_group_tag_and_field_types():
    hb = Heartbeat(
        time_ns=1_700_000_060_000_000_000,
        vantage="probe-2",
        group="province",
        interval_s=60,
        due=10,
        probed=9,
        late=1,
        skipped=1,
        duration_s=12.25,
        reference_ok=2,
        reference_total=2,
    )
    assert heartbeat_line(hb) == (
        "heartbeat,group=province,vantage=probe-2 interval_s=60.0,due=10i,probed=9i,late=1i,skipped=1i,"
        "duration_s=12.25,reference_ok=2i,reference_total=2i 1700000060000"
    )

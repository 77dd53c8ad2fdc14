"""Line-protocol encoding: expected lines are written out by hand from the line-protocol rules.

The real server's reading of the same escapes is checked in test_influx.py (round trip through influxd).
"""

from __future__ import annotations

import math
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from slaprobe.model import Heartbeat, Outcome, ProbeKind, Sample
from slaprobe.store.journal import STORED_COLUMNS, ZERO_IF_NULL, JournalStore
from slaprobe.store.lineproto import (
    SAMPLE_FIELDS,
    LineProtocolError,
    encode_fields,
    heartbeat_line,
    sample_line,
    series_key,
    stored_fields_encoder,
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
        "sent=20i,received=17i,lost=3i,duplicates=1i,reordered=0i,late=2i,max_loss_burst=3i,malformed=0i,"
        'rtt_min_ms=1.0,rtt_avg_ms=2.5,jitter_ms=1e-05,error="partial" 1700000000123'
    )


def test_not_sent_sample_has_zero_lost_and_no_rtt_fields():
    s = Sample(1_000_000, "t", "v", ProbeKind.ICMP, sent=0, received=0, error=Outcome.NOT_SCHEDULED)
    assert sample_line(s, {}) == (
        "icmp,terminal=t,vantage=v sent=0i,received=0i,lost=0i,duplicates=0i,reordered=0i,late=0i,"
        'max_loss_burst=0i,malformed=0i,error="not_scheduled" 1'
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
        group="province/icmp",
        interval_s=60,
        due=10,
        probed=9,
        late=1,
        skipped=1,
        duration_s=12.25,
        reference_ok=2,
        reference_total=2,
        unstored=3,
    )
    assert heartbeat_line(hb) == (
        "heartbeat,group=province/icmp,vantage=probe-2 interval_s=60.0,due=10i,probed=9i,late=1i,skipped=1i,"
        "duration_s=12.25,reference_ok=2i,reference_total=2i,unstored=3i 1700000060000"
    )


_floats = st.none() | st.floats(min_value=-1e6, max_value=1e9, allow_nan=False, allow_infinity=False)
_counts = st.integers(min_value=0, max_value=10_000)


@st.composite
def _samples(draw: st.DrawFn) -> Sample:
    sent = draw(_counts)
    return Sample(
        time_ns=draw(st.integers(min_value=1_600_000_000 * 10**9, max_value=1_900_000_000 * 10**9)),
        terminal=draw(st.sampled_from(["T1", "T 2", "T,3", "T=4"])),
        vantage=draw(st.sampled_from(["probe-1", "probe 2"])),
        kind=draw(st.sampled_from(list(ProbeKind))),
        sent=sent,
        received=draw(st.integers(min_value=0, max_value=sent + 3)),
        duplicates=draw(_counts),
        reordered=draw(_counts),
        late=draw(_counts),
        max_loss_burst=draw(_counts),
        **{name: draw(_floats) for name in _FLOAT_FIELDS},
        error=draw(st.sampled_from(list(Outcome))),
        malformed=draw(_counts),
        malformed_reason=draw(st.sampled_from([None, '38-byte "reply"', "a\\b, c=d"])),
    )


_FLOAT_FIELDS = [name for name, kind in SAMPLE_FIELDS.items() if kind == "f"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batch=st.lists(_samples(), min_size=1, max_size=30))
def test_stored_row_encoder_is_byte_identical_to_sample_line(tmp_path_factory, batch):
    """The shipper's fast path (stored columns -> fields) must write exactly what sample_line writes for
    the same sample, or a point re-sent after a crash would not overwrite its first copy."""
    journal = JournalStore(tmp_path_factory.mktemp("enc") / "j.sqlite")
    tags = {"T1": {"carrier": "telecom", "region": "Haikou city", "level": "village", "tier": "basic"}}
    journal.set_terminal_tags(tags)
    journal.write_samples(batch)
    slow = [sample_line(r.sample, r.tags) for r in journal.rows_after(0, 1000)]
    encode = stored_fields_encoder(("id", *STORED_COLUMNS), ZERO_IF_NULL)
    fast = [row[1] // 1_000_000 for row in journal.stored_rows_after(0, 1000)]
    fast_fields = [encode(row) for row in journal.stored_rows_after(0, 1000)]
    journal.close()
    assert [line.split(" ")[-1] for line in slow] == [str(t) for t in fast]
    # fields: after the key's first unescaped space, before the timestamp (string fields may hold spaces)
    assert [re.split(r"(?<!\\) ", line, maxsplit=1)[1].rsplit(" ", 1)[0] for line in slow] == fast_fields

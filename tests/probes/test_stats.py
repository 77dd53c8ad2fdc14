"""The shared delay statistics against hand-computed values (RFC 3550 §6.4.1, RFC 5481, type-7 percentile)."""

from __future__ import annotations

import pytest

from slaprobe.probes.stats import interarrival_jitter, pdv, percentile, summarize


def test_rfc3550_jitter_by_hand() -> None:
    # transits 10, 12, 11, 15 -> |D| = 2, 1, 4
    # J1 = 0 + (2 - 0)/16 = 0.125; J2 = 0.125 + (1 - 0.125)/16 = 0.1796875
    # J3 = 0.1796875 + (4 - 0.1796875)/16 = 0.41845703125
    assert interarrival_jitter([10.0, 12.0, 11.0, 15.0]) == pytest.approx(0.41845703125, abs=1e-12)


def test_jitter_needs_two_values_and_is_zero_for_constant_delay() -> None:
    assert interarrival_jitter([]) is None
    assert interarrival_jitter([5.0]) is None
    assert interarrival_jitter([5.0, 5.0, 5.0]) == 0.0


def test_jitter_depends_on_arrival_order() -> None:
    # same values, other order: |D| = 3, 4 -> J = 3/16 = 0.1875; J += (4 - 0.1875)/16 -> 0.42578125
    assert interarrival_jitter([10.0, 13.0, 9.0]) == pytest.approx(0.42578125, abs=1e-12)
    # |D| = 1, 3 -> 0.0625; 0.0625 + (3 - 0.0625)/16 = 0.24609375
    assert interarrival_jitter([10.0, 9.0, 12.0]) == pytest.approx(0.24609375, abs=1e-12)


def test_percentile_type7_by_hand() -> None:
    values = [1.0, 2.0, 3.0, 4.0, 5.0]
    assert percentile(values, 50) == 3.0
    assert percentile(values, 0) == 1.0
    assert percentile(values, 100) == 5.0
    # rank h = 4 * 0.99 = 3.96 -> 4 + 0.96 * (5 - 4)
    assert percentile(values, 99) == pytest.approx(4.96, abs=1e-12)
    assert percentile([1.0, 3.0], 25) == pytest.approx(1.5, abs=1e-12)
    assert percentile([7.0], 99) == 7.0


def test_percentile_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="empty"):
        percentile([], 50)
    with pytest.raises(ValueError, match=r"0\.\.100"):
        percentile([1.0], 101)


def test_pdv_is_p99_minus_min_regardless_of_order() -> None:
    assert pdv([5.0, 1.0, 4.0, 2.0, 3.0]) == pytest.approx(3.96, abs=1e-12)
    assert pdv([2.5]) == 0.0
    assert pdv([]) is None


def test_summarize_by_hand() -> None:
    s = summarize([10.0, 12.0, 11.0, 15.0])
    assert s is not None
    assert (s.count, s.min, s.max) == (4, 10.0, 15.0)
    assert s.avg == pytest.approx(12.0)
    assert s.p50 == pytest.approx(11.5)  # h = 1.5 between 11 and 12
    assert s.jitter == pytest.approx((2 + 1 + 4) / 3, abs=1e-12)  # mean |D| of 10 -> 12 -> 11 -> 15
    assert s.jitter_rfc3550 == pytest.approx(0.41845703125, abs=1e-12)
    # p99: h = 3 * 0.99 = 2.97 -> 12 + 0.97 * 3 = 14.91; minus 10
    assert s.pdv == pytest.approx(4.91, abs=1e-12)
    assert summarize([]) is None

"""Quality KPIs: histogram buckets, nearest-rank percentiles, Y.1541 class 0, MOS, rollup arithmetic."""

from __future__ import annotations

import numpy as np
import pytest

from slaprobe.model import Outcome, ProbeKind, Sample
from slaprobe.sla.kpi import (
    EDGES,
    N_BUCKETS,
    QualityAccumulator,
    bucket_of,
    bucket_upper_ms,
    meets_y1541_class0,
    pack_hist,
    percentile_from_hist,
    rollup_samples,
    unpack_hist,
)

HOUR = 3600 * 10**9


def s(t: int = 0, sent: int = 5, received: int = 5, rtt: float | None = 20.0, **kw) -> Sample:  # type: ignore[no-untyped-def]
    return Sample(t, "T1", "v1", ProbeKind.ICMP, sent, received, rtt_avg_ms=rtt, **kw)


def test_buckets_are_40_per_decade_from_0_01_ms() -> None:
    assert EDGES[0] == 0.01
    assert EDGES[40] == pytest.approx(0.1)
    assert EDGES[200] == pytest.approx(1000.0)
    assert bucket_of(0.0) == 0 and bucket_of(0.009) == 0
    assert bucket_of(0.01) == 1  # lower edge belongs to the bucket above
    assert bucket_of(1e9) == N_BUCKETS - 1
    assert bucket_of(float("nan")) == 0
    # upper edges, 4 significant digits: 20 ms lies in [19.95, 21.13)
    assert bucket_upper_ms(bucket_of(20.0)) == 21.13
    assert bucket_upper_ms(N_BUCKETS - 1) is None


def test_nearest_rank_percentile_by_hand() -> None:
    # 20 values: 10 x 1 ms, 9 x 10 ms, 1 x 100 ms
    counts = np.zeros(N_BUCKETS, dtype=np.int64)
    counts[bucket_of(1.0)] += 10
    counts[bucket_of(10.0)] += 9
    counts[bucket_of(100.0)] += 1
    # p50: rank ceil(0.5 * 20) = 10 -> the 10th smallest is 1 ms; p95: rank 19 -> 10 ms; p100 -> 100 ms
    assert percentile_from_hist(counts, 50) == bucket_upper_ms(bucket_of(1.0)) == 1.059
    assert percentile_from_hist(counts, 95) == bucket_upper_ms(bucket_of(10.0)) == 10.59
    assert percentile_from_hist(counts, 100) == 105.9
    assert percentile_from_hist(np.zeros(N_BUCKETS, dtype=np.int64), 50) is None


@pytest.mark.parametrize(
    ("sample", "ok"),
    [
        (s(), True),
        (s(received=4), False),  # 20 % loss > 1e-3
        (s(rtt=200.0), True),  # one-way 100 ms: at the bound
        (s(rtt=200.2), False),
        (s(jitter_ms=50.0), True),
        (s(jitter_ms=50.1), False),
        (s(jitter_ms=70.0, pdv_ms=40.0), True),  # PDV preferred over jitter (Y.1541 states IPDV)
        (s(sent=0, received=0, error=Outcome.NOT_SCHEDULED), False),
        (s(received=0, rtt=None), False),
    ],
)
def test_y1541_class0(sample: Sample, ok: bool) -> None:
    assert meets_y1541_class0(sample) is ok


def test_rollup_rows_add_up_and_pack() -> None:
    rows = rollup_samples(
        [
            s(0, rtt=10.0, jitter_ms=1.0, mos=4.2),
            s(60 * 10**9, received=0, rtt=None),
            s(120 * 10**9, sent=0, received=0, rtt=None, error=Outcome.NOT_SCHEDULED),
            s(HOUR + 5, rtt=30.0, mos=4.0),
        ]
    )
    first, second = (rows[k] for k in sorted(rows))
    assert (first.samples, first.measured, first.sent, first.received) == (3, 2, 10, 5)
    assert (first.rtt_n, first.jit_n, first.mos_n, first.mos_milli, first.y0_n, first.y0_ok) == (
        1,
        1,
        1,
        4200,
        2,
        1,
    )
    assert first.rtt_hist == {bucket_of(10.0): 1}
    assert second.hour_ns == HOUR and second.samples == 1
    assert unpack_hist(pack_hist(first.jit_hist)) == first.jit_hist

    acc = QualityAccumulator(measured=3, sent=15, received=10, mos_n=2, mos_milli=8200, y0_n=3, y0_ok=2)
    acc.rtt[bucket_of(10.0)] = 1
    acc.rtt[bucket_of(30.0)] = 1
    f = acc.figures()
    assert f["loss_pct"] == 33.3333
    assert f["mos"] == 4.1
    assert f["y1541_class0_pct"] == 66.67
    assert f["rtt_p50_ms"] == bucket_upper_ms(bucket_of(10.0))

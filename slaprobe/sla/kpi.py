"""Quality KPIs over a month, from hourly rollups that both stores keep identical.

Why rollups: a month of samples is 81 M rows for 1,820 terminals. Percentiles need every value, and
InfluxDB 1.6 needs about 4 minutes for ``percentile()`` over a month (measured: 15 s per 2 days);
SQLite needs ~30 s just to scan the month. So every store keeps, per (terminal, vantage, kind, UTC hour),
one additive row: counts, packet sums, and fixed-bucket histograms of RTT and jitter. Rows are additive,
so a month (or a day, or any whole-hour range: every whole-hour time zone's month) is an exact sum, and
the same samples give the same rows in SQLite and InfluxDB because one pure function computes them.

Definitions (documented in the report):

* **Loss** = Σ(sent − received) / Σ sent over measured samples, in percent.
* **RTT** is each sample's ``rtt_avg_ms``; **jitter** its ``jitter_ms`` (RFC 3550).
* **Percentiles** are nearest-rank (rank ⌈p·N/100⌉) over a histogram with 40 log-spaced buckets per
  decade from 0.01 ms to 100 s (each bucket 5.9 % wide). The reported value is the **upper edge** of the
  bucket holding that rank, rounded to 4 significant digits: the true percentile is at most that value
  and more than 94.4 % of it. Exact to the bucket, and identical from either store.
* **MOS** = mean of the samples' MOS where a probe computed one (summed in thousandths: exact).
* **Y.1541 class 0** share = measured samples meeting class 0 / measured samples, in percent. A sample
  meets class 0 when its loss ratio <= 1e-3, its one-way delay estimate RTT/2 <= 100 ms and its IPDV
  (``pdv_ms``, else ``jitter_ms``, if measured) <= 50 ms. With one probe per terminal per Δt (the normal
  schedule) this is the share of intervals meeting class 0.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np

from slaprobe.model import NS_PER_S, Outcome, ProbeKind, Sample

HOUR_NS = 3600 * NS_PER_S

BUCKETS_PER_DECADE = 40
BASE_MS = 0.01
DECADES = 7
N_BUCKETS = 1 + DECADES * BUCKETS_PER_DECADE + 1  # [0, base), 280 log buckets, overflow
# EDGES[k] is the lower edge of bucket k+1 (= upper edge of bucket k); bucket 0 is [0, BASE_MS).
EDGES: tuple[float, ...] = tuple(
    BASE_MS * 10 ** (i / BUCKETS_PER_DECADE) for i in range(DECADES * BUCKETS_PER_DECADE + 1)
)
_EDGES_NP = np.array(EDGES)

HIST_DTYPE = np.dtype([("bucket", "<u2"), ("count", "<u4")])

Y1541_CLASS0_LOSS = 1e-3
Y1541_CLASS0_OWD_MS = 100.0
Y1541_CLASS0_IPDV_MS = 50.0


def bucket_of(value_ms: float) -> int:
    """Histogram bucket of a non-negative millisecond value (bisect on constant edges: exact)."""
    if not value_ms >= 0.0:  # also catches NaN
        value_ms = 0.0
    return bisect.bisect_right(EDGES, value_ms)


def bucket_upper_ms(bucket: int) -> float | None:
    """Reported value of a bucket: its upper edge, 4 significant digits (None for the overflow bucket)."""
    if bucket >= len(EDGES):
        return None
    edge = EDGES[bucket]
    digits = 3 - math.floor(math.log10(edge))
    return round(edge, digits)


_UNMEASURED = frozenset(o for o in Outcome if not o.measured)


def meets_y1541_class0(s: Sample) -> bool:
    """Class 0 of ITU-T Y.1541 for one measured sample (see the module docstring)."""
    sent, received = s.sent, s.received
    if sent <= 0 or s.error in _UNMEASURED or s.rtt_avg_ms is None:
        return False
    if (sent - min(received, sent)) > Y1541_CLASS0_LOSS * sent:  # loss ratio > 1e-3
        return False
    if s.rtt_avg_ms > 2.0 * Y1541_CLASS0_OWD_MS:  # RTT/2 > 100 ms
        return False
    ipdv = s.pdv_ms if s.pdv_ms is not None else s.jitter_ms
    return ipdv is None or ipdv <= Y1541_CLASS0_IPDV_MS


@dataclass(slots=True)
class RollupRow:
    """Additive summary of one (terminal, vantage, kind) over one UTC hour."""

    terminal: str
    vantage: str
    kind: ProbeKind
    hour_ns: int
    samples: int = 0
    measured: int = 0
    sent: int = 0
    received: int = 0
    rtt_n: int = 0
    jit_n: int = 0
    mos_n: int = 0
    mos_milli: int = 0
    y0_n: int = 0
    y0_ok: int = 0
    rtt_hist: dict[int, int] = field(default_factory=dict)
    jit_hist: dict[int, int] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, str, ProbeKind, int]:
        return (self.terminal, self.vantage, self.kind, self.hour_ns)

    def add(self, s: Sample) -> None:
        self.samples += 1
        sent = s.sent
        if sent <= 0 or s.error in _UNMEASURED:
            return
        self.measured += 1
        self.sent += sent
        self.received += min(s.received, sent)
        self.y0_n += 1
        self.y0_ok += meets_y1541_class0(s)
        rtt, jit = s.rtt_avg_ms, s.jitter_ms
        if rtt is not None:
            self.rtt_n += 1
            b = bisect.bisect_right(EDGES, rtt) if rtt >= 0.0 else 0
            self.rtt_hist[b] = self.rtt_hist.get(b, 0) + 1
        if jit is not None:
            self.jit_n += 1
            b = bisect.bisect_right(EDGES, jit) if jit >= 0.0 else 0
            self.jit_hist[b] = self.jit_hist.get(b, 0) + 1
        if s.mos is not None:
            self.mos_n += 1
            self.mos_milli += round(s.mos * 1000)

    def merge(self, other: RollupRow) -> None:
        for name in SCALARS:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for b, c in other.rtt_hist.items():
            self.rtt_hist[b] = self.rtt_hist.get(b, 0) + c
        for b, c in other.jit_hist.items():
            self.jit_hist[b] = self.jit_hist.get(b, 0) + c


SCALARS: tuple[str, ...] = (
    "samples",
    "measured",
    "sent",
    "received",
    "rtt_n",
    "jit_n",
    "mos_n",
    "mos_milli",
    "y0_n",
    "y0_ok",
)


def rollup_samples(samples: Iterable[Sample]) -> dict[tuple[str, str, ProbeKind, int], RollupRow]:
    """Group samples into hourly rollup rows (pure; the one definition both stores persist)."""
    rows: dict[tuple[str, str, ProbeKind, int], RollupRow] = {}
    for s in samples:
        hour = s.time_ns - s.time_ns % HOUR_NS
        key = (s.terminal, s.vantage, s.kind, hour)
        row = rows.get(key)
        if row is None:
            row = rows[key] = RollupRow(s.terminal, s.vantage, s.kind, hour)
        row.add(s)
    return rows


def pack_hist(hist: Mapping[int, int]) -> bytes:
    """Histogram as sorted little-endian (u16 bucket, u32 count) pairs: compact and numpy-decodable."""
    arr = np.array(sorted(hist.items()), dtype=np.int64).reshape(-1, 2)
    out = np.empty(len(arr), dtype=HIST_DTYPE)
    out["bucket"] = arr[:, 0]
    out["count"] = arr[:, 1]
    return out.tobytes()


def unpack_hist(blob: bytes) -> dict[int, int]:
    arr = np.frombuffer(blob, dtype=HIST_DTYPE)
    return {int(b): int(c) for b, c in zip(arr["bucket"], arr["count"], strict=True)}


def percentile_from_hist(counts: np.ndarray, p: int) -> float | None:
    """Nearest-rank p-th percentile of a dense bucket-count vector, as the bucket's upper edge."""
    total = int(counts.sum())
    if total == 0:
        return None
    rank = -(-p * total // 100)  # ceil(p * N / 100), >= 1
    bucket = int(np.searchsorted(np.cumsum(counts), rank))
    return bucket_upper_ms(bucket)


@dataclass(slots=True)
class QualityAccumulator:
    """Month totals of rollup rows for one terminal or group; dense histograms so groups just add."""

    measured: int = 0
    sent: int = 0
    received: int = 0
    mos_n: int = 0
    mos_milli: int = 0
    y0_n: int = 0
    y0_ok: int = 0
    rtt: np.ndarray = field(default_factory=lambda: np.zeros(N_BUCKETS, dtype=np.int64))
    jit: np.ndarray = field(default_factory=lambda: np.zeros(N_BUCKETS, dtype=np.int64))

    def merge(self, other: QualityAccumulator) -> None:
        self.measured += other.measured
        self.sent += other.sent
        self.received += other.received
        self.mos_n += other.mos_n
        self.mos_milli += other.mos_milli
        self.y0_n += other.y0_n
        self.y0_ok += other.y0_ok
        self.rtt += other.rtt
        self.jit += other.jit

    def figures(self) -> dict[str, float | None]:
        """The KPI values, rounded once here so every renderer and store shows the same digits."""
        return {
            "loss_pct": _pct(self.sent - self.received, self.sent, 4),
            "rtt_p50_ms": percentile_from_hist(self.rtt, 50),
            "rtt_p95_ms": percentile_from_hist(self.rtt, 95),
            "jitter_p95_ms": percentile_from_hist(self.jit, 95),
            "mos": None if self.mos_n == 0 else round(self.mos_milli / self.mos_n / 1000, 3),
            "y1541_class0_pct": _pct(self.y0_ok, self.y0_n, 2),
        }


def _pct(num: int, den: int, digits: int) -> float | None:
    if den == 0:
        return None
    return round(100.0 * num / den, digits)


QUALITY_KEYS: tuple[str, ...] = (
    "loss_pct",
    "rtt_p50_ms",
    "rtt_p95_ms",
    "jitter_p95_ms",
    "mos",
    "y1541_class0_pct",
)

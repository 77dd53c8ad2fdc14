"""Delay statistics every probe kind reports the same way: jitter, RFC 5481 PDV, percentiles.

**Jitter** is reported twice (issue #15). ``jitter_ms`` is the *mean absolute interarrival difference*
mean(|D(i-1, i)|) over the probe: the value RFC 3550 §6.4.1's estimator J converges to, without its
start-up bias. J starts at 0 and moves 1/16 of the way per difference, so after the 19 differences of a
20-echo train it has reached on average only 1 - (15/16)^19 = 0.71 of its converged value: injected
20 ± 4 ms read 1.85 ms where 2.67 ms is right. ``jitter_rfc3550_ms`` keeps the RFC 3550 running value for
comparison with tools that report it. ``jitter_ms`` (and the per-direction figures, computed the same way)
feeds the E-model and the SLA's jitter KPIs.

They live apart from any engine so the ICMP trains and the RTP / STAMP streams compute jitter and PDV with
one definition (docs/measurements.md), and so the definitions can be tested against hand-computed values
alone.
Plain Python on short lists: a probe has 5 to a few thousand delays, where ``sorted`` beats numpy's
call overhead and keeps the results bit-for-bit reproducible.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


def interarrival_jitter(transits: Sequence[float]) -> float | None:
    """RFC 3550 §6.4.1 interarrival jitter over transit times (or RTTs), given in ARRIVAL order.

    D(i-1, i) = (R_i - R_{i-1}) - (S_i - S_{i-1}) equals the difference of consecutive transit times
    ``transit_i - transit_{i-1}``, so a caller passes transits (stream: arrival minus send time; ICMP
    train: RTT) and gets J after the last update J += (|D| - J) / 16, starting from J = 0.
    Returns None with fewer than two values: no difference, no jitter (not "zero jitter").
    """
    if len(transits) < 2:
        return None
    j = 0.0
    prev = transits[0]
    for t in transits[1:]:
        d = t - prev
        if d < 0:
            d = -d
        j += (d - j) / 16.0
        prev = t
    return j


def mean_abs_difference(transits: Sequence[float]) -> float | None:
    """mean(|transit_i - transit_{i-1}|) over consecutive values in ARRIVAL order: the unbiased estimate of
    what RFC 3550's J converges to (module docstring). None with fewer than two values."""
    if len(transits) < 2:
        return None
    total = 0.0
    prev = transits[0]
    for t in transits[1:]:
        total += abs(t - prev)
        prev = t
    return total / (len(transits) - 1)


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) of already SORTED values, linear between closest ranks.

    This is the "type 7" definition (numpy's default, Excel's PERCENTILE.INC): rank h = (n-1)·q/100,
    interpolated between the values at floor(h) and ceil(h). Chosen because it is defined for every n >= 1,
    so p99 of five RTTs is a value between the two largest instead of an undefined or always-max figure.
    """
    n = len(sorted_values)
    if n == 0:
        raise ValueError("percentile of an empty sequence")
    if not 0.0 <= q <= 100.0:
        raise ValueError(f"percentile q must be within 0..100, got {q}")
    h = (n - 1) * q / 100.0
    lo = math.floor(h)
    hi = min(lo + 1, n - 1)
    frac = h - lo
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * frac


def pdv(delays: Sequence[float]) -> float | None:
    """RFC 5481 packet delay variation: the 99th percentile of the delays minus their minimum.

    Y.1541 states its IPDV objectives this way. Order does not matter; None for no delays.
    """
    if not delays:
        return None
    s = sorted(delays)
    return percentile(s, 99.0) - s[0]


@dataclass(frozen=True, slots=True)
class DelaySummary:
    """Summary of one probe's delays (ms), as every Sample reports them."""

    count: int
    min: float
    avg: float
    max: float
    p50: float
    jitter: float | None  # mean |D| over the delays in arrival order (None with fewer than 2)
    pdv: float  # RFC 5481: p99 - min
    jitter_rfc3550: float | None = None  # RFC 3550 running value (biased low for short trains)


def summarize(delays_in_arrival_order: Sequence[float]) -> DelaySummary | None:
    """Min/avg/max/median, jitter (mean |D| and RFC 3550) and RFC 5481 PDV of one probe's delays; None
    when empty.

    The delays must be in arrival order: jitter depends on it, the other figures do not.
    """
    n = len(delays_in_arrival_order)
    if n == 0:
        return None
    s = sorted(delays_in_arrival_order)
    return DelaySummary(
        count=n,
        min=s[0],
        avg=math.fsum(s) / n,
        max=s[-1],
        p50=percentile(s, 50.0),
        jitter=mean_abs_difference(delays_in_arrival_order),
        pdv=percentile(s, 99.0) - s[0],
        jitter_rfc3550=interarrival_jitter(delays_in_arrival_order),
    )

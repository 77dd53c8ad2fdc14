"""Exact binomial bounds, so loss tests state their tolerance instead of guessing one."""

from __future__ import annotations

import math


def binomial_interval(n: int, p: float, confidence: float = 0.99) -> tuple[int, int]:
    """Smallest k_lo and largest k_hi with P(X < k_lo) <= a/2 and P(X > k_hi) <= a/2 for X ~ Bin(n, p)."""
    alpha = 1 - confidence

    def pmf(k: int) -> float:
        if p in (0.0, 1.0):
            return float(k == round(n * p))
        return math.exp(
            math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)
            + k * math.log(p) + (n - k) * math.log(1 - p)
        )  # fmt: skip

    cdf = 0.0
    lo = 0
    while lo <= n and cdf + pmf(lo) <= alpha / 2:
        cdf += pmf(lo)
        lo += 1
    tail = 0.0
    hi = n
    while hi >= 0 and tail + pmf(hi) <= alpha / 2:
        tail += pmf(hi)
        hi -= 1
    return lo, hi

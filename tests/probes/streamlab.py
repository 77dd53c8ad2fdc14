"""Helpers shared by the stream-probe tests: expected figures computed from the lab's ground truth.

These are deliberately written from the definitions (RFC 3550 §6.4.1 jitter, "arrived after a higher
sequence number" reordering) without the probe's own code, so a test compares two independent routes.
"""

from __future__ import annotations

import asyncio
import ipaddress
import itertools
import math
from collections.abc import Mapping, Sequence
from typing import Any

from slaprobe.probes.base import ProbeTarget
from slaprobe.probes.stream import StreamEngine

REFLECTOR = "slaprobe.probes.reflector"
LAB_UDP = {
    862: f"{REFLECTOR}:stamp_stateful",
    863: f"{REFLECTOR}:stamp_stateless",
    5004: f"{REFLECTOR}:rtp_echo_handler",
}


def target(terminal: str, address: str, port: int | None = None) -> ProbeTarget:
    return ProbeTarget(terminal, ipaddress.ip_address(address), (address, port) if port else None)


def rfc3550(values: Sequence[float]) -> float:
    j = 0.0
    for a, b in itertools.pairwise(values):
        j += (abs(b - a) - j) / 16
    return j


def mean_abs_diff(values: Sequence[float]) -> float:
    """mean |D| over consecutive values: what RFC 3550's J converges to, without its start-up bias."""
    pairs = list(itertools.pairwise(values))
    return sum(abs(b - a) for a, b in pairs) / len(pairs)


def stream_truth(truth: Any, address: str, dport: int) -> list[Mapping[str, Any]]:
    """Ground-truth records of the requests to ``address``:``dport``, in arrival order at the lab
    (= our send order: the lab never reorders the forward path)."""
    return [p for p in truth.packets if p["addr"] == address and p.get("dport") == dport]


def reply_arrivals(records: Sequence[Mapping[str, Any]]) -> list[tuple[int, int, float]]:
    """(reply send time at the lab, packet index, round-trip delay ms) of every reply copy the lab sent,
    in the order they reach us. A duplicated reply leaves twice at the same instant.

    The delay is what the packet really spent in the lab (reply sent − request arrived), i.e. the injected
    fwd + rev (+ reorder hold) plus the responder's own release lateness, which a busy machine can push
    to a few hundred µs: that is part of the path our probe measured."""
    out = []
    for index, rec in enumerate(records):
        if rec["action"] != "replied":
            continue
        delay = (rec["tx_ns"] - rec["rx_ns"]) / 1e6
        for _ in range(1 + rec["dups"]):
            out.append((rec["tx_ns"], index, delay))
    out.sort()
    return out


def count_reordered(indices_in_arrival_order: Sequence[int]) -> int:
    """Packets arriving after one with a higher index (first copies only)."""
    seen: set[int] = set()
    highest, count = -1, 0
    for i in indices_in_arrival_order:
        if i in seen:
            continue
        seen.add(i)
        if i < highest:
            count += 1
        highest = max(highest, i)
    return count


def binomial_interval(n: int, p: float, level: float = 0.99) -> tuple[int, int]:
    """Central ``level`` interval [lo, hi] of a Binomial(n, p) count, from the exact CDF."""
    tail = (1 - level) / 2
    cdf, lo, hi = 0.0, None, n
    for k in range(n + 1):
        cdf += math.comb(n, k) * p**k * (1 - p) ** (n - k)
        if lo is None and cdf > tail:
            lo = k
        if cdf >= 1 - tail:
            hi = k
            break
    return (lo or 0), hi


async def started_streams(lab: Any) -> StreamEngine:
    """A StreamEngine whose sockets live inside the lab namespace."""
    engine = StreamEngine()
    with lab.inside():
        await engine.start()
    return engine


def run(coro: Any) -> Any:
    return asyncio.run(coro)

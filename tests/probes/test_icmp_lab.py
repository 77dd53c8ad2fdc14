"""Acceptance of the ICMP engine against the TUN lab: 1,820 IPv4 + 364 IPv6 terminals in one cycle.

Expected figures come from three independent sources: the lab profile (injected loss, delay, jitter),
the lab's ground truth (which request it dropped), and the wire: an AF_PACKET tap on the lab's TUN
device stamps every echo request and reply in the kernel, so each terminal's true RTTs (and their
RFC 3550 jitter, computed here by hand) are known to the microsecond. While the cycle runs, raw sockets
in the lab spray forged echo replies at the prober (spoofed terminal sources, random identifiers and
tokens, truncated ones), so the figures also show that hostile traffic changes nothing at scale.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import os
import random
import socket
import statistics
import struct
from dataclasses import dataclass
from ipaddress import ip_address

import pytest

from slaprobe.lab import Lab, LabProfile, TerminalTruth
from slaprobe.model import Outcome, Sample
from slaprobe.probes.base import ProbeTarget, probe_spread
from slaprobe.probes.icmp import IcmpEngine, IcmpSettings
from slaprobe.probes.icmp_echo import IcmpStats
from tests.probes.peer import inet_checksum

pytestmark = pytest.mark.lab

N_V4 = 1_820
N_V6 = 364
LOSS_CLASSES = (0.0, 0.01, 0.10, 1.0)


def loss_class(i: int) -> float:
    """Half the terminals healthy, the rest spread over 1 %, 10 % and 100 % loss."""
    r = i % 10
    return 0.0 if r < 5 else 0.01 if r < 8 else 0.10 if r < 9 else 1.0


def impairment(i: int) -> dict[str, float]:
    imp = {"delay_ms": 2.0 + (i * 7) % 79, "loss": loss_class(i)}  # round-trip delays 2..80 ms
    if i % 3 == 0:
        imp["jitter_ms"] = 2.0 + (i % 5) * 2.0  # up to 10 ms (each direction ±jitter/2)
    return imp


def build_profile() -> tuple[LabProfile, list[ProbeTarget], dict[str, dict[str, float]]]:
    terminals: list[tuple[str, str]] = []
    for i in range(N_V4):
        terminals.append((f"T{i:04d}", f"198.18.{i // 250}.{i % 250 + 1}"))
    for i in range(N_V6):
        terminals.append((f"S{i:04d}", f"2001:2:0:1::{i + 1:x}"))
    per = {tid: impairment(i) for i, (tid, _) in enumerate(terminals)}
    profile = LabProfile.build(terminals=terminals, per_terminal=per, seed=1)
    return profile, [ProbeTarget(t, ip_address(a)) for t, a in terminals], per


def binomial_interval(n: int, p: float, level: float = 0.99) -> tuple[int, int]:
    """Central ``level`` interval [lo, hi] of Binomial(n, p): P(X < lo) <= a/2 and P(X > hi) <= a/2."""
    if p in (0.0, 1.0):
        k = round(n * p)
        return k, k
    tail = (1.0 - level) / 2.0
    lp, lq, lgn = math.log(p), math.log1p(-p), math.lgamma(n + 1)
    pmf = [
        math.exp(lgn - math.lgamma(k + 1) - math.lgamma(n - k + 1) + k * lp + (n - k) * lq)
        for k in range(n + 1)
    ]
    cdf, lo = 0.0, 0
    while cdf + pmf[lo] <= tail:
        cdf += pmf[lo]
        lo += 1
    sf, hi = 0.0, n
    while sf + pmf[hi] <= tail:
        sf += pmf[hi]
        hi -= 1
    return lo, hi


def forged_reply(version: int, src: str, dst: str, rng: random.Random) -> bytes:
    """An echo reply with a random identifier, sequence and token (or cut short), from ``src``."""
    body = struct.pack("!BBHHH", 0 if version == 4 else 129, 0, 0, rng.getrandbits(16), rng.getrandbits(16))
    body += rng.randbytes(56)
    if rng.random() < 0.3:
        body = body[: rng.randrange(8, 16)]
    if version == 4:
        body = body[:2] + struct.pack("!H", inet_checksum(body)) + body[4:]
        hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(body), 0, 0, 64, 1, 0,
                          ip_address(src).packed, ip_address(dst).packed)  # fmt: skip
        return hdr + body
    return body  # v6: sent from a raw ICMPv6 socket bound to the spoofed source; the kernel sums


async def spray(lab: Lab, targets: list[ProbeTarget], stop: asyncio.Event) -> int:
    """Until ``stop``: every 10 ms, 10 forged replies from random terminals to the prober's sources."""
    with lab.inside():
        raw4 = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)  # IP_HDRINCL
        raw6 = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
        raw6.setsockopt(socket.IPPROTO_IPV6, 78, 1)  # IPV6_FREEBIND: bind a terminal's address
        raw6.bind(("2001:2:0:1::1", 0))
    rng = random.Random(7)
    v4 = [str(t.address) for t in targets if t.address.version == 4]
    sent = 0
    try:
        while not stop.is_set():
            for _ in range(10):
                if rng.random() < 0.8:
                    raw4.sendto(forged_reply(4, rng.choice(v4), lab.source_v4, rng), (lab.source_v4, 0))
                else:
                    raw6.sendto(forged_reply(6, "", lab.source_v6, rng), (lab.source_v6, 0))
                sent += 1
            await asyncio.sleep(0.01)
    finally:
        raw4.close()
        raw6.close()
    return sent


class WireTap:
    """Kernel-stamped copies of every packet crossing the lab's TUN device (AF_PACKET, SO_TIMESTAMPNS)."""

    def __init__(self, lab: Lab) -> None:
        with lab.inside():
            self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(0x0003))
            self.sock.bind(("slptun0", 0))
        self.sock.setsockopt(socket.SOL_SOCKET, 35, 1)  # SO_TIMESTAMPNS
        self.sock.setsockopt(socket.SOL_SOCKET, 33, 32 << 20)  # SO_RCVBUFFORCE
        self.sock.setblocking(False)
        self.requests: dict[tuple[str, int, int], int] = {}  # (terminal address, id, seq) -> ns
        self.replies: dict[tuple[str, int, int], int] = {}

    def read(self) -> None:
        while True:
            try:
                data, anc, _, _ = self.sock.recvmsg(128, 64)
            except BlockingIOError:
                return
            sec, nsec = struct.unpack("qq", anc[0][2][:16])
            if data[0] >> 4 == 4:
                off, fam, src, dst = 20, socket.AF_INET, data[12:16], data[16:20]
            else:
                off, fam, src, dst = 40, socket.AF_INET6, data[8:24], data[24:40]
            icmp_type, ident, seq = data[off], *struct.unpack("!HH", data[off + 4 : off + 8])
            if icmp_type in (8, 128):
                self.requests[(socket.inet_ntop(fam, dst), ident, seq)] = sec * 10**9 + nsec
            elif icmp_type in (0, 129):
                self.replies[(socket.inet_ntop(fam, src), ident, seq)] = sec * 10**9 + nsec

    def rtts_ms(self) -> dict[str, list[float]]:
        """Terminal address -> wire RTTs (ms) of its answered echoes, in reply order."""
        pairs: dict[str, list[tuple[int, float]]] = {}
        for key, rx in self.replies.items():
            tx = self.requests.get(key)
            if tx is not None:
                pairs.setdefault(key[0], []).append((rx, (rx - tx) / 1e6))
        return {a: [rtt for _, rtt in sorted(v)] for a, v in pairs.items()}


@dataclass
class Cycle:
    samples: list[Sample]
    stats: IcmpStats
    forged: int
    impairments: dict[str, dict[str, float]]
    truth: dict[str, TerminalTruth]
    wire: dict[str, list[float]]  # terminal id -> wire RTTs in arrival order
    lab_lateness_us: dict[str, float]


async def cycle(lab: Lab, targets: list[ProbeTarget]) -> tuple[list[Sample], IcmpStats, int, WireTap]:
    engine = IcmpEngine(IcmpSettings())  # defaults: 5 echoes, 200 ms apart, 1 s timeout, AF41
    tap = WireTap(lab)
    with lab.inside():
        await engine.start()
    loop = asyncio.get_running_loop()
    loop.add_reader(tap.sock.fileno(), tap.read)
    stop = asyncio.Event()
    noise = asyncio.ensure_future(spray(lab, targets, stop))
    try:
        samples = await probe_spread(engine, targets, "lab", over_s=4.0)
    finally:
        stop.set()
        forged = await noise
        await engine.close()
        loop.remove_reader(tap.sock.fileno())
        tap.read()
        tap.sock.close()
    return samples, engine.stats, forged, tap


@pytest.fixture(scope="module")
def lab_cycle() -> Cycle:
    profile, targets, per = build_profile()
    with Lab.start(profile) as lab:
        # The responder plays 2,184 terminals with sub-ms timing on a shared 2-core machine; a higher
        # CFS weight keeps other test processes from stretching the delays it injects.
        os.setpriority(os.PRIO_PROCESS, lab.proc.pid, -10)
        samples, stats, forged, tap = asyncio.run(cycle(lab, targets))
        truth = lab.ground_truth().by_terminal()
        lateness = lab.stats()["late_us"]
    wire_by_addr = tap.rtts_ms()
    wire = {t.terminal: wire_by_addr.get(str(t.address), []) for t in targets}
    return Cycle(samples, stats, forged, per, truth, wire, lateness)


def rfc3550_by_hand(rtts: list[float]) -> float:
    j = 0.0
    for a, b in itertools.pairwise(rtts):
        j += (abs(b - a) - j) / 16
    return j


def test_every_terminal_matches_the_lab_ground_truth(lab_cycle: Cycle) -> None:
    c = lab_cycle
    assert len(c.samples) == N_V4 + N_V6
    for s in c.samples:
        t = c.truth[s.terminal]
        # the lab saw exactly what we say we sent, and we lost exactly what the lab dropped
        assert (s.sent, s.sent - s.received) == (t.requests, t.lost), (s, t)
        assert s.received == len(c.wire[s.terminal])  # and every reply on the wire was counted
        assert s.late == 0 and s.duplicates == 0
    assert c.forged > 500
    assert c.stats.replies == sum(s.received for s in c.samples)
    # every forged packet was seen and refused (a few may still be queued when the engine closed)
    assert c.stats.foreign + c.stats.truncated + c.stats.wrong_source >= c.forged * 0.95
    assert c.stats.rx_queue_drops == 0


def test_healthy_terminals_show_zero_loss(lab_cycle: Cycle) -> None:
    healthy = [s for s in lab_cycle.samples if lab_cycle.impairments[s.terminal]["loss"] == 0.0]
    assert len(healthy) > 1_000
    assert [s.terminal for s in healthy if s.received != 5 or s.error is not Outcome.OK] == []


@pytest.mark.parametrize("rate", LOSS_CLASSES)
@pytest.mark.parametrize("family", [4, 6])
def test_loss_per_class_within_the_99_percent_binomial_interval(
    lab_cycle: Cycle, rate: float, family: int
) -> None:
    per = lab_cycle.impairments
    cls = [
        s
        for s in lab_cycle.samples
        if per[s.terminal]["loss"] == rate and (s.terminal[0] == "T") == (family == 4)
    ]
    sent = sum(s.sent for s in cls)
    lost = sum(s.sent - s.received for s in cls)
    lo, hi = binomial_interval(sent, rate)
    assert lo <= lost <= hi, f"IPv{family} class {rate:.0%}: lost {lost}/{sent}, 99 % interval [{lo}, {hi}]"
    if rate == 1.0:
        assert all(s.error is Outcome.TIMEOUT and s.rtt_avg_ms is None for s in cls)


def test_rtt_figures_equal_the_wire(lab_cycle: Cycle) -> None:
    # Our RTT = kernel receive stamp - kernel transmit stamp (SO_TIMESTAMPING); the wire RTT = tap
    # stamps of the request and the reply at the TUN device (a few kernel functions before the driver
    # stamps the transmit). Measured over repeated cycles at load 5-7 on 2 cores: per terminal the
    # median differs by 0.4 us typically, 1.6 us at p99, 0.14 ms at most (a vCPU stall between the tap
    # and the driver). Tolerance 0.5 ms for every terminal and every figure.
    for s in lab_cycle.samples:
        wire = lab_cycle.wire[s.terminal]
        if not wire:
            continue
        w = sorted(wire)
        assert s.rtt_p50_ms == pytest.approx(statistics.median(w), abs=0.5), (s, wire)
        assert s.rtt_min_ms == pytest.approx(w[0], abs=0.5), (s, wire)
        assert s.rtt_max_ms == pytest.approx(w[-1], abs=0.5), (s, wire)
        assert s.rtt_avg_ms == pytest.approx(sum(w) / len(w), abs=0.5), (s, wire)
        if len(wire) >= 2:
            assert s.jitter_rfc3550_ms == pytest.approx(rfc3550_by_hand(wire), abs=0.1), (s, wire)
            mean_abs = sum(abs(b - a) for a, b in itertools.pairwise(wire)) / (len(wire) - 1)
            assert s.jitter_ms == pytest.approx(mean_abs, abs=0.1), (s, wire)
    assert lab_cycle.stats.tx_user_stamps == 0  # every RTT used the kernel's transmit stamp


def test_median_rtt_matches_injected_delay(lab_cycle: Cycle) -> None:
    # The acceptance criterion: jitter-free terminals' median RTT within 0.3 ms of the injected delay.
    # The responder is itself late when this shared machine is busy (it stamps a request when it reads
    # it, so its read latency adds to the delay; its release lateness is in lab_lateness_us). Where the
    # WIRE median is already > 0.2 ms off the injected delay the lab missed it, and the engine is judged
    # by the wire test above instead; every other terminal must meet 0.3 ms.
    checked, lab_late, bad = 0, 0, []
    for s in lab_cycle.samples:
        imp = lab_cycle.impairments[s.terminal]
        if "jitter_ms" in imp or s.received < 3:
            continue
        if abs(statistics.median(lab_cycle.wire[s.terminal]) - imp["delay_ms"]) > 0.2:
            lab_late += 1
            continue
        checked += 1
        if not -0.05 <= s.rtt_p50_ms - imp["delay_ms"] <= 0.3:
            bad.append((s.terminal, round(s.rtt_p50_ms - imp["delay_ms"], 3)))
    assert checked >= 50, f"the lab was late for {lab_late} terminals: {lab_cycle.lab_lateness_us}"
    assert bad == [], f"{len(bad)} of {checked} off by more than 0.3 ms: {bad[:10]}"


def test_jittery_terminals(lab_cycle: Cycle) -> None:
    n = 0
    for s in lab_cycle.samples:
        imp = lab_cycle.impairments[s.terminal]
        if "jitter_ms" not in imp or s.received < 2:
            continue
        n += 1
        # RTT = delay ± jitter (two independent uniform ±jitter/2 legs); lab lateness only adds, so the
        # lower bound is firm. Agreement of jitter and PDV with the wire is checked for every terminal.
        assert s.rtt_min_ms >= imp["delay_ms"] - imp["jitter_ms"] - 0.05, s
        assert s.jitter_ms > 0.0 and s.pdv_ms > 0.0, s
    assert n > 400

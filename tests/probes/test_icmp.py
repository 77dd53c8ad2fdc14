"""The ICMP engine with real packets through the kernel, in a private namespace per test.

Loopback (127.0.0.0/8 and ::1 answer from the kernel) shows the happy path and scale; a TUN peer the
test drives (tests/probes/peer.py) answers 198.18.0.0/24 and 2001:2::/64 exactly as each test says, so
every expected figure below comes from what the peer was told to do.
"""

from __future__ import annotations

import asyncio
import os
import struct
from collections.abc import Iterator
from ipaddress import ip_address

import pytest

from slaprobe.model import Outcome, ProbeKind, Sample
from slaprobe.probes.base import ProbeEngine, ProbeTarget, probe_spread
from slaprobe.probes.icmp import IcmpEngine, IcmpJitterSettings, IcmpSettings
from slaprobe.probes.icmp_echo import IcmpStats
from slaprobe.probes.registry import ENGINES, SETTINGS, make_engine
from tests.probes.netns import NetNs, private_netns
from tests.probes.peer import Policy, Request, TunPeer, answer, echo_reply, inet_checksum, unreachable

pytestmark = pytest.mark.lab  # needs root, ip netns and /dev/net/tun


@pytest.fixture
def ns() -> Iterator[NetNs]:
    with private_netns() as n:
        yield n


def targets(*addresses: str) -> list[ProbeTarget]:
    return [ProbeTarget(a, ip_address(a)) for a in addresses]


async def run(
    ns: NetNs,
    settings: IcmpSettings,
    addresses: list[str],
    policies: dict[str, Policy] | None = None,
    *,
    over_s: float = 0.0,
    stall_s: float = 0.0,
) -> tuple[list[Sample], IcmpStats, TunPeer]:
    """Start the engine inside ``ns``, probe every address once, return samples, stats and the peer."""
    peer = TunPeer(ns.tun_fd, policies)
    peer.stall_after_write_s = stall_s
    peer.attach()
    engine = IcmpEngine(settings)
    with ns.inside():
        await engine.start()
    try:
        samples = await probe_spread(engine, targets(*addresses), "test", over_s)
    finally:
        await engine.close()
        peer.detach()
    return samples, engine.stats, peer


HOME_NETNS = os.readlink("/proc/thread-self/ns/net")
FAST = IcmpSettings(count=5, interval_ms=50, timeout_ms=300)


# ---------------------------------------------------------------- happy path and scale (loopback)


def test_loopback_v4_and_v6_all_answered(ns: NetNs) -> None:
    addrs = [f"127.0.{i // 200}.{i % 200 + 1}" for i in range(300)] + ["::1"]
    samples, stats, _ = asyncio.run(run(ns, FAST, addrs))
    assert [s.terminal for s in samples] == addrs
    for s in samples:
        assert (s.sent, s.received, s.duplicates, s.late, s.error) == (5, 5, 0, 0, Outcome.OK), s
        assert s.kind is ProbeKind.ICMP and s.vantage == "test" and s.loss == 0.0
        assert 0.0 <= s.rtt_min_ms <= s.rtt_p50_ms <= s.rtt_max_ms < 300.0
        assert s.rtt_min_ms <= s.rtt_avg_ms <= s.rtt_max_ms
        assert s.jitter_ms is not None and s.pdv_ms is not None
    assert stats.sent == stats.replies == 5 * len(addrs)
    assert stats.foreign == stats.stale == stats.duplicates == stats.rx_queue_drops == 0


def test_more_echoes_in_flight_than_the_16_bit_sequence_space(ns: NetNs) -> None:
    # 13,200 targets x 5 = 66,000 echoes started in the same instant (> 65,536 sequence numbers):
    # identifiers advance with the counter, so no (identifier, sequence) pair repeats.
    addrs = [f"127.{1 + i // 60000}.{(i // 250) % 240}.{i % 250 + 1}" for i in range(13_200)]
    settings = IcmpSettings(count=5, interval_ms=100, timeout_ms=2000)
    samples, stats, _ = asyncio.run(run(ns, settings, addrs))
    assert sum(s.received for s in samples) == 66_000
    assert all(s.error is Outcome.OK and s.duplicates == 0 for s in samples)
    assert (stats.foreign, stats.stale, stats.wrong_source, stats.rx_queue_drops) == (0, 0, 0, 0)


def test_icmp_jitter_train(ns: NetNs) -> None:
    # the peer holds echo i for 2 ms (even i) or 6 ms (odd i): |D| = 4 ms for every consecutive pair
    def alternate(req: Request) -> list[tuple[float, bytes]]:
        return [(0.002 if req.index % 2 == 0 else 0.006, echo_reply(req))]

    settings = IcmpJitterSettings(interval_ms=20)
    samples, _, peer = asyncio.run(run(ns, settings, ["198.18.0.9"], {"198.18.0.9": alternate}))
    (s,) = samples
    assert s.kind is ProbeKind.ICMP_JITTER
    assert (s.sent, s.received, len(peer.requests["198.18.0.9"])) == (20, 20, 20)
    # mean |D| = 4 ms; RFC 3550's J after 19 updates with |D| = 4: 4 * (1 - (15/16)^19) = 2.836 ms;
    # timer noise of the peer (~1 ms per hold, both directions) moves either by well under 1 ms.
    assert s.jitter_ms == pytest.approx(4.0, abs=1.0)
    assert s.jitter_rfc3550_ms == pytest.approx(4 * (1 - (15 / 16) ** 19), abs=1.0)
    assert s.rtt_min_ms >= 2.0 and s.rtt_max_ms >= 6.0
    # PDV = p99 - min: over 20 RTTs p99 lies between the two largest, so never above max - min
    assert 0 < s.pdv_ms <= s.rtt_max_ms - s.rtt_min_ms + 1e-9


# ---------------------------------------------------------------- what goes on the wire


@pytest.mark.parametrize(("dscp", "size"), [(34, 56), (46, 9), (0, 8), (34, 1001)])
def test_dscp_size_and_checksums_on_the_wire(ns: NetNs, dscp: int, size: int) -> None:
    settings = IcmpSettings(count=3, interval_ms=10, timeout_ms=300, dscp=dscp, payload_size=size)
    addrs = ["198.18.0.2", "2001:2::2"]
    samples, _, peer = asyncio.run(run(ns, settings, addrs, {a: answer() for a in addrs}))
    assert [s.received for s in samples] == [3, 3]
    v4, v6 = peer.requests["198.18.0.2"], peer.requests["2001:2::2"]
    assert len(v4) == len(v6) == 3
    for req in v4 + v6:
        assert req.tos == dscp << 2  # TOS / traffic class = DSCP << 2 (AF41 -> 0x88)
        assert len(req.icmp) == 8 + size
    for req in v4:
        assert inet_checksum(req.icmp) == 0  # our incremental checksum is a valid one
    for req in v6:
        s, d = ip_address(req.src).packed, ip_address(req.dst).packed
        assert inet_checksum(s + d + struct.pack("!I3xB", len(req.icmp), 58) + req.icmp) == 0
    assert len({r.seq for r in v4}) == 3


def test_source_address_is_bound(ns: NetNs) -> None:
    ns.run("ip", "addr", "add", "198.18.0.50/32", "dev", "lo")
    ns.run("ip", "addr", "add", "2001:2::50/128", "dev", "lo", "nodad")
    settings = IcmpSettings(
        count=2, interval_ms=10, timeout_ms=300, source_v4="198.18.0.50", source_v6="2001:2::50"
    )
    addrs = ["198.18.0.2", "2001:2::2"]
    samples, _, peer = asyncio.run(run(ns, settings, addrs, {a: answer() for a in addrs}))
    assert [s.received for s in samples] == [2, 2]
    assert {r.src for r in peer.requests["198.18.0.2"]} == {"198.18.0.50"}
    assert {r.src for r in peer.requests["2001:2::2"]} == {"2001:2::50"}


def test_rtt_comes_from_kernel_timestamps_not_from_the_event_loop(ns: NetNs) -> None:
    # The peer answers after 20 ms and then blocks the event loop for 150 ms, so the engine's reader
    # runs >= 150 ms after the reply arrived. A wake-up-time RTT would be >= 170 ms.
    settings = IcmpSettings(count=3, interval_ms=300, timeout_ms=1000)
    samples, _, _ = asyncio.run(
        run(ns, settings, ["198.18.0.2"], {"198.18.0.2": answer(0.020)}, stall_s=0.150)
    )
    (s,) = samples
    assert s.received == 3
    assert s.rtt_min_ms >= 20.0 and s.rtt_max_ms < 20.0 + 60.0  # 60 ms: peer timer and read latency


# ---------------------------------------------------------------- loss, late, duplicates, reordering


def test_duplicates_late_reordering_and_loss_bursts(ns: NetNs) -> None:
    def dup(req: Request) -> list[tuple[float, bytes]]:
        return [(0.0, echo_reply(req)), (0.001, echo_reply(req))]

    def late_first_two(req: Request) -> list[tuple[float, bytes]]:
        return [(0.250 if req.index < 2 else 0.005, echo_reply(req))]

    def pattern(req: Request) -> list[tuple[float, bytes]]:
        # echo 1 is held past echo 2's reply (reordered); echoes 3 and 4 are dropped (burst of 2)
        hold = {0: 0.005, 1: 0.130, 2: 0.005}
        return [(hold[req.index], echo_reply(req))] if req.index in hold else []

    policies = {"198.18.0.4": dup, "198.18.0.5": late_first_two, "198.18.0.8": pattern, "2001:2::4": dup}
    settings = IcmpSettings(count=5, interval_ms=100, timeout_ms=150)
    samples, stats, _ = asyncio.run(run(ns, settings, list(policies), policies))
    by = {s.terminal: s for s in samples}

    d = by["198.18.0.4"]
    assert (d.sent, d.received, d.duplicates, d.late, d.error) == (5, 5, 5, 0, Outcome.OK)
    assert by["2001:2::4"].duplicates == 5 and by["2001:2::4"].received == 5

    late = by["198.18.0.5"]  # replies 250 ms after echoes 0 and 1, timeout 150 ms: lost and late
    assert (late.sent, late.received, late.late, late.error) == (5, 3, 2, Outcome.PARTIAL)
    assert late.loss == pytest.approx(0.4) and late.max_loss_burst == 2 and late.rtt_max_ms < 150.0

    p = by["198.18.0.8"]
    assert (p.sent, p.received, p.reordered, p.max_loss_burst, p.late) == (5, 3, 1, 2, 0)
    # RTTs in arrival order ~5, 5, 130 ms: |D| = 0, 125 -> mean 62.5 ms; RFC 3550: J = 0 then
    # (125 - 0)/16 = 7.8125 ms (1 ms for timer noise)
    assert p.jitter_ms == pytest.approx(62.5, abs=1.0)
    assert p.jitter_rfc3550_ms == pytest.approx(7.8125, abs=1.0)
    assert stats.duplicates == 10 and stats.late == 2


def test_send_error_is_not_loss(ns: NetNs) -> None:
    samples, stats, _ = asyncio.run(run(ns, FAST, ["10.0.0.1", "2001:db8::1"]))  # no route in the ns
    for s in samples:
        assert (s.sent, s.received, s.error) == (0, 0, Outcome.SEND_ERROR)
        assert s.loss is None and not s.measured
    assert stats.send_errors == 10 and stats.sent == 0


# ---------------------------------------------------------------- unreachable and hostile input


def test_destination_unreachable(ns: NetNs) -> None:
    def full_quote(req: Request) -> list[tuple[float, bytes]]:
        return [(0.0, unreachable(req, req.packet, "198.18.0.254" if req.version == 4 else "2001:2::fe"))]

    def rfc792_minimum(req: Request) -> list[tuple[float, bytes]]:
        return [(0.0, unreachable(req, req.packet[:28], router="198.18.0.254"))]  # IP header + 8 bytes

    policies = {"198.18.0.6": full_quote, "198.18.0.7": rfc792_minimum, "2001:2::6": full_quote}
    samples, stats, _ = asyncio.run(run(ns, FAST, list(policies), policies))
    for s in samples:
        assert (s.sent, s.received, s.error, s.loss) == (5, 0, Outcome.UNREACHABLE, 1.0), s
    assert stats.unreachable == 15 and stats.errors_ignored == 0


def hostile(req: Request) -> list[tuple[float, bytes]]:
    """Everything an attacker or a confused network can send about this echo, none of it an answer."""
    tok = req.payload
    other = "198.18.0.3" if req.version == 4 else "2001:2::3"
    bad_dst = bytearray(req.packet)
    if req.version == 4:
        bad_dst[16:20] = ip_address("198.18.0.99").packed
        bad_dst[10:12] = struct.pack("!H", 0)  # the quote is not checked; keep it plausible anyway
    else:
        bad_dst[24:40] = ip_address("2001:2::99").packed
    bad_nonce_quote = req.packet[: len(req.packet) - len(req.icmp) + 8] + bytes([tok[0] ^ 0xFF]) + tok[1:]
    router = "198.18.0.254" if req.version == 4 else "2001:2::fe"
    return [
        (0.0, echo_reply(req, icmp_len=12)),  # truncated: header, half a token
        (0.0, echo_reply(req, src=other)),  # our token, wrong source
        (0.0, echo_reply(req, payload=bytes([tok[0] ^ 0xFF]) + tok[1:])),  # another nonce
        (0.0, echo_reply(req, seq=(req.seq + 1) & 0xFFFF)),  # our token, wrong sequence
        (0.0, echo_reply(req, ident=(req.ident + 1) & 0xFFFF)),  # our token, wrong identifier
        (0.0, unreachable(req, bytes(range(64)), router)),  # quoting garbage
        (0.0, unreachable(req, bytes(bad_dst), router)),  # quoting our echo sent elsewhere
        (0.0, unreachable(req, bad_nonce_quote, router)),  # quoting an echo with another nonce
    ]


def test_hostile_packets_change_no_result(ns: NetNs) -> None:
    # Silent targets get only hostile packets; answering targets get them BEFORE the genuine reply,
    # so a reply from the wrong source would otherwise be counted and the real one called a duplicate.
    def then_answer(req: Request) -> list[tuple[float, bytes]]:
        return [*hostile(req), (0.0, echo_reply(req))]

    policies = {
        "198.18.0.2": hostile,
        "198.18.0.4": then_answer,
        "2001:2::2": hostile,
        "2001:2::4": then_answer,
    }
    samples, stats, _ = asyncio.run(run(ns, FAST, list(policies), policies))
    by = {s.terminal: s for s in samples}
    for silent in ("198.18.0.2", "2001:2::2"):
        s = by[silent]
        assert (s.sent, s.received, s.duplicates, s.late, s.error) == (5, 0, 0, 0, Outcome.TIMEOUT)
        assert s.rtt_avg_ms is None
    for healthy in ("198.18.0.4", "2001:2::4"):
        s = by[healthy]
        assert (s.sent, s.received, s.duplicates, s.late, s.error) == (5, 5, 0, 0, Outcome.OK)
    echoes = 4 * 5
    assert stats.replies == 10 and stats.unreachable == 0 and stats.duplicates == 0
    assert stats.truncated == echoes
    assert stats.wrong_source == echoes
    assert stats.foreign == 3 * echoes  # other nonce, wrong sequence, wrong identifier
    assert stats.errors_ignored == 3 * echoes


# ---------------------------------------------------------------- unprivileged ping sockets


def test_unprivileged_ping_sockets(ns: NetNs) -> None:
    ns.run("sysctl", "-qw", "net.ipv4.ping_group_range=0 2147483647")

    def late_second(req: Request) -> list[tuple[float, bytes]]:
        return [(0.250 if req.index == 1 else 0.0, echo_reply(req))]

    def unreach(req: Request) -> list[tuple[float, bytes]]:
        return [(0.0, unreachable(req, req.packet, "198.18.0.254" if req.version == 4 else "2001:2::fe"))]

    def dup_with_hostile(req: Request) -> list[tuple[float, bytes]]:
        return [(0.0, p) for _, p in hostile(req)[:4]] + [(0.0, echo_reply(req)), (0.0, echo_reply(req))]

    policies: dict[str, Policy] = {
        "198.18.0.4": dup_with_hostile,
        "198.18.0.5": late_second,
        "198.18.0.6": unreach,
        "2001:2::4": dup_with_hostile,
        "2001:2::6": unreach,
    }
    settings = IcmpSettings(count=5, interval_ms=100, timeout_ms=150, socket_mode="dgram")
    samples, stats, _ = asyncio.run(run(ns, settings, [*list(policies), "127.0.0.9"], policies))
    by = {s.terminal: s for s in samples}
    for a in ("198.18.0.4", "2001:2::4"):
        assert (by[a].received, by[a].duplicates, by[a].error) == (5, 5, Outcome.OK)
    assert (by["198.18.0.5"].received, by["198.18.0.5"].late) == (4, 1)
    for a in ("198.18.0.6", "2001:2::6"):
        assert (by[a].sent, by[a].received, by[a].error) == (5, 0, Outcome.UNREACHABLE)
    assert by["127.0.0.9"].received == 5
    assert stats.unreachable == 10 and stats.wrong_source == 10


def test_ping_sockets_refused_without_privilege_is_a_clear_error(ns: NetNs) -> None:
    ns.run("sysctl", "-qw", "net.ipv4.ping_group_range=1 0")

    async def start() -> None:
        engine = IcmpEngine(IcmpSettings(socket_mode="dgram"))
        with ns.inside():
            await engine.start()

    with pytest.raises(PermissionError, match="ping_group_range"):
        asyncio.run(start())


# ---------------------------------------------------------------- settings and registry


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"count": 0}, r"icmp\.count"),
        ({"interval_ms": -1}, r"icmp\.interval_ms"),
        ({"timeout_ms": 0}, r"icmp\.timeout_ms"),
        ({"dscp": 64}, r"icmp\.dscp"),
        ({"payload_size": 7}, r"icmp\.payload_size"),
        ({"source_v4": "2001:2::1"}, r"icmp\.source_v4: expected an IPv4"),
        ({"source_v6": "nonsense"}, r"icmp\.source_v6: not an IP address"),
        ({"socket_mode": "magic"}, r"icmp\.socket_mode"),
    ],
)
def test_settings_reject_bad_values_naming_the_key(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        IcmpSettings(**kwargs)  # type: ignore[arg-type]


def test_defaults_and_registry() -> None:
    s, j = IcmpSettings(), IcmpJitterSettings()
    assert (s.count, s.interval_ms, s.timeout_ms, s.dscp, s.payload_size) == (5, 200.0, 1000.0, 34, 56)
    assert (j.count, j.interval_ms, j.timeout_ms, j.dscp) == (20, 20.0, 1000.0, 34)
    assert SETTINGS[ProbeKind.ICMP] is IcmpSettings and SETTINGS[ProbeKind.ICMP_JITTER] is IcmpJitterSettings
    assert set(ENGINES) >= {ProbeKind.ICMP, ProbeKind.ICMP_JITTER}
    engine = make_engine(ProbeKind.ICMP_JITTER)
    assert isinstance(engine, ProbeEngine) and engine.kind is ProbeKind.ICMP_JITTER
    assert make_engine(ProbeKind.ICMP).kind is ProbeKind.ICMP


def test_shared_transport_must_match_settings() -> None:
    a = IcmpEngine(IcmpSettings())
    b = IcmpEngine(IcmpJitterSettings(), transport=a.transport)
    assert b.transport is a.transport
    with pytest.raises(ValueError, match="same dscp"):
        IcmpEngine(IcmpJitterSettings(dscp=0), transport=a.transport)


def test_two_engines_share_one_transport(ns: NetNs) -> None:
    async def go() -> tuple[Sample, Sample, int]:
        icmp = IcmpEngine(FAST)
        train = IcmpEngine(
            IcmpJitterSettings(count=10, interval_ms=10, timeout_ms=300), transport=icmp.transport
        )
        with ns.inside():
            await icmp.start()
            await train.start()
        target = targets("127.0.0.7")[0]
        a, b = await asyncio.gather(icmp.probe(target, "v"), train.probe(target, "v"))
        await icmp.close()
        still_open = train.transport.is_open
        await train.close()
        return a, b, still_open

    a, b, still_open = asyncio.run(go())
    assert (a.kind, a.received, b.kind, b.received) == (ProbeKind.ICMP, 5, ProbeKind.ICMP_JITTER, 10)
    assert still_open  # the transport stays open until its last engine closes


def test_thread_is_back_in_its_own_namespace() -> None:
    # the netns helper must always switch the thread back
    assert os.readlink("/proc/thread-self/ns/net") == HOME_NETNS

"""The reflector: answers scapy-built STAMP / RTP packets correctly, never amplifies, never crashes on
garbage (pure functions fuzzed with hypothesis, the socket server with thousands of real datagrams),
honours the allow-list and the per-source rate limit; ``slaprobe reflect`` runs as a command."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scapy.contrib.stamp import (
    STAMPSessionReflectorTestUnauthenticated,
    STAMPSessionSenderTestUnauthenticated,
)
from scapy.layers.rtp import RTP

from slaprobe.probes import stampwire as wire
from slaprobe.probes.reflect_server import ReflectMode, Reflector, ReflectorSettings
from slaprobe.probes.reflector import SessionTable, rtp_echo, stamp_reflect
from slaprobe.probes.stamp import StampEngine, StampSettings
from tests.probes.streamlab import target

REPO = Path(__file__).resolve().parents[2]
T2, T3 = 1_700_000_000_100_000_000, 1_700_000_000_100_250_000
DEFAULT_TTL = int(Path("/proc/sys/net/ipv4/ip_default_ttl").read_text())
DEFAULT_HOPS = int(Path("/proc/sys/net/ipv6/conf/lo/hop_limit").read_text())


def scapy_sender(seq: int, ssid: int = 7, ts: float = 3_908_988_800.5, pad: int = 0) -> bytes:
    return bytes(STAMPSessionSenderTestUnauthenticated(seq=seq, ts=ts, ssid=ssid)) + bytes(pad)


# ---------------------------------------------------------------- pure functions


def test_stamp_reply_to_scapy_sender_parses_as_scapy_reflector_packet() -> None:
    request = scapy_sender(41, ssid=300, pad=20)
    reply = stamp_reflect(request, T2, T3, None, ttl=57)
    assert reply is not None and len(reply) == len(request) == 64
    pkt = STAMPSessionReflectorTestUnauthenticated(reply)
    assert pkt.seq == 41  # stateless: the sender's own number
    assert pkt.seq_sender == 41 and pkt.ssid == 300 and pkt.ttl_sender == 57
    assert reply[28:36] == request[4:12]  # T1 copied bit for bit
    assert wire.ntp_to_ns(wire.parse_reflector(reply).receive_timestamp) == T2
    assert wire.ntp_to_ns(wire.parse_reflector(reply).timestamp) == T3
    assert pkt.mbz1 == 0 and pkt.mbz2 == 0
    assert reply[44:] == request[44:]  # padding / TLVs echoed


def test_stateful_reflector_counts_per_session() -> None:
    state = SessionTable()
    seqs_a = [
        STAMPSessionReflectorTestUnauthenticated(stamp_reflect(scapy_sender(s, ssid=1), T2, T3, state)).seq
        for s in (0, 5, 9)
    ]
    seqs_b = [
        STAMPSessionReflectorTestUnauthenticated(stamp_reflect(scapy_sender(s, ssid=2), T2, T3, state)).seq
        for s in (3, 4)
    ]
    assert seqs_a == [0, 1, 2]  # its own counter of received packets, whatever the sender's numbers
    assert seqs_b == [0, 1]  # a second SSID is a second session


def test_session_table_is_bounded() -> None:
    table = SessionTable(max_sessions=4)
    for ssid in range(100):
        stamp_reflect(scapy_sender(0, ssid=ssid), T2, T3, table)
    assert len(table) == 4 and set(table) == {96, 97, 98, 99}


def test_malformed_and_oversize_stamp_requests_get_no_answer() -> None:
    assert stamp_reflect(scapy_sender(1)[:43], T2, T3) is None
    assert stamp_reflect(b"", T2, T3) is None
    assert stamp_reflect(scapy_sender(1, pad=2000), T2, T3) is None
    assert stamp_reflect(scapy_sender(1, pad=100), T2, T3, max_size=100) is None


def test_rtp_echo_accepts_rtp_and_rejects_the_rest() -> None:
    good = bytes(RTP(payload_type=0, sequence=5, timestamp=160, sourcesync=9)) + bytes(160)
    assert rtp_echo(good) == good
    with_csrc = bytes(RTP(sync=[1, 2])) + bytes(10)
    assert rtp_echo(with_csrc) == with_csrc
    assert rtp_echo(with_csrc[:18]) is None  # claims 2 CSRCs (8 bytes) that are not there
    assert rtp_echo(bytes(RTP(version=1)) + bytes(20)) is None
    assert rtp_echo(good[:11]) is None
    assert rtp_echo(good + bytes(2000)) is None
    ext = bytes([0x90, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1]) + struct.pack("!HH", 0xBEDE, 3)
    assert rtp_echo(ext + bytes(12)) == ext + bytes(12)
    assert rtp_echo(ext + bytes(8)) is None  # extension says 12 bytes, 8 present


@settings(max_examples=1500, deadline=None)
@given(data=st.binary(min_size=0, max_size=1600), stateful=st.booleans())
def test_pure_reflectors_never_raise_and_never_amplify(data: bytes, stateful: bool) -> None:
    reply = stamp_reflect(data, T2, T3, SessionTable() if stateful else None)
    assert reply is None or len(reply) == len(data)
    echo = rtp_echo(data)
    assert echo is None or echo == data


# ---------------------------------------------------------------- the socket server


async def _server(**kwargs) -> tuple[Reflector, dict[str, int]]:
    defaults = {"stamp_port": 0, "rtp_port": 0, "bind": ("127.0.0.1", "::1"), "rate_limit_pps": 100_000.0}
    reflector = Reflector(ReflectorSettings(**(defaults | kwargs)))
    await reflector.start()
    ports = {f"{kind}{'6' if ':' in addr else ''}": port for addr, port, kind in reflector.addresses}
    return reflector, ports


async def _exchange(
    port: int, requests: list[bytes], family=socket.AF_INET, settle: float = 0.3
) -> list[bytes]:
    """Send datagrams from one client socket, return every reply that came back."""
    loop = asyncio.get_running_loop()
    sock = socket.socket(family, socket.SOCK_DGRAM)
    sock.setblocking(False)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 8 << 20)
    host = "127.0.0.1" if family == socket.AF_INET else "::1"
    replies: list[bytes] = []

    def drain() -> None:
        while True:
            try:
                replies.append(sock.recv(70_000))
            except BlockingIOError:
                return

    loop.add_reader(sock.fileno(), drain)
    try:
        for i, req in enumerate(requests):
            try:
                sock.sendto(req, (host, port))
            except OSError:  # e.g. EMSGSIZE for > 65507 bytes: the kernel refused, nothing was sent
                continue
            if i % 50 == 49:
                await asyncio.sleep(0.002)  # let the reflector keep up; the loop is shared
        await asyncio.sleep(settle)
    finally:
        loop.remove_reader(sock.fileno())
        sock.close()
    return replies


def test_server_answers_scapy_senders_over_both_families() -> None:
    async def main():
        reflector, ports = await _server()
        try:
            v4 = await _exchange(ports["stamp"], [scapy_sender(i, ssid=5) for i in range(3)])
            v6 = await _exchange(
                ports["stamp6"], [scapy_sender(i, ssid=5) for i in range(3)], socket.AF_INET6
            )
            rtp = await _exchange(ports["rtp"], [bytes(RTP(sequence=9, sourcesync=4)) + bytes(160)])
        finally:
            await reflector.close()
        return v4, v6, rtp

    before = time.time_ns()
    v4, v6, rtp = asyncio.run(main())
    for replies in (v4, v6):
        pkts = [STAMPSessionReflectorTestUnauthenticated(r) for r in replies]
        assert [p.seq for p in pkts] == [0, 1, 2] and [p.seq_sender for p in pkts] == [0, 1, 2]
        for raw in replies:
            parsed = wire.parse_reflector(raw)
            t2, t3 = wire.ntp_to_ns(parsed.receive_timestamp), wire.ntp_to_ns(parsed.timestamp)
            assert before <= t2 <= t3 <= time.time_ns()
            # The received TTL / hop limit is echoed: a fresh loopback packet carries the default.
            assert parsed.sender_ttl == (DEFAULT_TTL if raw in v4 else DEFAULT_HOPS)
    assert RTP(rtp[0]).sequence == 9 and len(rtp[0]) == 172


def test_our_sender_against_our_server() -> None:
    async def main():
        reflector, ports = await _server(mode=ReflectMode.STATELESS)
        try:
            async with StampEngine(StampSettings(rate_pps=200, duration_s=0.25, size=100)) as engine:
                return await engine.measure(target("T", "::1", ports["stamp6"]), "v")
        finally:
            await reflector.close()

    m = asyncio.run(main())
    assert m.sample.sent == m.sample.received == 50 and m.sample.loss_fwd == 0.0


def _garbage(rng: random.Random, n: int, at: int) -> list[bytes]:
    """Random, truncated, oversize and valid-looking datagrams; bytes at..at+4 are a unique tag so a
    reply can be paired with its request (STAMP copies bytes 0..4 to 24..28, RTP echoes everything)."""
    valid_stamp = scapy_sender(1)
    valid_rtp = bytes(RTP()) + bytes(160)
    out = []
    for i in range(n + 1):
        tag = struct.pack("!I", i)
        kind = i % 6
        if i == n:
            body = bytes(65_507)  # the largest UDP datagram IPv4 carries
        elif kind == 0:
            body = rng.randbytes(rng.randrange(0, 200))
        elif kind == 1:
            body = valid_stamp[: rng.randrange(0, 44)]
        elif kind == 2:
            body = rng.randbytes(rng.randrange(1473, 9000))
        elif kind == 3:
            body = (
                valid_rtp[: rng.randrange(0, 12)] if rng.random() < 0.5 else bytes([0x8F]) + rng.randbytes(30)
            )
        elif kind == 4:
            body = valid_stamp + rng.randbytes(rng.randrange(0, 1500))
        else:
            body = bytes([0x80]) + rng.randbytes(rng.randrange(11, 1600))
        out.append(body[:at] + tag + body[at + 4 :] if len(body) >= at + 4 else body)
    return out


def test_server_survives_fuzzing_and_never_amplifies() -> None:
    rng = random.Random(20240501)
    requests = _garbage(rng, 3000, at=0)
    rtp_requests = _garbage(rng, 3000, at=8)  # bytes 8..12 (the SSRC) carry the tag

    async def main():
        reflector, ports = await _server()
        try:
            stamp = await _exchange(ports["stamp"], requests)
            rtp = await _exchange(ports["rtp"], rtp_requests)
            # Still serving afterwards:
            after = await _exchange(ports["stamp"], [scapy_sender(0, ssid=9)])
        finally:
            await reflector.close()
        return stamp, rtp, after, reflector.counters

    stamp, rtp, after, counters = asyncio.run(main())
    by_tag = {r[:4]: r for r in requests if len(r) >= 4}
    rtp_by_tag = {r[8:12]: r for r in rtp_requests if len(r) >= 12}
    assert len(stamp) > 500 and len(rtp) > 300  # the valid-looking ones were answered
    for reply in stamp:
        request = by_tag[reply[24:28]]
        assert len(reply) == len(request) <= 1472
    for reply in rtp:
        assert reply == rtp_by_tag[reply[8:12]]
        assert len(reply) <= 1472
    assert len(after) == 1
    assert (
        counters.received == counters.answered + counters.denied + counters.rate_limited + counters.malformed
    )
    assert counters.malformed > 1000 and counters.send_errors == 0


def test_allow_list_and_rate_limit() -> None:
    async def main():
        denied, dports = await _server(allow=("192.0.2.0/24",), rtp_port=None)
        allowed, aports = await _server(
            allow=("10.0.0.0/8", "127.0.0.0/8"), rtp_port=None, rate_limit_pps=40.0
        )
        try:
            none = await _exchange(dports["stamp"], [scapy_sender(i) for i in range(5)])
            burst = await _exchange(aports["stamp"], [scapy_sender(i) for i in range(200)], settle=0.1)
        finally:
            await denied.close()
            await allowed.close()
        return none, burst, denied.counters, allowed.counters

    none, burst, dc, ac = asyncio.run(main())
    assert none == [] and dc.denied == 5
    # One second of burst (40 tokens) plus refill over the ~0.1 s the burst took: far below 200.
    assert 40 <= len(burst) <= 60 and ac.rate_limited == 200 - len(burst)


def test_settings_validation() -> None:
    with pytest.raises(ValueError, match="--allow"):
        ReflectorSettings(allow=("not-a-network",))
    with pytest.raises(ValueError, match="neither"):
        ReflectorSettings(stamp_port=None, rtp_port=None)
    with pytest.raises(ValueError, match="--bind"):
        ReflectorSettings(bind=("localhost",))


def test_reflect_command_serves_until_sigterm() -> None:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.Popen(
        [sys.executable, "-m", "slaprobe", "reflect", "--stamp-port", "0", "--rtp-port", "0",
         "--bind", "127.0.0.1", "--allow", "127.0.0.0/8", "--mode", "stateless"],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        ports = {}
        while len(ports) < 2:
            line = proc.stdout.readline()
            assert line, proc.stderr.read()
            if line.startswith("listening"):
                _, kind, addr = line.split()
                ports[kind] = int(addr.rsplit(":", 1)[1])
        client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        client.settimeout(5)
        client.sendto(scapy_sender(12, pad=6), ("127.0.0.1", ports["stamp"]))
        reply = STAMPSessionReflectorTestUnauthenticated(client.recv(2000))
        assert reply.seq == reply.seq_sender == 12
        client.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    assert "answered 1" in out


# ---------------------------------------------------------------- loops, bursts, live counters (issue #11)


def test_two_reflectors_pointed_at_each_other_never_loop() -> None:
    """A request spoofed from another reflector's address and port gets no answer at all (before the loop
    guard: ~1,000 reflections between two reflectors on the same port, stopped only by the rate limit)."""

    async def main():
        a = Reflector(ReflectorSettings(stamp_port=0, bind=("127.0.0.1",), mode=ReflectMode.STATELESS))
        await a.start()
        port = a.addresses[0][1]
        b = Reflector(ReflectorSettings(stamp_port=port, bind=("127.0.0.2",), mode=ReflectMode.STATELESS))
        await b.start()
        try:
            b._socks[0][0].sendto(scapy_sender(1), ("127.0.0.1", port))  # "from B", as a spoofer would
            a._socks[0][0].sendto(scapy_sender(2), ("127.0.0.1", port))  # "from A itself"
            await asyncio.sleep(0.5)
        finally:
            await a.close()
            await b.close()
        return a.counters, b.counters

    ac, bc = asyncio.run(main())
    assert ac.answered + bc.answered <= 1
    assert ac.refused_port == 2 and ac.answered == 0 and bc.received == 0


@pytest.mark.parametrize(
    ("port", "refused"), [(862, True), (53, True), (123, True), (5004, True), (40000, False)]
)
def test_well_known_and_reflector_source_ports_are_refused(port: int, refused: bool) -> None:
    async def main():
        r = Reflector(ReflectorSettings(stamp_port=0, bind=("127.0.0.1",)))
        await r.start()
        own = r.addresses[0][1]
        sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sender.setblocking(False)
        sender.bind(("127.0.0.3", port))
        try:
            sender.sendto(scapy_sender(3), ("127.0.0.1", own))
            await asyncio.sleep(0.3)
            try:
                got = sender.recv(2000)
            except BlockingIOError:
                got = None
        finally:
            sender.close()
            await r.close()
        return r, got

    r, got = asyncio.run(main())
    assert (got is None) is refused
    assert r.counters.refused_port == (1 if refused else 0)
    assert r.refuses_port(r.addresses[0][1] if r.addresses else 0)


def test_a_burst_from_one_source_does_not_crowd_out_another() -> None:
    """300 back-to-back requests from one source, then one from another, ten times: the second source is
    answered every time (with the kernel's default receive buffer it lost most of them)."""

    async def main():
        r = Reflector(ReflectorSettings(stamp_port=0, bind=("127.0.0.1",), rate_limit_pps=100_000.0))
        await r.start()
        port = r.addresses[0][1]
        noisy = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        noisy.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 8 << 20)
        quiet = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        quiet.settimeout(2)
        answered = 0
        request = scapy_sender(4, pad=1200)  # video-sized probes fill a buffer fastest
        try:
            for round_ in range(10):
                for _ in range(300):
                    noisy.sendto(request, ("127.0.0.1", port))  # no yield: the reflector cannot read yet
                quiet.sendto(scapy_sender(round_, pad=1200), ("127.0.0.1", port))
                await asyncio.sleep(0.3)
                try:
                    while True:
                        quiet.setblocking(False)
                        quiet.recv(2000)
                        answered += 1
                except BlockingIOError:
                    pass
        finally:
            noisy.close()
            quiet.close()
            await r.close()
        return answered

    assert asyncio.run(main()) == 10


def test_reflect_command_reports_counters_on_sigusr1_and_names_a_busy_port() -> None:
    import select

    env = dict(os.environ, PYTHONPATH=str(REPO))
    busy = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    busy.bind(("127.0.0.1", 0))
    busy_port = busy.getsockname()[1]
    try:
        clash = subprocess.run(
            [sys.executable, "-m", "slaprobe", "reflect", "--stamp-port", str(busy_port),
             "--bind", "127.0.0.1"],
            cwd=REPO, env=env, capture_output=True, text=True, timeout=30,
        )  # fmt: skip
    finally:
        busy.close()
    assert clash.returncode == 1
    assert f"127.0.0.1:{busy_port}" in clash.stderr and "in use" in clash.stderr

    proc = subprocess.Popen(
        [sys.executable, "-m", "slaprobe", "reflect", "--stamp-port", "0", "--bind", "127.0.0.1",
         "--allow", "127.0.0.0/8", "--stats-interval", "0"],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        line = proc.stdout.readline()
        assert line.startswith("listening"), proc.stderr.read()
        port = int(line.split()[2].rsplit(":", 1)[1])
        client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        client.settimeout(5)
        for seq in range(3):
            client.sendto(scapy_sender(seq), ("127.0.0.1", port))
            client.recv(2000)
        client.close()
        proc.send_signal(signal.SIGUSR1)
        seen = ""
        deadline = time.monotonic() + 10
        while "answered 3" not in seen and time.monotonic() < deadline:
            ready, _, _ = select.select([proc.stderr], [], [], 0.5)
            if ready:
                seen += proc.stderr.readline()
        assert proc.poll() is None, "SIGUSR1 must not stop the reflector"
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _err = proc.communicate(timeout=10)
    assert "received 3 answered 3" in seen
    assert proc.returncode == 0 and "answered 3" in out

"""UDP through the lab: the built-in echo, the handler contract (simulated arrival time, per-sender state),
handlers that answer nothing or raise, ports without a handler (silent drop or ICMP port unreachable)."""

from __future__ import annotations

import socket
import statistics
import struct
import time

import pytest

from slaprobe.lab import Lab, LabProfile

pytestmark = pytest.mark.lab

HANDLER = "tests.lab.handlers:stamp_rx"
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)


def _udp(lab: Lab, v6: bool = False) -> socket.socket:
    with lab.inside():
        sock = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET, socket.SOCK_DGRAM)
    sock.settimeout(0.5)
    return sock


def test_udp_echo_on_port_7_both_families(lab_factory) -> None:
    lab = lab_factory(LabProfile.build(terminals=[("E", "198.18.0.7")], defaults={"delay_ms": 1}))
    for v6, addr in ((False, "198.18.0.7"), (True, "2001:2:0:1::7")):
        with _udp(lab, v6) as sock:
            for i in range(5):
                payload = f"echo {i}".encode() * (i + 1)
                sock.sendto(payload, (addr, 7))
                data, src = sock.recvfrom(2048)
                assert data == payload and src[:2] == (addr, 7)
    truth = lab.ground_truth()
    udp = [r for r in truth.packets if r["proto"] == "udp"]
    assert len(udp) == 10 and {r["action"] for r in udp} == {"replied"} and {r["dport"] for r in udp} == {7}


def test_handler_sees_simulated_arrival_and_keeps_state_per_sender(lab_factory) -> None:
    lab = lab_factory(
        LabProfile.build(
            terminals=[("H", "198.18.0.9")],
            defaults={"delay_fwd_ms": 3, "delay_rev_ms": 1},
            udp={9000: HANDLER},
        )
    )
    one_way, rtts = [], []
    with _udp(lab) as a, _udp(lab) as b:
        a.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        for i in range(30):
            t_send = time.time_ns()
            a.sendto(b"x", ("198.18.0.9", 9000))
            data, anc, _, _ = a.recvmsg(2048, 256)
            sec, nsec = struct.unpack("qq", anc[0][2][:16])  # kernel receive timestamp
            t_back = sec * 1_000_000_000 + nsec
            rx_ns, tx_ns, n = struct.unpack("!QQI", data[:20])
            assert n == i + 1 and tx_ns == rx_ns and data[20:] == b"H"
            one_way.append((rx_ns - t_send) / 1e6)
            rtts.append((t_back - t_send) / 1e6)
        b.sendto(b"x", ("198.18.0.9", 9000))
        assert struct.unpack("!QQI", b.recv(2048)[:20])[2] == 1  # other source port: its own state
    # send time from user space (taken right before sendto): allow 0.3 ms for our own scheduling
    assert abs(statistics.median(one_way) - 3.0) < 0.3
    assert abs(statistics.median(rtts) - 4.0) < 0.3


def test_handler_none_raise_and_unknown_port(lab_factory) -> None:
    lab = lab_factory(LabProfile.build(udp={9000: HANDLER}))
    with _udp(lab) as sock:
        sock.settimeout(0.2)
        for payload, port in ((b"none", 9000), (b"raise", 9000), (b"str", 9000), (b"hello", 9999)):
            sock.sendto(payload, ("198.18.0.1", port))
            with pytest.raises(TimeoutError):
                sock.recv(2048)
        sock.sendto(b"still alive", ("198.18.0.1", 9000))
        assert struct.unpack("!QQI", sock.recv(2048)[:20])[2] == 1
    actions = [r["action"] for r in lab.ground_truth().packets]
    assert actions == ["no_reply", "handler_error", "handler_error", "no_listener", "replied"]
    assert "asked to fail" in lab.log()


def test_icmp_port_unreachable_when_enabled(lab_factory) -> None:
    lab = lab_factory(LabProfile.build(icmp_unreachable=True))
    for v6, addr in ((False, "198.18.0.1"), (True, "2001:2:0:1::1")):
        with _udp(lab, v6) as sock:
            sock.connect((addr, 9999))
            sock.send(b"anyone?")
            with pytest.raises(ConnectionRefusedError):
                sock.recv(2048)


def test_udp_handler_registered_at_start(lab_factory) -> None:
    lab = lab_factory(LabProfile.build(), udp={5001: HANDLER})
    with _udp(lab) as sock:
        sock.sendto(b"x", ("198.18.3.3", 5001))
        assert sock.recv(2048)[20:] == b"-"  # unlisted address: no terminal id

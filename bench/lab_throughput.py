"""How many requests per second the lab responder sustains, and how late its replies leave.

Not a test: prints tables. For each offered rate the same generator (one socket inside the lab
namespace, paced against the clock in 1 ms slices, round-robin over the terminals) drives, in the same
run, a reference and the lab:

* ICMP: reference = the kernel's own echo responder (the prober source address, answered by Linux: the
  ceiling of generator + stack); lab = every terminal of the profile, 5 ms delay.
* UDP: reference = a minimal Python ``recvfrom``/``sendto`` echo loop (a subprocess in the namespace);
  lab = the built-in UDP echo (port 7) of every terminal, 5 ms delay.

Each cell is the median over ``--repeat`` runs. ``ratio`` = lab replies/s over reference replies/s.
Lateness is the responder's own measure (actual send − due time of each reply, 1 µs bins); ``kdrop``
counts requests the kernel dropped at a full TUN queue; ``cpu`` is responder CPU per request.

    python bench/lab_throughput.py [--terminals 20000] [--rates 2000,10000,20000] [--seconds 2]
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import socket
import statistics
import struct
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from slaprobe.lab import Lab, LabProfile
from slaprobe.lab.packets import inet_checksum

IDENT = os.getpid() & 0xFFFF
UDP_ECHO_SERVER = """
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 << 20)
s.bind(("198.19.255.1", 7777))
print("up", flush=True)
while True:
    data, addr = s.recvfrom(2048)
    s.sendto(data, addr)
"""


def _icmp_request(seq: int) -> bytes:
    hdr = struct.pack("!BBHHH", 8, 0, 0, IDENT, seq & 0xFFFF) + b"slaprobe-bench!!"
    return hdr[:2] + inet_checksum(hdr).to_bytes(2, "big") + hdr[4:]


def _is_icmp_reply(data: bytes) -> bool:
    icmp = data[(data[0] & 0x0F) * 4 :]
    return icmp[0] == 0 and struct.unpack_from("!H", icmp, 4)[0] == IDENT


def drive(
    sock: socket.socket, targets: list[tuple[str, int]], payloads: list[bytes],
    is_reply: Callable[[bytes], bool], rate: int, seconds: float,
) -> tuple[int, int, float]:  # fmt: skip
    """Offer ``rate`` requests/s for ``seconds``; return (sent, replies, replies per second)."""
    sent = received = 0
    start = time.monotonic()
    end = start + seconds
    last_reply = start
    n_targets, n_payloads = len(targets), len(payloads)
    while True:
        now = time.monotonic()
        if now < end:
            due = int(rate * (now - start)) + 1
            while sent < due:
                try:
                    sock.sendto(payloads[sent % n_payloads], targets[sent % n_targets])
                except BlockingIOError:
                    break
                sent += 1
        elif now > max(end, last_reply) + 0.2:
            return sent, received, received / max(1e-9, last_reply - start)
        while True:
            try:
                data = sock.recv(2048)
            except BlockingIOError:
                break
            if is_reply(data):
                received += 1
                last_reply = time.monotonic()
        time.sleep(max(0.0, 0.001 - (time.monotonic() - now)))


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _socket(lab: Lab, kind: int, proto: int) -> socket.socket:
    with lab.inside():
        sock = socket.socket(socket.AF_INET, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 << 20)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 16 << 20)
    sock.setblocking(False)
    return sock


def table(
    lab: Lab, name: str, ref: tuple, ours: tuple, rates: list[int], seconds: float, repeat: int
) -> None:
    print(f"\n{name}: reference = {ref[0]}")
    print(f"{'offered/s':>10} {'ref rx/s':>10} {'lab rx/s':>10} {'ratio':>6} {'lab loss':>9} "
          f"{'late p50 us':>12} {'late p99 us':>12} {'kdrop':>6} {'cpu us/req':>11}")  # fmt: skip
    for rate in rates:
        rows = []
        for _ in range(repeat):
            _, _, ref_rate = drive(*ref[1:], rate, seconds)
            before = lab.stats(reset_lateness=True)
            cpu0 = cpu_seconds(lab.proc.pid)
            sent, got, lab_rate = drive(*ours, rate, seconds)
            cpu = cpu_seconds(lab.proc.pid) - cpu0
            after = lab.stats()
            served = max(1, after["requests"] - before["requests"])
            late = after["late_us"]
            loss = 1 - got / max(1, sent)
            kdrop = after["kernel_tx_dropped"] or 0
            rows.append((ref_rate, lab_rate, loss, late["p50"], late["p99"], kdrop, cpu * 1e6 / served))
        ref_rate, lab_rate, loss, p50, p99, kdrop, cpu = (
            statistics.median(c) for c in zip(*rows, strict=True)
        )
        print(f"{rate:>10} {ref_rate:>10.0f} {lab_rate:>10.0f} {lab_rate / ref_rate:>6.2f} {loss:>9.2%} "
              f"{p50:>12.0f} {p99:>12.0f} {kdrop:>6.0f} {cpu:>11.1f}")  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--terminals", type=int, default=20_000)
    ap.add_argument("--rates", default="2000,10000,20000")
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--packets-truth", action="store_true", help="also write per-packet ground truth")
    args = ap.parse_args()
    rates = [int(r) for r in args.rates.split(",")]
    base = ipaddress.IPv4Address("198.18.0.1")
    terminals = [(f"T{i:05d}", str(base + i)) for i in range(args.terminals)]
    profile = LabProfile.build(terminals=terminals, defaults={"delay_ms": 5}, seed=1)
    t0 = time.monotonic()
    with Lab.start(profile, truth=args.packets_truth) as lab:
        truth = "on" if args.packets_truth else "off"
        print(f"lab with {args.terminals} terminals ready in {time.monotonic() - t0:.2f} s; responder "
              f"scheduling {lab.sched}; per-packet truth {truth}")  # fmt: skip
        icmp = _socket(lab, socket.SOCK_RAW, socket.IPPROTO_ICMP)
        pings = [_icmp_request(i) for i in range(4096)]
        table(
            lab, "ICMP echo", ("kernel echo", icmp, [(lab.source_v4, 0)], pings, _is_icmp_reply),
            (icmp, [(a, 0) for _, a in terminals], pings, _is_icmp_reply), rates, args.seconds, args.repeat,
        )  # fmt: skip
        server = subprocess.Popen(
            lab.command([sys.executable, "-c", UDP_ECHO_SERVER]), stdout=subprocess.PIPE, text=True
        )
        try:
            server.stdout.readline()
            udp = _socket(lab, socket.SOCK_DGRAM, 0)
            payloads = [b"slaprobe-bench-udp-%04d" % i for i in range(64)]
            table(
                lab, "UDP echo", ("python echo loop", udp, [(lab.source_v4, 7777)], payloads, bool),
                (udp, [(a, 7) for _, a in terminals], payloads, bool), rates, args.seconds, args.repeat,
            )  # fmt: skip
        finally:
            server.terminate()
            server.wait()


if __name__ == "__main__":
    main()

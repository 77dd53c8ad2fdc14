"""How many echo requests per second the lab responder sustains, and how late its replies leave.

Not a test: prints a table. For each offered rate the same generator (one raw ICMP socket inside the lab
namespace, paced in 1 ms slices, round-robin over the terminals) drives two targets in the same run:
the kernel's own echo responder (the prober source address, answered by Linux itself: the reference
ceiling of generator + stack) and the lab responder (every terminal of the profile, 5 ms delay). The
ratio column is lab replies/s over kernel replies/s. Lateness is the responder's own measure (actual
send − due time of each reply); "kdrop" counts requests the kernel dropped at a full TUN queue.

    python bench/lab_throughput.py [--terminals 20000] [--rates 2000,5000,10000,15000] [--seconds 3]
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import socket
import struct
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from slaprobe.lab import Lab, LabProfile
from slaprobe.lab.packets import inet_checksum

IDENT = os.getpid() & 0xFFFF


def _request(seq: int) -> bytes:
    hdr = struct.pack("!BBHHH", 8, 0, 0, IDENT, seq & 0xFFFF) + b"slaprobe-bench!!"
    return hdr[:2] + inet_checksum(hdr).to_bytes(2, "big") + hdr[4:]


def drive(sock: socket.socket, targets: list[str], rate: int, seconds: float) -> tuple[int, int, float]:
    """Offer ``rate`` requests/s for ``seconds``; return (sent, replies, seconds until the last reply)."""
    per_slice = rate / 1000
    sent = received = 0
    owed = 0.0
    start = time.monotonic()
    end = start + seconds
    last_reply = start
    packets = [_request(i) for i in range(4096)]
    n_targets = len(targets)
    while True:
        now = time.monotonic()
        if now < end:
            owed += per_slice
            while owed >= 1:
                try:
                    sock.sendto(packets[sent & 4095], (targets[sent % n_targets], 0))
                except BlockingIOError:
                    break
                sent += 1
                owed -= 1
        elif now > max(end, last_reply) + 0.2:
            return sent, received, last_reply - start
        while True:
            try:
                data = sock.recv(2048)
            except BlockingIOError:
                break
            icmp = data[(data[0] & 0x0F) * 4 :]
            if icmp[0] == 0 and struct.unpack_from("!H", icmp, 4)[0] == IDENT:
                received += 1
                last_reply = time.monotonic()
        sleep = start + (int((time.monotonic() - start) * 1000) + 1) / 1000 - time.monotonic()
        if sleep > 0:
            time.sleep(sleep)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--terminals", type=int, default=20_000)
    ap.add_argument("--rates", default="2000,5000,10000,15000")
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--packets-truth", action="store_true", help="also write per-packet ground truth")
    args = ap.parse_args()
    base = ipaddress.IPv4Address("198.18.0.1")
    terminals = [(f"T{i:05d}", str(base + i)) for i in range(args.terminals)]
    profile = LabProfile.build(terminals=terminals, defaults={"delay_ms": 5}, seed=1)
    t0 = time.monotonic()
    with Lab.start(profile, truth=args.packets_truth) as lab:
        print(f"lab with {args.terminals} terminals ready in {time.monotonic() - t0:.2f} s "
              f"(per-packet truth {'on' if args.packets_truth else 'off'})")  # fmt: skip
        with lab.inside():
            sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 << 20)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 16 << 20)
        sock.setblocking(False)
        addrs = [a for _, a in terminals]
        print(f"{'offered/s':>10} {'kernel rx/s':>12} {'lab rx/s':>10} {'ratio':>6} {'lab loss':>9} "
              f"{'late p50 us':>12} {'late p99 us':>12} {'kdrop':>6} {'cpu us/pkt':>11}")  # fmt: skip
        for rate in (int(r) for r in args.rates.split(",")):
            _k_sent, k_recv, k_span = drive(sock, [lab.source_v4], rate, args.seconds)
            before = lab.stats(reset_lateness=True)
            cpu0 = cpu_seconds(lab.proc.pid)
            l_sent, l_recv, l_span = drive(sock, addrs, rate, args.seconds)
            cpu1 = cpu_seconds(lab.proc.pid)
            after = lab.stats()
            late = after["late_us"]
            served = after["requests"] - before["requests"]
            print(
                f"{rate:>10} {k_recv / k_span:>12.0f} {l_recv / l_span:>10.0f} "
                f"{(l_recv / l_span) / (k_recv / k_span):>6.2f} {1 - l_recv / max(1, l_sent):>9.2%} "
                f"{late['p50']:>12} {late['p99']:>12} {after['kernel_tx_dropped'] or 0:>6} "
                f"{(cpu1 - cpu0) * 1e6 / max(1, served):>11.1f}"
            )


if __name__ == "__main__":
    main()

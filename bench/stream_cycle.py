"""Benchmark: one cycle of call-quality streams against the TUN lab, side by side with the ground truth.

    python bench/stream_cycle.py                          # 1,820 terminals, 50 pps x 2 s, 60 s cycle
    python bench/stream_cycle.py --terminals 20000 --cycle 300 --no-packet-truth

Every terminal runs one stream (STAMP to the lab's stateful reflector by default, ``--kind rtp`` for RTP
echo) whose start is spread evenly over the cycle, all from one StreamEngine (one socket per family).
Reported:

* pacing error: actual minus scheduled send time of every packet (p50 / p99 / max), floor p99 <= 2 ms;
* CPU seconds of the prober process (and of the lab responder, for scale) over the cycle;
* measurement error against the lab's ground truth: loss exact per terminal (always), and with
  per-packet truth the RFC 3550 jitter and median RTT computed from the delays the lab applied,
  floor |jitter error| <= 0.5 ms.

Run as root (the lab needs a network namespace and /dev/net/tun). Prints one table; exit status 1 when a
floor is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import ipaddress
import itertools
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from slaprobe.lab import Lab, LabProfile
from slaprobe.probes.base import ProbeTarget
from slaprobe.probes.rtp import RtpEngine, RtpSettings
from slaprobe.probes.stamp import StampEngine, StampSettings
from slaprobe.probes.stats import percentile
from slaprobe.probes.stream import StreamEngine

REFLECTOR = "slaprobe.probes.reflector"


def rfc3550(values: list[float]) -> float:
    j = 0.0
    for a, b in itertools.pairwise(values):
        j += (abs(b - a) - j) / 16
    return j


def addresses(n: int) -> list[str]:
    net = ipaddress.IPv4Network("198.18.0.0/16")
    return [str(net.network_address + 1 + i) for i in range(n)]


def proc_cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def run_cycle(lab: Lab, args: argparse.Namespace, addrs: list[str]) -> tuple[list, float, float]:
    streams = StreamEngine()
    with lab.inside():
        await streams.start()
    if args.kind == "stamp":
        settings = StampSettings(rate_pps=args.rate, duration_s=args.duration, stateful=True)
        engine = StampEngine(settings, streams=streams)
    else:
        settings = RtpSettings(rate_pps=args.rate, duration_s=args.duration)
        engine = RtpEngine(settings, streams=streams)
    n = len(addrs)
    step_ns = round(args.cycle * 1e9 / n)
    t0 = time.monotonic_ns() + 500_000_000 + n * 50_000  # room to create every task before the first is due
    results: list = [None] * n

    async def one(i: int, addr: str) -> None:
        m = await engine.measure(
            ProbeTarget(f"T{i:05d}", ipaddress.ip_address(addr)), "bench", start_ns=t0 + i * step_ns
        )
        rec = m.record
        results[i] = (m.sample, rec.pacing_errors_ns())

    cpu0, wall0 = time.process_time(), time.monotonic()
    gc.freeze()
    await asyncio.gather(*(one(i, a) for i, a in enumerate(addrs)))
    cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
    await streams.close()
    return results, cpu, wall


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--terminals", type=int, default=1820)
    ap.add_argument(
        "--cycle", type=float, default=60.0, help="cycle length, s (stream starts spread over it)"
    )
    ap.add_argument("--rate", type=float, default=50.0)
    ap.add_argument("--duration", type=float, default=2.0)
    ap.add_argument("--kind", choices=("stamp", "rtp"), default="stamp")
    ap.add_argument("--delay-ms", type=float, default=20.0)
    ap.add_argument("--jitter-ms", type=float, default=6.0)
    ap.add_argument("--loss", type=float, default=0.01)
    ap.add_argument("--no-packet-truth", action="store_true", help="counters only (big runs)")
    ap.add_argument(
        "--lab-realtime", action=argparse.BooleanOptionalAction, default=False,
        help="run the lab responder under SCHED_FIFO (its spinning then competes with the prober)",
    )  # fmt: skip
    ap.add_argument(
        "--prober-realtime", action=argparse.BooleanOptionalAction, default=False,
        help="run this (prober) process under SCHED_FIFO, as a probe host's service unit can",
    )  # fmt: skip
    args = ap.parse_args()
    if args.prober_realtime:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(10))

    addrs = addresses(args.terminals)
    profile = LabProfile.build(
        terminals=[(f"T{i:05d}", a) for i, a in enumerate(addrs)],
        defaults={"delay_ms": args.delay_ms, "jitter_ms": args.jitter_ms, "loss": args.loss},
        udp={862: f"{REFLECTOR}:stamp_stateful", 5004: f"{REFLECTOR}:rtp_echo_handler"},
        seed=7,
    )
    port = 862 if args.kind == "stamp" else 5004
    with Lab.start(profile, packets=not args.no_packet_truth, realtime=args.lab_realtime) as lab:
        lab_cpu0 = proc_cpu_s(lab.proc.pid)
        results, cpu, wall = asyncio.run(run_cycle(lab, args, addrs))
        lab_cpu = proc_cpu_s(lab.proc.pid) - lab_cpu0
        lab.close()
        truth = lab.ground_truth()

    pacing = sorted(abs(e) / 1e6 for r in results for e in r[1])
    late = sorted(e / 1e6 for r in results for e in r[1])
    counts = truth.by_terminal()
    loss_exact = sum(
        1 for i, r in enumerate(results) if r[0].sent - r[0].received == counts[f"T{i:05d}"].lost
    )
    jitter_err, rtt_err, loss_mean = [], [], statistics.fmean(r[0].loss for r in results)
    if not args.no_packet_truth:
        per_addr: dict[str, list] = {}
        for p in truth.packets:
            if p.get("dport") == port:
                per_addr.setdefault(p["addr"], []).append(p)
        for i, addr in enumerate(addrs):
            sample = results[i][0]
            arrivals = sorted(
                (p["tx_ns"], j, (p["tx_ns"] - p["rx_ns"]) / 1e6)
                for j, p in enumerate(per_addr.get(addr, []))
                if p["action"] == "replied"
            )
            first: dict[int, float] = {}
            for _, j, d in arrivals:
                first.setdefault(j, d)
            if sample.jitter_ms is not None and len(first) > 1:
                jitter_err.append(abs(sample.jitter_ms - rfc3550(list(first.values()))))
                rtt_err.append(abs(sample.rtt_p50_ms - statistics.median(first.values())))

    def pct(values: list[float], q: float) -> str:
        return f"{percentile(sorted(values), q):.3f}" if values else "n/a"

    n = len(results)
    packets = sum(r[0].sent for r in results)
    rows = [
        (
            "terminals / packets sent",
            f"{n} / {packets}",
            f"{n * round(args.rate * args.duration)}",
            "planned",
        ),
        ("wall s (cycle)", f"{wall:.1f}", f"{args.cycle:.0f}", "cycle"),
        ("pacing |error| p50 ms", pct(pacing, 50), "-", ""),
        ("pacing |error| p99 ms", pct(pacing, 99), "2.000", "floor"),
        ("pacing error max ms (signed min)", f"{pacing[-1]:.3f} ({late[0]:.3f})", "-", ""),
        ("prober CPU s", f"{cpu:.1f}", f"{lab_cpu:.1f}", "lab responder"),
        ("prober CPU µs / packet (send+recv)", f"{cpu / max(1, packets) * 1e6:.1f}", "-", ""),
        ("loss exact vs truth (terminals)", f"{loss_exact}/{n}", f"{n}/{n}", "truth"),
        ("mean loss", f"{loss_mean:.4f}", f"{args.loss:.4f}", "injected"),
        ("|jitter error| p50 ms", pct(jitter_err, 50), "-", "RFC 3550 on truth"),
        ("|jitter error| p99 ms", pct(jitter_err, 99), "0.500", "floor"),
        ("|RTT p50 error| p50 ms", pct(rtt_err, 50), "0.300", "target"),
    ]
    title = (
        f"{args.kind} streams: {n} terminals x {args.rate:g} pps x {args.duration:g} s "
        f"in a {args.cycle:g} s cycle "
        f"(lab delay {args.delay_ms:g} ms, jitter {args.jitter_ms:g} ms, loss {args.loss:g}; "
        f"prober {'SCHED_FIFO' if args.prober_realtime else 'normal'}, "
        f"lab {'SCHED_FIFO' if args.lab_realtime else 'normal'})"
    )
    print(title)
    width = max(len(r[0]) for r in rows)
    print(f"| {'metric'.ljust(width)} | ours | reference | what |")
    print(f"|{'-' * (width + 2)}|------|-----------|------|")
    for name, ours, ref, what in rows:
        print(f"| {name.ljust(width)} | {ours} | {ref} | {what} |")
    ok = (pacing and percentile(pacing, 99) <= 2.0) and (
        not jitter_err or percentile(sorted(jitter_err), 99) <= 0.5
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

"""Accuracy report: injected jitter vs reported jitter for every probe kind and train length (issue #15).

    python bench/jitter_accuracy.py [--terminals 8] [--repeats 4]

The lab delays each direction by a base delay plus an independent uniform ±h. The expected mean
interarrival difference is 2h/3 for one direction (STAMP forward/reverse) and h·E|S₄| ≈ 0.933·h for the
round trip (the sum of four uniforms; computed by Monte Carlo). For each kind the table shows what
``jitter_ms`` (mean |D|, what slaprobe reports and feeds to MOS) and ``jitter_rfc3550_ms`` (RFC 3550's
running J, biased low for short trains) read, averaged over all probes, and the spread of single probes.
Run as root (the lab needs a network namespace and /dev/net/tun).
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import statistics
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from slaprobe.lab import Lab, LabProfile
from slaprobe.probes.base import ProbeTarget
from slaprobe.probes.icmp import IcmpEngine, IcmpJitterSettings
from slaprobe.probes.rtp import RtpEngine, RtpSettings
from slaprobe.probes.stamp import StampEngine, StampSettings
from slaprobe.probes.stream import StreamEngine

REFLECTOR = "slaprobe.probes.reflector"
LAB_UDP = {862: f"{REFLECTOR}:stamp_stateful", 5004: f"{REFLECTOR}:rtp_echo_handler"}
HALF_WIDTHS = (2.0, 4.0, 8.0)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--terminals", type=int, default=8, help="terminals per jitter class")
    ap.add_argument("--repeats", type=int, default=4, help="probes per terminal and kind")
    args = ap.parse_args()
    e_s4 = float(np.abs(np.random.default_rng(15).uniform(-1, 1, (4_000_000, 4)).sum(axis=1)).mean())
    terms = {
        f"J{c}{i}": (f"198.18.{c + 1}.{i + 1}", h)
        for c, h in enumerate(HALF_WIDTHS)
        for i in range(args.terminals)
    }
    profile = LabProfile.build(
        terminals=[(t, a) for t, (a, _) in terms.items()],
        per_terminal={t: {"delay_ms": 10 * h, "jitter_ms": 2 * h} for t, (_, h) in terms.items()},
        udp=LAB_UDP,
        seed=15,
    )
    kinds = [
        ("icmp-jitter 20x20ms", lambda s: IcmpEngine(IcmpJitterSettings()), ("jitter_ms",)),
        ("icmp-jitter 50x20ms", lambda s: IcmpEngine(IcmpJitterSettings(count=50)), ("jitter_ms",)),
        ("stamp 100x20ms", lambda s: StampEngine(StampSettings(stateful=True), streams=s),
         ("jitter_ms", "jitter_fwd_ms", "jitter_rev_ms")),
        ("rtp 100x20ms", lambda s: RtpEngine(RtpSettings(), streams=s), ("jitter_ms",)),
    ]  # fmt: skip
    rows = []
    with Lab.start(profile) as lab:
        for label, make, fields in kinds:
            samples = asyncio.run(_run(lab, make, terms, args.repeats))
            for field in fields:
                for h in HALF_WIDTHS:
                    mine = [s for s in samples if terms[s.terminal][1] == h]
                    values = [getattr(s, field) for s in mine]
                    rfc = [s.jitter_rfc3550_ms for s in mine] if field == "jitter_ms" else []
                    expected = 2 * h / 3 if field != "jitter_ms" else h * e_s4
                    rows.append((label, field, h, expected, values, rfc))
    print(
        "| kind | figure | injected ±h ms | expected E|D| ms | reported mean | error | single probes p5–p95 "
        "| RFC 3550 mean | RFC 3550 / expected |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    worst = 0.0
    for label, field, h, expected, values, rfc in rows:
        mean = statistics.fmean(values)
        q = np.percentile(values, [5, 95])
        worst = max(worst, abs(mean - expected))
        rfc_cols = f"{statistics.fmean(rfc):.2f} | {statistics.fmean(rfc) / expected:.2f}" if rfc else "– | –"
        print(
            f"| {label} | {field} | {h:.0f} | {expected:.2f} | {mean:.2f} | {mean - expected:+.2f} "
            f"| {q[0]:.2f}–{q[1]:.2f} | {rfc_cols} |"
        )
    print(f"\nworst |mean error| {worst:.2f} ms (floor 0.5 ms)")
    return 0 if worst <= 0.5 else 1


async def _run(lab, make, terms, repeats):
    streams = StreamEngine()
    with lab.inside():
        await streams.start()
    engine = make(streams)
    icmp = isinstance(engine, IcmpEngine)
    port = 862 if isinstance(engine, StampEngine) else 5004
    if icmp:
        with lab.inside():
            await engine.start()
    out = []
    try:
        for _ in range(repeats):
            targets = [ProbeTarget(t, ipaddress.ip_address(a), None if icmp else (a, port))
                       for t, (a, _) in terms.items()]  # fmt: skip
            if icmp:
                out += await asyncio.gather(*(engine.probe(t, "bench") for t in targets))
            else:
                out += [
                    m.sample for m in await asyncio.gather(*(engine.measure(t, "bench") for t in targets))
                ]
    finally:
        if icmp:
            await engine.close()
        await streams.close()
    return out


if __name__ == "__main__":
    raise SystemExit(main())

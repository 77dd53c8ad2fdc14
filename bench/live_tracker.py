"""CPU the live outage tracker costs the daemon per cycle, at province size and beyond.

Feeds the tracker (``slaprobe/live/tracker.py``) cycles shaped by the daemon's own builders
(``lab.month_cycles``: slot offsets, heartbeats) for N terminals, 60 s cycles, Δt 60 s, with 2 % of the
terminals in an outage that starts and ends inside the run, and reports the CPU of the tracker calls only
(``add_samples`` + ``add_heartbeat``: the work the daemon does after each store write), after the buffer
has filled (the window reaches back two hours). Reference: the cycle itself (60 s of wall clock).

    .venv/bin/python bench/live_tracker.py --sizes 1820,20000 --cycles 150
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import time

import numpy as np

from slaprobe.lab.month_cycles import DOWN, CycleSettings, cycle_heartbeats, cycle_samples, layout_segments
from slaprobe.lab.month_network import month_network
from slaprobe.live.tracker import LiveTracker
from slaprobe.model import NS_PER_S, ProbeKind
from slaprobe.sla.rule import rule_from


def run(size: int, cycles: int) -> dict[str, float]:
    terms = [t for t in month_network(size, 2022) if t.in_service_from <= dt.date(2022, 12, 1)]
    n = len(terms)
    settings = CycleSettings()
    segs = layout_segments(terms, [0] * n, [cycles] * n, cycles, (ProbeKind.ICMP,), settings)
    codes = np.zeros((n, cycles), dtype=np.int64)
    hit = max(1, n // 50)
    codes[:hit, cycles // 3 : cycles // 3 + 20] = DOWN
    start = int(dt.datetime(2022, 12, 5, tzinfo=dt.UTC).timestamp()) * NS_PER_S
    rtt, jit = np.full((n, 1), 10.0), np.full((n, 1), 1.0)
    tracker = LiveTracker(rule_from("mef10.3"), terms)
    cpu: list[float] = []
    events = 0
    for k in range(cycles):
        col = codes[:, k : k + 1]
        samples = cycle_samples(terms, segs, col, k, start, 60 * NS_PER_S, "p1", settings, 5, rtt, jit)
        beats = cycle_heartbeats(segs, col, k, start, 60 * NS_PER_S, "p1", settings, None)
        t0 = time.process_time()
        tracker.add_samples(samples)
        for hb in beats:
            events += len(tracker.add_heartbeat(hb))
        cpu.append(time.process_time() - t0)
    steady = cpu[min(120, cycles // 2) :]
    return {
        "terminals": n,
        "events": events,
        "median_ms": 1000 * statistics.median(steady),
        "max_ms": 1000 * max(steady),
        "share_of_cycle_pct": 100 * statistics.median(steady) / 60,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sizes", default="1820")
    ap.add_argument("--cycles", type=int, default=150)
    args = ap.parse_args()
    print("| terminals | cycles | events | CPU ms/cycle (median) | max | share of a 60 s cycle |")
    print("|---|---|---|---|---|---|")
    for size in (int(s) for s in args.sizes.split(",")):
        r = run(size, args.cycles)
        print(
            f"| {r['terminals']:,} | {args.cycles} | {r['events']} | {r['median_ms']:.1f} | "
            f"{r['max_ms']:.1f} | {r['share_of_cycle_pct']:.3f} % |"
        )


if __name__ == "__main__":
    main()

"""One ICMP cycle (5 echoes to every terminal) through the TUN lab: slaprobe's engine vs fping.

Not a test: prints a table. For each terminal count, in the same lab (every terminal answers after a
10 ms round trip, no loss, so every missing reply is FALSE loss), each repeat runs:

* ``ours/spread``: IcmpEngine with default settings (5 echoes 200 ms apart, 1 s timeout) driven the way
  the scheduler drives it: targets started evenly over ``--spread-s`` seconds of the cycle.
* ``ours/1ms``: the same engine with targets started 1 ms apart (fping -i 1's pacing), to compare wall
  time at equal offered rate.
* ``fping``: Debian's ``fping -c5 -p1000 -i1 -q`` over the same addresses, run inside the lab namespace.

Columns: wall time; CPU seconds (user+sys: ``getrusage(RUSAGE_SELF)`` around our cycle, which includes the
bench's own asyncio bookkeeping; ``RUSAGE_CHILDREN`` around fping); CPU µs per echo sent; false loss
(echoes sent and not answered; the lab's own counters confirm it answered every request it saw); for
ours also the busiest 1-second send rate over the mean send rate (1.0 = perfectly even). Each cell is the
median over ``--repeats`` runs; ``ratio`` = ours / fping of the CPU per echo.

    python bench/icmp_cycle.py [--sizes 1820,20000] [--repeats 3] [--spread-s 50]
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from slaprobe.lab import Lab, LabProfile
from slaprobe.probes.base import ProbeTarget, probe_spread
from slaprobe.probes.icmp import IcmpEngine, IcmpSettings

COUNT = 5
DELAY_MS = 10.0
FPING_LINE = re.compile(r"^(\S+)\s*: xmt/rcv/%loss = (\d+)/(\d+)/")


@dataclass
class Run:
    wall_s: float
    cpu_s: float
    sent: int
    received: int
    peak_over_mean: float | None = None

    @property
    def cpu_us_per_echo(self) -> float:
        return self.cpu_s / self.sent * 1e6 if self.sent else float("nan")

    @property
    def false_loss(self) -> int:
        return self.sent - self.received


def terminals(n: int) -> list[tuple[str, str]]:
    base = int(ipaddress.IPv4Address("198.18.0.1"))
    return [(f"T{i:05d}", str(ipaddress.IPv4Address(base + i))) for i in range(n)]


def cpu_self() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def cpu_children() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run_ours(lab: Lab, targets: list[ProbeTarget], over_s: float) -> Run:
    async def cycle() -> Run:
        engine = IcmpEngine(IcmpSettings(count=COUNT))
        with lab.inside():
            await engine.start()
        per_second: list[float] = []  # send rate over each ~1 s interval, by the loop clock

        async def meter() -> None:
            loop = asyncio.get_running_loop()
            last_t, last_n = loop.time(), engine.stats.sent
            while True:
                await asyncio.sleep(1.0)
                t, n = loop.time(), engine.stats.sent
                per_second.append((n - last_n) / (t - last_t))
                last_t, last_n = t, n

        metering = asyncio.ensure_future(meter())
        cpu0, t0 = cpu_self(), time.monotonic()
        samples = await probe_spread(engine, targets, "bench", over_s=over_s)
        wall, cpu = time.monotonic() - t0, cpu_self() - cpu0
        metering.cancel()
        await engine.close()
        sent = sum(s.sent for s in samples)
        send_window = over_s + (COUNT - 1) * engine.settings.interval_ms / 1000
        mean_rate = sent / send_window
        peak = max(per_second) if per_second else mean_rate
        return Run(wall, cpu, sent, sum(s.received for s in samples), peak / mean_rate)

    return asyncio.run(cycle())


def run_fping(lab: Lab, targets: list[ProbeTarget]) -> Run:
    with tempfile.NamedTemporaryFile("w", prefix="slp-icmp-fping-", suffix=".txt") as f:
        f.write("\n".join(str(t.address) for t in targets) + "\n")
        f.flush()
        argv = lab.command(["fping", f"-c{COUNT}", "-p1000", "-i1", "-q", "-f", f.name])
        cpu0, t0 = cpu_children(), time.monotonic()
        proc = subprocess.run(argv, capture_output=True, text=True, check=False)
        wall, cpu = time.monotonic() - t0, cpu_children() - cpu0
    sent = received = seen = 0
    for line in proc.stderr.splitlines():
        m = FPING_LINE.match(line)
        if m:
            seen += 1
            sent += int(m.group(2))
            received += int(m.group(3))
    if seen != len(targets):
        raise RuntimeError(f"fping reported {seen} of {len(targets)} targets:\n{proc.stderr[-2000:]}")
    return Run(wall, cpu, sent, received)


def med(values: list[float]) -> float:
    return statistics.median(values)


def bench_size(n: int, repeats: int, spread_s: float) -> tuple[dict[str, list[Run]], dict[str, int]]:
    profile = LabProfile.build(terminals=terminals(n), defaults={"delay_ms": DELAY_MS}, seed=1)
    targets = [ProbeTarget(tid, ipaddress.ip_address(addr)) for tid, addr in profile.terminals]
    runs: dict[str, list[Run]] = {"ours/spread": [], "ours/1ms": [], "fping": []}
    with Lab.start(profile, truth=False) as lab:
        for r in range(repeats):
            for name in runs:
                if name == "ours/spread":
                    run = run_ours(lab, targets, spread_s)
                elif name == "ours/1ms":
                    run = run_ours(lab, targets, n * 0.001)
                else:
                    run = run_fping(lab, targets)
                runs[name].append(run)
                print(
                    f"  n={n} repeat {r + 1} {name:<12} wall {run.wall_s:7.1f} s  cpu {run.cpu_s:6.2f} s  "
                    f"{run.cpu_us_per_echo:6.1f} us/echo  false loss {run.false_loss}",
                    file=sys.stderr,
                    flush=True,
                )
        lab_stats = lab.stats()
    return runs, {k: lab_stats[k] for k in ("requests", "replied", "dropped_loss", "kernel_tx_dropped")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="1820,20000", help="comma-separated terminal counts")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--spread-s", type=float, default=50.0, help="start targets evenly over this many s")
    args = ap.parse_args()
    rows = []
    for n in (int(x) for x in args.sizes.split(",")):
        runs, lab_counts = bench_size(n, args.repeats, args.spread_s)
        fping_us = med([r.cpu_us_per_echo for r in runs["fping"]])
        fping_wall = med([r.wall_s for r in runs["fping"]])
        for name, rs in runs.items():
            us = med([r.cpu_us_per_echo for r in rs])
            spread = [r.peak_over_mean for r in rs if r.peak_over_mean is not None]
            rows.append(
                (
                    f"{n:,}",
                    name,
                    f"{med([r.wall_s for r in rs]):.1f}",
                    f"{med([r.cpu_s for r in rs]):.2f}",
                    f"{us:.1f}",
                    f"{int(med([r.false_loss for r in rs]))} (max {max(r.false_loss for r in rs)})",
                    f"{med(spread):.2f}" if spread else "-",
                    f"{us / fping_us:.2f}",
                    f"{med([r.wall_s for r in rs]) / fping_wall:.2f}",
                )
            )
        print(f"lab counters for n={n} (all repeats): {lab_counts}", file=sys.stderr)
    head = ("terminals", "prober", "wall s", "CPU s", "CPU us/echo", "false loss", "peak/mean rate",
            "CPU ratio vs fping", "wall ratio")  # fmt: skip
    widths = [max(len(str(r[i])) for r in [head, *rows]) for i in range(len(head))]
    print(f"ICMP cycle, {COUNT} echoes per terminal, medians of {args.repeats} repeats "
          f"(ours/spread: targets over {args.spread_s:g} s)")  # fmt: skip
    for r in [head, *rows]:
        print(
            "  ".join(
                str(c).rjust(w) if i > 1 else str(c).ljust(w)
                for i, (c, w) in enumerate(zip(r, widths, strict=True))
            )
        )


if __name__ == "__main__":
    main()

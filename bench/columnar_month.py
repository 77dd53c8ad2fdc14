"""Benchmark: the month report from the compacted (columnar) tier, at the full network size, quickly.

    python bench/columnar_month.py --terminals 1820 [--month 2022-12] [--runs 3] [--workdir DIR] [--reuse]

Writing a real 1,820-terminal month takes about an hour here (``bench/sla_month.py`` does it, and
``--stores columnar`` there compacts it; use that for the issue's table once ``lab month`` is bulk).
This bench measures the *read* side in minutes: it generates two days of the ``lab month`` network
with ``lab month``'s own writer (cycles, outages, blackouts, skipped probes, heartbeats), keeps the
one whole UTC day, and writes it into the tier once per UTC day of the report's window (the month and
its one-day lookaround), shifted in time, through ``columnar_write.write_day`` (rollups recomputed per day).
The volume per day is the network's; the outages repeat daily, so there are about as many problem rows
and pooled hours as a month with 30 times the day's outages. Then it runs ``slaprobe report --format
json`` on a state directory holding that tier and an empty journal, ``--runs`` times, and prints the
median wall time, peak RSS and the tier's bytes per sample.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.sla_month import run_report  # noqa: E402
from slaprobe.inventory import Inventory  # noqa: E402
from slaprobe.lab.month import MonthProfile, plan_month, write_month, write_side_files  # noqa: E402
from slaprobe.lab.month_network import month_network  # noqa: E402
from slaprobe.model import Heartbeat, Sample  # noqa: E402
from slaprobe.sla.engine import month_period  # noqa: E402
from slaprobe.store.columnar import (  # noqa: E402
    DAY_NS,
    Tier,
    day_of,
    day_start_ns,
    heartbeats_table,
    samples_table,
)
from slaprobe.store.columnar_write import write_day  # noqa: E402
from slaprobe.store.journal import JournalStore  # noqa: E402


class Collect:
    """A store that keeps what ``write_month`` writes."""

    def __init__(self) -> None:
        self.samples: list[Sample] = []
        self.heartbeats: list[Heartbeat] = []

    def write_samples(self, samples: list[Sample]) -> None:
        self.samples.extend(samples)

    def write_heartbeats(self, heartbeats: list[Heartbeat]) -> None:
        self.heartbeats.extend(heartbeats)


def build(n: int, month: str, work: Path) -> tuple[int, float]:
    """Write the tier; returns (samples in it, seconds)."""
    t0 = time.perf_counter()
    profile = MonthProfile()
    plan = plan_month(month_network(n, profile.seed), month, profile)
    two = dataclasses.replace(plan, count=2 * 86_400 // profile.interval_s)
    write_side_files(plan, work)
    got = Collect()
    write_month(two, got)
    day = day_of(plan.start_ns) + dt.timedelta(days=1)  # the window starts at local midnight: day 2 is whole
    d0 = day_start_ns(day)
    tags = Inventory(tuple(plan.terminals)).tags()
    samples = samples_table([s for s in got.samples if d0 <= s.time_ns < d0 + DAY_NS], tags)
    beats = heartbeats_table([h for h in got.heartbeats if d0 <= h.time_ns < d0 + DAY_NS])
    print(
        f"  generated day {day}: {samples.num_rows} samples in {time.perf_counter() - t0:.0f} s",
        file=sys.stderr,
    )
    period = month_period(month)
    first, last = day_of(period.start_ns - DAY_NS), day_of(period.end_ns + DAY_NS - 1)
    total = 0
    k = first
    while k <= last:
        shift = day_start_ns(k) - d0
        s = samples.set_column(
            samples.schema.get_field_index("time_ns"), "time_ns", _plus(samples, "time_ns", shift)
        )
        b = beats.set_column(
            beats.schema.get_field_index("time_ns"), "time_ns", _plus(beats, "time_ns", shift)
        )
        total += write_day(work / "columnar", k, s, b).samples
        k += dt.timedelta(days=1)
    JournalStore(work / "journal.sqlite").close()  # the daemon's journal: empty (every day compacted)
    return total, time.perf_counter() - t0


def _plus(table, column: str, shift: int):  # type: ignore[no-untyped-def]
    import pyarrow.compute as pc

    return pc.add(table.column(column), shift)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--terminals", type=int, default=1820)
    ap.add_argument("--month", default="2022-12")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "slp-columnar-bench")
    ap.add_argument("--reuse", action="store_true", help="reuse the tier in --workdir")
    ap.add_argument("--build-only", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    work = args.workdir / str(args.terminals)
    marker = work / ".done"
    if args.build_only:
        import shutil

        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        total, took = build(args.terminals, args.month, work)
        print(f"  tier written: {total} samples in {took:.0f} s", file=sys.stderr)
        marker.touch()
        return
    if not (args.reuse and marker.exists()):
        # in a child: the reports' peak RSS (wait4) would otherwise start at this process's, full of
        # generated samples, since a forked child counts its parent's pages until it execs
        import subprocess

        cmd = [sys.executable, __file__, "--build-only", "--terminals", str(args.terminals)]
        subprocess.run([*cmd, "--month", args.month, "--workdir", str(args.workdir)], check=True)
    config = work / "columnar.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "state_dir": str(work),
                "inventory": str(work / "terminals.csv"),
                "store": {"kind": "embedded"},
                "sla": {"maintenance": str(work / "maintenance.yaml")},
            }
        )
    )
    walls, peaks = [], []
    for _ in range(args.runs):
        wall, peak = run_report(config, args.month, "embedded", work / "report.json")
        walls.append(wall)
        peaks.append(peak)
    tier = Tier(work / "columnar")
    samples = sum(tier.info(d)["samples"] for d in tier.days())
    report = json.loads((work / "report.json").read_text())
    print(
        f"{args.terminals} terminals, {len(tier.days())} UTC days, {samples:,} samples in the tier:"
        f" {tier.bytes_on_disk() / samples:.2f} bytes/sample; month report {statistics.median(walls):.2f} s"
        f" (median of {args.runs}: {', '.join(f'{w:.2f}' for w in walls)}), peak {max(peaks):.0f} MiB;"
        f" {len(report['outages'])} outages"
    )


if __name__ == "__main__":
    main()

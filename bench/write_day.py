"""Benchmark (issue #14): the columnar tier's day writer, ours vs the writer of commit 88e473c.

    python bench/write_day.py --terminals 1820 --runs 3 [--workdir /work/bench-data/write-day]
    nice -n 5 python bench/write_day.py --terminals 20000 --runs 1 [--old-runs 1]

One whole UTC day (the first of December 2022 in ``lab month``'s plan) is built once with the lab's
bulk generator (``iter_days`` -> ``month_columnar.day_columns``, the columns ``lab month`` hands the
writer: tag dictionaries, numpy counters and floats) and kept as .npy files under the workdir.
Each run is a fresh child process that loads those columns and calls ``write_day`` once: wall of the
call (``perf_counter`` in the child) and its CPU time (all threads: the machine is shared, so CPU is
the steadier figure), peak RSS of the whole child (``/usr/bin/time``: a child of this
process would otherwise inherit our peak) and the RSS once the input is loaded (``input``), so the
writer's own share is peak - input. The old writer runs from ``git archive 88e473c`` (the whole
package of that commit, so its codec and rollup code are the old ones too). Afterwards every part of
the two tiers is read back with today's ``Tier.read`` and compared value for value.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
OLD_COMMIT = "88e473c"
MONTH = "2022-12"


# ---------------------------------------------------------------------------------------- the day
def build_day(terminals: int, out: Path) -> None:
    """The first whole UTC day of December as ``write_days`` hands it to the writer, as IPC files."""
    import pyarrow as pa

    from slaprobe.inventory import Inventory
    from slaprobe.lab.month import MonthProfile, month_network, plan_month
    from slaprobe.lab.month_columnar import _columns, by_day
    from slaprobe.lab.month_output import iter_days
    from slaprobe.store.columnar import heartbeats_table

    plan = plan_month(month_network(terminals, MonthProfile().seed), MONTH, MonthProfile())
    tags = Inventory(tuple(plan.terminals)).tags()
    for day in by_day(iter_days(plan)):
        date = dt.datetime.fromtimestamp(day[0].day_ns // 10**9, dt.UTC).date()
        if date < dt.date(2022, 12, 1):
            continue
        columns = _columns(day, tags)
        beats = heartbeats_table([h for b in day for h in b.heartbeats])
        break
    out.mkdir(parents=True, exist_ok=True)
    names = {}
    for c, v in columns.items():  # one .npy per column: the child loads each without a second copy
        if isinstance(v, pa.DictionaryArray):
            names[c] = v.dictionary.to_pylist()
            v = v.indices.to_numpy(zero_copy_only=False)
        np.save(out / f"{c}.npy", v)
    (out / "dictionaries.json").write_text(json.dumps(names))
    with pa.OSFile(str(out / "heartbeats.arrow"), "wb") as sink, pa.ipc.new_file(sink, beats.schema) as w:
        w.write_table(beats)
    (out / "day.txt").write_text(date.isoformat())


CHILD = r"""
import datetime as dt, json, os, resource, sys, time
import numpy as np, pyarrow as pa
try:
    from slaprobe.store.columnar_write import write_day
except ImportError:  # the old tree
    from slaprobe.store.columnar import write_day
src, out = sys.argv[1], sys.argv[2]
names = json.load(open(f"{src}/dictionaries.json"))
columns = {}  # the mapping lab month builds: dictionary arrays and numpy columns
for f in sorted(os.listdir(src)):
    if f.endswith(".npy"):
        c, v = f[:-4], np.load(f"{src}/{f}")
        if c in names:
            v = pa.DictionaryArray.from_arrays(pa.array(v), pa.array(names[c], pa.string()))
        columns[c] = v
with pa.OSFile(f"{src}/heartbeats.arrow") as f:
    beats = pa.ipc.open_file(f).read_all()
day = dt.date.fromisoformat(open(f"{src}/day.txt").read())
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t0, c0 = time.perf_counter(), time.process_time()
write_day(out, day, columns, beats)
wall, cpu = time.perf_counter() - t0, time.process_time() - c0
code = write_day.__code__.co_filename
print(json.dumps({"wall": wall, "cpu": cpu, "input_mib": before / 1024, "code": code}))
"""


def run_child(pythonpath: Path, src: Path, out: Path) -> dict[str, float]:
    """One ``write_day`` in a fresh process: its wall, the child's peak RSS and its RSS before the call."""
    import shutil

    shutil.rmtree(out, ignore_errors=True)
    env = {**os.environ, "PYTHONPATH": str(pythonpath)}
    with tempfile.NamedTemporaryFile("r") as peak:
        # -P and a neutral cwd: ``-c`` would put the cwd (this worktree) before PYTHONPATH on sys.path
        cmd = [
            "/usr/bin/time",
            "-f",
            "%M",
            "-o",
            peak.name,
            sys.executable,
            "-P",
            "-c",
            CHILD,
            str(src),
            str(out),
        ]
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=src)
        if proc.returncode != 0:
            raise SystemExit(f"write_day child failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
        res = json.loads(proc.stdout.strip().splitlines()[-1])
        res["peak_mib"] = int(peak.read().split()[-1]) / 1024
    if not str(res.pop("code")).startswith(str(pythonpath)):
        raise SystemExit(f"the child ran the writer of another tree than {pythonpath}")
    return res


def old_tree(work: Path) -> Path:
    """The package as of ``OLD_COMMIT`` (git archive into the workdir)."""
    dest = work / f"old-{OLD_COMMIT}"
    if not (dest / "slaprobe" / "store" / "columnar.py").exists():
        dest.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(
            ["git", "archive", OLD_COMMIT, "slaprobe"], cwd=ROOT, capture_output=True, check=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    return dest


def compare(a: Path, b: Path) -> list[str]:
    """Every part of the day in both tiers, read back with today's reader, value for value: the
    differences found. A column at a time (``Tier.read``), detail a million rows at a time with the
    reader's own ``decode_floats`` (a 20,000-terminal day is ~5 GB decoded)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from slaprobe.store.columnar import PARTS, Tier, plain
    from slaprobe.store.parquet_codec import decode_floats

    ta, tb = Tier(a), Tier(b)
    if ta.days() != tb.days():
        return [f"days {ta.days()} != {tb.days()}"]
    diffs = []
    for day in ta.days():
        for part in PARTS:
            fa, fb = (pq.ParquetFile(t.day_dir(day) / f"{part}.parquet") for t in (ta, tb))
            if fa.schema_arrow.names != fb.schema_arrow.names:
                diffs.append(f"{day} {part}: columns {fa.schema_arrow.names} != {fb.schema_arrow.names}")
                continue
            if part == "detail":
                batches = zip(fa.iter_batches(1 << 20), fb.iter_batches(1 << 20), strict=True)
                ma, mb = fa.schema_arrow.metadata, fb.schema_arrow.metadata
                for i, (x, y) in enumerate(batches):
                    x = plain(decode_floats(pa.Table.from_batches([x]), ma))
                    y = plain(decode_floats(pa.Table.from_batches([y]), mb))
                    if not x.equals(y):
                        cols = [c for c in x.column_names if not x.column(c).equals(y.column(c))]
                        diffs.append(f"{day} detail batch {i}: {cols} differ")
                continue
            for c in fa.schema_arrow.names:
                x, y = (plain(t.read(day, part, [c])) for t in (ta, tb))
                if not x.equals(y):
                    diffs.append(f"{day} {part}.{c}: {x.schema} / {y.schema} differ")
        ia, ib = ta.info(day), tb.info(day)
        for k in ("samples", "problems", "heartbeats", "hourly"):
            if ia[k] != ib[k]:
                diffs.append(f"{day} manifest {k}: {ia[k]} != {ib[k]}")
    return diffs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--terminals", type=int, default=1820)
    ap.add_argument("--runs", type=int, default=3, help="runs of the current writer (median)")
    ap.add_argument("--old-runs", type=int, default=None, help="runs of the old writer (default --runs)")
    ap.add_argument("--workdir", type=Path, default=Path("/work/bench-data/write-day"))
    ap.add_argument(
        "--which", choices=("both", "new", "old"), default="both",
        help="run only one writer (the other's runs come from the workdir's results file)",
    )  # fmt: skip
    args = ap.parse_args()
    src = args.workdir / f"day-{args.terminals}"
    if not (src / "day.txt").exists():
        t0 = time.perf_counter()
        build_day(args.terminals, src)
        print(f"built the {args.terminals}-terminal day in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    saved = args.workdir / f"results-{args.terminals}.json"
    results: dict[str, list[dict[str, float]]] = json.loads(saved.read_text()) if saved.exists() else {}
    outs = {
        "old": args.workdir / f"tier-old-{args.terminals}",
        "new": args.workdir / f"tier-new-{args.terminals}",
    }
    paths = {"old": old_tree(args.workdir), "new": ROOT}
    for who, runs in (("new", args.runs), ("old", args.old_runs or args.runs)):
        if args.which not in ("both", who):
            continue
        results[who] = []
        for _ in range(runs):
            results[who].append(run_child(paths[who], src, outs[who]))
            print(who, json.dumps(results[who][-1]), file=sys.stderr, flush=True)
        saved.write_text(json.dumps(results))
    if set(results) != {"old", "new"}:
        raise SystemExit(f"{saved}: no runs of {({'old', 'new'} - set(results)).pop()} yet")
    diffs = compare(outs["old"], outs["new"])
    report(args.terminals, results, diffs, json.loads((outs["new"] / "manifest.json").read_text()))
    if diffs:
        raise SystemExit("the two tiers differ:\n" + "\n".join(diffs))


def report(
    terminals: int, results: dict[str, list[dict[str, float]]], diffs: list[str], manifest: Any
) -> None:
    def med(who: str, k: str) -> float:
        return statistics.median(r[k] for r in results[who])

    n = sum(d["samples"] for d in manifest["days"].values())
    print(
        f"\nwrite_day, one UTC day of {terminals} terminals ({n:,} samples); medians of "
        f"{len(results['new'])} (new) / {len(results['old'])} (old) runs"
    )
    print(f"{'':24}{'old ' + OLD_COMMIT:>14}{'new':>14}{'old/new':>10}")
    rows = (
        ("wall s", "wall"),
        ("CPU s (all threads)", "cpu"),
        ("peak RSS MiB", "peak_mib"),
        ("input RSS MiB", "input_mib"),
    )
    for label, k in rows:
        o, w = med("old", k), med("new", k)
        print(f"{label:24}{o:14.1f}{w:14.1f}{o / w:10.2f}")
    o = med("old", "peak_mib") - med("old", "input_mib")
    w = med("new", "peak_mib") - med("new", "input_mib")
    print(f"{'peak - input MiB':24}{o:14.1f}{w:14.1f}{o / max(w, 1):10.2f}")
    walls = {who: [round(r["wall"], 1) for r in rs] for who, rs in results.items()}
    print(f"runs (wall s): old {walls['old']}, new {walls['new']}")
    print("tiers read back equal (every part, Tier.read)" if not diffs else f"DIFFER: {len(diffs)}")


if __name__ == "__main__":
    main()

"""Benchmark (issue #14): ``slaprobe store compact`` of one whole UTC day, old code vs this checkout.

    python bench/compact_day.py --terminals 20000 --workdir /work/bench-data/compact20k [--runs 3]

The journal holding the first whole UTC day of the synthetic December month (``plan_month`` +
``iter_days`` + ``lab.month_journal.JournalBulkWriter``, as ``store_month.py compact20000`` builds it)
is built once and kept as ``<workdir>/pristine.sqlite`` (WAL checkpointed; ~3 GB at 20,000 terminals):
later runs reuse it. Each run copies it to ``<workdir>/run/`` and compacts the copy in a child process
(``slaprobe store compact --before <next day>`` through the CLI), whose ``compact._step`` hook is wrapped
to time the phases: select (journal open + day read), write (``write_day``: files, rename, manifest)
and delete (the journal transaction). Peak RSS from ``/usr/bin/time``.

"old" is the source tree of ``--old-rev`` (default 88e473c, before the Arrow read) extracted with
``git archive`` under the workdir, run with ``PYTHONPATH`` pointing at it; "new" is this checkout.

Checks, after every run: the tier holds the source's rows (count, per column non-null count and sum,
per series key count and time sum, per ``error`` value count, all from SQL on the pristine journal), and
the day's files are byte-identical between the old and new runs. ``--report`` also compares the month
report JSON from the journal before compaction with the one from the tier after (new code).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
MONTH = "2022-12"


# ---------------------------------------------------------------------------------------- child
def child(config: str, before: str, out: str) -> None:
    """Runs inside the timed process (old or new tree on PYTHONPATH): the CLI, phases timed by step."""
    import slaprobe.store.compact as compact
    from slaprobe.cli import cli

    marks: dict[str, float] = {}
    original = compact._step

    def step(name: str) -> None:
        marks.setdefault(name, time.perf_counter())
        original(name)

    compact._step = step
    t0 = time.perf_counter()
    try:
        cli(["store", "compact", "--config", config, "--before", before], standalone_mode=False)
    finally:
        end = time.perf_counter()
        phases = {
            "select": marks["selected"] - t0,
            "write": marks["manifest_written"] - marks["selected"],
            "delete": marks["deleted"] - marks["manifest_written"],
            "total": end - t0,
        }
        Path(out).write_text(json.dumps(phases))


# ---------------------------------------------------------------------------------------- build
def config(base: Path) -> Path:
    import yaml

    path = base / "bench.yaml"
    settings = {
        "state_dir": str(base),
        "inventory": str(base.parent / "terminals.csv"),
        "store": {"kind": "embedded", "journal": "journal.sqlite"},
        "sla": {"maintenance": str(base.parent / "maintenance.yaml")},
    }
    path.write_text(yaml.safe_dump(settings))
    return path


def build(work: Path, terminals: int) -> dict[str, Any]:
    """The pristine journal of one whole UTC day (reused when ``built.json`` says it holds ``terminals``)."""
    meta_path = work / "built.json"
    if meta_path.exists() and (work / "pristine.sqlite").exists():
        meta = json.loads(meta_path.read_text())
        if meta["terminals"] == terminals:
            if "checksum" not in meta:
                start = int(dt.datetime.fromisoformat(meta["day"] + "T00:00+00:00").timestamp()) * 10**9
                meta["checksum"] = source_checksum(work / "pristine.sqlite", start)
                meta_path.write_text(json.dumps(meta, indent=1))
            return meta
    import sqlite3

    from slaprobe.inventory import Inventory
    from slaprobe.lab.month import MonthProfile, month_network, plan_month
    from slaprobe.lab.month_journal import JournalBulkWriter
    from slaprobe.lab.month_output import iter_days, write_side_files

    t0 = time.perf_counter()
    work.mkdir(parents=True, exist_ok=True)
    scratch = work / "building.sqlite"
    for p in work.glob("building.sqlite*"):
        p.unlink()
    plan = plan_month(month_network(terminals, MonthProfile().seed), MONTH, MonthProfile())
    write_side_files(plan, work)
    days = iter_days(plan)
    first = next(days)
    day = first
    while day.day_ns == first.day_ns:  # the partial first UTC day (every vantage of it)
        day = next(days)
    whole, n, beats = day.day_ns, 0, 0
    with JournalBulkWriter(scratch, Inventory(tuple(plan.terminals)).tags()) as writer:
        while day.day_ns == whole:
            writer.write(day.samples, day.heartbeats)
            n, beats = n + len(day.samples), beats + len(day.heartbeats)
            day = next(days)
    del day, days, plan
    db = sqlite3.connect(scratch)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    scratch.rename(work / "pristine.sqlite")
    date = dt.datetime.fromtimestamp(whole // 10**9, dt.UTC).date()
    meta = {
        "terminals": terminals,
        "day": date.isoformat(),
        "before": (date + dt.timedelta(days=1)).isoformat(),
        "samples": n,
        "heartbeats": beats,
        "build_s": round(time.perf_counter() - t0, 1),
    }
    meta_path.write_text(json.dumps(meta, indent=1))  # the journal is kept even if the checksum fails
    meta["checksum"] = source_checksum(work / "pristine.sqlite", whole)
    meta_path.write_text(json.dumps(meta, indent=1))
    return meta


# ---------------------------------------------------------------------------------------- checks
def _numeric() -> list[str]:
    from slaprobe.store.columnar import VALUE_COLUMNS, arrow_type

    return ["time_ns", *(c for c in VALUE_COLUMNS if arrow_type(c) != "string")]


def source_checksum(path: Path, start: int) -> dict[str, Any]:
    """The day's figures by SQL on the journal (independent of both compaction read paths)."""
    import sqlite3

    from slaprobe.store.columnar import DAY_NS, SERIES_TAGS

    db = sqlite3.connect(path)
    cols = _numeric()
    where = "WHERE time_ns >= ? AND time_ns < ?"
    span = (start, start + DAY_NS)
    agg = ", ".join(f"count({c}), total({c})" for c in cols)
    row = db.execute(f"SELECT count(*), {agg} FROM samples {where}", span).fetchone()
    out: dict[str, Any] = {
        "rows": row[0],
        "columns": {c: list(row[1 + 2 * i : 3 + 2 * i]) for i, c in enumerate(cols)},
    }
    tags = {r[0]: r[1:] for r in db.execute(f"SELECT id, {', '.join(SERIES_TAGS)} FROM series")}
    keys: dict[str, list[int]] = {}
    sql = f"SELECT series, count(*), sum(time_ns - ?) FROM samples {where} GROUP BY series"
    for sid, n, t in db.execute(sql, (start, *span)):
        k = keys.setdefault("\x1f".join(tags[sid]), [0, 0])
        k[0], k[1] = k[0] + n, k[1] + t
    out["series"] = keys
    sql = f"SELECT error, count(*) FROM samples {where} GROUP BY error"
    out["errors"] = dict(db.execute(sql, span).fetchall())
    out["heartbeats"] = db.execute(f"SELECT count(*) FROM heartbeats {where}", span).fetchone()[0]
    db.close()
    return out


def tier_checksum(root: Path, day: str) -> dict[str, Any]:
    """The same figures from the compacted tier, one column at a time (bounded memory)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from slaprobe.store.columnar import SERIES_TAGS, Tier, day_start_ns

    start = day_start_ns(dt.date.fromisoformat(day))

    tier = Tier(root)
    keys_t = tier.read(day, "samples", [*SERIES_TAGS, "time_ns"])
    out: dict[str, Any] = {"rows": keys_t.num_rows, "columns": {}}
    keyed = pa.table(
        {
            "key": pc.binary_join_element_wise(
                *(keys_t.column(c).cast(pa.string()) for c in SERIES_TAGS), "\x1f"
            ),
            "time_ns": pc.subtract(keys_t.column("time_ns"), start),
        }
    )
    del keys_t
    grouped = keyed.group_by("key").aggregate([("time_ns", "count"), ("time_ns", "sum")]).to_pydict()
    out["series"] = {k: [n, t] for k, n, t in zip(*grouped.values(), strict=True)}
    del keyed
    err = tier.read(day, "samples", ["error"]).column("error").combine_chunks().cast(pa.string())
    out["errors"] = {d["values"]: d["counts"] for d in pc.value_counts(err).to_pylist()}
    del err
    detail = tier.read(day, "detail")
    samples = tier.read(day, "samples", ["time_ns", "sent", "received"])
    for c in _numeric():
        col = samples.column(c) if c in samples.column_names else detail.column(c)
        s = pc.sum(pc.cast(col, pa.float64(), safe=False)).as_py()
        out["columns"][c] = [col.length() - col.null_count, s or 0.0]
    out["heartbeats"] = tier.read(day, "heartbeats", ["time_ns"]).num_rows
    return out


def same(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    """Differences between two checksums (float sums to 1e-9 relative: the summation order differs)."""
    bad = [k for k in ("rows", "series", "errors", "heartbeats") if a[k] != b[k]]
    for c, (n, s) in a["columns"].items():
        m, t = b["columns"][c]
        if n != m or not math.isclose(s, t, rel_tol=1e-9, abs_tol=1e-6):
            bad.append(f"{c}: {n}/{s} vs {m}/{t}")
    return bad


# ---------------------------------------------------------------------------------------- runs
def old_tree(work: Path, rev: str) -> Path:
    dest = work.parent / f"slaprobe-src-{rev}"
    if not (dest / "slaprobe").exists():
        dest.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(
            ["git", "archive", rev, "slaprobe"], cwd=ROOT, check=True, capture_output=True
        )
        subprocess.run(["tar", "-x", "-C", str(dest)], input=archive.stdout, check=True)
    return dest


def compact_once(work: Path, meta: dict[str, Any], src: Path, label: str) -> dict[str, Any]:
    run_dir = work / "run"
    shutil.rmtree(run_dir, ignore_errors=True)
    run_dir.mkdir()
    shutil.copyfile(work / "pristine.sqlite", run_dir / "journal.sqlite")
    os.sync()  # the copy's GBs of dirty pages written back now, not during the timed read
    cfg = config(run_dir)
    env = {**os.environ, "PYTHONPATH": str(src)}
    with tempfile.NamedTemporaryFile("r") as peak, tempfile.NamedTemporaryFile("r") as phases:
        cmd = [
            "/usr/bin/time", "-f", "%M", "-o", peak.name, sys.executable, str(Path(__file__).resolve()),
            "--child", str(cfg), meta["before"], phases.name,
        ]  # fmt: skip
        proc = subprocess.run(cmd, cwd=run_dir, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if proc.returncode:
            raise SystemExit(
                f"{label} compaction failed ({proc.returncode}):\n{proc.stderr.decode()[-3000:]}"
            )
        got = json.loads(Path(phases.name).read_text())
        got["peak_mib"] = int(peak.read().split()[-1]) / 1024
    bad = same(meta["checksum"], tier_checksum(run_dir / "columnar", meta["day"]))
    if bad:
        raise SystemExit(f"{label}: the tier differs from the journal: {bad[:5]}")
    keep = work / f"tier-{label}"
    shutil.rmtree(keep, ignore_errors=True)
    (run_dir / "columnar").rename(keep)
    return got


def files_identical(work: Path, day: str) -> bool:
    a, b = work / "tier-old" / f"day={day}", work / "tier-new" / f"day={day}"
    names = sorted(p.name for p in a.iterdir())
    return names == sorted(p.name for p in b.iterdir()) and all(
        (a / n).read_bytes() == (b / n).read_bytes() for n in names
    )


def month_reports(work: Path, meta: dict[str, Any]) -> bool:
    """The month report JSON from the journal (before compaction) and from the new tier: identical?"""
    outs = []
    for label in ("journal", "tier"):
        base = work / ("report-journal" if label == "journal" else "run")
        if label == "journal":
            shutil.rmtree(base, ignore_errors=True)
            base.mkdir()
            shutil.copyfile(work / "pristine.sqlite", base / "journal.sqlite")
        else:  # the journal the last new run compacted, with that run's tier back in place
            shutil.rmtree(base / "columnar", ignore_errors=True)
            shutil.copytree(work / "tier-new", base / "columnar")
        out = base / "report.json"
        args = [
            "report",
            "--config",
            str(config(base)),
            "--month",
            MONTH,
            "--format",
            "json",
            "--out",
            str(out),
        ]
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "slaprobe", *args], cwd=ROOT, check=True, capture_output=True)
        print(f"  report from the {label}: {time.perf_counter() - t0:.1f} s", flush=True)
        outs.append(out.read_bytes())
    return outs[0] == outs[1]


def main() -> None:
    if len(sys.argv) == 5 and sys.argv[1] == "--child":
        child(*sys.argv[2:])
        return
    sys.path.insert(0, str(ROOT))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--terminals", type=int, default=20_000)
    ap.add_argument("--workdir", type=Path, default=Path("/work/bench-data/compact20k"))
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--old-rev", default="88e473c")
    ap.add_argument("--variants", default="old,new", help="which trees to run (others: from results.json)")
    ap.add_argument(
        "--old-scaled-from",
        type=Path,
        help="results.json of a smaller run: the old code's figures scaled by samples (labelled), for a "
        "day whose old compaction cannot fit in memory (its fetchall holds ~1.2 KiB per sample)",
    )
    ap.add_argument("--build-only", action="store_true")
    ap.add_argument("--report", action="store_true", help="also compare the month report JSON")
    a = ap.parse_args()
    work = a.workdir
    meta = build(work, a.terminals)
    print(
        f"journal: {meta['samples']:,} samples, {meta['heartbeats']} heartbeats of {meta['day']}", flush=True
    )
    if a.build_only:
        return
    results_path = work / "results.json"
    results = json.loads(results_path.read_text()) if results_path.exists() else {}
    wanted = a.variants.split(",")
    trees = [(lab, src) for lab, src in (("old", old_tree(work, a.old_rev)), ("new", ROOT)) if lab in wanted]
    runs: dict[str, list[dict[str, Any]]] = {lab: [] for lab, _ in trees}
    for _ in range(a.runs):  # old and new in turn: both see the same load on a shared machine
        for label, src in trees:
            runs[label].append(compact_once(work, meta, src, label))
            results[label] = {k: statistics.median(r[k] for r in runs[label]) for k in runs[label][0]}
            results[label]["runs"] = len(runs[label])
            results_path.write_text(json.dumps(results, indent=1))  # at once: a later run may be killed
            print(f"  {label}: {runs[label][-1]}", flush=True)
    if a.old_scaled_from:
        small = json.loads(a.old_scaled_from.read_text())
        built = json.loads((a.old_scaled_from.parent / "built.json").read_text())
        f = meta["samples"] / built["samples"]
        results["old"] = {k: v * f for k, v in small["old"].items() if k != "runs"}
        results["old"]["scaled_from"] = f"{built['terminals']} terminals x {f:.2f}"
    elif all((work / f"tier-{label}").exists() for label in ("old", "new")):  # both run on this journal
        results["files_identical"] = files_identical(work, meta["day"])
    if a.report:
        results["report_identical"] = month_reports(work, meta)
    results_path.write_text(json.dumps(results, indent=1))
    print(f"\n{meta['terminals']:,} terminals, {meta['samples']:,} samples ({meta['day']}), medians of runs")
    if "scaled_from" in results.get("old", {}):
        print(f"old: NOT RUN at this size, the {results['old']['scaled_from']} figures (linear in samples)")
    print(f"{'phase':<10} {'old s':>9} {'new s':>9} {'old/new':>8}")
    for k in ("select", "write", "delete", "total", "peak_mib"):
        o, n = results.get("old", {}).get(k), results.get("new", {}).get(k)
        cell = lambda v: f"{v:>9.1f}" if v is not None else f"{'-':>9}"  # noqa: E731 (a variant not run)
        ratio = f"{o / n:>8.2f}" if o and n else f"{'-':>8}"
        print(f"{k:<10} {cell(o)} {cell(n)} {ratio}")
    print(f"tier = journal (checksums): yes; day files old == new: {results.get('files_identical', '-')}")
    if "report_identical" in results:
        print(f"month report JSON journal == tier: {results['report_identical']}")


if __name__ == "__main__":
    main()

"""Benchmark (issue #14): the storage of a month, side by side: columnar tier vs SQLite journal vs InfluxDB.

    python bench/store_month.py --workdir /work/bench-data/store-month --steps all [--runs 3]

Steps (each stores its figures in ``<workdir>/results.json``; the table is printed from that file at the
end of every run, each figure with the date it was measured, so long steps can run separately):

* ``lab1820``   ``slaprobe lab month --terminals 1820`` (columnar tier, the default), ``--runs`` times;
* ``journal1820`` the same month with ``--tier journal`` (the reference: every row in SQLite);
* ``report1820`` ``slaprobe report --month --format json`` from both, ``--runs`` times each (wall, peak
  RSS from ``wait4``); the two JSON files must be byte-identical;
* ``influx``    InfluxDB 1.6.7 (its own ``influxd`` under the workdir, compaction made eager in its config):
  ``--influx-days`` whole UTC days of the same 1,820-terminal month written the way ``lab month --store
  influx`` writes (samples, heartbeats, ``sla_hourly``/``sla_daily``); after the full compaction
  (TSM files stable) the size of its data directory per sample. Then one hour of the 20,000-terminal
  month, for the load rate; the month's load time is extrapolated from it (labelled so);
* ``gen20000``  ``slaprobe lab month --terminals 20000`` into the columnar tier (wall, peak RSS);
* ``report20000`` the month report of 20,000 terminals from that tier (wall, peak RSS), ``--runs`` times;
* ``compact20000`` one UTC day of 20,000 terminals written into a journal (``--tier journal`` writer),
  then ``slaprobe store compact`` of that day (wall, peak RSS).

Bytes per sample = every byte the store keeps for the month (samples, heartbeats, rollups, indexes,
manifest) / samples written. Floors (issue #14): <= 20 bytes/sample (goal 10); report 1,820 compacted
<= 5 s (goal 2); 20,000 <= 180 s and <= 4 GiB (goal 60 s, 2 GiB); 20,000 from InfluxDB <= 180 s;
``lab month`` 1,820 <= 10 min (goal 3); compaction of one 20,000-terminal day <= 60 s.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

STEPS = (
    "lab1820", "journal1820", "report1820", "influx", "gen20000", "report20000", "compact20000",
    "partial20000",
)  # fmt: skip
MONTH = "2022-12"


# ---------------------------------------------------------------------------------------- helpers
def run(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, float]:
    """(wall s, peak RSS MiB) of one child process; its stderr tail on failure.

    The peak comes from ``/usr/bin/time``, not from our own ``wait4``: Linux carries a parent's peak
    RSS over fork and exec, so a child of this (sometimes 14 GB) process would report the parent's."""
    t0 = time.perf_counter()
    with tempfile.NamedTemporaryFile("r") as peak_file:
        timed = ["/usr/bin/time", "-f", "%M", "-o", peak_file.name, *cmd]
        proc = subprocess.run(timed, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
        wall = time.perf_counter() - t0
        if proc.returncode != 0:
            raise SystemExit(
                f"{' '.join(cmd[:6])} ... failed ({proc.returncode}):\n{proc.stderr.decode()[-2000:]}"
            )
        peak_kib = int(peak_file.read().split()[-1])
    return wall, peak_kib / 1024


def slaprobe(*args: str) -> list[str]:
    return [sys.executable, "-m", "slaprobe", *args]


def lab_month(out: Path, terminals: int, tier: str) -> tuple[float, float]:
    args = ["--terminals", str(terminals), "--month", MONTH, "--tier", tier, "--out", str(out), "--replace"]
    return run(slaprobe("lab", "month", *args))


def config(base: Path) -> Path:
    path = base / "bench.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "state_dir": str(base),
                "inventory": str(base / "terminals.csv"),
                "store": {"kind": "embedded", "journal": "journal.sqlite"},
                "sla": {"maintenance": str(base / "maintenance.yaml")},
            }
        )
    )
    return path


def report(base: Path, out: Path) -> tuple[float, float]:
    args = ["report", "--config", str(config(base)), "--month", MONTH, "--format", "json"]
    return run(slaprobe(*args, "--out", str(out)))


def tier_bytes(base: Path) -> tuple[int, int]:
    """(bytes of the tier directory, samples in its manifest)."""
    root = base / "columnar"
    size = sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
    days = json.loads((root / "manifest.json").read_text())["days"]
    return size, sum(d["samples"] for d in days.values())


def journal_bytes(path: Path) -> tuple[int, int]:
    import sqlite3

    db = sqlite3.connect(path)
    try:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        n = db.execute("SELECT count(*) FROM samples").fetchone()[0]
    finally:
        db.close()
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*")), n


def du(path: Path) -> int:
    return int(subprocess.run(["du", "-sb", str(path)], capture_output=True, text=True).stdout.split()[0])


TRUTH_FIELDS = (
    "available_s", "unavailable_s", "unknown_s", "maintenance_s", "in_service_s", "high_loss_intervals",
)  # fmt: skip


def truth_check(report_json: Path, truth_json: Path) -> dict[str, Any]:
    """The report's per-terminal figures and outage list against the lab's injected ground truth
    (``truth.json``, written by ``lab month`` from its plan, not by the engine): terminals compared and,
    per field, how many differ (none expected)."""
    rep = json.loads(report_json.read_text())
    truth = json.loads(truth_json.read_text())["terminals"]
    outages: dict[str, list[list[int]]] = {}
    for o in rep["outages"]:
        outages.setdefault(o["terminal"], []).append([o["start_ns"], o["end_ns"], o["period_s"]])
    differ: dict[str, int] = {}
    for t in rep["terminals"]:
        want = truth.get(t["terminal"])
        checks = {"in_truth": want is not None}
        if want is not None:
            checks |= {f: want[f] == t[f] for f in TRUTH_FIELDS if f in want}
            checks["outages"] = sorted(outages.get(t["terminal"], [])) == sorted(want["outages"])
        for name, ok in checks.items():
            differ[name] = differ.get(name, 0) + (not ok)
    return {"terminals": len(rep["terminals"]), "truth_terminals": len(truth), "differ": differ}


def series(runs: list[float]) -> dict[str, Any]:
    return {"runs": [round(x, 2) for x in runs], "median": round(statistics.median(runs), 2)}


# ---------------------------------------------------------------------------------------- steps
def step_lab1820(w: Path, runs: int) -> dict[str, Any]:
    walls, peaks = [], []
    for _ in range(runs):
        wall, peak = lab_month(w / "1820c", 1820, "columnar")
        walls.append(wall)
        peaks.append(peak)
    size, n = tier_bytes(w / "1820c")
    return {**series(walls), "peak_mib": round(max(peaks)), "bytes": size, "samples": n}


def step_journal1820(w: Path, runs: int) -> dict[str, Any]:
    wall, peak = lab_month(w / "1820j", 1820, "journal")
    size, n = journal_bytes(w / "1820j" / "journal.sqlite")
    return {**series([wall]), "peak_mib": round(peak), "bytes": size, "samples": n}


def step_report1820(w: Path, runs: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, base in (("columnar", w / "1820c"), ("journal", w / "1820j")):
        walls, peaks = [], []
        for _ in range(runs):
            wall, peak = report(base, w / f"report-1820-{name}.json")
            walls.append(wall)
            peaks.append(peak)
        out[name] = {**series(walls), "peak_mib": round(max(peaks))}
    same = (w / "report-1820-columnar.json").read_bytes() == (w / "report-1820-journal.json").read_bytes()
    out["json_identical"] = same
    out["truth"] = truth_check(w / "report-1820-columnar.json", w / "1820c" / "truth.json")
    return out


def step_gen20000(w: Path, runs: int) -> dict[str, Any]:
    wall, peak = lab_month(w / "20000c", 20_000, "columnar")
    size, n = tier_bytes(w / "20000c")
    return {**series([wall]), "peak_mib": round(peak), "bytes": size, "samples": n}


def step_report20000(w: Path, runs: int) -> dict[str, Any]:
    walls, peaks = [], []
    for _ in range(runs):
        wall, peak = report(w / "20000c", w / "report-20000-columnar.json")
        walls.append(wall)
        peaks.append(peak)
    truth = truth_check(w / "report-20000-columnar.json", w / "20000c" / "truth.json")
    return {**series(walls), "peak_mib": round(max(peaks)), "truth": truth}


def step_compact20000(w: Path, runs: int) -> dict[str, Any]:
    """One whole UTC day of the 20,000-terminal month in a journal, then ``store compact`` of it."""
    from slaprobe.inventory import Inventory
    from slaprobe.lab.month import MonthProfile, month_network, plan_month
    from slaprobe.lab.month_journal import JournalBulkWriter
    from slaprobe.lab.month_output import iter_days, write_side_files

    base = w / "compact20000"
    shutil.rmtree(base, ignore_errors=True)
    plan = plan_month(month_network(20_000, MonthProfile().seed), MONTH, MonthProfile())
    write_side_files(plan, base)
    days = iter_days(plan)
    next(days)  # the partial first UTC day
    day = next(days)
    with JournalBulkWriter(base / "journal.sqlite", Inventory(tuple(plan.terminals)).tags()) as writer:
        writer.write(day.samples, day.heartbeats)
    n = len(day.samples)
    date = dt.datetime.fromtimestamp(day.day_ns // 10**9, dt.UTC).date()
    del day, days  # the child process compacts; this one keeps nothing of the day
    before = (date + dt.timedelta(days=1)).isoformat()
    wall, peak = run(slaprobe("store", "compact", "--config", str(config(base)), "--before", before))
    size, stored = tier_bytes(base)
    if stored != n:
        raise SystemExit(f"compaction stored {stored} of {n} samples")
    return {**series([wall]), "peak_mib": round(peak), "samples": n, "day": date.isoformat(), "bytes": size}


def step_partial20000(w: Path, runs: int, days: int = 8) -> dict[str, Any]:
    """When the whole 20,000-terminal month cannot be written in the time at hand: its first ``days``
    whole UTC days of December written one at a time (each timed: the day writer = compaction's write
    half), the month report run after each; the report of 31 days is EXTRAPOLATED linearly from them."""
    from slaprobe.inventory import Inventory
    from slaprobe.lab.month import MonthProfile, month_network, plan_month
    from slaprobe.lab.month_columnar import write_days
    from slaprobe.lab.month_output import iter_days, write_side_files
    from slaprobe.store.columnar import Tier
    from slaprobe.store.journal import JournalStore

    base = w / "20000p"  # resumed: days already in its tier are kept (a fresh run: delete it first)
    plan = plan_month(month_network(20_000, MonthProfile().seed), MONTH, MonthProfile())
    write_side_files(plan, base)
    JournalStore(base / "journal.sqlite").close()
    tags = Inventory(tuple(plan.terminals)).tags()
    first = dt.date(2022, 12, 1)
    held = set(Tier(base / "columnar").days())
    out: dict[str, Any] = {"days": sorted(held), "write_s": [], "report_s": [], "report_peak_mib": []}
    for batch in iter_days(plan):
        date = dt.datetime.fromtimestamp(batch.day_ns // 10**9, dt.UTC).date()
        if date < first or date.isoformat() in held:
            continue
        t0 = time.perf_counter()
        write_days(base / "columnar", [batch], tags)
        out["write_s"].append(round(time.perf_counter() - t0, 1))
        out["samples_per_day"] = len(batch.samples)
        del batch
        wall, peak = report(base, w / "report-20000-partial.json")
        out["days"].append(date.isoformat())
        out["report_s"].append(round(wall, 1))
        out["report_peak_mib"].append(round(peak))
        print(json.dumps(out), file=sys.stderr, flush=True)
        if len(out["days"]) >= days:
            break
    r, n = out["report_s"], [len(held) + 1 + i for i in range(len(out["report_s"]))]
    slope = float(np.polyfit(n, r, 1)[0]) if len(r) > 2 else 0.0  # s per day written, least squares
    out["report_days"] = n
    out["report_31_days_extrapolated_s"] = round(r[-1] + max(slope, 0.0) * (31 - n[-1]), 1)
    out["bytes"] = tier_bytes(base)[0]
    return out


def step_influx(w: Path, runs: int, days: int) -> dict[str, Any]:
    """A few whole days of the 1,820-terminal month into influxd, compacted; one hour of 20,000."""
    import tests.fixtures.influx as fx
    from slaprobe.config import InfluxConfig
    from slaprobe.inventory import Inventory
    from slaprobe.lab.month import MonthProfile, hour_arrays, month_network, plan_month
    from slaprobe.lab.month_bulk import to_samples
    from slaprobe.lab.month_output import iter_days
    from slaprobe.store.influx import InfluxStore
    from slaprobe.store.influx_read import InfluxRollupWriter

    plain_config = fx._config

    def eager(root: Path, http_port: int, rpc_port: int, auth: bool) -> str:
        # compact a shard fully once it has had no writes for 10 s; snapshot the cache after 5 s
        extra = '  compact-full-write-cold-duration = "10s"\n  cache-snapshot-write-cold-duration = "5s"\n'
        return plain_config(root, http_port, rpc_port, auth).replace("[data]\n", "[data]\n" + extra)

    fx._config = eager  # type: ignore[assignment]
    root = w / "influxd"
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    server = fx.InfluxServer(root=root)
    server.start(timeout_s=120)
    out: dict[str, Any] = {}
    try:
        for n_terms, db in ((1820, "m1820"), (20_000, "m20000")):
            server.create_database(db)
            plan = plan_month(month_network(n_terms, MonthProfile().seed), MONTH, MonthProfile())
            tags = Inventory(tuple(plan.terminals)).tags()
            cfg = InfluxConfig(url=server.url, database=db, api="v1", timeout_s=600)
            store = InfluxStore(cfg, tags, batch_size=20_000)
            rollups = InfluxRollupWriter(store.client)
            written, t0 = 0, time.perf_counter()
            if n_terms == 1820:
                batches = iter_days(plan)
                next(batches)  # the partial first UTC day
                for _ in range(days):
                    day = next(batches)
                    samples = to_samples(day.samples)
                    store.write_samples(samples)
                    rollups(samples)
                    store.write_heartbeats(day.heartbeats)
                    written += len(samples)
            else:  # one hour: the load rate
                rng = __import__("numpy").random.default_rng(1)
                a = 24 * 60  # the first hour of the month (local)
                arrays, beats = hour_arrays(plan, a, a + 60, plan.profile.vantages[0], rng, None)
                samples = to_samples(arrays)
                store.write_samples(samples)
                rollups(samples)
                store.write_heartbeats(beats)
                written = len(samples)
            load_s = time.perf_counter() - t0
            store.close()
            out[db] = {"samples": written, "load_s": round(load_s, 1), "rate": round(written / load_s)}
        # full compaction: wait until the TSM files stop changing, then stop the server
        stable, last, t0 = 0, -1, time.perf_counter()
        while stable < 4 and time.perf_counter() - t0 < 900:
            time.sleep(10)
            now = du(root / "data")
            busy = any(root.glob("data/**/*.tmp"))
            stable = stable + 1 if now == last and not busy else 0
            last = now
        out["compaction_wait_s"] = round(time.perf_counter() - t0)
    finally:
        server.stop()
    data_dbs = {db: du(root / "data" / db) for db in ("m1820", "m20000")}
    wal = du(root / "wal" / "m1820") if (root / "wal" / "m1820").exists() else 0
    out["m1820"].update(data_bytes=data_dbs["m1820"], wal_bytes=wal)
    out["m20000"].update(data_bytes=data_dbs["m20000"])
    fx._config = plain_config  # type: ignore[assignment]
    return out


# ---------------------------------------------------------------------------------------- table
def table(res: dict[str, Any]) -> list[str]:
    def get(*keys: str) -> Any:
        node: Any = res
        for k in keys:
            if not isinstance(node, dict) or k not in node:
                return None
            node = node[k]
        return node

    def when(step: str) -> str:
        return str(get(step, "measured") or "-")

    rows = [("work", "ours (columnar tier)", "SQLite journal", "InfluxDB 1.6.7", "floor / goal", "measured")]
    c, j, i = get("lab1820"), get("journal1820"), get("influx", "m1820")
    bps = f"{c['bytes'] / c['samples']:.2f}" if c else "-"
    jbps = f"{j['bytes'] / j['samples']:.1f}" if j else "-"
    ibps = "-"
    if i:
        ibps = f"{i['data_bytes'] / i['samples']:.2f} ({i['samples'] / 2_565_120:.0f} days)"
    rows.append(("bytes/sample, 1,820-terminal month", bps, jbps, ibps, "<= 20 / 10", when("lab1820")))
    r = get("report1820")
    if r:
        rows.append(
            (
                "month report 1,820 (median s, peak MiB)",
                f"{r['columnar']['median']} s, {r['columnar']['peak_mib']} MiB",
                f"{r['journal']['median']} s, {r['journal']['peak_mib']} MiB",
                "-",
                "<= 5 s / 2 s",
                when("report1820") + (", JSON identical" if r["json_identical"] else ", JSON DIFFERS"),
            )
        )
    r20 = get("report20000")
    if r20:
        rows.append(
            (
                "month report 20,000 (s, peak MiB)",
                f"{r20['median']} s, {r20['peak_mib']} MiB",
                "-",
                "-",
                "<= 180 s, 4 GiB / 60 s, 2 GiB",
                when("report20000"),
            )
        )
    p20 = get("partial20000")
    if p20:
        days = len(p20["days"])
        rows.append(
            (
                f"20,000 month report, {days} of 31 days written (s, peak MiB)",
                f"{p20['report_s']} s at {p20['report_days']} days, {max(p20['report_peak_mib'])} MiB; "
                "31 days EXTRAPOLATED "
                f"{p20['report_31_days_extrapolated_s']} s",
                "-",
                "-",
                "<= 180 s, 4 GiB / 60 s, 2 GiB",
                when("partial20000"),
            )
        )
        fixed = p20.get("report_after_fix")  # recorded by hand: re-run after the read-path fix
        if fixed:
            rows.append(
                (
                    f"20,000 month report, {fixed['days']} of 31 days, after the dictionary fix",
                    f"{fixed['median']} s {fixed['runs']}, {fixed['peak_mib']} MiB",
                    "-",
                    "-",
                    "<= 180 s, 4 GiB / 60 s, 2 GiB",
                    fixed["measured"],
                )
            )
        rows.append(
            (
                "day writer, one 20,000 day (s)",
                f"{p20['write_s']} s ({p20['samples_per_day']:,} samples/day)",
                "-",
                "-",
                "compaction <= 60 s",
                when("partial20000"),
            )
        )
    i20 = get("influx", "m20000")
    if i20:
        month_n = 20_000 * 60 * 24 * 33  # the window: the month and a day either side
        rows.append(
            (
                "InfluxDB 20,000: load rate (1 hour)",
                "-",
                "-",
                f"{i20['rate']:,} samples/s -> month {month_n / i20['rate'] / 3600:.1f} h (EXTRAPOLATED)",
                "report <= 180 s",
                when("influx"),
            )
        )
    if c:
        rows.append(
            (
                "lab month 1,820 (median s)",
                f"{c['median']} s {c['runs']}",
                f"{j['median']} s" if j else "-",
                "-",
                "<= 600 s / 180 s",
                when("lab1820"),
            )
        )
    g = get("gen20000")
    if g:
        rows.append(
            (
                "lab month 20,000 (s, peak MiB, bytes/sample)",
                f"{g['median']} s, {g['peak_mib']} MiB, {g['bytes'] / g['samples']:.2f}",
                "-",
                "-",
                "-",
                when("gen20000"),
            )
        )
    k = get("compact20000")
    if k:
        rows.append(
            (
                "compaction of one 20,000 day (s, peak MiB)",
                f"{k['median']} s, {k['peak_mib']} MiB ({k['samples']:,} samples)",
                "-",
                "-",
                "<= 60 s",
                when("compact20000"),
            )
        )
    widths = [max(len(str(row[n])) for row in rows) for n in range(len(rows[0]))]
    return [" | ".join(str(x).ljust(wd) for x, wd in zip(row, widths, strict=True)) for row in rows]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workdir", type=Path, default=Path("/work/bench-data/store-month"))
    ap.add_argument("--steps", default="all", help=f"comma-separated of {', '.join(STEPS)}, or all")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--influx-days", type=int, default=2)
    ap.add_argument("--results", type=Path, help="results file [WORKDIR/results.json]")
    args = ap.parse_args()
    w: Path = args.workdir
    w.mkdir(parents=True, exist_ok=True)
    results_path = args.results or w / "results.json"
    results = json.loads(results_path.read_text()) if results_path.exists() else {}
    steps = STEPS if args.steps == "all" else tuple(s for s in args.steps.split(",") if s)  # "": table only
    for step in steps:
        print(f"{time.strftime('%H:%M:%S')} {step} ...", file=sys.stderr, flush=True)
        if step == "influx":
            got = step_influx(w, args.runs, args.influx_days)
        else:
            got = globals()[f"step_{step}"](w, args.runs)
        load = os.getloadavg()
        got["measured"] = f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M}Z, load {load[0]:.1f}"
        # re-read before writing: another run of this script may have recorded other steps meanwhile
        results = json.loads(results_path.read_text()) if results_path.exists() else {}
        results[step] = got
        results_path.write_text(json.dumps(results, indent=1, sort_keys=True))
        print(json.dumps({step: got}), file=sys.stderr, flush=True)
    print("\n".join(table(results)))


if __name__ == "__main__":
    main()

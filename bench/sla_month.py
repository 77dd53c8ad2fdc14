"""Benchmark: ``slaprobe report`` for a full synthetic month, from the journal and from a real influxd.

    python bench/sla_month.py --terminals 1820 [20000] [--stores embedded influx columnar] [--runs 3]

For each size it generates the month once per store (``slaprobe lab month``: 31 days + 1 day either side,
Δt 60 s, one ICMP sample per terminal per minute), then runs ``slaprobe report --format json`` as a
separate process ``--runs`` times and reports the median wall time and the peak RSS (``wait4``). The
JSON of the stores is compared byte for byte. ``columnar`` copies the embedded month's journal (generated
first if needed), compacts every day into the columnar tier (``slaprobe store compact``, timed) and reports
from that state directory: the tier, with an empty journal. Floors (from the issue): 1,820 terminals
< 15 s from the journal, < 60 s from InfluxDB and < 5 s from the columnar tier, 20,000 terminals < 180 s,
peak memory < 4 GiB.

Reference, same run: what a report that reads every row would pay just to fetch the month (journal:
``SELECT`` of every sample's packet counts; InfluxDB: ``sum(sent), sum(received) GROUP BY time(60s),
terminal`` for one day, times the days of the month). Generated data is kept in ``--workdir`` and reused
with ``--reuse`` (the month takes ~1 h to write for 1,820 terminals on this 2-core machine).
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from slaprobe.config import InfluxConfig  # noqa: E402
from slaprobe.lab.month import MonthProfile  # noqa: E402
from slaprobe.lab.month_output import generate_month  # noqa: E402
from slaprobe.sla.engine import month_period  # noqa: E402

FLOORS = {("embedded", 1820): 15.0, ("influx", 1820): 60.0, ("columnar", 1820): 5.0}
BIG_FLOOR = 180.0
MEM_FLOOR_MIB = 4096


def server_cpu_s(pid: int | None) -> float:
    """CPU seconds (user + system) used so far by process ``pid`` (influxd), 0 without one."""
    if pid is None:
        return 0.0
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_report(config: Path, month: str, store: str, out: Path) -> tuple[float, float]:
    """(wall seconds, peak RSS MiB) of one ``slaprobe report`` process."""
    cmd = [
        sys.executable,
        "-m",
        "slaprobe",
        "report",
        "--config",
        str(config),
        "--month",
        month,
        "--format",
        "json",
        "--store",
        store,
        "--out",
        str(out),
    ]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    err = proc.stderr.read().decode() if proc.stderr else ""
    if status != 0:
        raise SystemExit(f"report failed ({status}): {err}")
    return wall, usage.ru_maxrss / 1024


def reference_embedded(journal: Path, month: str) -> float:
    period = month_period(month)
    t0 = time.perf_counter()
    db = sqlite3.connect(f"file:{journal}?mode=ro", uri=True)
    cursor = db.execute(
        "SELECT series, time_ns, sent, received FROM samples WHERE time_ns >= ? AND time_ns < ?",
        (period.start_ns, period.end_ns),
    )
    while cursor.fetchmany(100_000):
        pass
    db.close()
    return time.perf_counter() - t0


def reference_influx(cfg: InfluxConfig, month: str) -> float:
    from slaprobe.store.influx import InfluxClient

    period = month_period(month)
    day = 86_400 * 10**9
    client = InfluxClient(cfg)
    t0 = time.perf_counter()
    q = (
        f"SELECT sum(sent), sum(received) FROM icmp WHERE time >= {period.start_ns} AND "
        f"time < {period.start_ns + day} GROUP BY time(60s), terminal"
    )
    for _ in client.query(q):
        pass
    client.close()
    return (time.perf_counter() - t0) * ((period.end_ns - period.start_ns) // day)


def prepare_columnar(base: Path, n: int, args: argparse.Namespace, marker: Path) -> Path:
    """The embedded month's journal, copied and compacted whole into ``base/columnar-state``."""
    import shutil

    state = base / "columnar-state"
    if args.reuse and marker.exists():
        return state
    if not (base / ".embedded-done").exists():
        generate_month(
            n, args.month, MonthProfile(), base, "embedded", None, None, progress("embedded", n), replace=True
        )
        (base / ".embedded-done").touch()
    shutil.rmtree(state, ignore_errors=True)
    state.mkdir(parents=True)
    shutil.copy(base / "journal.sqlite", state / "journal.sqlite")
    t0 = time.perf_counter()
    cmd = [sys.executable, "-m", "slaprobe", "store", "compact", "--journal", str(state / "journal.sqlite"),
           "--before", "2200-01-01", "--json"]  # fmt: skip
    done = json.loads(subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True, text=True).stdout)
    took = time.perf_counter() - t0
    tier = state / "columnar"
    size = sum(p.stat().st_size for p in tier.glob("day=*/*.parquet"))
    print(
        f"compacted {done['samples']} samples ({len(done['days'])} days) in {took:.0f} s"
        f" ({took / max(len(done['days']), 1):.1f} s/day): {size / max(done['samples'], 1):.2f} bytes/sample",
        file=sys.stderr,
    )
    marker.touch()
    return state


def progress(store: str, n: int):  # type: ignore[no-untyped-def]
    def report(done: int, total: int) -> None:
        if done % 96 == 0 or done == total:
            print(f"  {store} {n}: {done}/{total} h", file=sys.stderr)

    return report


HEADER = (
    "terminals",
    "store",
    "term-intervals",
    "report s",
    "influxd s",
    "floor s",
    "floor/ours",
    "read-all s",
    "ref/ours",
    "peak MiB",
    "< 4 GiB",
)
WIDTHS = (9, 8, 14, 9, 9, 8, 10, 10, 8, 9, 7)


def line(cells: tuple[str, ...]) -> str:
    return " ".join(c.rjust(w) for c, w in zip(cells, WIDTHS, strict=True))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--terminals", type=int, nargs="+", default=[1820])
    ap.add_argument(
        "--stores", nargs="+", default=["embedded", "influx"], choices=["embedded", "influx", "columnar"]
    )
    ap.add_argument("--month", default="2022-12")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "slp-sla-bench")
    ap.add_argument("--reuse", action="store_true", help="reuse generated data in --workdir")
    args = ap.parse_args()

    server = None
    rows = []
    try:
        for n in args.terminals:
            base = args.workdir / str(n)
            outputs = {}
            for store in args.stores:
                cfg_influx = InfluxConfig()
                if store == "influx":
                    if server is None:
                        sys.path.insert(0, str(ROOT))
                        from tests.fixtures.influx import InfluxServer

                        root = args.workdir / "influxd"  # kept: --reuse finds the data again
                        root.mkdir(parents=True, exist_ok=True)
                        server = InfluxServer(root=root)
                        server.start(timeout_s=300)
                    db = f"bench_{n}"
                    cfg_influx = InfluxConfig(url=server.url, database=db, api="v1", timeout_s=600)
                marker = base / f".{store}-done"
                if store == "columnar":
                    state = prepare_columnar(base, n, args, marker)
                elif not (args.reuse and marker.exists()):
                    if store == "influx":
                        server.create_database(db)
                    t0 = time.perf_counter()
                    _, count = generate_month(  # a journal left by an unfinished run is regenerated
                        n, args.month, MonthProfile(), base, store, None, cfg_influx, progress(store, n),
                        replace=True,
                    )  # fmt: skip
                    print(
                        f"generated {count} samples into {store} in {time.perf_counter() - t0:.0f} s",
                        file=sys.stderr,
                    )
                    marker.touch()
                config = base / f"{store}.yaml"
                config.write_text(
                    yaml.safe_dump(
                        {
                            "state_dir": str(state if store == "columnar" else base),
                            "inventory": str(base / "terminals.csv"),
                            "store": {"kind": "influx" if store == "influx" else "embedded"},
                            "influx": {
                                "url": cfg_influx.url,
                                "database": cfg_influx.database,
                                "api": "v1",
                                "timeout_s": 600.0,
                            },
                            "sla": {"maintenance": str(base / "maintenance.yaml")},
                        }
                    )
                )
                walls, peaks, cpus = [], [], []
                pid = server.proc.pid if store == "influx" and server and server.proc else None
                for _ in range(args.runs):
                    out = base / f"report-{store}.json"
                    cpu0 = server_cpu_s(pid)
                    wall, peak = run_report(
                        config, args.month, "influx" if store == "influx" else "embedded", out
                    )
                    cpus.append(server_cpu_s(pid) - cpu0)  # (columnar: there is no server)
                    walls.append(wall)
                    peaks.append(peak)
                outputs[store] = out.read_bytes()
                ref = (
                    reference_influx(cfg_influx, args.month)
                    if store == "influx"
                    else reference_embedded(base / "journal.sqlite", args.month)
                )
                intervals = sum(t["in_service_s"] // 60 for t in json.loads(outputs[store])["terminals"])
                floor = FLOORS.get((store, n), BIG_FLOOR)
                wall, cpu = statistics.median(walls), statistics.median(cpus)
                rows.append((n, store, intervals, wall, cpu, floor, ref, max(peaks)))
            for other in ("influx", "columnar"):
                if "embedded" in outputs and other in outputs:
                    same = outputs["embedded"] == outputs[other]
                    print(f"{n} terminals: JSON embedded vs {other} byte-identical: {same}")
    finally:
        if server is not None:
            server.stop()

    print()
    print(line(HEADER))
    for n, store, intervals, wall, cpu, floor, ref, peak in rows:
        print(
            line(
                (
                    str(n),
                    store,
                    f"{intervals:,}",
                    f"{wall:.1f}",
                    f"{cpu:.1f}" if store == "influx" else "-",
                    f"{floor:.0f}",
                    f"{floor / wall:.2f}",
                    f"{ref:.1f}",
                    f"{ref / wall:.2f}",
                    f"{peak:.0f}",
                    "yes" if peak < MEM_FLOOR_MIB else "NO",
                )
            )
        )
    print(
        f"(median of {args.runs} runs; read-all = only fetching every row of the month; influx: 1 day x days;"
        f" influxd s = the server's CPU seconds per report, what the wall time becomes on a shared machine;"
        f" load average now {os.getloadavg()[0]:.2f})"
    )


if __name__ == "__main__":
    main()

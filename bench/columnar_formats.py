"""Benchmark: the columnar tier's format, Parquet (pyarrow) against DuckDB, on days of a ``lab month``.

    python bench/columnar_formats.py JOURNAL [--days 4]

Takes the first ``--days`` whole UTC days of a journal (e.g. ``slaprobe lab month --terminals 40 ...``),
and stores each day (a) as the tier writes it (``store/columnar.py``: Parquet, zstd, sorted by series
and time, scaled-integer floats) and (b) as a DuckDB database file holding the same tables (DuckDB's own
compressed storage, rows in the same order, the same scaled integers), then reports per format the bytes
per sample, the write time, and the time of the reads the month report makes (problem rows; hourly
rollup rows; the samples of 50 (terminal, hour) pairs). Medians of 3.
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import duckdb  # noqa: E402
import pyarrow.compute as pc  # noqa: E402

from slaprobe.sla.kpi import HOUR_NS  # noqa: E402
from slaprobe.store.columnar import (  # noqa: E402
    DAY_NS,
    DETAIL_COLUMNS,
    ENGINE_VALUES,
    SERIES_TAGS,
    Tier,
    day_start_ns,
    plain,
)
from slaprobe.store.columnar_write import Day, prepare, rollup_tables, sorted_table, write_day  # noqa: E402
from slaprobe.store.journal import JournalStore  # noqa: E402
from slaprobe.store.journal_day import read_day  # noqa: E402
from slaprobe.store.parquet_codec import encode_floats  # noqa: E402


def median_s(fn, runs: int = 3) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def write_duckdb(path: Path, day: Day) -> None:
    """The day as DuckDB tables: the same rows, order and scaled integers the Parquet tier gets."""
    table = sorted_table(day)
    engine = table.select([*SERIES_TAGS, "time_ns", *ENGINE_VALUES, "error"])
    detail, _meta, _packed = encode_floats(table.select(list(DETAIL_COLUMNS)))
    sent, received = table.column("sent"), table.column("received")
    problems = engine.filter(pc.or_(pc.greater(pc.subtract(sent, received), 0), pc.equal(sent, 0)))
    hourly, _daily = rollup_tables(day)
    con = duckdb.connect(str(path))
    for name, data in (("samples", engine), ("detail", detail), ("problems", problems), ("hourly", hourly)):
        con.register("data", data)
        exists = con.execute(f"SELECT count(*) FROM duckdb_tables() WHERE table_name = '{name}'").fetchone()
        if exists and exists[0]:
            con.execute(f"INSERT INTO {name} SELECT * FROM data")
        else:
            con.execute(f"CREATE TABLE {name} AS SELECT * FROM data")
        con.unregister("data")
    con.execute("CHECKPOINT")
    con.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("journal", type=Path)
    ap.add_argument("--days", type=int, default=4)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="slp-formats-"))
    journal = JournalStore(args.journal, readonly=True)
    first = journal._db.execute("SELECT min(time_ns) FROM samples").fetchone()[0]
    day0 = dt.date.fromtimestamp(first // 10**9 + 86_400) if first else None
    if day0 is None:
        raise SystemExit("empty journal")
    days = [day0 + dt.timedelta(days=k) for k in range(args.days)]
    read = {d: read_day(journal, day_start_ns(d)) for d in days}
    tables = {d: (plain(r.samples_table()), r.heartbeats) for d, r in read.items()}
    del read
    n = sum(t[0].num_rows for t in tables.values())
    results = {}
    # Parquet: the tier's writer
    t0 = time.perf_counter()
    for d, (s, h) in tables.items():
        write_day(work / "parquet", d, s, h)
    write_parquet = time.perf_counter() - t0
    tier = Tier(work / "parquet")
    size_parquet = sum(
        p.stat().st_size
        for p in (work / "parquet").glob("day=*/*.parquet")
        if "heartbeats" not in p.name and "daily" not in p.name
    )
    from slaprobe.store.columnar_read import ColumnarSlaSource, _in

    source = ColumnarSlaSource(tier)
    keys = sorted(
        {
            (t, day_start_ns(d) + (7 * k % 24) * HOUR_NS)
            for d in days
            for k, t in enumerate(sorted(set(tables[d][0].column("terminal").to_pylist()))[:12])
        }
    )[:50]
    lo, hi = day_start_ns(days[0]), day_start_ns(days[-1]) + DAY_NS
    from slaprobe.model import ProbeKind

    kinds = list(ProbeKind)
    results["parquet"] = (
        size_parquet / n,
        write_parquet,
        median_s(lambda: source.problem_samples(lo, hi, kinds)),
        median_s(lambda: [tier.read(d.isoformat(), "hourly", None, _in(lo, hi, "hour_ns")) for d in days]),
        median_s(lambda: source.hour_samples(keys, kinds)),
    )
    # DuckDB: one database file per day, same tables
    (work / "duckdb").mkdir()
    t0 = time.perf_counter()
    for d, (s, _h) in tables.items():
        write_duckdb(work / "duckdb" / f"{d}.duckdb", prepare(s, d))
    write_duck = time.perf_counter() - t0
    size_duck = sum(p.stat().st_size for p in (work / "duckdb").glob("*.duckdb"))
    for d, (s, _h) in tables.items():  # all days in one file: no per-file block overhead
        write_duckdb(work / "all.duckdb", prepare(s, d))
    size_duck_one = (work / "all.duckdb").stat().st_size

    def duck_read(sql: str) -> None:
        for d in days:
            con = duckdb.connect(str(work / "duckdb" / f"{d}.duckdb"), read_only=True)
            con.sql(sql).to_arrow_table()
            con.close()

    terms = ", ".join(f"'{t}'" for t in sorted({k[0] for k in keys}))
    results["duckdb"] = (
        size_duck / n,
        write_duck,
        median_s(
            lambda: duck_read("SELECT terminal, vantage, kind, time_ns, sent, received, error FROM problems")
        ),
        median_s(lambda: duck_read("SELECT * FROM hourly")),
        median_s(
            lambda: duck_read(
                "SELECT terminal, vantage, kind, time_ns, sent, received, error FROM samples"
                f" WHERE terminal IN ({terms})"
            )
        ),
    )
    print(
        f"{n} samples, {len(days)} UTC days of {args.journal};"
        f" journal: {args.journal.stat().st_size / journal.count_samples():.1f} bytes/sample"
    )
    print(
        f"{'format':8} {'bytes/sample':>12} {'write s':>8} {'problems s':>10} {'hourly s':>9}"
        f" {'50 hours s':>10}"
    )
    for name, (bps, w, p, h, k) in results.items():
        print(f"{name:8} {bps:12.2f} {w:8.2f} {p:10.3f} {h:9.3f} {k:10.3f}")
    print(f"duckdb, all days in one file: {size_duck_one / n:.2f} bytes/sample")
    print("(bytes: samples + detail + problems + hourly, the parts both formats hold; reads: median of 3)")
    shutil.rmtree(work)


if __name__ == "__main__":
    main()

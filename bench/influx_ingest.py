"""Journal → InfluxDB ingest: sustained points/s and the replay time of a 1-hour backlog of 20,000 terminals.

    python bench/influx_ingest.py [--terminals 20000] [--minutes 60] [--repeat 3]
    python bench/influx_ingest.py --outage 120      # the issue's acceptance run: influxd down 2 minutes

Backlog: one ICMP sample per terminal per minute (20,000 × 60 = 1.2 M points) already in the journal, as
after a one-hour InfluxDB outage. Each run replays it into a freshly started, empty local influxd
(Debian's 1.6.7 on free loopback ports with a temporary directory), so runs do not inherit each other's
compactions. influxd answers 500 ("cache maximum memory size exceeded") when writes outpace its
snapshots; the shipper backs off and retries (counted in the "retries" column), the reference retries
after 0.5 s.

* ours: the :class:`Shipper` exactly as the daemon runs it: read 5,000 journal rows, encode, POST
  (gzip level 1 by default), wait for the 204, commit the cursor.
* ours, no gzip: the same with ``influx.gzip: false``.
* reference: the same line protocol, encoded beforehand (not timed), POSTed in 5,000-line batches over
  one kept-alive ``http.client`` connection, like ``curl --data-binary`` in a loop: what influxd itself
  can take, the ceiling for any client. (influxdb-client's write API only speaks ``/api/v2/write``, which
  1.6.7 does not have.)

Floor (issue): replay at least 20× faster than real time, i.e. the hour in under 180 s.
"""

from __future__ import annotations

import argparse
import http.client
import logging
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from slaprobe.config import InfluxConfig, ShipperConfig
from slaprobe.model import NS_PER_S, Outcome, ProbeKind, Sample
from slaprobe.store.influx import InfluxClient
from slaprobe.store.journal import JournalStore
from slaprobe.store.lineproto import sample_line
from slaprobe.store.shipper import CURSOR_HEARTBEATS, CURSOR_ROLLUPS, CURSOR_SAMPLES, Shipper
from tests.fixtures.influx import InfluxServer, running_influxd

T0 = 1_780_000_000 * NS_PER_S
BATCH = 5000


def tags(i: int) -> dict[str, str]:
    return {
        "carrier": ("telecom", "unicom")[i % 2],
        "region": f"region-{i % 21}",
        "level": ("city", "township", "village")[i % 3],
        "tier": ("premium", "standard", "basic")[i % 3],
    }


def sample(i: int, minute: int, vantage: str = "probe-1") -> Sample:
    received = 5 if (i + minute) % 50 else 3
    return Sample(
        time_ns=T0 + minute * 60 * NS_PER_S + (i % 6000) * 10_000_000,
        terminal=f"T{i:05d}",
        vantage=vantage,
        kind=ProbeKind.ICMP,
        sent=5,
        received=received,
        rtt_min_ms=3.0 + (i % 17) / 10,
        rtt_avg_ms=4.0 + (i % 23) / 10,
        rtt_max_ms=6.0 + (i % 29) / 10,
        rtt_p50_ms=4.0 + (i % 19) / 10,
        jitter_ms=0.1 * (minute % 7),
        error=Outcome.OK if received == 5 else Outcome.PARTIAL,
    )


def build_journal(path: Path, terminals: int, minutes: int) -> float:
    start = time.perf_counter()
    j = JournalStore(path)
    j.set_terminal_tags({f"T{i:05d}": tags(i) for i in range(terminals)})
    for m in range(minutes):
        j.write_samples([sample(i, m) for i in range(terminals)])
    j.close()
    return time.perf_counter() - start


def count(server: InfluxServer, db: str) -> int:
    series = server.query('SELECT count("sent") FROM "icmp"', db)
    return series[0]["values"][0][1] if series else 0


def run_ours(server: InfluxServer, journal: Path, gzip: bool) -> tuple[float, int]:
    j = JournalStore(journal)
    j.set_cursors({CURSOR_SAMPLES: 0, CURSOR_HEARTBEATS: 0, CURSOR_ROLLUPS: 0})
    client = InfluxClient(InfluxConfig(url=server.url, database="bench", gzip=gzip))
    shipper = Shipper(j, client, ShipperConfig(batch_size=BATCH, keep_shipped_days=0))
    start = time.perf_counter()
    shipper.drain()
    took = time.perf_counter() - start
    client.close()
    j.close()
    return took, shipper.state.errors_total


def encode_all(journal: Path) -> list[bytes]:
    j = JournalStore(journal, readonly=True)
    bodies, after = [], 0
    while rows := j.rows_after(after, BATCH):
        bodies.append(("\n".join(sample_line(r.sample, r.tags) for r in rows) + "\n").encode())
        after = rows[-1].id
    j.close()
    return bodies


def time_shipper_encoding(journal: Path) -> float:
    """What the shipper spends reading and encoding the backlog (with rollups), without any server."""
    j = JournalStore(journal)
    j.set_cursors({CURSOR_SAMPLES: 0, CURSOR_HEARTBEATS: 0, CURSOR_ROLLUPS: 0})
    offline = InfluxClient(InfluxConfig(url="http://127.0.0.1:9", database="none"))  # never contacted
    shipper = Shipper(j, offline, ShipperConfig(batch_size=BATCH))
    start = time.perf_counter()
    at = shipper._position()
    while (batch := shipper._prepare(at)) is not None:  # the drain loop's read-ahead, minus the POST
        at = batch.end
    took = time.perf_counter() - start
    j.close()
    return took


def run_reference(server: InfluxServer, bodies: list[bytes]) -> tuple[float, int]:
    conn = http.client.HTTPConnection("127.0.0.1", server.http_port, timeout=60)
    retries = 0
    start = time.perf_counter()
    for body in bodies:
        while True:
            conn.request("POST", "/write?db=bench&precision=ms", body=body)
            resp = conn.getresponse()
            resp.read()
            if resp.status == 204:
                break
            if resp.status < 500 or retries > 1000:
                raise RuntimeError(f"reference write failed: HTTP {resp.status}")
            retries += 1
            time.sleep(0.5)
    took = time.perf_counter() - start
    conn.close()
    return took, retries


def fresh_run(fn, *args) -> tuple[float, int]:
    """One timed run against a new, empty influxd; checks every point arrived."""
    with running_influxd() as server:
        server.create_database("bench")
        result = fn(server, *args)
        got = count(server, "bench")
    if got != POINTS[0]:
        raise SystemExit(f"{fn.__name__}: {got} points in InfluxDB, expected {POINTS[0]}")
    return result


POINTS = [0]


def ingest(args: argparse.Namespace) -> None:
    points = args.terminals * args.minutes
    POINTS[0] = points
    real_s = args.minutes * 60
    with tempfile.TemporaryDirectory(prefix="slp-influx-bench-") as tmp:
        journal = Path(tmp) / "journal.sqlite"
        built = build_journal(journal, args.terminals, args.minutes)
        shape = f"{args.terminals:,} terminals x {args.minutes} min"
        print(f"journal: {points:,} samples ({shape}) built in {built:.1f} s", flush=True)
        bodies = encode_all(journal)
        enc = time_shipper_encoding(journal)
        print(
            f"ours without a server (journal read + encode, with SLA rollups): {enc:.1f} s,"
            f" {points / enc:,.0f} points/s",
            flush=True,
        )
        results: dict[str, list[tuple[float, int]]] = {
            "ours (gzip)": [],
            "ours (no gzip)": [],
            "reference raw POST": [],
        }
        for i in range(args.repeat):  # interleaved, so drift on a shared machine hits all alike
            results["ours (gzip)"].append(fresh_run(run_ours, journal, True))
            results["ours (no gzip)"].append(fresh_run(run_ours, journal, False))
            results["reference raw POST"].append(fresh_run(run_reference, bodies))
            took = ", ".join(f"{k} {v[-1][0]:.1f} s" for k, v in results.items())
            print(f"run {i + 1}: {took}", flush=True)
    ref = statistics.median(t for t, _ in results["reference raw POST"])
    print(f"\nreplay of {points:,} points (median of {args.repeat}; each run verified: all points present)")
    head = f"{'variant':<20} {'median s':>9} {'points/s':>10} {'x real time':>12} {'ref/ours':>9}"
    head += f" {'retries':>8}"
    print(f"{head}  runs (s)")
    for name, runs in results.items():
        med = statistics.median(t for t, _ in runs)
        shown = " ".join(f"{t:.1f}" for t, _ in runs)
        retries = sum(r for _, r in runs)
        row = f"{name:<20} {med:>9.1f} {points / med:>10,.0f} {real_s / med:>11.0f}x {ref / med:>9.2f}"
        row += f" {retries:>8}"
        print(f"{row}  {shown}")
    print(f"\nfloor: replay >= 20x real time (the hour in <= {real_s / 20:.0f} s)")


def outage(args: argparse.Namespace) -> None:
    """Acceptance: a daemon-like writer journals 1,820 terminals a second while influxd is stopped."""
    from tests.store.test_shipper import influx_points, journal_points

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(message)s")
    n = 1820
    with tempfile.TemporaryDirectory(prefix="slp-influx-bench-") as tmp, running_influxd() as server:
        server.create_database("outage")
        path = Path(tmp) / "journal.sqlite"
        writer_journal = JournalStore(path)
        writer_journal.set_terminal_tags({f"T{i:05d}": tags(i) for i in range(n)})
        cfg = ShipperConfig(min_backoff_s=1.0, max_backoff_s=15.0, keep_shipped_days=0)
        client = InfluxClient(InfluxConfig(url=server.url, database="outage"))
        shipper = Shipper(JournalStore(path), client, cfg)
        shipper.start()
        stop = threading.Event()

        def write() -> None:
            minute = 0
            while not stop.is_set():
                writer_journal.write_samples([sample(i, minute) for i in range(n)])
                shipper.wake()
                minute += 1
                time.sleep(1.0)

        t = threading.Thread(target=write)
        t.start()
        time.sleep(10)
        print(f"stopping influxd for {args.outage:.0f} s")
        server.stop()
        time.sleep(args.outage)
        server.start()
        print("influxd back")
        time.sleep(10)
        stop.set()
        t.join()
        last = writer_journal.last_sample_id()
        start = time.monotonic()
        while shipper.journal.get_cursor(CURSOR_SAMPLES) < last:
            time.sleep(0.2)
        print(f"caught up {time.monotonic() - start:.1f} s after the writer stopped")
        shipper.stop()
        ours, theirs = journal_points(path), influx_points(server, "outage")
        print(f"journal {len(ours):,} samples, InfluxDB {len(theirs):,}; identical: {ours == theirs}")
        print(f"failed attempts during the outage: {shipper.state.errors_total}")
        if ours != theirs:
            raise SystemExit(1)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--terminals", type=int, default=20_000)
    p.add_argument("--minutes", type=int, default=60)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--outage", type=float, default=0, help="run the outage acceptance instead (seconds down)")
    args = p.parse_args()
    outage(args) if args.outage else ingest(args)


if __name__ == "__main__":
    main()

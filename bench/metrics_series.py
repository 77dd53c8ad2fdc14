"""The /metrics series count for the province's 1,820 terminals, from a real scrape of a real daemon.

Not a test: starts the TUN lab with the example network (``sample_network.generate(1820)``, every
terminal answering after 10 ms, ``--dark`` of them dark so the live tracker has outages to report),
runs ``slaprobe run`` on it with ``metrics.listen`` set (icmp every ``--cycle`` s, Δt 10 s, n 2) until the
tracker has judged intervals, scrapes ``/metrics`` several times and prints the series per family, the
total, the scrape's size and the time it took, and the README formula next to the measured count.

    python bench/metrics_series.py [--terminals 1820] [--cycle 10] [--dark 20] [--seconds 45]
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from dataclasses import replace
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from slaprobe import sample_network
from slaprobe.inventory import write_csv
from slaprobe.lab import Lab, LabProfile

ROOT = Path(__file__).resolve().parents[1]
FAMILY = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*?)(_total|_created)?[{ ]")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--terminals", type=int, default=1820)
    ap.add_argument("--cycle", type=float, default=10.0)
    ap.add_argument("--dark", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=45.0)
    args = ap.parse_args()
    month_start = dt.date.today().replace(day=1)
    terminals = [
        replace(t, in_service_from=month_start, group="default")
        for t in sample_network.generate(args.terminals)
    ]
    tmp = Path(tempfile.mkdtemp(prefix="slp-bench-metrics-"))
    write_csv(terminals, tmp / "inv.csv")
    dark = [t.id for t in terminals[:: max(len(terminals) // max(args.dark, 1), 1)][: args.dark]]
    profile = LabProfile.build(
        terminals=[(t.id, str(t.address)) for t in terminals],
        defaults={"delay_ms": 10.0},
        per_terminal={tid: {"loss": 1.0} for tid in dark},
    )
    port = free_port()
    with Lab.start(profile, truth=False) as lab:
        (tmp / "slaprobe.yaml").write_text(
            yaml.safe_dump(
                {
                    "vantage": "bench",
                    "inventory": "inv.csv",
                    "state_dir": str(tmp / "state"),
                    "netns": lab.netns,
                    "schedule": {"interval_s": args.cycle},
                    "sla": {"interval_s": 10, "consecutive": 2, "timezone": "UTC"},
                    "metrics": {"listen": f"127.0.0.1:{port}"},
                    "log": {"format": "text", "level": "warning"},
                }
            )
        )
        proc = subprocess.Popen(
            [sys.executable, "-m", "slaprobe", "run", "--config", str(tmp / "slaprobe.yaml")],
            cwd=ROOT,
            stderr=(tmp / "daemon.log").open("wb"),
        )
        try:
            time.sleep(args.seconds)
            took, text = [], ""
            for _ in range(5):
                t0 = time.perf_counter()
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30) as resp:
                    text = resp.read().decode()
                took.append(time.perf_counter() - t0)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(60)
    series = [line for line in text.splitlines() if line and not line.startswith("#")]
    families: Counter[str] = Counter()
    for line in series:
        m = FAMILY.match(line)
        families[m.group(1) if m else line.split()[0]] += 1
    print(f"{args.terminals} terminals, 1 probe kind (icmp), {args.dark} dark; scrape {len(text)} bytes")
    print(f"scrape time: median {statistics.median(took) * 1000:.0f} ms over {len(took)} scrapes\n")
    print("| family | series |\n| --- | --- |")
    for name, count in sorted(families.items()):
        print(f"| `{name}` | {count} |")
    slaprobe = sum(c for n, c in families.items() if n.startswith("slaprobe_"))
    per_terminal = sum(c for n, c in families.items() if n.startswith("slaprobe_terminal_"))
    formula = args.terminals * 5
    print(f"\nslaprobe_* series: {slaprobe}, per terminal: {per_terminal}")
    print(
        f"formula T x (3 x kinds + 2) = {formula}; without RTT, jitter of the dark: {formula - 2 * args.dark}"
    )
    print(f"all series incl. process_*: {len(series)}")


if __name__ == "__main__":
    main()

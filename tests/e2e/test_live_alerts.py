"""Issue #13's "done when", end to end through real processes: lab -> ``slaprobe run`` (live tracker,
alert dispatcher, /metrics) -> a real Alertmanager and a real Prometheus scraping the daemon.

Scaled down: cycles of ``CYCLE_S`` (2.5 s), Δt = ``DT`` (5 s), n = ``N`` (2). Times are relative to ``B``,
the first Δt boundary at least ``LEAD_S`` after the daemon said READY; edges are on the Δt grid::

    B+5  .. B+25   full outage of OUT (2 of 12 terminals)              -> one terminal alert each, resolved
    B+35 .. B+50   everything dark: all 12 terminals and the reference -> one probe-host alert, resolved,
                   target (a mass event and a failed reference)           and NO terminal alert
    the daemon's start                                                 -> no probe-host alert

The bound for each alert, from the issue: firing within n·Δt + one cycle of the outage start, resolved
within the same bound after its end; the measured latencies are printed (run with ``-s`` to see them).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import math
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml

from slaprobe import sample_network
from slaprobe.inventory import write_csv
from slaprobe.lab import Lab, LabProfile
from tests.e2e import script as S
from tests.e2e.notify import NotifyListener
from tests.fixtures.influx import free_port
from tests.fixtures.lab import _require_lab_privileges
from tests.fixtures.prom import AlertmanagerServer, PrometheusServer
from tests.helpers import ROOT

pytestmark = [pytest.mark.lab]

CYCLE_S = 2.5
DT = 5
N = 2
LEAD_S = 4.0
OUTAGE = (5.0, 25.0)
HOST_OUTAGE = (35.0, 50.0)
END_AT = 64.0
BOUND_S = N * DT + CYCLE_S  # the bound: n·Δt + one cycle
REFERENCE = "198.18.255.254"  # answered by the lab (inside its block), in no inventory


@dataclass
class Timeline:
    """What the test saw in Alertmanager, polled every 0.2 s: each alert's episodes (first poll listing
    it, first poll no longer listing it), labels and ``startsAt``."""

    episodes: dict[str, list[list[float | None]]] = field(default_factory=dict)  # key -> [[seen, gone]]
    labels: dict[str, dict[str, str]] = field(default_factory=dict)
    starts_at: dict[str, str] = field(default_factory=dict)

    def observe(self, now: float, alerts: list[dict[str, Any]]) -> None:
        seen = set()
        for a in alerts:
            lab = a["labels"]
            key = f"{lab['alertname']}:{lab.get('terminal') or lab.get('vantage')}"
            seen.add(key)
            eps = self.episodes.setdefault(key, [])
            if not eps or eps[-1][1] is not None:
                eps.append([now, None])
                self.labels[key] = lab
                self.starts_at[key] = a["startsAt"]
        for key, eps in self.episodes.items():
            if key not in seen and eps[-1][1] is None:
                eps[-1][1] = now

    def episode(self, key: str, start: float, end: float) -> tuple[float | None, float | None]:
        """(appeared, disappeared) of the episode that appeared in [start, end + BOUND_S]."""
        for seen, gone in self.episodes.get(key, []):
            assert seen is not None
            if start <= seen <= end + BOUND_S:
                return seen, gone
        return None, None


@dataclass
class Run:
    b: float
    out: tuple[str, ...]
    terminals: tuple[Any, ...]
    timeline: Timeline
    prometheus: PrometheusServer
    log: str
    scrape: str
    target_health: str


def _iso(t: float) -> str:
    return dt.datetime.fromtimestamp(t, dt.UTC).isoformat().replace("+00:00", "Z")


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    _require_lab_privileges()
    tmp = tmp_path_factory.mktemp("live")
    now = dt.datetime.now(dt.UTC)
    tz = S.choose_timezone(now, END_AT + 60)
    month_start = now.astimezone(ZoneInfo(tz)).date().replace(day=1)
    terminals = tuple(
        replace(t, in_service_from=month_start, group="default")
        for t in sample_network.generate(1820)[::150][:12]
    )
    out = (terminals[2].id, terminals[7].id)
    write_csv(terminals, tmp / "inv.csv")
    am = AlertmanagerServer(tmp / "am")
    am.root.mkdir()
    am.start()
    metrics_port = free_port()
    prom = PrometheusServer(tmp / "prom", targets=(f"127.0.0.1:{metrics_port}",))
    prom.root.mkdir()
    prom.start()
    b = S.boundary_after(time.time() + 12, DT)  # lab start + daemon READY + LEAD_S fit in 12 s
    profile = LabProfile.build(
        terminals=[(t.id, str(t.address)) for t in terminals],
        defaults={"delay_ms": 2.0},
        outages=[
            {"terminals": list(out), "start": _iso(b + OUTAGE[0]), "duration_s": OUTAGE[1] - OUTAGE[0]},
            {
                "terminals": ["198.18.0.0/16"],
                "start": _iso(b + HOST_OUTAGE[0]),
                "duration_s": HOST_OUTAGE[1] - HOST_OUTAGE[0],
            },
        ],
        seed=13,
    )
    cfg = tmp / "slaprobe.yaml"
    log = tmp / "daemon.log"
    timeline = Timeline()
    scrape = health = ""
    try:
        with Lab.start(profile, truth=False) as lab:
            cfg.write_text(
                yaml.safe_dump(
                    {
                        "vantage": "e2e-live",
                        "inventory": "inv.csv",
                        "state_dir": str(tmp / "state"),
                        "netns": lab.netns,
                        "schedule": {
                            "interval_s": CYCLE_S,
                            "slot_ms": 50.0,
                            "reference_targets": [REFERENCE],
                        },
                        "probes": {"icmp": {"count": 3, "interval_ms": 100.0, "timeout_ms": 500.0}},
                        "sla": {"interval_s": DT, "consecutive": N, "timezone": tz},
                        "alerts": {
                            "receivers": [
                                {"type": "alertmanager", "url": am.url, "resend_s": 5.0},
                                # nobody listens: its alerts wait in the queue while probing goes on
                                {
                                    "type": "webhook",
                                    "name": "dead",
                                    "url": f"http://127.0.0.1:{free_port()}/",
                                },
                            ],
                            "group_wait_s": 1.0,
                            "max_backoff_s": 2.0,
                        },
                        "metrics": {"listen": f"127.0.0.1:{metrics_port}"},
                        "log": {"format": "json", "level": "info"},
                    }
                )
            )
            notify = NotifyListener(tmp / "notify.sock")
            env = {
                "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
                "NOTIFY_SOCKET": str(notify.path),
                "PYTHONFAULTHANDLER": "1",
            }
            proc = subprocess.Popen(
                [sys.executable, "-m", "slaprobe", "run", "--config", str(cfg)],
                cwd=ROOT,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=log.open("ab"),
            )
            try:
                notify.wait_for("READY", 30)
                assert time.time() + LEAD_S <= b, "daemon READY too late for the script"
                while time.time() < b + END_AT:
                    with contextlib.suppress(OSError):  # a slow answer under load: poll again
                        timeline.observe(time.time(), am.alerts())
                    time.sleep(0.2)
                with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5) as resp:
                    scrape = resp.read().decode()
                (target,) = prom.targets_health()
                health = target["health"]
            finally:
                proc.send_signal(signal.SIGTERM)
                try:
                    code = proc.wait(60)
                except subprocess.TimeoutExpired:
                    proc.send_signal(signal.SIGABRT)  # PYTHONFAULTHANDLER: every thread's stack to the log
                    proc.wait(10)
                    raise AssertionError(f"no exit 60 s after SIGTERM:\n{log.read_text()[-6000:]}") from None
                finally:
                    notify.close()
            assert code == 0, log.read_text()[-3000:]
        yield Run(b, out, terminals, timeline, prom, log.read_text(), scrape, health)
    finally:
        prom.stop()
        am.stop()


def _latency(t: float | None, edge: float) -> float:
    return math.inf if t is None else t - edge


def test_a_lab_outage_fires_and_resolves_in_alertmanager_within_the_bound(run: Run) -> None:
    start, end = run.b + OUTAGE[0], run.b + OUTAGE[1]
    by_id = {t.id: t for t in run.terminals}
    for tid in run.out:
        key = f"SlaprobeTerminalOutage:{tid}"
        seen, gone = run.timeline.episode(key, start, end)
        fired, resolved = _latency(seen, start), _latency(gone, end)
        print(
            f"\n{tid}: firing {fired:.1f} s after the outage start, resolved {resolved:.1f} s after its end"
        )
        assert fired <= BOUND_S and resolved <= BOUND_S, run.log[-3000:]
        t = by_id[tid]
        assert run.timeline.labels[key] == {
            "alertname": "SlaprobeTerminalOutage",
            "terminal": tid,
            "carrier": t.carrier,
            "region": t.region,
            "level": t.level.value,
            "tier": t.tier,
            "vantage": "e2e-live",
            "severity": "critical",
        }
        started = dt.datetime.fromisoformat(run.timeline.starts_at[key].replace("Z", "+00:00")).timestamp()
        assert abs(started - start) <= DT, (run.timeline.starts_at[key], _iso(start))  # back-dated


def test_a_probe_host_outage_is_one_probe_host_alert_and_no_terminal_alert(run: Run) -> None:
    start, end = run.b + HOST_OUTAGE[0], run.b + HOST_OUTAGE[1]
    key = "SlaprobeProbeHost:e2e-live"
    seen, gone = run.timeline.episode(key, start, end)
    fired, resolved = _latency(seen, start), _latency(gone, end)
    print(f"\nprobe host: firing {fired:.1f} s after the start, resolved {resolved:.1f} s after the end")
    assert fired <= BOUND_S and resolved <= BOUND_S, run.log[-3000:]
    assert run.timeline.labels[key] == {
        "alertname": "SlaprobeProbeHost",
        "vantage": "e2e-live",
        "severity": "warning",
    }
    terminal_alerts = {k for k in run.timeline.episodes if k.startswith("SlaprobeTerminalOutage:")}
    assert terminal_alerts == {f"SlaprobeTerminalOutage:{tid}" for tid in run.out}, terminal_alerts
    # the daemon's (first) start is not a probe-host problem: the scripted outage is the only episode,
    # and the only one the tracker published (one firing and one resolved log line)
    assert len(run.timeline.episodes[key]) == 1, run.timeline.episodes[key]
    assert run.log.count('"live probe_host ') == 2, run.log[-3000:]


def test_prometheus_scrapes_the_live_state_and_the_probe_figures(run: Run) -> None:
    prom = run.prometheus
    assert run.target_health == "up"
    out = run.out[0]
    during = run.b + OUTAGE[0] + BOUND_S + 1  # decided by then
    after = run.b + OUTAGE[1] + BOUND_S + 1
    host = run.b + HOST_OUTAGE[0] + BOUND_S + 1

    def at(q: str, t: float) -> dict[str, float]:
        return {r["metric"].get("terminal", ""): float(r["value"][1]) for r in prom.query(q, at=t)}

    up = at("slaprobe_terminal_up", during)
    assert len(up) == 12 and up[out] == 0.0 and sum(up.values()) == 10.0, up
    assert at("slaprobe_terminal_up", after)[out] == 1.0
    assert all(math.isnan(v) for v in at("slaprobe_terminal_up", host).values())  # probe host: unknown
    since = at(f'slaprobe_terminal_state_since_timestamp_seconds{{terminal="{out}"}}', during)[out]
    assert abs(since - (run.b + OUTAGE[0])) <= DT
    loss = at(f'slaprobe_terminal_loss_ratio{{terminal="{out}",kind="icmp"}}', during)[out]
    assert loss == 1.0
    rtt = at(f'slaprobe_terminal_rtt_seconds{{terminal="{run.terminals[0].id}"}}', during)
    assert 0.001 <= rtt[run.terminals[0].id] <= 0.05  # the lab's 2 ms round trip (+ scheduling)
    # every event the tracker published (its log line per event) was delivered to Alertmanager
    events = run.log.count('"live terminal_outage ') + run.log.count('"live probe_host ')
    assert events >= 6  # 2 outages + 1 probe-host problem, each firing and resolved
    end = run.b + END_AT - 1

    def one(q: str) -> float:
        (r,) = prom.query(q, at=end)
        return float(r["value"][1])

    assert one('slaprobe_alerts_delivered_total{receiver="alertmanager"}') == events
    # a receiver that is down: everything queued and counted, nothing delivered, and probing unhurt
    assert one('slaprobe_alerts_pending{receiver="dead"}') == one(
        'slaprobe_alerts_queued_total{receiver="dead"}'
    )
    assert one('slaprobe_alerts_queued_total{receiver="dead"}') == events
    assert one('slaprobe_alerts_delivered_total{receiver="dead"}') == 0
    assert one('slaprobe_alerts_failed_total{receiver="dead"}') >= 3
    assert one('max_over_time(slaprobe_cycle_skipped_targets{cycle="default/icmp"}[50s])') == 0
    assert one('max_over_time(slaprobe_cycle_due_targets{cycle="default/icmp"}[50s])') == 12
    assert one("slaprobe_cycles_total") >= 20
    lateness = one('max_over_time(slaprobe_cycle_lateness_seconds{cycle="default/icmp"}[50s])')
    duration = one('max_over_time(slaprobe_cycle_duration_seconds{cycle="default/icmp"}[50s])')
    print(f"\nworst start lateness {lateness * 1000:.0f} ms, longest cycle {duration:.2f} s of {CYCLE_S} s")
    assert 0 <= lateness < CYCLE_S and duration < 2 * CYCLE_S


def test_the_series_count_follows_the_readme_formula(run: Run) -> None:
    """terminals × (3 per probe kind + 2) per-terminal series, the rest per vantage (README)."""
    per_terminal = [line for line in run.scrape.splitlines() if line.startswith("slaprobe_terminal_")]
    assert len(per_terminal) == 12 * (3 + 2), len(per_terminal)


def test_every_query_of_the_live_grafana_dashboard_runs_on_prometheus(run: Run) -> None:
    """config/grafana/slaprobe-live.json, variables at "All" (Grafana's allValue ``.*``), evaluated by the
    real Prometheus while the outage was open: no query fails, and the outage shows where it should."""
    dash = json.loads((ROOT / "config" / "grafana" / "slaprobe-live.json").read_text(encoding="utf-8"))
    during = run.b + OUTAGE[0] + BOUND_S + 1
    results = {}
    for panel in dash["panels"]:
        for target in panel["targets"]:
            expr = target["expr"].replace("$vantage", ".*").replace("$region", ".*")
            results[panel["title"]] = run.prometheus.query(expr, at=during)  # raises on a PromQL error
    assert float(results["Terminals unavailable now"][0]["value"][1]) == len(run.out)
    assert {r["metric"]["terminal"] for r in results["Unavailable terminals (outage age)"]} == set(run.out)
    assert results["Loss by region (last probe, mean)"] and results["RTT p95 by carrier"]
    for var in dash["templating"]["list"]:
        if var["type"] == "query":
            metric = var["query"].removeprefix("label_values(").split(",")[0]
            assert run.prometheus.query(metric, at=during), var["name"]

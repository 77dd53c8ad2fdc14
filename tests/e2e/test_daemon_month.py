"""End to end through the real processes: lab -> ``slaprobe run`` (store.kind influx, a real influxd) ->
``slaprobe report --format json`` from the journal AND from InfluxDB -> ``slaprobe reconcile``.

One scripted run (tests/e2e/script.py, about three minutes) feeds every test of this module: full
outages, a maintenance window over part of one, 30 %-loss and never-answering terminals, a SIGHUP that
removes, adds and re-tags terminals, and the daemon stopped for several Δt and restarted. Expected figures
come from the script and the wall-clock times the test recorded, never from the engine's output.

The month is the test's "now", cut in an explicitly chosen time zone (Asia/Shanghai unless the run would
cross its month boundary, then UTC); every terminal is in service from that month's first day, so the
year-to-date reconciliation has nothing to settle before it.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml

from slaprobe.inventory import write_csv
from slaprobe.lab import Lab, LabProfile
from slaprobe.live.sinks import read_events
from tests.e2e import script as S
from tests.e2e.notify import NotifyListener
from tests.fixtures.influx import InfluxServer
from tests.fixtures.lab import _require_lab_privileges
from tests.helpers import ROOT, run_cli

pytestmark = [pytest.mark.lab, pytest.mark.influx]

NS = 1_000_000_000
DB = "e2e_month"
PRICE = {"premium": "3000.00", "standard": "1500.00", "basic": "900.00"}
INCIDENT_AMOUNT = "100.00"


@dataclass
class Outcome:
    """What the scripted run produced: recorded times, the reports and store facts."""

    cast: S.Cast
    tz: str
    month: str
    b: float  # the scenario's origin (a Δt boundary, wall clock s)
    runs: list[S.Run]
    sighup_at: float
    report_embedded: str = ""
    report_influx: str = ""
    reconcile: dict[str, Any] = field(default_factory=dict)
    series: list[tuple[str, str, str, str, str]] = field(default_factory=list)  # terminal, tags
    sent_by_terminal: dict[str, tuple[int, int]] = field(default_factory=dict)  # sent, received
    journal_samples: dict[str, int] = field(default_factory=dict)
    journal_rollup_keys: int = 0
    influx_rollup_points: int = 0
    influx_rollup_samples: dict[str, int] = field(default_factory=dict)
    logs: str = ""
    live_events: list[dict[str, Any]] = field(default_factory=list)  # the daemon's live.events_file
    outages_json: dict[str, Any] = field(default_factory=dict)  # `slaprobe outages --format json`

    @property
    def report(self) -> dict[str, Any]:
        return json.loads(self.report_embedded)

    def terminal(self, tid: str) -> dict[str, Any]:
        (row,) = [t for t in self.report["terminals"] if t["terminal"] == tid]
        return row

    def outages(self, tid: str) -> list[dict[str, Any]]:
        return [o for o in self.report["outages"] if o["terminal"] == tid]

    def at(self, offset_s: float) -> float:
        return self.b + offset_s


def _judged(row: dict[str, Any]) -> int:
    return row["in_service_s"] - row["maintenance_s"] - row["unknown_s"]


def _sleep_until(t: float) -> None:
    delay = t - time.time()
    if delay > 0:
        time.sleep(delay)


def _iso(t: float) -> str:
    return dt.datetime.fromtimestamp(t, dt.UTC).isoformat().replace("+00:00", "Z")


def _contract(year: int) -> dict[str, Any]:
    """A small contract for the run's year: any availability below 90 % costs 50 % of the monthly fee,
    every outage longer than 18 s costs a fixed 100.00; no caps below 100 %, no minimum measured share."""
    return {
        "year": year,
        "volume_count_on": "month_end",
        "carriers": {"telecom": {}, "unicom": {}},
        "tiers": {
            tier: {"availability_target": "99.9", "monthly_price": [{"from_open": 0, "price": price}]}
            for tier, price in PRICE.items()
        },
        "deductions": [
            {"from": "90.0", "below": "99.9", "percent": "10"},
            {"from": "0", "below": "90.0", "percent": "50"},
        ],
        "incidents": [{"longer_than_hours": "0.005", "amount": INCIDENT_AMOUNT}],
        "caps": {"terminal_month_percent": "100", "carrier_month_percent": "100"},
        # the run measures minutes of the month: settle on what was measured, however little
        "unmeasured": {"treatment": "pay", "min_measured_percent": "0"},
    }


def _start_daemon(cfg: Path, log: Path, notify: NotifyListener) -> tuple[subprocess.Popen[bytes], float]:
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
    notify.wait_for("READY", 30)
    return proc, time.time()


def _stop_daemon(proc: subprocess.Popen[bytes], log: Path) -> float:
    stopped = time.time()
    proc.send_signal(signal.SIGTERM)
    try:
        code = proc.wait(60)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGABRT)  # PYTHONFAULTHANDLER: every thread's stack goes to the log
        proc.wait(10)
        raise AssertionError(f"no exit 60 s after SIGTERM:\n{log.read_text()[-4000:]}") from None
    assert code == 0, log.read_text()[-3000:]
    return stopped


def _mid_cycle(t: float) -> float:
    """Signals are sent half a cycle after a cycle boundary, so which cycle they hit is not a race."""
    return math.floor(t / S.CYCLE_S) * S.CYCLE_S + S.CYCLE_S / 2


@pytest.fixture(scope="module")
def outcome(tmp_path_factory: pytest.TempPathFactory, influxd: InfluxServer) -> Iterator[Outcome]:
    _require_lab_privileges()
    tmp = tmp_path_factory.mktemp("e2e")
    now = dt.datetime.now(dt.UTC)
    tz = S.choose_timezone(now, S.END_AT + 60)
    local = now.astimezone(ZoneInfo(tz))
    month = f"{local:%Y-%m}"
    cast = S.cast(local.date().replace(day=1))
    b = S.boundary_after(time.time() + 25, S.DT)  # lab start + daemon READY + LEAD_S fit in 25 s

    write_csv(cast.first, tmp / "inv.csv")
    per = {tid: {"loss": S.LOSSY_LOSS} for tid in cast.lossy}
    per.update({tid: {"loss": 1.0} for tid in cast.absent})
    profile = LabProfile.build(
        terminals=[(t.id, str(t.address)) for t in cast.all_terminals],
        defaults={"delay_ms": 2.0},
        per_terminal=per,
        outages=[
            {
                "terminals": [*cast.out, cast.maint],
                "start": _iso(b + S.OUTAGE[0]),
                "duration_s": S.OUTAGE[1] - S.OUTAGE[0],
            }
        ],
        seed=10,
    )
    maint_tz = ZoneInfo(tz)
    (tmp / "maintenance.yaml").write_text(
        yaml.safe_dump(
            {
                "windows": [
                    {
                        "start": dt.datetime.fromtimestamp(b + S.MAINTENANCE[0], maint_tz).isoformat(),
                        "end": dt.datetime.fromtimestamp(b + S.MAINTENANCE[1], maint_tz).isoformat(),
                        "terminals": [cast.maint],
                        "reason": "e2e: announced work on the outage terminal",
                    }
                ]
            }
        )
    )
    (tmp / "contract.yaml").write_text(yaml.safe_dump(_contract(local.year)))
    influxd.create_database(DB)
    cfg = tmp / "slaprobe.yaml"
    log = tmp / "daemon.log"
    journal = tmp / "state" / "journal.sqlite"
    with Lab.start(profile, truth=False) as lab:
        cfg.write_text(
            yaml.safe_dump(
                {
                    "vantage": "e2e-probe",
                    "inventory": "inv.csv",
                    "state_dir": str(tmp / "state"),
                    "netns": lab.netns,
                    "schedule": {"interval_s": S.CYCLE_S, "slot_ms": 50.0},
                    "store": {"kind": "influx"},
                    "influx": {"url": influxd.url, "database": DB, "api": "v1", "timeout_s": 5.0},
                    "shipper": {"min_backoff_s": 0.2, "max_backoff_s": 1.0, "poll_s": 0.5},
                    "sla": {
                        "interval_s": S.DT,
                        "consecutive": S.N,
                        "timezone": tz,
                        "maintenance": "maintenance.yaml",
                        "contract": "contract.yaml",
                    },
                    "live": {"events_file": "live-events.jsonl"},
                    "log": {"format": "json", "level": "info"},
                }
            )
        )
        notify = NotifyListener(tmp / "notify.sock")
        runs: list[S.Run] = []
        proc, ready = _start_daemon(cfg, log, notify)
        try:
            assert ready + S.LEAD_S <= b, f"daemon READY too late ({ready - b:.1f} s after B - {S.LEAD_S})"
            _sleep_until(_mid_cycle(b + S.SIGHUP_AT))
            write_csv(cast.second, tmp / "inv.csv")
            sighup_at = time.time()
            proc.send_signal(signal.SIGHUP)
            notify.wait_for("RELOADING", 10)
            notify.wait_for("READY", 10)
            _sleep_until(_mid_cycle(b + S.STOP_AT))
            runs.append(S.Run(ready, _stop_daemon(proc, log)))
            _sleep_until(b + S.RESTART_AT)
            proc, ready = _start_daemon(cfg, log, notify)
            _sleep_until(_mid_cycle(b + S.END_AT))
            runs.append(S.Run(ready, _stop_daemon(proc, log)))
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
            notify.close()
    result = Outcome(cast, tz, month, b, runs, sighup_at, logs=log.read_text())

    common = ["--config", str(cfg), "--month", month, "--format", "json"]
    for store in ("embedded", "influx"):
        done = run_cli("report", *common, "--store", store, timeout=180)
        assert done.returncode == 0, done.stderr
        setattr(result, f"report_{store}", done.stdout)
    done = run_cli("reconcile", *common, "--store", "embedded", timeout=300)
    assert done.returncode == 0, done.stderr
    result.reconcile = json.loads(done.stdout)
    result.live_events = read_events(tmp / "state" / "live-events.jsonl")
    since = _iso(b - 60)
    done = run_cli(
        "outages", "--config", str(cfg), "--since", since, "--format", "json", "--store", "embedded"
    )
    assert done.returncode == 0, done.stderr
    result.outages_json = json.loads(done.stdout)

    with sqlite3.connect(f"file:{journal}?mode=ro", uri=True) as db:
        result.series = db.execute("SELECT terminal, carrier, region, level, tier FROM series").fetchall()
        for tid, sent, received, count in db.execute(
            "SELECT r.terminal, sum(s.sent), sum(s.received), count(*) FROM samples s "
            "JOIN series r ON r.id = s.series GROUP BY r.terminal"
        ):
            result.sent_by_terminal[tid] = (sent, received)
            result.journal_samples[tid] = count
        result.journal_rollup_keys = db.execute(
            "SELECT count(*) FROM (SELECT DISTINCT h.hour_ns, r.terminal, r.vantage, r.kind "
            "FROM sla_hourly h JOIN series r ON r.id = h.series)"
        ).fetchone()[0]
    points = influxd.rows('SELECT "samples", "terminal" FROM "sla_hourly"', DB)
    result.influx_rollup_points = len(points)
    for p in points:
        counts = result.influx_rollup_samples
        counts[p["terminal"]] = counts.get(p["terminal"], 0) + p["samples"]
    yield result
    influxd.drop_database(DB)


# ------------------------------------------------------------------------------------------ the tests


def test_journal_and_influx_render_the_same_bytes(outcome: Outcome) -> None:
    assert outcome.report_embedded == outcome.report_influx
    report = outcome.report
    assert report["month"] == outcome.month and report["timezone"] == outcome.tz
    assert report["rule"]["interval_s"] == S.DT and report["rule"]["consecutive"] == S.N
    assert report["excluded"]["judged_s"] > 0, "every interval UNKNOWN: the engine judged nothing"


def test_scripted_outages_appear_once_with_their_edges(outcome: Outcome) -> None:
    start, end = outcome.at(S.OUTAGE[0]), outcome.at(S.OUTAGE[1])
    for tid in outcome.cast.out:
        (o,) = outcome.outages(tid)
        assert abs(o["start_ns"] / NS - start) <= S.DT, (tid, o["start"], _iso(start))
        assert abs(o["end_ns"] / NS - end) <= S.DT, (tid, o["end"], _iso(end))
        row = outcome.terminal(tid)
        assert abs(row["unavailable_s"] - (end - start)) <= 2 * S.DT, (tid, row["unavailable_s"])
        assert row["outages"] == 1 and row["available_s"] == _judged(row) - row["unavailable_s"]


def test_maintenance_excludes_its_part_of_the_outage(outcome: Outcome) -> None:
    row = outcome.terminal(outcome.cast.maint)
    window = S.MAINTENANCE[1] - S.MAINTENANCE[0]  # on the Δt grid: exactly these intervals
    assert row["maintenance_s"] == window
    outage = (S.OUTAGE[1] - S.OUTAGE[0]) - window
    assert abs(row["unavailable_s"] - outage) <= 2 * S.DT, row
    (o,) = outcome.outages(outcome.cast.maint)
    assert abs(o["duration_s"] - outage) <= 2 * S.DT, o
    assert abs(o["start_ns"] / NS - outcome.at(S.OUTAGE[0])) <= S.DT
    assert abs(o["end_ns"] / NS - outcome.at(S.OUTAGE[1])) <= S.DT
    for tid in outcome.cast.healthy:  # the window names one terminal only
        assert outcome.terminal(tid)["maintenance_s"] == 0


def test_lossy_terminals_are_available_and_their_loss_is_shown(outcome: Outcome) -> None:
    for tid in outcome.cast.lossy:
        row = outcome.terminal(tid)
        assert row["unavailable_s"] == 0 and row["outages"] == 0 and row["availability"] == 100.0, row
        sent, _ = outcome.sent_by_terminal[tid]
        sigma = math.sqrt(S.LOSSY_LOSS * (1 - S.LOSSY_LOSS) / sent) * 100
        loss = row["quality"]["loss_pct"]
        assert loss is not None and abs(loss - S.LOSSY_LOSS * 100) <= 4.5 * sigma, (tid, loss, sent)


def test_absent_terminals_are_down_for_their_whole_measured_time(outcome: Outcome) -> None:
    expected = S.judged_seconds(outcome.runs)
    for tid in outcome.cast.absent:
        row = outcome.terminal(tid)
        assert row["available_s"] == 0 and row["availability"] == 0.0, row
        assert abs(row["unavailable_s"] - expected) <= 2 * S.DT, (row["unavailable_s"], expected)
        (o,) = outcome.outages(tid)  # one outage across the daemon's stop: the blind spot joins it
        assert o["duration_s"] == row["unavailable_s"]


def test_the_daemons_stop_is_unknown_for_everyone_and_nothing_before_the_first_cycle_counts(
    outcome: Outcome,
) -> None:
    expected = S.judged_seconds(outcome.runs)
    gap = outcome.runs[1].judged()[0] - outcome.runs[0].judged()[1]
    assert gap >= 3 * S.DT  # several Δt nobody looked at (script check)
    for tid in (*outcome.cast.healthy, *outcome.cast.lossy, *outcome.cast.absent, *outcome.cast.out):
        row = outcome.terminal(tid)
        assert abs(_judged(row) - expected) <= 2 * S.DT, (tid, _judged(row), expected)
    for tid in outcome.cast.healthy:
        row = outcome.terminal(tid)
        assert row["unavailable_s"] == 0 and row["outages"] == 0 and row["availability"] == 100.0, row
    report = outcome.report
    month_s = report["period"]["end_ns"] // NS - report["period"]["start_ns"] // NS
    assert outcome.terminal(outcome.cast.healthy[0])["in_service_s"] == month_s
    assert report["excluded"]["judged_s"] < 0.01 * report["excluded"]["in_service_s"]


def test_sighup_removes_adds_and_retags_without_empty_tags(outcome: Outcome) -> None:
    cast = outcome.cast
    empty = [s for s in outcome.series if not all(s[1:])]
    assert not empty, f"series stored with empty tags: {empty}"
    regions = {s[2] for s in outcome.series if s[0] == cast.retag}
    assert regions == set(cast.retag_region), regions
    ids = {t["terminal"] for t in outcome.report["terminals"]}
    assert cast.removed not in ids and cast.added in ids
    assert outcome.terminal(cast.retag)["region"] == cast.retag_region[1]
    assert outcome.terminal(cast.retag)["unavailable_s"] == 0
    assert outcome.terminal(cast.added)["unavailable_s"] == 0
    # rollups complete: InfluxDB's sla_hourly holds one point per (hour, terminal, vantage, kind) the
    # journal has, and they count every sample the journal holds
    assert outcome.influx_rollup_points == outcome.journal_rollup_keys
    assert outcome.influx_rollup_samples == outcome.journal_samples


def test_a_terminal_added_by_sighup_is_judged_from_its_first_probe_only(outcome: Outcome) -> None:
    """Before the reload nobody probed it: that time is UNKNOWN, not 'answered' (silence under a healthy
    heartbeat proves nothing for a terminal the cycle did not contain)."""
    added = outcome.terminal(outcome.cast.added)
    since = S.boundary_after(outcome.sighup_at, S.CYCLE_S)  # its first cycle
    expected = S.judged_seconds(outcome.runs, since=since)
    assert abs(_judged(added) - expected) <= 2 * S.DT, (_judged(added), expected)


def test_reconcile_deducts_for_the_outage(outcome: Outcome) -> None:
    cast = outcome.cast
    tier = {t.id: t.tier for t in cast.second}
    deductions = [d for c in outcome.reconcile["carriers"] for d in c["deductions"]]
    by_kind: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for d in deductions:
        by_kind.setdefault(d["kind"], {}).setdefault(d["terminal"], []).append(d)
    down = {*cast.out, cast.maint, *cast.absent}  # judged availability far below 90 %
    kinds = {k: set(v) for k, v in by_kind.items()}
    assert kinds.keys() == {"availability", "incident"}, kinds
    assert kinds["availability"] == kinds["incident"] == down, kinds
    for tid in cast.out:
        # availability < 90 %: 50 % of a whole month's fee (in service all month), by hand from the contract
        (avail,) = by_kind["availability"][tid]
        assert avail["amount"] == _half(PRICE[tier[tid]]), avail
        (inc,) = by_kind["incident"][tid]
        assert inc["amount"] == INCIDENT_AMOUNT
        assert abs(inc["outage"]["duration_s"] - (S.OUTAGE[1] - S.OUTAGE[0])) <= 2 * S.DT


def _half(price: str) -> str:
    return str((Decimal(price) / 2).quantize(Decimal("0.01")))


# ------------------------------------------------------------------------------------------ live outages


def _live(outcome: Outcome, tid: str, kind: str = "terminal_outage") -> list[dict[str, Any]]:
    return [e for e in outcome.live_events if e["kind"] == kind and e["key"] == tid]


def test_live_outage_fires_and_resolves_within_n_dt_and_a_cycle(outcome: Outcome) -> None:
    """The daemon's events file: each scripted outage fires within n·Δt + one cycle of its scripted start
    and is resolved within the same bound after its end; the times equal the report's and `outages`'."""
    bound = S.N * S.DT + S.CYCLE_S
    start, end = outcome.at(S.OUTAGE[0]), outcome.at(S.OUTAGE[1])
    listed = {o["terminal"]: o for o in outcome.outages_json["outages"]}
    for tid in (*outcome.cast.out, outcome.cast.maint):
        firing, resolved = _live(outcome, tid)
        assert (firing["status"], resolved["status"]) == ("firing", "resolved"), (firing, resolved)
        fire_latency = firing["at_ns"] / NS - start
        resolve_latency = resolved["at_ns"] / NS - end
        print(f"{tid}: fires {fire_latency:.1f} s after the scripted start, resolved {resolve_latency:.1f} s "
              f"after its end (bound {bound:.0f} s)")  # fmt: skip
        assert S.N * S.DT <= fire_latency <= bound, (tid, fire_latency)
        assert S.N * S.DT <= resolve_latency <= bound, (tid, resolve_latency)
        (o,) = outcome.outages(tid)  # the month report, afterwards
        assert firing["start_ns"] == resolved["start_ns"] == o["start_ns"] == listed[tid]["start_ns"]
        assert resolved["end_ns"] == o["end_ns"] == listed[tid]["end_ns"]
        assert listed[tid]["status"] == "resolved"


def test_live_state_survives_the_restart(outcome: Outcome) -> None:
    """ABSENT never answer: one outage across the daemon's stop (restored from the journal's saved state,
    not fired again), still open at the end, as the report and `outages` have it; the stop itself is a
    probe-host event, never a terminal one."""
    listed = {o["terminal"]: o for o in outcome.outages_json["outages"]}
    for tid in outcome.cast.absent:
        events = _live(outcome, tid)
        assert [e["status"] for e in events] == ["firing"], events
        (o,) = outcome.outages(tid)
        assert events[0]["start_ns"] == o["start_ns"] == listed[tid]["start_ns"]
        assert listed[tid]["status"] == "open" and listed[tid]["end_ns"] is None
    gap = [e for e in outcome.live_events if e["kind"] == "probe_host" and e["status"] == "resolved"]
    stop_ns, restart_ns = outcome.runs[0].stopped * NS, outcome.runs[1].ready * NS
    assert any(e["start_ns"] <= restart_ns and e["end_ns"] >= stop_ns for e in gap), gap
    terminals = {e["key"] for e in outcome.live_events if e["kind"] == "terminal_outage"}
    assert terminals == {*outcome.cast.out, outcome.cast.maint, *outcome.cast.absent}, terminals

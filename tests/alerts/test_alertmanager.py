"""Delivery to a real Alertmanager (tests/fixtures/prom.py): labels, back-dated start, resolution,
re-posting, a receiver that is down, a restart with alerts still queued, maintenance silences."""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from pathlib import Path

import yaml

from slaprobe.alerts import AlertDispatcher
from tests.alerts.helpers import NS, alert_config, outage, probe_host, with_receiver, with_sla
from tests.fixtures.prom import AlertmanagerServer, wait_for


def _ts(text: str) -> float:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def _dispatcher(tmp_path: Path, am: AlertmanagerServer, **receiver: object) -> AlertDispatcher:
    cfg = alert_config(tmp_path / "state", [{"type": "alertmanager", "name": "am", "url": am.url}])
    return AlertDispatcher(with_receiver(cfg, **receiver) if receiver else cfg)


def test_firing_alerts_arrive_with_their_labels_and_resolve(
    tmp_path: Path, alertmanager: AlertmanagerServer
) -> None:
    d = _dispatcher(tmp_path, alertmanager)
    d.start()
    try:
        a, b = outage("T-0001"), outage("T-0002", region="ningbo", carrier="unicom")
        d.publish([a, b, probe_host()])
        alerts = wait_for(
            lambda: len(alertmanager.alerts()) == 3 and alertmanager.alerts(), 10, what="3 alerts"
        )
        by = {x["labels"].get("terminal", x["labels"]["alertname"]): x for x in alerts}
        assert by["T-0002"]["labels"] == {
            "alertname": "SlaprobeTerminalOutage",
            "terminal": "T-0002",
            "carrier": "unicom",
            "region": "ningbo",
            "level": "county",
            "tier": "standard",
            "vantage": "probe-t",
            "severity": "critical",
        }
        assert by["T-0001"]["annotations"]["evidence"] == "loss: 1.00 1.00 1.00; intervals: 3 x 60 s"
        assert by["T-0001"]["annotations"]["summary"] == "T-0001 unreachable"
        assert _ts(by["T-0001"]["startsAt"]) == a.start_ns / NS  # back-dated to the outage start
        assert _ts(by["T-0001"]["endsAt"]) > time.time() + 60  # held open well beyond the re-post interval
        host = by["SlaprobeProbeHost"]
        assert host["labels"] == {
            "alertname": "SlaprobeProbeHost",
            "vantage": "probe-t",
            "severity": "warning",
        }
        assert all(x["status"]["state"] == "active" for x in alerts)

        end = int(time.time() - 30) * NS
        # the tracker's resolution of a terminal that left the inventory carries its id only: it must
        # still resolve the alert Alertmanager holds under the full label set
        bare = dataclasses.replace(
            outage("T-0001", firing=False, start_ns=a.start_ns, end_ns=end),
            labels={"terminal": "T-0001"},
            vantage="",
        )
        d.publish([bare])
        wait_for(lambda: not alertmanager.alerts(terminal="T-0001"), 10, what="T-0001 resolved")
        assert {x["labels"].get("terminal") for x in alertmanager.alerts()} == {"T-0002", None}
        c = d.counters["am"]
        assert (c.queued, c.delivered, c.failed, c.dropped) == (4, 4, 0, 0)
    finally:
        d.stop()


def test_firing_alerts_are_re_posted_and_outlive_alertmanager_losing_them(
    tmp_path: Path, alertmanager: AlertmanagerServer
) -> None:
    """Alertmanager restarted with its storage wiped forgets every alert: the next re-post restores
    the ones still firing (and only those)."""
    d = _dispatcher(tmp_path, alertmanager, resend_s=1.0)
    d.start()
    try:
        a = outage("T-0003")
        d.publish([a, outage("T-0004")])
        wait_for(lambda: len(alertmanager.alerts()) == 2, 10, what="2 alerts")
        d.publish([outage("T-0004", firing=False, start_ns=a.start_ns, end_ns=int(time.time()) * NS)])
        wait_for(lambda: len(alertmanager.alerts()) == 1, 10, what="T-0004 resolved")
        alertmanager.stop()
        for p in (alertmanager.root / "data").iterdir():
            p.unlink()
        alertmanager.start()
        assert alertmanager.alerts() == []
        alerts = wait_for(alertmanager.alerts, 10, what="the re-post")
        assert [x["labels"]["terminal"] for x in alerts] == ["T-0003"]
        assert _ts(alerts[0]["startsAt"]) == a.start_ns / NS
    finally:
        d.stop()


def test_a_receiver_that_is_down_gets_every_alert_when_it_comes_back(
    tmp_path: Path, alertmanager: AlertmanagerServer
) -> None:
    alertmanager.stop()
    d = _dispatcher(tmp_path, alertmanager)
    d.start()
    try:
        d.publish([outage(f"T-01{i:02d}") for i in range(5)])
        wait_for(lambda: d.counters["am"].failed >= 2, 10, what="failed attempts")
        c = d.counters["am"]
        assert c.queued == 5 and c.delivered == 0 and d.queued() == {"am": 5}
        assert "Connection refused" in c.last_error
        alertmanager.start()
        wait_for(lambda: len(alertmanager.alerts()) == 5, 15, what="5 alerts after recovery")
        wait_for(lambda: d.counters["am"].delivered == 5, 5)
        c = d.counters["am"]
        assert c.dropped == 0 and d.queued() == {"am": 0}
        assert c.retried == c.failed  # every failure was followed by one more attempt, the last succeeded
    finally:
        d.stop()


def test_alerts_queued_before_a_restart_are_delivered_after_it(
    tmp_path: Path, alertmanager: AlertmanagerServer
) -> None:
    alertmanager.stop()
    first = _dispatcher(tmp_path, alertmanager)
    first.start()
    first.publish([outage("T-0201"), outage("T-0202")])
    wait_for(lambda: first.counters["am"].failed >= 1, 10)
    first.stop()  # the daemon stops with both still queued
    alertmanager.start()
    second = _dispatcher(tmp_path, alertmanager)
    assert second.queued() == {"am": 2}
    second.start()
    try:
        alerts = wait_for(lambda: len(alertmanager.alerts()) == 2 and alertmanager.alerts(), 10)
        assert {x["labels"]["terminal"] for x in alerts} == {"T-0201", "T-0202"}
        # the rows are removed just after Alertmanager acknowledged them: wait for that, not race it
        assert wait_for(lambda: second.queued() == {"am": 0}, 5, what="queue emptied")
        assert second.counters["am"].delivered == 2
    finally:
        second.stop()


def test_maintenance_windows_become_silences_ahead_of_time(
    tmp_path: Path, alertmanager: AlertmanagerServer
) -> None:
    now = time.time()
    iso = lambda t: dt.datetime.fromtimestamp(t, dt.UTC).isoformat()  # noqa: E731
    (tmp_path / "maintenance.yaml").write_text(
        yaml.safe_dump(
            {
                "windows": [
                    {
                        "start": iso(now - 60),
                        "end": iso(now + 600),
                        "terminals": ["T-0301"],
                        "reason": "fibre",
                    },
                    {
                        "start": iso(now + 3600),
                        "end": iso(now + 7200),
                        "regions": ["ningbo"],
                        "carriers": ["unicom"],
                    },
                    {"start": iso(now - 7200), "end": iso(now - 3600), "all": True},  # over: no silence
                ]
            }
        )
    )
    cfg = alert_config(tmp_path / "state", [{"type": "alertmanager", "name": "am", "url": alertmanager.url}])
    d = AlertDispatcher(with_sla(cfg, maintenance=str(tmp_path / "maintenance.yaml")))
    d.start()
    try:
        silences = wait_for(lambda: len(alertmanager.silences()) == 3 and alertmanager.silences(), 10)
        states = sorted((s["status"]["state"], s["matchers"][1]["name"]) for s in silences)
        assert states == [("active", "terminal"), ("pending", "carrier"), ("pending", "region")]
        d.publish([outage("T-0301"), outage("T-0302"), probe_host()])
        alerts = wait_for(lambda: len(alertmanager.alerts()) == 3 and alertmanager.alerts(), 10)
        state = {x["labels"].get("terminal", "host"): x["status"]["state"] for x in alerts}
        assert state == {"T-0301": "suppressed", "T-0302": "active", "host": "active"}
        d.workers[0].sync_silences(time.time_ns())  # created once, not again
        assert len(alertmanager.silences()) == 3
    finally:
        d.stop()

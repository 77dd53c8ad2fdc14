"""Webhook and e-mail delivery: grouping, reminders, resolutions, maintenance, a receiver down.

The webhook receiver is a real http.server and the mail server aiosmtpd's real SMTP server, both in the
test process (tests/fixtures/receivers.py); the events are built by hand like the tracker's.
"""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import yaml

from slaprobe.alerts import AlertDispatcher
from tests.alerts.helpers import NS, alert_config, outage, probe_host, with_sla
from tests.fixtures.prom import wait_for
from tests.fixtures.receivers import SmtpServer, WebhookServer


def _webhook(tmp_path: Path, hook: WebhookServer, **alerts: object) -> AlertDispatcher:
    receiver = {"type": "webhook", "name": "hook", "url": hook.url, "headers": {"Authorization": "Bearer x"}}
    return AlertDispatcher(alert_config(tmp_path / "state", [receiver], **alerts))


def test_forty_terminals_of_one_region_make_one_message_naming_them_all(
    tmp_path: Path, webhook_server: WebhookServer
) -> None:
    d = _webhook(tmp_path, webhook_server, group_wait_s=1.0)
    d.start()
    try:
        east = [f"T-E{i:03d}" for i in range(40)]
        d.publish([outage(t, region="east") for t in east[:25]])
        d.publish([outage("T-W001", region="west"), probe_host()])
        time.sleep(0.2)  # the rest of the region goes dark a moment later, within group_wait
        d.publish([outage(t, region="east") for t in east[25:]])
        bodies = wait_for(lambda: len(webhook_server.bodies) == 3 and webhook_server.bodies, 10)
        time.sleep(1.5)
        assert len(webhook_server.bodies) == 3  # nothing more: one message per group
        by = {(b["kind"], tuple(b["group"].values())): b for b in bodies}
        e = by[("terminal_outage", ("east",))]
        assert (e["version"], e["status"], e["repeat"], e["count"]) == ("1", "firing", False, 40)
        assert sorted(a["key"] for a in e["alerts"]) == east
        first = e["alerts"][0]
        assert first["alertname"] == "SlaprobeTerminalOutage" and first["labels"]["region"] == "east"
        assert first["evidence"] == {"loss": "1.00 1.00 1.00", "intervals": "3 x 60 s"}
        assert [a["key"] for a in by[("terminal_outage", ("west",))]["alerts"]] == ["T-W001"]
        host = by[("probe_host", ("probe-t",))]
        assert (
            host["group"] == {"vantage": "probe-t"} and host["alerts"][0]["alertname"] == "SlaprobeProbeHost"
        )
        assert webhook_server.headers[0]["Authorization"] == "Bearer x"
        c = d.counters["hook"]
        assert (c.queued, c.delivered, c.messages, c.failed) == (42, 42, 3, 0)
    finally:
        d.stop()


def test_reminders_repeat_what_still_fires_and_resolutions_follow(
    tmp_path: Path, webhook_server: WebhookServer
) -> None:
    d = _webhook(tmp_path, webhook_server, group_wait_s=0.2, repeat_interval_s=1.5)
    d.start()
    try:
        a, b = outage("T-0001"), outage("T-0002")
        d.publish([a, b])
        wait_for(lambda: len(webhook_server.bodies) == 1, 5)
        reminder = wait_for(lambda: len(webhook_server.bodies) == 2 and webhook_server.bodies[1], 5)
        assert reminder["repeat"] is True and reminder["status"] == "firing"
        assert sorted(x["key"] for x in reminder["alerts"]) == ["T-0001", "T-0002"]
        end = int(time.time()) * NS
        d.publish([outage("T-0001", firing=False, start_ns=a.start_ns, end_ns=end)])
        resolved = wait_for(lambda: [x for x in webhook_server.bodies if x["status"] == "resolved"], 5)
        (r,) = resolved
        assert [x["key"] for x in r["alerts"]] == ["T-0001"] and r["alerts"][0]["end_ns"] == end
        n = len(webhook_server.bodies)
        later = wait_for(lambda: len(webhook_server.bodies) > n and webhook_server.bodies[n], 5)
        assert later["repeat"] and [x["key"] for x in later["alerts"]] == ["T-0002"]
        assert d.counters["hook"].delivered == 3  # two firings, one resolution; reminders are extra
    finally:
        d.stop()


def test_maintenance_suppresses_the_alert_and_its_resolution(
    tmp_path: Path, webhook_server: WebhookServer
) -> None:
    now = time.time()
    iso = lambda t: dt.datetime.fromtimestamp(t, dt.UTC).isoformat()  # noqa: E731
    window = {"start": iso(now - 600), "end": iso(now + 600), "terminals": ["T-0011"], "reason": "upgrade"}
    (tmp_path / "m.yaml").write_text(yaml.safe_dump({"windows": [window]}))
    d = _webhook(tmp_path, webhook_server)
    d = AlertDispatcher(with_sla(d.config, maintenance=str(tmp_path / "m.yaml")))
    d.start()
    try:
        a = outage("T-0011")
        d.publish([a, outage("T-0012")])
        (body,) = wait_for(lambda: webhook_server.bodies, 5)
        assert [x["key"] for x in body["alerts"]] == ["T-0012"]
        d.publish([outage("T-0011", firing=False, start_ns=a.start_ns, end_ns=int(now) * NS)])
        wait_for(lambda: d.counters["hook"].suppressed == 2, 5)
        time.sleep(0.8)
        assert len(webhook_server.bodies) == 1 and d.queued() == {"hook": 0}
    finally:
        d.stop()


def test_a_webhook_that_is_down_gets_everything_later_and_a_refusal_is_dropped_and_counted(
    tmp_path: Path, webhook_server: WebhookServer
) -> None:
    webhook_server.status = 503
    d = _webhook(tmp_path, webhook_server, group_wait_s=0.0)
    d.start()
    try:
        d.publish([outage("T-0021", region="a"), outage("T-0022", region="b")])
        wait_for(lambda: d.counters["hook"].failed >= 3, 10)
        assert d.counters["hook"].delivered == 0 and d.queued() == {"hook": 2}
        assert "HTTP 503" in d.counters["hook"].last_error
        webhook_server.status = 200
        wait_for(lambda: len(webhook_server.bodies) == 2, 10)
        c = d.counters["hook"]
        assert (c.queued, c.delivered, c.dropped, c.retried) == (2, 2, 0, c.failed)
        assert c.failed == webhook_server.refused
        webhook_server.status = 400  # the receiver refuses the content itself: retrying cannot help
        d.publish([outage("T-0023", region="c")])
        wait_for(lambda: d.counters["hook"].dropped == 1, 10)
        assert d.queued() == {"hook": 0}
    finally:
        d.stop()


def _smtp(tmp_path: Path, server: SmtpServer, **receiver: object) -> AlertDispatcher:
    r = {"type": "smtp", "host": server.host, "port": server.port, "to": ["noc@example.org"]} | receiver
    return AlertDispatcher(alert_config(tmp_path / "state", [r]))


def test_one_mail_per_region_in_chinese_and_english_with_auth(
    tmp_path: Path, smtp_server: SmtpServer
) -> None:
    user, password = smtp_server.user
    d = _smtp(tmp_path, smtp_server, username=user, password=password, **{"from": "probe@example.org"})
    d.start()
    try:
        d.publish([outage(f"T-00{i}", region="温州") for i in range(3)])
        (msg,) = wait_for(lambda: smtp_server.messages, 10)
        assert msg["From"] == "probe@example.org" and msg["To"] == "noc@example.org"
        assert (
            msg["Subject"]
            == "[slaprobe] 告警：3 终端中断（温州） / [slaprobe] FIRING: 3 terminal outage (温州)"
        )
        body = msg.get_content()
        assert "终端中断" in body and "terminal outage" in body
        assert all(f"T-00{i}" in body for i in range(3))
        assert body.index("终端中断") < body.index("terminal outage")  # Chinese first
        assert smtp_server.authenticated == [msg["Subject"]]
    finally:
        d.stop()


def test_english_only_mail_and_a_refused_recipient_is_dropped_and_counted(
    tmp_path: Path, smtp_server: SmtpServer
) -> None:
    d = _smtp(tmp_path, smtp_server, lang="en", to=["noc@example.org"])
    d.start()
    try:
        d.publish([outage("T-0031")])
        (msg,) = wait_for(lambda: smtp_server.messages, 10)
        assert msg["Subject"] == "[slaprobe] FIRING: 1 terminal outage (hangzhou)"
        assert "T-0031" in msg.get_content() and "终端" not in msg.get_content()
    finally:
        d.stop()
    d = _smtp(tmp_path, smtp_server, to=["nobody@refused.example"])  # the server answers 550
    d.start()
    try:
        d.publish([outage("T-0032")])
        wait_for(lambda: d.counters["smtp"].dropped == 1, 10)
        c = d.counters["smtp"]
        assert (c.failed, c.delivered, len(smtp_server.messages)) == (1, 0, 1)
        assert "refused" in c.last_error and d.queued() == {"smtp": 0}
    finally:
        d.stop()


def test_an_open_alert_re_announced_after_a_restart_is_not_notified_twice(
    tmp_path: Path, webhook_server: WebhookServer
) -> None:
    """The tracker re-announces open outages when the daemon restarts; the receiver already knows."""
    d = _webhook(tmp_path, webhook_server, group_wait_s=0.1)
    d.start()
    a = outage("T-0041")
    try:
        d.publish([a])
        wait_for(lambda: webhook_server.bodies, 5)
    finally:
        d.stop()
    d = _webhook(tmp_path, webhook_server, group_wait_s=0.1)  # the restarted daemon, same queue file
    d.start()
    try:
        d.publish([a, outage("T-0042")])
        wait_for(lambda: len(webhook_server.bodies) == 2, 5)
        assert [x["key"] for x in webhook_server.bodies[1]["alerts"]] == ["T-0042"]
        assert d.counters["hook"].suppressed == 1
        d.publish([outage("T-0041", firing=False, start_ns=a.start_ns, end_ns=int(time.time()) * NS)])
        resolved = wait_for(lambda: len(webhook_server.bodies) == 3 and webhook_server.bodies[2], 5)
        assert resolved["status"] == "resolved" and resolved["alerts"][0]["key"] == "T-0041"
    finally:
        d.stop()

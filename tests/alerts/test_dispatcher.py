"""The dispatcher's own guarantees: publish() never raises and counts what it could not queue; a queue
over ``alerts.max_queue`` drops its oldest events, counted and logged."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import pytest

from slaprobe.alerts import AlertDispatcher
from slaprobe.live.events import EventSink
from tests.alerts.helpers import alert_config, outage
from tests.fixtures.prom import wait_for
from tests.fixtures.receivers import WebhookServer


def test_a_full_queue_drops_the_oldest_loudly(
    tmp_path: Path, webhook_server: WebhookServer, caplog: pytest.LogCaptureFixture
) -> None:
    webhook_server.status = 503  # nothing leaves
    cfg = alert_config(tmp_path / "state", [{"type": "webhook", "name": "hook", "url": webhook_server.url}])
    cfg = dataclasses.replace(cfg, alerts=dataclasses.replace(cfg.alerts, max_queue=100))
    d = AlertDispatcher(cfg)
    assert isinstance(d, EventSink)
    with caplog.at_level(logging.CRITICAL, logger="slaprobe.alerts"):
        d.publish([outage(f"T-{i:04d}") for i in range(90)])
        d.publish([outage(f"T-{i:04d}") for i in range(90, 130)])
    c = d.counters["hook"]
    assert (c.queued, c.dropped, d.queued()["hook"]) == (130, 30, 100)
    assert [p.event.key for p in d.queue.pending("hook", 1)] == ["T-0030"]  # the oldest 30 went
    assert "DROPPED the 30 oldest undelivered" in caplog.text and "T-0000" in caplog.text
    d.queue.close()


def test_publish_never_raises_when_the_queue_file_cannot_be_written(
    tiny_disk: Path, webhook_server: WebhookServer, caplog: pytest.LogCaptureFixture
) -> None:
    cfg = alert_config(tiny_disk / "state", [{"type": "webhook", "name": "hook", "url": webhook_server.url}])
    d = AlertDispatcher(cfg)
    with open(tiny_disk / "filler", "wb", buffering=0) as f:  # fill the 2 MiB disk to the last byte
        try:
            while True:
                f.write(b"\0" * 4096)
        except OSError:
            pass
    big = [dataclasses.replace(outage(f"T-{i:04d}"), summary="x" * 2000) for i in range(200)]
    with caplog.at_level(logging.ERROR, logger="slaprobe.alerts"):
        d.publish(big)  # must return, not raise
    assert d.publish_failed == 200 and d.counters["hook"].queued == 0
    assert "200 event(s) for hook NOT queued" in caplog.text
    (tiny_disk / "filler").unlink()
    d.start()
    try:
        d.publish([outage("T-9999")])  # the disk has room again: delivery carries on
        wait_for(lambda: webhook_server.bodies, 10)
        assert [a["key"] for a in webhook_server.bodies[0]["alerts"]] == ["T-9999"]
    finally:
        d.stop()

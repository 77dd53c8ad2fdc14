"""The alert dispatcher: the live tracker's sink that queues durably and lets receivers deliver.

``publish()`` runs on the daemon's event loop: it appends the events to each receiver's queue in the
SQLite file (a few hundred microseconds) and wakes the receivers' threads, nothing more, and it never
raises: if even the queue file refuses the write (disk full), the events are counted
(``publish_failed``) and logged as an ERROR with the cause, and the daemon probes on.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from zoneinfo import ZoneInfo

from slaprobe.alerts.alertmanager import AlertmanagerWorker
from slaprobe.alerts.grouped import GroupedWorker
from slaprobe.alerts.maintenance import MaintenanceSource
from slaprobe.alerts.queue import AlertQueue
from slaprobe.alerts.receivers import SmtpClient, WebhookClient
from slaprobe.alerts.worker import ReceiverCounters, ReceiverWorker
from slaprobe.config import Config, receiver_names
from slaprobe.live.events import LiveEvent

log = logging.getLogger(__name__)


class AlertDispatcher:
    """An :class:`~slaprobe.live.events.EventSink` fanning events out to the configured receivers."""

    def __init__(self, config: Config, *, clock: Callable[[], int] = time.time_ns) -> None:
        self.config = config
        self.clock = clock
        self.queue = AlertQueue(config.alert_queue_path)
        self.publish_failed = 0  # events that could not even be queued (logged with the cause)
        tz = ZoneInfo(config.sla.timezone)
        path = config.resolve(config.sla.maintenance) if config.sla.maintenance else None
        self.workers: list[ReceiverWorker] = []
        alerts = config.alerts
        for name, r in zip(receiver_names(alerts), alerts.receivers, strict=True):
            maintenance = MaintenanceSource(path, tz)  # one per thread: it caches and reloads
            worker: ReceiverWorker
            if r.type == "alertmanager":
                worker = AlertmanagerWorker(name, self.queue, alerts, r, maintenance, clock=clock)
            elif r.type == "webhook":
                sender = WebhookClient(r, name)
                worker = GroupedWorker(name, "webhook", self.queue, alerts, sender, maintenance, clock=clock)
            else:
                sender_smtp = SmtpClient(r, tz)
                worker = GroupedWorker(
                    name, "smtp", self.queue, alerts, sender_smtp, maintenance, clock=clock
                )
            self.workers.append(worker)

    @property
    def counters(self) -> dict[str, ReceiverCounters]:
        return {w.name: w.counters for w in self.workers}

    def queued(self) -> dict[str, int]:
        """Events waiting per receiver (read from the queue file)."""
        return {w.name: self.queue.count(w.name) for w in self.workers}

    def publish(self, events: Sequence[LiveEvent]) -> None:
        if not events:
            return
        now = self.clock()
        for w in self.workers:
            try:
                self.queue.push(w.name, events, now)
                w.counters.queued += len(events)
                over = self.queue.trim(w.name, self.config.alerts.max_queue)
            except Exception as exc:
                self.publish_failed += len(events)
                log.error(
                    "alerts: %d event(s) for %s NOT queued (%s: %s): %s",
                    len(events),
                    w.name,
                    type(exc).__name__,
                    exc,
                    ", ".join(e.key for e in events),
                )
                continue
            if over:
                w.counters.dropped += len(over)
                log.critical(
                    "alerts: %s queue over alerts.max_queue (%d): DROPPED the %d oldest undelivered (%s)",
                    w.name,
                    self.config.alerts.max_queue,
                    len(over),
                    ", ".join(sorted({p.event.key for p in over})[:20]),
                )
            w.wake()

    def start(self) -> None:
        for w in self.workers:
            w.start()
        log.info(
            "alerts: delivering to %s (queue %s, %s undelivered from before)",
            ", ".join(f"{w.kind} {w.name}" for w in self.workers),
            self.queue.path,
            sum(self.queued().values()),
        )

    def stop(self) -> None:
        """Stop the threads; what is undelivered stays in the queue file for the next start."""
        for w in self.workers:
            w.stop(timeout_s=0)  # all of them asked at once, then each awaited
        wait_s = max(r.timeout_s for r in self.config.alerts.receivers) + 1
        busy = [w.name for w in self.workers if not w.stop(timeout_s=wait_s)]
        if busy:  # closing SQLite under a thread that still uses it crashes the process
            log.warning("alerts: %s still delivering after %.0f s; queue left open", ", ".join(busy), wait_s)
            return
        self.queue.close()


def build_dispatcher(config: Config) -> AlertDispatcher | None:
    """The dispatcher when ``alerts.receivers`` names any, else None (alerts off)."""
    if not config.alerts.receivers:
        return None
    return AlertDispatcher(config)

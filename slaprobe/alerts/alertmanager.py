"""Delivery to Alertmanager's v2 API: every event as it is, firing alerts re-posted, maintenance silenced.

Alertmanager does its own grouping, waiting, repeating and routing, so slaprobe posts each event as one
alert: ``startsAt`` back-dated to the outage start the month report will show, ``endsAt`` of a resolved
alert its end. A firing alert is posted with ``endsAt`` = now + 4 × ``resend_s`` and re-posted every
``resend_s``, as Prometheus does: it never lapses while the outage lasts (whatever Alertmanager's
``resolve_timeout``), yet clears by itself if this probe host dies for good instead of firing forever.

Announced maintenance windows become silences on the terminal-outage alerts they cover, created as soon
as the window is known (ahead of its start: Alertmanager keeps a future silence "pending").
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from slaprobe.alerts.maintenance import MaintenanceSource, silence_specs
from slaprobe.alerts.queue import AlertQueue
from slaprobe.alerts.receivers import AlertmanagerClient
from slaprobe.alerts.worker import IDLE_S, ReceiverWorker, as_notified
from slaprobe.config import AlertsConfig, ReceiverConfig
from slaprobe.model import NS_PER_S
from slaprobe.sla.maintenance import MaintenanceWindow

log = logging.getLogger(__name__)

BATCH = 500  # alerts per POST
SILENCE_CHECK_S = 30.0


class AlertmanagerWorker(ReceiverWorker):
    kind = "alertmanager"

    def __init__(
        self,
        name: str,
        queue: AlertQueue,
        cfg: AlertsConfig,
        receiver: ReceiverConfig,
        maintenance: MaintenanceSource,
        *,
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        super().__init__(name, queue, cfg, clock=clock)
        self.receiver = receiver
        self.client = AlertmanagerClient(receiver)
        self.maintenance = maintenance
        self._last_resend = 0.0  # monotonic; 0 = re-post at once after a (re)start
        self._last_silence_check = 0.0

    def work(self, now_ns: int) -> float:
        while True:  # the queue first, in order
            batch = self.queue.pending(self.name, BATCH)
            if not batch:
                break
            active = self.queue.active(self.name)
            events = [as_notified(p.event, active) for p in batch]
            if self.attempt(lambda ev=events: self.client.post_alerts(ev, self.clock()), events, "alerts"):
                self.counters.delivered += len(events)
                self.queue.activate(self.name, [e for e in events if e.firing], now_ns)
                self.queue.deactivate(self.name, [e for e in events if not e.firing])
            self.queue.remove(p.id for p in batch)
        mono = time.monotonic()
        if mono - self._last_resend >= self.receiver.resend_s:
            firing = [a.event for a in self.queue.active(self.name).values()]
            for i in range(0, len(firing), BATCH):
                part = firing[i : i + BATCH]
                self.attempt(
                    lambda p=part: self.client.post_alerts(p, self.clock()), part, "re-posted alerts"
                )
            self._last_resend = mono
        if self.receiver.silences and mono - self._last_silence_check >= SILENCE_CHECK_S:
            self.sync_silences(now_ns)
            self._last_silence_check = mono
        return min(self.receiver.resend_s - (time.monotonic() - self._last_resend), IDLE_S)

    def sync_silences(self, now_ns: int) -> int:
        """Create the silences of every window not yet ended; return how many were created now."""
        created = self.queue.silence_ids(self.name)
        made = 0
        for w in self.maintenance.windows():
            if w.end_ns <= now_ns:
                continue
            for wid, matchers in silence_specs(w):
                if wid in created:
                    continue
                comment = f"maintenance: {w.reason or 'announced window'} [slaprobe window {wid}]"

                def create(
                    m: list = matchers, c: str = comment, win: MaintenanceWindow = w, k: str = wid
                ) -> None:
                    sid = self.client.create_silence(m, win.start_ns, win.end_ns, c)
                    self.queue.add_silence(self.name, k, sid, win.end_ns)
                    log.info("alerts: %s: silence %s for maintenance %s", self.name, sid, c)

                if self.attempt(create, [], "a silence"):
                    made += 1
                else:  # refused for good (logged): do not ask again every 30 s
                    self.queue.add_silence(self.name, wid, "refused", w.end_ns)
        self.queue.prune_silences(now_ns - 86_400 * NS_PER_S)
        return made

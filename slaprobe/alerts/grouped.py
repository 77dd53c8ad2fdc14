"""Delivery to receivers without their own grouping (webhook, e-mail): group, wait, repeat, resolve.

Like Alertmanager, but small: events of one group (``alerts.group_by`` labels + event kind) and one
status that arrive within ``group_wait_s`` of the group's first go out as *one* message naming them all;
alerts still firing are re-notified every ``repeat_interval_s`` (one reminder per group); a resolution is
sent for every alert that was notified, and only for those.

A firing event for an alert already notified with the same start (the tracker re-announces open
alerts after a restart) is not sent again. Maintenance: a terminal outage whose terminal is inside an
announced window (when decided or now) is suppressed, not sent; its later resolution is then suppressed
too (nobody was told it fired). All are counted (``suppressed``) and logged at INFO.

Order: due firing groups go before resolutions, and a resolution whose own firing still waits in the
queue waits with it, so a receiver never hears "resolved" before "firing".
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Protocol

from slaprobe.alerts.maintenance import MaintenanceSource, in_maintenance
from slaprobe.alerts.messages import Notification, group_labels, group_of
from slaprobe.alerts.queue import AlertQueue, Pending
from slaprobe.alerts.worker import IDLE_S, ReceiverWorker, as_notified
from slaprobe.config import AlertsConfig
from slaprobe.live.events import EventKind
from slaprobe.model import NS_PER_S

log = logging.getLogger(__name__)

BATCH = 5000


class Sender(Protocol):
    def send(self, n: Notification, now_ns: int) -> None: ...


class GroupedWorker(ReceiverWorker):
    def __init__(
        self,
        name: str,
        kind: str,
        queue: AlertQueue,
        cfg: AlertsConfig,
        sender: Sender,
        maintenance: MaintenanceSource,
        *,
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        super().__init__(name, queue, cfg, clock=clock)
        self.kind = kind
        self.sender = sender
        self.maintenance = maintenance

    def _suppress(self, pending: list[Pending], now_ns: int) -> list[Pending]:
        """Drop (count, log) what must not be notified; return the rest."""
        windows = self.maintenance.windows()
        active = self.queue.active(self.name)
        firing_pending: set[tuple[EventKind, str]] = set()
        keep: list[Pending] = []
        gone: list[tuple[Pending, str]] = []
        for p in pending:
            e = as_notified(p.event, active)
            p = replace(p, event=e)
            k = (e.kind, e.key)
            if e.firing:
                known = active.get(k)
                if known is not None and known.event.start_ns == e.start_ns:
                    gone.append((p, "already notified (the tracker re-announced an open alert)"))
                    continue
                if e.kind is EventKind.TERMINAL_OUTAGE and any(
                    in_maintenance(windows, e.labels, e.key, t) for t in (e.at_ns or e.start_ns, now_ns)
                ):
                    gone.append((p, "in an announced maintenance window"))
                    continue
                firing_pending.add(k)
            elif k not in active and k not in firing_pending:
                gone.append((p, "its firing was never notified"))
                continue
            keep.append(p)
        if gone:
            self.queue.remove(p.id for p, _ in gone)
            self.counters.suppressed += len(gone)
            for p, why in gone:
                log.info(
                    "alerts: %s: %s %s of %s not notified: %s",
                    self.name,
                    p.event.kind.value,
                    "firing" if p.event.firing else "resolution",
                    p.event.key,
                    why,
                )
        return keep

    def _deliver(self, n: Notification, now_ns: int) -> None:
        what = f"a {'reminder' if n.repeat else n.status} message for {len(n.events)} alert(s)"
        if self.attempt(lambda: self.sender.send(n, self.clock()), n.events, what):
            if not n.repeat:
                self.counters.delivered += len(n.events)
            if n.firing:
                self.queue.activate(self.name, n.events, now_ns)
            else:
                self.queue.deactivate(self.name, n.events)
        if n.ids:
            self.queue.remove(n.ids)

    def work(self, now_ns: int) -> float:
        group_by = self.cfg.group_by
        wait_ns = int(self.cfg.group_wait_s * NS_PER_S)
        pending = self._suppress(self.queue.pending(self.name, BATCH), now_ns)
        groups: dict[tuple[bool, tuple[str, ...]], list[Pending]] = {}
        for p in pending:
            groups.setdefault((p.event.firing, group_of(p.event, group_by)), []).append(p)
        next_due = now_ns + int(IDLE_S * NS_PER_S)
        held: set[tuple[EventKind, str]] = set()  # keys whose firing is not sent yet
        # firing groups first (dict order = first arrival), then resolutions
        for (firing, _), members in sorted(groups.items(), key=lambda kv: not kv[0][0]):
            due = members[0].queued_ns + wait_ns
            if not firing:
                members = [p for p in members if (p.event.kind, p.event.key) not in held]
            if due > now_ns:
                next_due = min(next_due, due)
                held.update((p.event.kind, p.event.key) for p in members if p.event.firing)
                continue
            if not members:
                continue
            latest = {(p.event.kind, p.event.key): p.event for p in members}  # one line per alert
            first = members[0].event
            n = Notification(
                first.kind,
                firing,
                group_labels(first, group_by),
                list(latest.values()),
                ids=[p.id for p in members],
            )
            self._deliver(n, now_ns)
        next_due = min(next_due, self._reminders(now_ns))
        return (next_due - now_ns) / NS_PER_S

    def _reminders(self, now_ns: int) -> int:
        """Re-notify groups whose alerts are still firing after ``repeat_interval_s``; return next due."""
        repeat_ns = int(self.cfg.repeat_interval_s * NS_PER_S)
        next_due = now_ns + int(IDLE_S * NS_PER_S)
        by_group: dict[tuple[str, ...], list] = {}
        for a in self.queue.active(self.name).values():
            due = a.notified_ns + repeat_ns
            if due <= now_ns:
                by_group.setdefault(group_of(a.event, self.cfg.group_by), []).append(a.event)
            else:
                next_due = min(next_due, due)
        for events in by_group.values():
            first = events[0]
            n = Notification(first.kind, True, group_labels(first, self.cfg.group_by), events, repeat=True)
            self._deliver(n, now_ns)
        return next_due

"""One delivery thread per receiver: retries with exponential backoff, counters, failure logs.

Why a thread per receiver and not tasks on the daemon's loop: every step blocks (SQLite, an HTTP POST or
an SMTP session that may hang for ``timeout_s``), and the loop times probe packets. A thread *per*
receiver so that an SMTP server timing out does not delay the Alertmanager post of the same outage.

Delivery is in queue order. A transient failure stops the pass and backs off (the same step doubles per
consecutive failure, half fixed and half random, capped at ``alerts.max_backoff_s``); a permanent one drops
the alerts of that one message (counted, logged with the receiver's answer) and goes on with the next.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

from slaprobe.alerts.queue import Active, AlertQueue
from slaprobe.alerts.receivers import DeliveryError
from slaprobe.config import AlertsConfig
from slaprobe.live.events import EventKind, LiveEvent
from slaprobe.store.shipper import backoff_delay

log = logging.getLogger(__name__)

IDLE_S = 60.0  # longest sleep between passes when nothing is due (a wake() cuts it short)


@dataclass
class ReceiverCounters:
    """Since the daemon started (Prometheus counters; what is durable is the queue itself)."""

    queued: int = 0  # events accepted into this receiver's queue
    delivered: int = 0  # events the receiver acknowledged (first notice or resolution; not reminders)
    failed: int = 0  # delivery attempts that failed (each logged with its cause)
    retried: int = 0  # attempts made after a failure
    dropped: int = 0  # events given up: refused permanently by the receiver, or queue over max_queue
    suppressed: int = 0  # events not notified: maintenance window, or resolution of an unnotified alert
    messages: int = 0  # successful requests / mails, reminders and re-posts included
    last_success_ns: int = 0
    last_error: str = ""


def as_notified(event: LiveEvent, active: Mapping[tuple[EventKind, str], Active]) -> LiveEvent:
    """A resolution with the labels and vantage its firing alert was sent with.

    Alertmanager matches a resolution to its alert by the label set, and a grouped receiver files it
    under the firing's group; the tracker's resolution may carry other labels (a terminal that left the
    inventory has only its id; the vantage list may have changed meanwhile), which would leave the
    firing alert open forever. So a resolution always goes out under its firing's labels.
    """
    if event.firing:
        return event
    firing = active.get((event.kind, event.key))
    if firing is None:
        return event
    return replace(event, labels=firing.event.labels, vantage=firing.event.vantage)


class ReceiverWorker:
    """The loop and the bookkeeping; subclasses implement :meth:`work` (one pass, raising on failure)."""

    kind = "receiver"

    def __init__(
        self, name: str, queue: AlertQueue, cfg: AlertsConfig, *, clock: Callable[[], int] = time.time_ns
    ) -> None:
        self.name = name
        self.queue = queue
        self.cfg = cfg
        self.clock = clock
        self.counters = ReceiverCounters()
        self.failures = 0  # consecutive failed attempts
        self._rng = random.Random()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._retry_at = 0.0  # monotonic: no attempt before this while backing off (wake() cannot cut it)

    # ------------------------------------------------------------------ one pass
    def work(self, now_ns: int) -> float:
        """Deliver what is due; return seconds until something else falls due."""
        raise NotImplementedError

    def step(self) -> float:
        """One pass with the failure bookkeeping; return how long to sleep."""
        backing_off = self._retry_at - time.monotonic()
        if backing_off > 0:
            return backing_off
        try:
            wait = self.work(self.clock())
        except DeliveryError as exc:
            delay = backoff_delay(self.failures, self.cfg.min_backoff_s, self.cfg.max_backoff_s, self._rng)
            self._retry_at = time.monotonic() + delay
            log.warning(
                "alerts: %s %s: delivery failed (attempt %d), retry in %.1f s, %d queued: %s",
                self.kind,
                self.name,
                self.failures,
                delay,
                self.queue.count(self.name),
                exc.message,
                extra={"receiver": self.name, "cause": exc.message},
            )
            return delay
        except Exception:  # a bug or a broken queue file: loud, and retried, never a dead thread
            log.exception("alerts: %s %s: unexpected error; retry in %.0f s", self.kind, self.name, IDLE_S)
            return IDLE_S
        return max(wait, 0.0)

    def attempt(self, send: Callable[[], None], events: Sequence[LiveEvent], what: str) -> bool:
        """Call ``send``; True on success, False when the receiver refused the content for good (the
        events are then dropped: counted and logged); a transient failure propagates to :meth:`step`."""
        if self.failures:
            self.counters.retried += 1
        try:
            send()
        except DeliveryError as exc:
            self.counters.failed += 1
            self.counters.last_error = exc.message
            if not exc.permanent:
                self.failures += 1
                raise
            self.counters.dropped += len(events)
            log.error(
                "alerts: %s %s refused %s for good, %d alert(s) DROPPED (%s): %s",
                self.kind,
                self.name,
                what,
                len(events),
                ", ".join(sorted({e.key for e in events})),
                exc.message,
                extra={"receiver": self.name, "cause": exc.message},
            )
            return False
        if self.failures:
            log.warning(
                "alerts: %s %s delivers again after %d failed attempts", self.kind, self.name, self.failures
            )
        self.failures = 0
        self.counters.messages += 1
        self.counters.last_success_ns = self.clock()
        return True

    # ------------------------------------------------------------------ thread
    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(
                target=self._run, name=f"slaprobe-alerts-{self.name}", daemon=True
            )
            self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            wait = self.step()
            self._wake.wait(min(wait, IDLE_S))

    def stop(self, timeout_s: float = 5.0) -> bool:
        """Ask the thread to stop and wait up to ``timeout_s``; True once it has ended. A thread still
        running is kept (a later call waits for it again): its queue must not be closed under it."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            if self._thread.is_alive():
                return False
            self._thread = None
        return True

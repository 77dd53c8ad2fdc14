"""Alert delivery (issue #13): the live tracker's events to Alertmanager, a JSON webhook and e-mail.

``dispatcher.AlertDispatcher`` is the :class:`~slaprobe.live.events.EventSink`; ``queue`` keeps it
durable; ``worker`` / ``alertmanager`` / ``grouped`` deliver; ``receivers`` speak the wire protocols;
``messages`` says what a grouped message contains.
"""

from __future__ import annotations

from slaprobe.alerts.dispatcher import AlertDispatcher, build_dispatcher
from slaprobe.alerts.worker import ReceiverCounters

__all__ = ["AlertDispatcher", "ReceiverCounters", "build_dispatcher"]

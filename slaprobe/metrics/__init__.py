"""Prometheus ``/metrics`` for the daemon (issue #13): a custom collector reading the daemon's state at
scrape time (``collector``), the live terminal state it reports (``livestate``), the server (``server``).
"""

from __future__ import annotations

from slaprobe.metrics.collector import DaemonCollector, LatestSamples
from slaprobe.metrics.livestate import LiveState
from slaprobe.metrics.server import MetricsServer

__all__ = ["DaemonCollector", "LatestSamples", "LiveState", "MetricsServer"]

"""The ``/metrics`` HTTP endpoint: prometheus-client's own server in its own thread, on ``metrics.listen``.

A scrape runs the collector in the server's thread; it only reads the daemon's state (plain attributes,
one cheap SQLite count), so a slow or frequent scraper costs the probing loop nothing.
"""

from __future__ import annotations

import logging
import threading
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector

from slaprobe.config import split_listen

log = logging.getLogger(__name__)


class MetricsServer:
    def __init__(self, listen: str, collector: Collector) -> None:
        where = split_listen(listen)
        if where is None:
            raise ValueError(f"metrics.listen: {listen!r} is not host:port")
        self.host, self.port = where
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(collector)
        self.registry.register(ProcessCollector(registry=None))
        self._server: WSGIServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Bind and serve; a port in use is logged as an ERROR and the daemon runs on without metrics."""
        try:
            self._server, self._thread = start_http_server(self.port, self.host, registry=self.registry)
        except OSError as exc:
            log.error("metrics: cannot listen on %s:%d (%s); /metrics is off", self.host, self.port, exc)
            return
        self.port = self._server.server_port
        log.info("metrics: serving /metrics on %s:%d", self.host, self.port)

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

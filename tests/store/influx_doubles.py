"""Loopback HTTP servers that stand in front of a real influxd: a fault injector and a v2 gateway.

Neither parses line protocol: every point that is stored is stored by the real influxd behind them, so
what the tests compare is what InfluxDB itself accepted.

* :class:`FlakyProxy` forwards to influxd and, on ``/write``, plays a script of faults: an HTTP status
  (500, 503, 429 with ``Retry-After``), a connection reset, a slow answer, a lost acknowledgement (the
  write reaches influxd, then the connection is reset before the 204), and a body-size limit (413).
* :class:`V2Gateway` speaks the InfluxDB 2.x write API (``/api/v2/write`` with org, bucket, precision and
  ``Authorization: Token``), which Debian's influxd 1.6.7 lacks: it checks those the way 2.x does (401,
  404 for an unknown org or bucket, 400 for a bad precision) and hands the body to influxd's ``/write``.
"""

from __future__ import annotations

import contextlib
import http.client
import http.server
import json
import socket
import struct
import threading
import time
import urllib.parse
from collections import deque
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Fault:
    """One scripted answer to one /write: ``status`` (with headers), ``reset``, ``slow`` or ``ack_lost``."""

    action: str
    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0


@dataclass
class Seen:
    time: float
    path: str
    size: int
    outcome: str  # "forwarded:204", "fault:503", "reset", "ack_lost", "413"


class _Forwarding(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, upstream_port: int, handler: type[http.server.BaseHTTPRequestHandler]) -> None:
        super().__init__(("127.0.0.1", 0), handler)
        self.upstream_port = upstream_port
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def __enter__(self):  # type: ignore[override]
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
        self.server_close()

    def forward(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict, bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.upstream_port, timeout=30)
        try:
            conn.request(method, path, body=body or None, headers=headers)
            resp = conn.getresponse()
            return resp.status, dict(resp.getheaders()), resp.read()
        finally:
            conn.close()


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Forwarding

    def log_message(self, *args: object) -> None:
        pass

    def _body(self) -> bytes:
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def _reply(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.send_response(status)
        for k, v in headers.items():
            if k.lower() not in ("content-length", "transfer-encoding", "connection", "date"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _reset(self) -> None:
        """Abort the TCP connection (RST), as a crashing proxy or a flapping link would."""
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True

    def _pass_through(self, method: str, body: bytes) -> None:
        keep = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
        status, headers, data = self.server.forward(method, self.path, keep, body)
        self._reply(status, headers, data)

    def do_GET(self) -> None:
        self._pass_through("GET", b"")


class FlakyProxy(_Forwarding):
    """Fault-injecting proxy; ``script`` is consumed one fault per /write; ``max_body`` answers 413."""

    def __init__(self, upstream_port: int) -> None:
        super().__init__(upstream_port, _FlakyHandler)
        self.script: deque[Fault] = deque()
        self.max_body: int | None = None
        self.seen: list[Seen] = []
        self.lock = threading.Lock()
        self.in_flight = 0  # POSTs being handled right now
        self.max_in_flight = 0

    def add(self, *faults: Fault) -> None:
        with self.lock:
            self.script.extend(faults)

    def outcomes(self) -> list[str]:
        with self.lock:
            return [s.outcome for s in self.seen]


class _FlakyHandler(_Handler):
    server: FlakyProxy

    def do_POST(self) -> None:
        srv = self.server
        with srv.lock:
            srv.in_flight += 1
            srv.max_in_flight = max(srv.max_in_flight, srv.in_flight)
        try:
            self._post()
        finally:
            with srv.lock:
                srv.in_flight -= 1

    def _post(self) -> None:
        body = self._body()
        srv = self.server
        with srv.lock:
            fault = srv.script.popleft() if srv.script and self.path.startswith("/write") else None
        now = time.monotonic()

        def note(outcome: str) -> None:
            with srv.lock:
                srv.seen.append(Seen(now, self.path, len(body), outcome))

        if fault is None and srv.max_body is not None and len(body) > srv.max_body:
            note("413")
            self._reply(413, {"Content-Type": "application/json"}, b'{"error":"Request Entity Too Large"}')
            return
        if fault is None:
            keep = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
            status, headers, data = srv.forward("POST", self.path, keep, body)
            note(f"forwarded:{status}")
            self._reply(status, headers, data)
            return
        if fault.action == "status":
            note(f"fault:{fault.status}")
            err = json.dumps({"error": f"injected {fault.status}"}).encode()
            self._reply(fault.status, {"Content-Type": "application/json", **fault.headers}, err)
        elif fault.action == "reset":
            note("reset")
            self._reset()
        elif fault.action == "slow":
            note("slow")
            time.sleep(fault.delay_s)
            self._reset()
        elif fault.action == "ack_lost":
            keep = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
            status, _, _ = srv.forward("POST", self.path, keep, body)
            note(f"ack_lost:{status}")
            self._reset()
        else:
            raise AssertionError(f"unknown fault {fault.action}")


class V2Gateway(_Forwarding):
    """InfluxDB 2.x write/query semantics in front of influxd 1.6.7; buckets map to databases."""

    VERSION = "v2.7.10"

    def __init__(self, upstream_port: int, org: str, token: str, buckets: set[str]) -> None:
        super().__init__(upstream_port, _V2Handler)
        self.org = org
        self.token = token
        self.buckets = buckets
        self.requests: list[tuple[str, dict[str, str]]] = []


class _V2Handler(_Handler):
    server: V2Gateway

    def _json(self, status: int, code: str, message: str) -> None:
        body = json.dumps({"code": code, "message": message}).encode()
        self._reply(status, {"Content-Type": "application/json; charset=utf-8"}, body)

    def _authorized(self) -> bool:
        return self.headers.get("Authorization", "") == f"Token {self.server.token}"

    def do_GET(self) -> None:
        url = urllib.parse.urlsplit(self.path)
        params = dict(urllib.parse.parse_qsl(url.query))
        self.server.requests.append((url.path, params))
        if url.path == "/ping":
            self._reply(204, {"X-Influxdb-Version": V2Gateway.VERSION, "X-Influxdb-Build": "OSS"}, b"")
            return
        if url.path == "/query":  # v1-compatibility read with a token, as 2.x serves it
            if not self._authorized():
                self._json(401, "unauthorized", "unauthorized access")
                return
            status, headers, data = self.server.forward("GET", self.path, {}, b"")
            self._reply(status, headers, data)
            return
        self._json(404, "not found", "path not found")

    def do_POST(self) -> None:
        url = urllib.parse.urlsplit(self.path)
        params = dict(urllib.parse.parse_qsl(url.query))
        body = self._body()
        self.server.requests.append((url.path, params))
        if url.path != "/api/v2/write":
            self._json(404, "not found", "path not found")
            return
        if not self._authorized():
            self._json(401, "unauthorized", "unauthorized access")
            return
        if params.get("org") != self.server.org:
            self._json(404, "not found", f'organization name "{params.get("org")}" not found')
            return
        bucket = params.get("bucket", "")
        if bucket not in self.server.buckets:
            self._json(404, "not found", f'bucket "{bucket}" not found')
            return
        precision = params.get("precision", "ns")
        if precision not in ("ns", "us", "ms", "s"):
            self._json(400, "invalid", f"invalid precision {precision!r}")
            return
        headers = {"Content-Type": "text/plain"}
        if self.headers.get("Content-Encoding"):
            headers["Content-Encoding"] = self.headers["Content-Encoding"]
        target = "/write?" + urllib.parse.urlencode({"db": bucket, "precision": precision})
        status, up_headers, data = self.server.forward("POST", target, headers, body)
        self._reply(status, up_headers, data)


@contextlib.contextmanager
def nothing_listening() -> object:
    """A loopback port with nobody behind it (bound, not listening, so nobody else takes it)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    try:
        yield s.getsockname()[1]
    finally:
        s.close()

"""InfluxDB as slaprobe's production store: line-protocol writes, InfluxQL reads, one HTTP client for all.

Schema (fixed; the SLA engine reads it):

* database / bucket ``slaprobe`` (``influx.database`` / ``influx.bucket``);
* one measurement per probe kind: ``icmp``, ``icmp_jitter``, ``rtp``, ``stamp``
  (:attr:`ProbeKind.measurement`), plus ``heartbeat`` and ``slaprobe_check`` (one point per
  ``slaprobe store check``);
* sample tags: ``terminal, vantage, carrier, region, level, tier`` — ~1,820 terminals × a few vantages
  × 4 kinds is a few ten thousand series; the other tags are functions of the terminal and add none.
  Empty tags are omitted. Heartbeat tags: ``vantage, group``;
* sample fields: integers ``sent, received, lost (= sent − received), duplicates, reordered, late,
  max_loss_burst, malformed`` (``malformed``: replies that did not parse; older points lack it, read
  as 0); floats ``rtt_min_ms, rtt_avg_ms, rtt_max_ms, rtt_p50_ms, jitter_ms,
  jitter_rfc3550_ms, pdv_ms, loss_fwd, loss_rev, jitter_fwd_ms, jitter_rev_ms, r_factor, mos``
  (absent when not measured, never zero); strings ``error`` (an :class:`Outcome` value) and
  ``malformed_reason`` (absent unless a reply did not parse). ``lost`` is precomputed so InfluxQL
  can push the only filter that matters to the server: ``WHERE lost > 0 OR sent = 0``;
* heartbeat fields: floats ``interval_s, duration_s``; integers ``due, probed, late, skipped,
  reference_ok, reference_total, unstored`` (samples of the cycle the store refused; points written
  before the field existed lack it and read as 0). The ``group`` tag is the cycle name
  ``<scheduling group>/<probe kind>`` (:func:`model.cycle_name`);
* timestamps in **milliseconds** (``precision=ms``): a point is unique per series as long as one
  terminal is not probed twice by the same kind from the same vantage within one millisecond (cycles
  are seconds apart), and an ms timestamp is 13 digits instead of 19 on the wire. Because a point is
  identified by (measurement, tag set, timestamp), writing it again overwrites it with identical values:
  the shipper's at-least-once delivery is therefore exactly-once in the database.

Generations: InfluxDB 1.x speaks ``/write?db=&rp=`` (user/password); 2.x, 3.x and Cloud speak
``/api/v2/write?org=&bucket=`` (token) and also the v1 endpoints. ``/query`` with InfluxQL is the one
read path they all share. ``api: auto`` asks ``/ping`` (``X-Influxdb-Version``) and picks v2 for 2.x+
when a token is configured, v1 otherwise.

Why plain ``http.client`` and not influxdb-client's write API: the shipper must see every status code
and header itself (429 ``Retry-After``, 413 to split a batch, 400 to isolate a poisoned point, 404 for a
missing database) and retry on its own schedule; influxdb-client covers only the v2 write (not v1
``/write``, not ``/ping`` headers, not ``/query`` for 3.x), so it would be a second HTTP stack with its own
retries and exceptions beside the one the rest needs anyway. The benchmark uses it as the reference.
"""

from __future__ import annotations

import base64
import enum
import gzip
import heapq
import http.client
import json
import re
import socket
import ssl
import threading
import time
import urllib.parse
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

from slaprobe.config import InfluxConfig
from slaprobe.model import HEARTBEAT_FIELDS, Heartbeat, Outcome, ProbeKind, Sample
from slaprobe.store.lineproto import (
    HEARTBEAT_MEASUREMENT,
    PRECISION,
    SAMPLE_FIELDS,
    heartbeat_line,
    sample_line,
)

__all__ = ["ErrorKind", "InfluxClient", "InfluxError", "InfluxStore", "ServerInfo"]

_MEASUREMENTS = {k.measurement: k for k in ProbeKind}
_QUERY_CHUNK = 10_000
_SMALL_TERMINAL_FILTER = 50  # up to this many terminals are filtered by the server, more by us


class ErrorKind(enum.StrEnum):
    """What went wrong, in the terms the shipper acts on (retry, wait longer, split, isolate)."""

    CONFIG = "config"  # our configuration cannot work (bad URL)
    UNREACHABLE = "unreachable"  # connect failed, reset, TLS failure
    TIMEOUT = "timeout"  # no answer within influx.timeout_s
    SERVER = "server"  # 5xx
    THROTTLED = "throttled"  # 429 (Retry-After honoured)
    TOO_LARGE = "too_large"  # 413: split the batch
    AUTH = "auth"  # 401/403: credentials rejected
    NOT_FOUND = "not_found"  # database, retention policy, bucket or endpoint missing
    REJECTED = "rejected"  # 400: the points themselves (parse error, field type conflict)
    QUERY = "query"  # an InfluxQL statement failed


class InfluxError(Exception):
    """A failed InfluxDB call; ``str()`` is a complete operator-facing sentence naming URL and cause."""

    def __init__(
        self, kind: ErrorKind, message: str, status: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.status = status
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class ServerInfo:
    """What ``/ping`` told: version and build headers, and the write API that will be used."""

    version: str
    build: str
    api: str  # "v1" or "v2"
    reason: str  # why that API

    @property
    def major(self) -> int | None:
        m = re.match(r"v?(\d+)", self.version)
        return int(m.group(1)) if m else None


def quote_literal(value: str) -> str:
    """An InfluxQL string literal."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def quote_ident(name: str) -> str:
    """An InfluxQL identifier (``group`` is a keyword, so every identifier is quoted)."""
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def _error_text(body: bytes) -> str:
    text = body.decode("utf-8", "replace").strip()
    try:
        data = json.loads(text)
    except ValueError:
        return text[:500]
    if isinstance(data, dict):
        return str(data.get("error") or data.get("message") or text)[:500]
    return text[:500]


class InfluxClient:
    """One InfluxDB endpoint: ``ping``, ``write`` (line protocol) and ``query`` (InfluxQL).

    Writes are not thread-safe: the shipper owns one, a CLI command owns another; ``query`` may run in
    several threads at once (each on its own connection). The write connection is kept
    alive between batches; a connection that went stale (server restarted) is reopened once at once,
    which is safe because a write is idempotent.
    """

    def __init__(self, cfg: InfluxConfig) -> None:
        self.cfg = cfg
        parsed = urllib.parse.urlsplit(cfg.url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise InfluxError(ErrorKind.CONFIG, f"influx.url {cfg.url!r}: expected http(s)://host[:port]")
        self._https = parsed.scheme == "https"
        self._host = parsed.hostname
        self._port = parsed.port or (443 if self._https else 8086)
        self._prefix = parsed.path.rstrip("/")
        self.url = f"{parsed.scheme}://{parsed.netloc.rpartition('@')[2]}{self._prefix}"
        self._password = cfg.resolved_password()
        self._token = cfg.resolved_token()
        self._conn: http.client.HTTPConnection | None = None
        self._info: ServerInfo | None = None
        self._ping_lock = threading.Lock()
        if cfg.api != "auto":
            self._info = ServerInfo("", "", cfg.api, f"influx.api is {cfg.api}")

    # ------------------------------------------------------------------ plumbing
    def _connect(self) -> http.client.HTTPConnection:
        if self._https:
            ctx = ssl.create_default_context()
            if not self.cfg.verify_tls:
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
            return http.client.HTTPSConnection(
                self._host, self._port, timeout=self.cfg.timeout_s, context=ctx
            )
        return http.client.HTTPConnection(self._host, self._port, timeout=self.cfg.timeout_s)

    def _auth_header(self, api: str) -> dict[str, str]:
        if self._token and (api == "v2" or not self.cfg.username):
            return {"Authorization": f"Token {self._token}"}
        if self.cfg.username:
            if api == "v2":  # 1.8's v2 endpoints take user:password as the token
                return {"Authorization": f"Token {self.cfg.username}:{self._password}"}
            cred = base64.b64encode(f"{self.cfg.username}:{self._password}".encode()).decode()
            return {"Authorization": f"Basic {cred}"}
        return {}

    def _network_error(self, exc: BaseException, what: str) -> InfluxError:
        if isinstance(exc, TimeoutError | socket.timeout):
            wait = f"{self.cfg.timeout_s:g} s"
            return InfluxError(ErrorKind.TIMEOUT, f"{what}: no answer from {self.url} in {wait}")
        if isinstance(exc, ssl.SSLError):
            return InfluxError(ErrorKind.UNREACHABLE, f"{what}: TLS with {self.url} failed: {exc}")
        reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        return InfluxError(ErrorKind.UNREACHABLE, f"{what}: cannot talk to {self.url}: {reason}")

    def _request(
        self,
        method: str,
        path: str,
        params: Mapping[str, str],
        body: bytes | None,
        headers: Mapping[str, str],
    ) -> tuple[int, Mapping[str, str], bytes]:
        """One request on the kept-alive connection; one immediate retry if that connection was stale."""
        target = f"{self._prefix}{path}?{urllib.parse.urlencode(params)}"
        for attempt in (0, 1):
            reused = self._conn is not None
            if self._conn is None:
                self._conn = self._connect()
            try:
                self._conn.request(method, target, body=body, headers=dict(headers))
                resp = self._conn.getresponse()
                data = resp.read()
                hdrs = {k.lower(): v for k, v in resp.getheaders()}
                if resp.will_close:
                    self.close()
                return resp.status, hdrs, data
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as exc:
                self.close()
                if not reused or attempt:
                    raise self._network_error(exc, f"{method} {path}") from exc
            except (OSError, http.client.HTTPException) as exc:
                self.close()
                raise self._network_error(exc, f"{method} {path}") from exc
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    # ------------------------------------------------------------------ ping / api
    def ping(self) -> ServerInfo:
        """Ask ``/ping`` for the server's version; decide the write API for ``api: auto``."""
        status, headers, body = self._request("GET", "/ping", {}, None, {})
        if status not in (200, 204):
            raise InfluxError(
                ErrorKind.SERVER, f"GET /ping at {self.url}: HTTP {status} {_error_text(body)}", status
            )
        version = headers.get("x-influxdb-version", "")
        build = headers.get("x-influxdb-build", "")
        if self.cfg.api != "auto":
            api, reason = self.cfg.api, f"influx.api is {self.cfg.api}"
        else:
            api, reason = self._choose_api(version)
        self._info = ServerInfo(version, build, api, reason)
        return self._info

    def _choose_api(self, version: str) -> tuple[str, str]:
        m = re.match(r"v?(\d+)", version)
        major = int(m.group(1)) if m else None
        if major == 1:
            return "v1", f"server is InfluxDB {version}: /write with database and retention policy"
        if self._token:
            shown = version or "of unknown version"
            return "v2", f"server is InfluxDB {shown} and a token is configured: /api/v2/write"
        if major is not None:
            return "v1", f"server is InfluxDB {version} but no token is configured: v1-compatibility /write"
        return "v1", "server sent no X-Influxdb-Version and no token is configured: /write"

    @property
    def api(self) -> str:
        if self._info is None:
            with self._ping_lock:  # readers query from several threads; ask /ping once
                if self._info is None:
                    self.ping()
        assert self._info is not None
        return self._info.api

    @property
    def destination(self) -> str:
        """Where points go, for messages: URL plus database/rp or org/bucket."""
        if self.api == "v2":
            return f"{self.url} org={self.cfg.org or '-'} bucket={self.bucket}"
        rp = f" rp={self.cfg.retention_policy}" if self.cfg.retention_policy else ""
        return f"{self.url} db={self.cfg.database}{rp}"

    @property
    def bucket(self) -> str:
        if self.cfg.bucket:
            return self.cfg.bucket
        rp = self.cfg.retention_policy
        return f"{self.cfg.database}/{rp}" if rp else self.cfg.database

    # ------------------------------------------------------------------ write
    def write(self, lines: Sequence[str] | bytes) -> None:
        """POST line protocol (ms precision); return on 2xx, raise a classified :class:`InfluxError`."""
        body = lines if isinstance(lines, bytes) else ("\n".join(lines) + "\n").encode()
        api = self.api
        headers = {"Content-Type": "text/plain; charset=utf-8", **self._auth_header(api)}
        if self.cfg.gzip:
            body = gzip.compress(body, compresslevel=1)
            headers["Content-Encoding"] = "gzip"
        if api == "v2":
            path = "/api/v2/write"
            params = {"bucket": self.bucket, "precision": PRECISION}
            if self.cfg.org:
                params["org"] = self.cfg.org
        else:
            path = "/write"
            params = {"db": self.cfg.database, "precision": PRECISION}
            if self.cfg.retention_policy:
                params["rp"] = self.cfg.retention_policy
        status, hdrs, data = self._request("POST", path, params, body, headers)
        if 200 <= status < 300:
            return
        raise self._classify(status, hdrs, data, f"POST {path} to {self.destination}")

    def _classify(self, status: int, headers: Mapping[str, str], body: bytes, what: str) -> InfluxError:
        text = _error_text(body)
        retry_after = _retry_after(headers.get("retry-after"))
        if status in (401, 403):
            kind, hint = ErrorKind.AUTH, "credentials rejected"
        elif status == 404:
            kind, hint = ErrorKind.NOT_FOUND, "database, bucket or organization does not exist"
            if "page not found" in text:
                hint = "this server has no such endpoint (InfluxDB before 1.8 has no v2 API; use api: v1)"
        elif status == 413:
            kind, hint = ErrorKind.TOO_LARGE, "batch too large"
        elif status == 429:
            kind, hint = ErrorKind.THROTTLED, "rate limited"
        elif status in (400, 422):  # 2.x answers 422 for points it cannot take (type conflict, retention)
            kind, hint = ErrorKind.REJECTED, "points rejected"
        elif "retention policy not found" in text or "database not found" in text:
            kind, hint = ErrorKind.NOT_FOUND, "retention policy or database does not exist"
        else:
            kind, hint = ErrorKind.SERVER, "server error"
        return InfluxError(kind, f"{what}: {hint} (HTTP {status}: {text})", status, retry_after)

    # ------------------------------------------------------------------ query
    def query_params(self) -> dict[str, str]:
        db, _, rp = self.bucket.partition("/") if self.api == "v2" else (self.cfg.database, "", "")
        params = {"db": db, "epoch": "ns"}
        rp = rp or self.cfg.retention_policy
        if rp:
            params["rp"] = rp
        return params

    def query(self, influxql: str) -> Iterator[dict[str, Any]]:
        """Stream the series of one InfluxQL statement (chunked), each ``{name, tags?, columns, values}``.

        Rows of one series may come in several pieces; the caller sees them in server order (time order
        within a measurement when there is no GROUP BY). Uses its own connection so a long read does not
        hold the write connection.
        """
        api = self.api
        params = {**self.query_params(), "q": influxql, "chunked": "true", "chunk_size": str(_QUERY_CHUNK)}
        conn = self._connect()
        target = f"{self._prefix}/query?{urllib.parse.urlencode(params)}"
        try:
            try:
                conn.request("GET", target, headers=self._auth_header(api))
                resp = conn.getresponse()
            except (OSError, http.client.HTTPException) as exc:
                raise self._network_error(exc, "GET /query") from exc
            if resp.status != 200:
                body = resp.read()
                hdrs = {k.lower(): v for k, v in resp.getheaders()}
                raise self._classify(resp.status, hdrs, body, f"GET /query at {self.url}")
            while True:
                try:
                    line = resp.readline()
                except (OSError, http.client.HTTPException) as exc:
                    raise self._network_error(exc, "GET /query (reading)") from exc
                if not line:
                    return
                if not line.strip():
                    continue
                chunk = json.loads(line)
                if "error" in chunk:
                    raise InfluxError(ErrorKind.QUERY, f"InfluxQL {influxql!r}: {chunk['error']}")
                for result in chunk.get("results", []):
                    if "error" in result:
                        kind = ErrorKind.NOT_FOUND if "not found" in result["error"] else ErrorKind.QUERY
                        raise InfluxError(kind, f"InfluxQL {influxql!r} at {self.url}: {result['error']}")
                    yield from result.get("series", [])
        finally:
            conn.close()

    def rows(self, influxql: str) -> Iterator[dict[str, Any]]:
        """Each row as ``{column: value}`` with the series tags merged in and ``_measurement`` set."""
        for series in self.query(influxql):
            cols = series["columns"]
            extra = {**series.get("tags", {}), "_measurement": series["name"]}
            for values in series["values"]:
                row = dict(zip(cols, values, strict=True))
                row.update(extra)
                yield row


# ---------------------------------------------------------------------- the Store
def _sample_from_row(row: Mapping[str, Any], kind: ProbeKind) -> Sample:
    values: dict[str, Any] = {}
    for name in SAMPLE_FIELDS:
        if name in ("lost", "error"):
            continue
        v = row.get(name)
        if v is None:
            continue
        field_type = SAMPLE_FIELDS[name]
        values[name] = int(v) if field_type == "i" else str(v) if field_type == "s" else float(v)
    return Sample(
        time_ns=int(row["time"]),
        terminal=row["terminal"],
        vantage=row["vantage"],
        kind=kind,
        error=Outcome(row.get("error") or "ok"),
        **values,
    )


def _heartbeat_from_row(row: Mapping[str, Any]) -> Heartbeat:
    values = {name: row.get(name) for name in HEARTBEAT_FIELDS}
    values["time_ns"] = int(row["time"])
    values["group"] = row.get("group") or ""
    for name in ("interval_s", "duration_s"):
        values[name] = float(values[name] or 0.0)
    for name in ("due", "probed", "late", "skipped", "reference_ok", "reference_total", "unstored"):
        values[name] = int(values[name] or 0)
    return Heartbeat(**values)


class InfluxStore:
    """:class:`slaprobe.store.base.Store` over InfluxDB: direct writes (no spool) and InfluxQL reads.

    The daemon does not write through this class: it journals and lets the shipper forward. This is for
    reading (reports) and for tools that write straight to InfluxDB. ``tags`` maps terminal id to its
    carrier/region/level/tier, as :meth:`Inventory.tags` returns it.
    """

    def __init__(
        self, cfg: InfluxConfig, tags: Mapping[str, Mapping[str, str]] | None = None, batch_size: int = 5000
    ) -> None:
        self.client = InfluxClient(cfg)
        self._tags = dict(tags or {})
        self._batch = batch_size

    def _write_lines(self, lines: Iterable[str]) -> None:
        batch: list[str] = []
        for line in lines:
            batch.append(line)
            if len(batch) >= self._batch:
                self.client.write(batch)
                batch = []
        if batch:
            self.client.write(batch)

    def write_samples(self, samples: Sequence[Sample]) -> None:
        self._write_lines(sample_line(s, self._tags.get(s.terminal, {})) for s in samples)

    def write_heartbeats(self, heartbeats: Sequence[Heartbeat]) -> None:
        self._write_lines(heartbeat_line(h) for h in heartbeats)

    def _sample_stream(self, kind: ProbeKind, where: str, terminals: set[str] | None) -> Iterator[Sample]:
        q = f"SELECT * FROM {quote_ident(kind.measurement)} WHERE {where}"
        for row in self.client.rows(q):
            if terminals is None or row["terminal"] in terminals:
                yield _sample_from_row(row, kind)

    def _samples(
        self,
        start_ns: int,
        end_ns: int,
        terminals: Collection[str] | None,
        kinds: Collection[ProbeKind] | None,
        extra: str = "",
    ) -> Iterator[Sample]:
        where = f"time >= {int(start_ns)} AND time < {int(end_ns)}"
        local: set[str] | None = None
        if terminals is not None:
            if len(terminals) <= _SMALL_TERMINAL_FILTER:
                if not terminals:
                    return
                where += " AND (" + " OR ".join(f"terminal = {quote_literal(t)}" for t in terminals) + ")"
            else:
                local = set(terminals)
        if extra:
            where += f" AND ({extra})"
        chosen = list(kinds) if kinds is not None else list(ProbeKind)
        streams = [self._sample_stream(k, where, local) for k in chosen]
        yield from heapq.merge(*streams, key=lambda s: s.time_ns)

    def samples(
        self,
        start_ns: int,
        end_ns: int,
        terminals: Collection[str] | None = None,
        kinds: Collection[ProbeKind] | None = None,
    ) -> Iterator[Sample]:
        """Samples with start_ns <= time_ns < end_ns, time-ordered (merged across kinds)."""
        return self._samples(start_ns, end_ns, terminals, kinds)

    def bad_samples(
        self,
        start_ns: int,
        end_ns: int,
        terminals: Collection[str] | None = None,
        kinds: Collection[ProbeKind] | None = None,
    ) -> Iterator[Sample]:
        """Only samples that lost packets or were not sent, filtered by the server."""
        return self._samples(start_ns, end_ns, terminals, kinds, extra="lost > 0 OR sent = 0")

    def heartbeats(self, start_ns: int, end_ns: int, vantage: str | None = None) -> Iterator[Heartbeat]:
        q = (
            f"SELECT * FROM {quote_ident(HEARTBEAT_MEASUREMENT)}"
            f" WHERE time >= {int(start_ns)} AND time < {int(end_ns)}"
        )
        if vantage is not None:
            q += f" AND vantage = {quote_literal(vantage)}"
        for row in self.client.rows(q):
            yield _heartbeat_from_row(row)

    def close(self) -> None:
        self.client.close()

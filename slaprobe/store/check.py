"""``slaprobe store check``: can this host reach the configured InfluxDB, which API, can it write and read?

Each step is a sentence an operator can act on (what failed, where, what to change). The write step
really writes: one point in the ``slaprobe_check`` measurement (tag ``vantage``), because the only proof
that credentials may write is a write; the read step reads that very point back through ``/query``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from slaprobe.config import InfluxConfig
from slaprobe.model import NS_PER_MS
from slaprobe.store.influx import ErrorKind, InfluxClient, InfluxError, quote_ident, quote_literal
from slaprobe.store.lineproto import series_key

CHECK_MEASUREMENT = "slaprobe_check"

_HINTS: dict[ErrorKind, str] = {
    ErrorKind.UNREACHABLE: "is influxd running, is influx.url right, does a firewall block the port?",
    ErrorKind.TIMEOUT: "the server or the network is too slow; raise influx.timeout_s or check the path",
    ErrorKind.AUTH: "check influx.username/password (1.x) or influx.token (2.x/3.x/Cloud) and what it may"
    " write",
    ErrorKind.NOT_FOUND: "create the database (CREATE DATABASE ...) or bucket, or fix influx.database/"
    "retention_policy/bucket; InfluxDB 1.x before 1.8 needs api: v1",
    ErrorKind.SERVER: "the server failed; see its log",
    ErrorKind.THROTTLED: "the server rate-limits this client; the shipper waits as asked",
    ErrorKind.TOO_LARGE: "the server limits request size; lower shipper.batch_size",
    ErrorKind.REJECTED: "the server refused the point; see the message",
    ErrorKind.QUERY: "the InfluxQL read failed; see the message",
    ErrorKind.CONFIG: "fix the influx section of the config",
}


@dataclass(frozen=True, slots=True)
class CheckStep:
    name: str  # reach, api, write, read
    ok: bool
    detail: str
    hint: str = ""


@dataclass
class CheckReport:
    url: str
    steps: list[CheckStep] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.steps) and all(s.ok for s in self.steps)

    def to_dict(self) -> dict[str, object]:
        return {
            "url": self.url,
            "ok": self.ok,
            "steps": [{"name": s.name, "ok": s.ok, "detail": s.detail, "hint": s.hint} for s in self.steps],
        }

    def render(self) -> str:
        lines = [f"InfluxDB at {self.url}"]
        for s in self.steps:
            lines.append(f"  [{'ok' if s.ok else 'FAIL'}] {s.name:<5} {s.detail}")
            if s.hint:
                lines.append(f"          hint: {s.hint}")
        lines.append("store check: " + ("all good" if self.ok else "FAILED"))
        return "\n".join(lines)


def _fail(report: CheckReport, name: str, exc: InfluxError) -> CheckReport:
    report.steps.append(CheckStep(name, False, exc.message, _HINTS.get(exc.kind, "")))
    return report


def check_store(cfg: InfluxConfig, vantage: str) -> CheckReport:
    """Run reach → api → write → read, stopping at the first failure."""
    try:
        client = InfluxClient(cfg)
    except InfluxError as exc:
        return _fail(CheckReport(cfg.url), "config", exc)
    report = CheckReport(client.url)
    try:
        try:
            info = client.ping()
        except InfluxError as exc:
            return _fail(report, "reach", exc)
        shown = f"InfluxDB {info.version or '(no version header)'} {info.build}".rstrip()
        report.steps.append(CheckStep("reach", True, f"{shown} answers /ping"))
        where = f"{info.api}: {info.reason}; destination {client.destination}"
        report.steps.append(CheckStep("api", True, where))
        now_ms = time.time_ns() // NS_PER_MS
        line = f"{series_key(CHECK_MEASUREMENT, [('vantage', vantage)])} ok=1i {now_ms}"
        try:
            client.write([line])
        except InfluxError as exc:
            return _fail(report, "write", exc)
        wrote = f"wrote one point to {CHECK_MEASUREMENT} (vantage={vantage})"
        report.steps.append(CheckStep("write", True, wrote))
        q = (
            f"SELECT last({quote_ident('ok')}) FROM {quote_ident(CHECK_MEASUREMENT)}"
            f" WHERE vantage = {quote_literal(vantage)} AND time >= {now_ms * NS_PER_MS}"
        )
        try:
            rows = list(client.rows(q))
        except InfluxError as exc:
            return _fail(report, "read", exc)
        if not rows or rows[0].get("time") != now_ms * NS_PER_MS:
            report.steps.append(
                CheckStep(
                    "read",
                    False,
                    f"/query answered but did not return the point just written ({rows[:1]})",
                    "InfluxQL on a v2 bucket needs a DBRP mapping (2.x: influx v1 dbrp create)",
                )
            )
            return report
        report.steps.append(CheckStep("read", True, "read the point back with InfluxQL over /query"))
        return report
    finally:
        client.close()

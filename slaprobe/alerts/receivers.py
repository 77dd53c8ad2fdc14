"""The wire side of the three receiver types: one request (or SMTP session) per call, errors classified.

Every failure becomes a :class:`DeliveryError` saying whether retrying can help: a receiver that is down,
slow, overloaded (5xx, 429, 408) or unreachable is *transient* (the queue keeps the alerts and retries with
backoff); a receiver that refuses the content itself (other 4xx, an SMTP 5xx for a recipient) is
*permanent*: retrying the same bytes forever would block every later alert, so those alerts are dropped,
counted and logged with the receiver's answer.
"""

from __future__ import annotations

import json
import logging
import smtplib
import ssl
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from typing import Any
from zoneinfo import ZoneInfo

from slaprobe.alerts.messages import ALERTNAMES, Notification, email_message, iso, webhook_body
from slaprobe.config import ReceiverConfig
from slaprobe.live.events import EventKind, LiveEvent
from slaprobe.model import NS_PER_S

log = logging.getLogger(__name__)

TERMINAL_LABELS = ("terminal", "carrier", "region", "level", "tier")


class DeliveryError(Exception):
    """A failed delivery: ``permanent`` when retrying the same content cannot succeed."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent


def http_json(
    method: str, url: str, body: Any, timeout_s: float, headers: Mapping[str, str] | None = None
) -> Any:
    """Send JSON, return the decoded JSON answer (None if empty); raise DeliveryError on any failure."""
    data = json.dumps(body, ensure_ascii=False).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    req.add_header("User-Agent", "slaprobe")
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=timeout_s) as resp:
            raw = resp.read()
    except urllib.error.HTTPError as exc:
        detail = exc.read(300).decode("utf-8", "replace").strip()
        permanent = 400 <= exc.code < 500 and exc.code not in (408, 425, 429)
        raise DeliveryError(f"HTTP {exc.code} from {url}: {detail}", permanent=permanent) from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DeliveryError(f"{url}: {reason}") from None
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return None


# ---------------------------------------------------------------------------- Alertmanager
def am_alert(e: LiveEvent, now_ns: int, hold_s: float) -> dict[str, Any]:
    """One alert of the v2 API. Firing: ``endsAt`` = now + ``hold_s`` (we re-post well before that, so it
    never lapses while the outage lasts, yet clears on its own if this host dies); resolved: the end."""
    labels = {"alertname": ALERTNAMES[e.kind], "vantage": e.vantage}
    if e.kind is EventKind.TERMINAL_OUTAGE:
        labels.update({k: e.labels.get(k, "") for k in TERMINAL_LABELS})
        labels["terminal"] = labels["terminal"] or e.key
    labels["severity"] = e.labels.get("severity") or (
        "critical" if e.kind is EventKind.TERMINAL_OUTAGE else "warning"
    )
    evidence = "; ".join(f"{k}: {v}" for k, v in e.evidence.items())
    ends = e.end_ns if not e.firing else now_ns + int(hold_s * NS_PER_S)
    return {
        "labels": {k: v for k, v in labels.items() if v},
        "annotations": {"summary": e.summary or f"{ALERTNAMES[e.kind]} {e.key}", "evidence": evidence},
        "startsAt": iso(e.start_ns),
        "endsAt": iso(ends if ends is not None else now_ns),
    }


class AlertmanagerClient:
    def __init__(self, cfg: ReceiverConfig) -> None:
        self.cfg = cfg
        self.base = cfg.url.rstrip("/")

    @property
    def hold_s(self) -> float:
        return 4 * self.cfg.resend_s

    def post_alerts(self, events: Sequence[LiveEvent], now_ns: int) -> None:
        body = [am_alert(e, now_ns, self.hold_s) for e in events]
        http_json("POST", f"{self.base}/api/v2/alerts", body, self.cfg.timeout_s)

    def create_silence(self, matchers: list[dict[str, Any]], start_ns: int, end_ns: int, comment: str) -> str:
        body = {
            "matchers": matchers,
            "startsAt": iso(start_ns),
            "endsAt": iso(end_ns),
            "createdBy": "slaprobe",
            "comment": comment,
        }
        answer = http_json("POST", f"{self.base}/api/v2/silences", body, self.cfg.timeout_s)
        if not isinstance(answer, dict) or "silenceID" not in answer:
            raise DeliveryError(f"{self.base}: no silenceID in the answer {answer!r}")
        return str(answer["silenceID"])


# ---------------------------------------------------------------------------- webhook
class WebhookClient:
    def __init__(self, cfg: ReceiverConfig, name: str) -> None:
        self.cfg = cfg
        self.name = name

    def send(self, n: Notification, now_ns: int) -> None:
        http_json(
            "POST", self.cfg.url, webhook_body(n, self.name, now_ns), self.cfg.timeout_s, self.cfg.headers
        )


# ---------------------------------------------------------------------------- e-mail
class SmtpClient:
    def __init__(self, cfg: ReceiverConfig, tz: ZoneInfo) -> None:
        self.cfg = cfg
        self.tz = tz

    def send(self, n: Notification, now_ns: int) -> None:
        cfg = self.cfg
        msg = email_message(n, sender=cfg.sender, to=cfg.to, lang=cfg.lang, tz=self.tz)
        try:
            with smtplib.SMTP(cfg.host, cfg.port, timeout=cfg.timeout_s) as smtp:
                if cfg.starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if cfg.username:
                    smtp.login(cfg.username, cfg.resolved_password())
                refused = smtp.send_message(msg)
        except smtplib.SMTPRecipientsRefused as exc:
            raise DeliveryError(
                f"smtp {cfg.host}: every recipient refused: {exc.recipients}", permanent=True
            ) from None
        except smtplib.SMTPResponseException as exc:
            text = (
                exc.smtp_error.decode("utf-8", "replace")
                if isinstance(exc.smtp_error, bytes)
                else exc.smtp_error
            )
            permanent = 500 <= exc.smtp_code < 600 and exc.smtp_code != 535  # bad auth: fixable, retry
            raise DeliveryError(f"smtp {cfg.host}: {exc.smtp_code} {text}", permanent=permanent) from None
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryError(f"smtp {cfg.host}:{cfg.port}: {exc or type(exc).__name__}") from None
        if refused:  # some recipients took it: delivered, but say loudly who did not
            log.error("smtp %s: delivered, but these recipients were refused: %s", cfg.host, sorted(refused))

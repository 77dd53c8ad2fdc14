"""Grouped notifications for receivers that are not Alertmanager (webhook, e-mail): what one message says.

Alertmanager groups, repeats and silences by itself, so it gets every alert as it is. A webhook or a
mailbox does not: 40 terminals of one region going dark in the same minute must be *one* message naming
all 40, not 40 pages. A :class:`Notification` is that one message: the alerts of one group (the
``alerts.group_by`` labels, plus the event kind: a probe-host problem is never mixed into a carrier
outage message) with one status (firing or resolved) and whether it is a reminder.

The webhook body is versioned (``"version": "1"``); its fields are documented in the README and are a
contract: add fields, never rename them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from zoneinfo import ZoneInfo

from slaprobe.live.events import EventKind, LiveEvent
from slaprobe.model import NS_PER_S

WEBHOOK_VERSION = "1"
ALERTNAMES = {
    EventKind.TERMINAL_OUTAGE: "SlaprobeTerminalOutage",
    EventKind.PROBE_HOST: "SlaprobeProbeHost",
}


@dataclass(frozen=True, slots=True)
class Notification:
    """One message to one receiver: alerts of one group, one status."""

    kind: EventKind
    firing: bool
    group: Mapping[str, str]
    events: Sequence[LiveEvent]
    repeat: bool = False
    ids: Sequence[int] = field(default_factory=tuple)  # queue rows it delivers (none for a reminder)

    @property
    def status(self) -> str:
        return "firing" if self.firing else "resolved"


def group_of(event: LiveEvent, group_by: Sequence[str]) -> tuple[str, ...]:
    """The group key: event kind, status-independent label values (a probe-host event: its vantage)."""
    if event.kind is EventKind.PROBE_HOST:
        return (event.kind.value, event.vantage)
    return (event.kind.value, *(event.labels.get(k, "") for k in group_by))


def group_labels(event: LiveEvent, group_by: Sequence[str]) -> dict[str, str]:
    if event.kind is EventKind.PROBE_HOST:
        return {"vantage": event.vantage}
    return {k: event.labels.get(k, "") for k in group_by}


def iso(ns: int | None) -> str | None:
    if ns is None:
        return None
    return (
        dt.datetime.fromtimestamp(ns / NS_PER_S, dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    )


def _alert_json(e: LiveEvent) -> dict[str, object]:
    return {
        "alertname": ALERTNAMES[e.kind],
        "kind": e.kind.value,
        "key": e.key,
        "status": "firing" if e.firing else "resolved",
        "vantage": e.vantage,
        "labels": dict(e.labels),
        "summary": e.summary,
        "evidence": dict(e.evidence),
        "starts_at": iso(e.start_ns),
        "ends_at": iso(e.end_ns),
        "start_ns": e.start_ns,
        "end_ns": e.end_ns,
    }


def webhook_body(n: Notification, receiver: str, now_ns: int) -> dict[str, object]:
    """The documented JSON body (README "Webhook body")."""
    return {
        "version": WEBHOOK_VERSION,
        "source": "slaprobe",
        "receiver": receiver,
        "status": n.status,
        "repeat": n.repeat,
        "kind": n.kind.value,
        "group": dict(n.group),
        "count": len(n.events),
        "sent_at": iso(now_ns),
        "alerts": [_alert_json(e) for e in n.events],
    }


_WORDS = {
    "terminal_outage": ("terminal outage", "终端中断"),
    "probe_host": ("probe host problem (not a carrier outage)", "探测主机故障（非运营商中断）"),
    "firing": ("FIRING", "告警"),
    "resolved": ("RESOLVED", "已恢复"),
    "repeat": ("still firing", "仍在告警"),
    "since": ("since", "开始于"),
    "until": ("until", "结束于"),
    "evidence": ("evidence", "证据"),
    "count": ("alerts", "条告警"),
}


def _subject(n: Notification, lang: str) -> str:
    group = ", ".join(f"{v}" for v in n.group.values() if v) or "-"
    status = "repeat" if n.repeat else n.status
    en = f"[slaprobe] {_WORDS[status][0]}: {len(n.events)} {_WORDS[n.kind.value][0]} ({group})"
    zh = f"[slaprobe] {_WORDS[status][1]}：{len(n.events)} {_WORDS[n.kind.value][1]}（{group}）"
    return {"en": en, "zh": zh}.get(lang, f"{zh} / {en}")


def _local(ns: int | None, tz: ZoneInfo) -> str:
    if ns is None:
        return "-"
    return dt.datetime.fromtimestamp(ns / NS_PER_S, tz).isoformat(sep=" ", timespec="seconds")


def _body(n: Notification, lang: str, tz: ZoneInfo) -> str:
    idx = 0 if lang == "en" else 1
    w = {k: v[idx] for k, v in _WORDS.items()}
    status = "repeat" if n.repeat else n.status
    lines = [f"{w[status]}: {w[n.kind.value]}", ", ".join(f"{k}={v}" for k, v in n.group.items()), ""]
    for e in n.events:
        labels = " ".join(f"{k}={v}" for k, v in sorted(e.labels.items()) if v)
        span = f"{w['since']} {_local(e.start_ns, tz)}"
        if e.end_ns is not None:
            span += f" {w['until']} {_local(e.end_ns, tz)}"
        lines.append(f"- {e.key}: {span} [{labels}]")
        if e.summary:
            lines.append(f"  {e.summary}")
        for k, v in e.evidence.items():
            lines.append(f"  {w['evidence']} {k}: {v}")
    lines.append("")
    lines.append(f"{len(n.events)} {w['count']} · {tz.key}")
    return "\n".join(lines)


def email_message(
    n: Notification, *, sender: str, to: Sequence[str], lang: str, tz: ZoneInfo
) -> EmailMessage:
    """A plain-text mail; ``zh+en`` puts the Chinese text first, then the English one."""
    msg = EmailMessage()
    msg["Subject"] = _subject(n, lang)
    msg["From"] = sender
    msg["To"] = ", ".join(to)
    both = lang == "zh+en"
    text = _body(n, "zh", tz) + "\n\n----\n\n" + _body(n, "en", tz) if both else _body(n, lang, tz)
    msg.set_content(text + "\n", charset="utf-8")
    return msg

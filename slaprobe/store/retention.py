"""Retention of the embedded store: the journal must not grow without bound, nor lose a month silently.

With ``store.kind: embedded`` the journal is the only store, and nothing prunes it (the shipper's cap
applies only when shipping); a 1,820-terminal month is ~9 GB. Two settings:

* ``store.warn_mb`` (default 8192; 0 = off): once per UTC day, a WARNING while the journal's used size
  is above it. Nothing is deleted: the operator decides.
* ``store.retention_days`` (default 0 = keep forever, today's behaviour): raw samples of whole UTC days
  are deleted once the *calendar month* (``sla.timezone``) they belong to ended at least that many days
  ago. A month is never cut while it can still be reported on the usual schedule: with 40 days, January
  goes on 10 March (in UTC+8 the UTC day holding the month's last local hours is kept too). Each prune is
  logged at WARNING with the count and the days, and recorded in the journal's meta
  (note ``retention.pruned``, read by ``status`` and :func:`pruned_ranges`).

What a pruned month keeps and loses: the heartbeats and the SLA rollups (``sla_hourly``, ``sla_daily``:
per hour / day and series the packet counters and RTT/jitter histograms) are never pruned, so a month's
quality KPIs (loss, RTT and jitter percentiles, MOS) and which vantage probed whom stay reproducible.
The availability verdicts do NOT: the engine judges intervals from the problem rows (samples that lost
packets) and pools every sample of the hours around them, and those are raw samples. A report of a
pruned month therefore cannot be re-judged; keep the report produced before the prune (that is why
months are kept ``retention_days`` *after their end*): ``report`` refuses a period that overlaps a
pruned range (:func:`pruned_in`) rather than judge it from rollups alone, which would read as available.
There is no size cap that deletes by itself: dropping unreported data to save disk is a decision this
module leaves to the operator (raise the disk, or lower ``retention_days``).
"""

from __future__ import annotations

import calendar
import datetime as dt
import json
import logging
import time
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from slaprobe.model import NS_PER_S
from slaprobe.store.journal import JournalStore

log = logging.getLogger(__name__)

NOTE_PRUNED = "retention.pruned"
DAY_NS = 86_400 * NS_PER_S
_MB = 1024 * 1024


def prune_before_ns(now_ns: int, retention_days: int, timezone: str) -> int:
    """The first instant whose samples are kept: the start of the UTC day holding the start of the
    local month that contains ``now - retention_days``. Every month ending before that month began (i.e.
    at least ``retention_days`` ago) may go; only whole UTC days go."""
    tz = ZoneInfo(timezone)
    t = dt.datetime.fromtimestamp((now_ns - retention_days * DAY_NS) / NS_PER_S, tz)
    month_start = t.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    start_ns = int(month_start.timestamp()) * NS_PER_S
    return start_ns // DAY_NS * DAY_NS


def _day(ns: int) -> str:
    return dt.datetime.fromtimestamp(ns / NS_PER_S, dt.UTC).strftime("%Y-%m-%d")


def pruned_ranges(journal: JournalStore) -> list[dict[str, object]]:
    """What retention deleted: ``[{first_day, last_day, samples, at_ns}]`` (UTC days, inclusive)."""
    note = journal.get_note(NOTE_PRUNED)
    return list(json.loads(note)) if note else []


def pruned_in(journal: JournalStore, start_ns: int, end_ns: int) -> list[dict[str, object]]:
    """The prune records whose UTC days overlap ``[start_ns, end_ns)``: a report of such a period
    would judge those days from rollups alone, with none of the problem rows, i.e. as available."""
    out = []
    for r in pruned_ranges(journal):
        first = calendar.timegm(time.strptime(str(r["first_day"]), "%Y-%m-%d")) * NS_PER_S
        last = calendar.timegm(time.strptime(str(r["last_day"]), "%Y-%m-%d")) * NS_PER_S
        if first < end_ns and last + DAY_NS > start_ns:
            out.append(r)
    return out


@dataclass
class RetentionKeeper:
    """Run :meth:`check` now and then (the daemon: at start and hourly, in a thread with its own
    journal connection, so deletes never hold up the probe cycles' writes for long)."""

    journal: JournalStore
    retention_days: int = 0
    warn_mb: float = 0.0
    timezone: str = "UTC"
    _warned_day: int | None = None

    def check(self, now_ns: int) -> int:
        """Warn about the size (once per UTC day) and prune by age; return the samples deleted."""
        used = self.journal.used_bytes()
        day = now_ns // DAY_NS
        if self.warn_mb and used > self.warn_mb * _MB and self._warned_day != day:
            self._warned_day = day
            log.warning(
                "journal uses %.1f MB, above store.warn_mb %.1f MB; nothing is deleted unless"
                " store.retention_days is set (now %d days)",
                used / _MB,
                self.warn_mb,
                self.retention_days,
                extra={"used_mb": round(used / _MB, 1), "warn_mb": self.warn_mb},
            )
        if self.retention_days <= 0:
            return 0
        cut = prune_before_ns(now_ns, self.retention_days, self.timezone)
        deleted, oldest = self.journal.delete_samples_before(cut)
        if not deleted or oldest is None:
            return 0
        first, last = _day(oldest // DAY_NS * DAY_NS), _day(cut - DAY_NS)
        record = {"first_day": first, "last_day": last, "samples": deleted, "at_ns": now_ns}
        self.journal.set_note(NOTE_PRUNED, json.dumps([*pruned_ranges(self.journal), record]))
        log.warning(
            "retention: DELETED %d raw samples of UTC days %s .. %s (their months ended more than"
            " store.retention_days = %d days ago); SLA rollups and heartbeats kept, but availability"
            " of these days can no longer be re-judged from this journal",
            deleted,
            first,
            last,
            self.retention_days,
            extra={"pruned_samples": deleted, "first_day": first, "last_day": last},
        )
        return deleted

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
from collections.abc import Collection
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from slaprobe.model import NS_PER_S
from slaprobe.store.columnar import Tier, day_start_ns
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


# ---------------------------------------------------------------------------------------- columnar tier
# Retention of the columnar tier (store/columnar.py): ``store.raw_days`` drops a day's raw detail
# (``detail.parquet``: RTT/jitter/MOS ... fields), ``store.sla_days`` the whole day. Neither ever touches
# a day that a month not yet reported may read (its window reaches one day beyond the month on either
# side, for the lookaround), unless the caller forces that month by name: data of an unreported month
# goes only by an explicit decision. A month counts as reported once ``slaprobe report --month`` has
# produced it from this store (:func:`mark_reported`, recorded in the tier's manifest).
# Dropping raw detail never changes a report: the engine reads problem rows, rollups, heartbeats and
# the sent/received counts of ``samples.parquet``, all kept (tests/store/test_tier_retention.py).

REPORT_MARGIN_DAYS = 1  # a month's report reads this far beyond it (rule.lookaround_s is at most a day)


def months_needing(day: str, timezone: str) -> list[str]:
    """The local calendar months (``YYYY-MM``) whose report may read UTC day ``day``."""
    tz = ZoneInfo(timezone)
    d0 = dt.datetime.fromisoformat(day).replace(tzinfo=dt.UTC)
    first = (d0 - dt.timedelta(days=REPORT_MARGIN_DAYS)).astimezone(tz)
    last = (d0 + dt.timedelta(days=1 + REPORT_MARGIN_DAYS) - dt.timedelta(microseconds=1)).astimezone(tz)
    out, cur = [], first.date().replace(day=1)
    while cur <= last.date():
        out.append(f"{cur:%Y-%m}")
        cur = (cur + dt.timedelta(days=32)).replace(day=1)
    return out


def mark_reported(tier: Tier, month: str) -> None:
    """Record that ``month`` was reported from this store (retention may then prune its days)."""
    tier.set_reported(month)


@dataclass
class TierRetentionResult:
    raw_dropped: list[str]  # days whose raw detail went
    days_dropped: list[str]  # days removed entirely
    held: dict[str, list[str]]  # day -> the unreported months that keep it
    bytes_freed: int

    def to_dict(self) -> dict[str, object]:
        return {
            "raw_dropped": self.raw_dropped,
            "days_dropped": self.days_dropped,
            "held": self.held,
            "bytes_freed": self.bytes_freed,
        }


def apply_tier_retention(
    tier: Tier,
    now_ns: int,
    raw_days: int,
    sla_days: int,
    timezone: str,
    force: Collection[str] = (),
) -> TierRetentionResult:
    """Drop raw detail older than ``raw_days`` and days older than ``sla_days`` (0 = keep), except days
    an unreported month may read, unless that month is in ``force``. Each drop is logged at WARNING."""
    result = TierRetentionResult([], [], {}, 0)
    reported = set(tier.reported()) | set(force)
    today = now_ns // DAY_NS
    for day in tier.days():
        age = today - day_start_ns(dt.date.fromisoformat(day)) // DAY_NS
        drop_day = sla_days > 0 and age > sla_days
        drop_raw = raw_days > 0 and age > raw_days and tier.has_raw(day)
        if not (drop_day or drop_raw):
            continue
        blocking = [m for m in months_needing(day, timezone) if m not in reported]
        if blocking:
            result.held[day] = blocking
            continue
        if drop_day:
            result.bytes_freed += tier.drop_day(day)
            result.days_dropped.append(day)
        else:
            result.bytes_freed += tier.drop_raw(day)
            result.raw_dropped.append(day)
    if result.raw_dropped or result.days_dropped:
        log.warning(
            "retention: columnar tier dropped raw detail of %d UTC days (older than store.raw_days = %d)"
            " and %d whole days (older than store.sla_days = %d); %.1f MB freed",
            len(result.raw_dropped),
            raw_days,
            len(result.days_dropped),
            sla_days,
            result.bytes_freed / _MB,
            extra={"raw_dropped": result.raw_dropped, "days_dropped": result.days_dropped},
        )
    if result.held:
        months = sorted({m for ms in result.held.values() for m in ms})
        log.warning(
            "retention: %d UTC days kept past their retention because months %s are not reported yet"
            " (run `slaprobe report --month`, or `slaprobe store retention --force MONTH`)",
            len(result.held),
            ", ".join(months),
            extra={"held_months": months},
        )
    return result

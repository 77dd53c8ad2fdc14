"""Embedded-store retention: whole UTC days of months ended ``retention_days`` ago go, loudly, on record.

The journal holds one sample per UTC day at 12:00 from 2026-01-01 to 2026-04-10, a heartbeat beside
each, and the SLA rollups the write path keeps. "Now" is 2026-04-10 12:00 UTC.
"""

from __future__ import annotations

import asyncio
import calendar
import datetime as dt
import json
import logging
from dataclasses import replace

import pytest

from slaprobe import sample_network
from slaprobe.config import Config, StoreConfig
from slaprobe.daemon import Daemon
from slaprobe.inventory import Inventory
from slaprobe.model import NS_PER_S, Heartbeat, ProbeKind, Sample
from slaprobe.status import collect_status, render_status
from slaprobe.store.journal import JournalStore
from slaprobe.store.retention import NOTE_PRUNED, RetentionKeeper, prune_before_ns, pruned_ranges

DAY_NS = 86_400 * NS_PER_S


def _ns(y: int, m: int, d: int, h: int = 0) -> int:
    return calendar.timegm((y, m, d, h, 0, 0)) * NS_PER_S


NOW = _ns(2026, 4, 10, 12)
DAYS = [_ns(2026, 1, 1, 12) + k * DAY_NS for k in range(100)]  # 2026-01-01 .. 2026-04-10, 12:00 UTC


def _journal(path) -> JournalStore:  # type: ignore[no-untyped-def]
    j = JournalStore(path)
    for t in DAYS:
        j.write_samples([Sample(t, "t1", "probe-1", ProbeKind.ICMP, 5, 4)])
        j.write_heartbeats([Heartbeat(t, "probe-1", "default/icmp", 60.0, 1, 1, 0, 0, 1.0)])
    return j


def _counts(j: JournalStore) -> tuple[int, int, int]:
    db = j._db
    rollups = db.execute("SELECT count(*) FROM sla_hourly").fetchone()[0]
    return j.count_samples(), len(list(j.heartbeats(0, 2**62))), rollups


def test_the_horizon_is_the_start_of_the_month_holding_now_minus_retention() -> None:
    # now - 40 d = 2026-03-01 12:00 UTC: March; in UTC+8 it is 20:00 local, still March.
    assert prune_before_ns(NOW, 40, "UTC") == _ns(2026, 3, 1)
    # local March starts 2026-02-28 16:00 UTC: the UTC day holding February's last 8 local hours stays
    assert prune_before_ns(NOW, 40, "Asia/Shanghai") == _ns(2026, 2, 28)
    # now - 41 d = 2026-02-28 12:00 UTC (20:00 local, February): only January may go
    assert prune_before_ns(NOW, 41, "Asia/Shanghai") == _ns(2026, 1, 31)
    assert prune_before_ns(NOW, 41, "UTC") == _ns(2026, 2, 1)


@pytest.mark.parametrize(
    ("timezone", "pruned", "last_day"),
    [("UTC", 31 + 28, "2026-02-28"), ("Asia/Shanghai", 31 + 27, "2026-02-27")],
)
def test_retention_prunes_whole_days_of_old_months_and_records_them(
    tmp_path, caplog, timezone: str, pruned: int, last_day: str
) -> None:
    j = _journal(tmp_path / "journal.sqlite")
    before = _counts(j)
    keeper = RetentionKeeper(j, retention_days=40, timezone=timezone)
    with caplog.at_level(logging.WARNING):
        assert keeper.check(NOW) == pruned
    assert _counts(j) == (100 - pruned, before[1], before[2])  # heartbeats and rollups all kept
    kept = [s.time_ns for s in j.samples(0, 2**62)]
    assert kept == DAYS[pruned:]
    record = {"first_day": "2026-01-01", "last_day": last_day, "samples": pruned, "at_ns": NOW}
    assert pruned_ranges(j) == [record]
    [line] = [r.getMessage() for r in caplog.records if "retention" in r.getMessage()]
    assert f"DELETED {pruned} raw samples of UTC days 2026-01-01 .. {last_day}" in line

    # the next day nothing new is old enough; a month later, March goes and is recorded beside January
    assert keeper.check(NOW + DAY_NS) == 0
    later = _ns(2026, 5, 11, 12)  # - 40 d = 2026-04-01 12:00: March may go
    # UTC: 03-01 .. 03-31; UTC+8 (local March = 02-28 16:00 .. 03-31 16:00 UTC): 02-28 .. 03-30
    march = 31
    assert keeper.check(later) == march
    assert [r["samples"] for r in pruned_ranges(j)] == [pruned, march]
    j.close()


def test_nothing_is_pruned_by_default_but_a_large_journal_is_warned_about_daily(tmp_path, caplog) -> None:
    j = _journal(tmp_path / "journal.sqlite")
    keeper = RetentionKeeper(j, warn_mb=0.01, timezone="UTC")  # the defaults but a tiny warn size
    with caplog.at_level(logging.WARNING):
        for t in (NOW, NOW + 3600 * NS_PER_S, NOW + DAY_NS):  # two checks on one day, one the next
            assert keeper.check(t) == 0
    warnings = [r.getMessage() for r in caplog.records if "store.warn_mb" in r.getMessage()]
    assert len(warnings) == 2 and "nothing is deleted unless store.retention_days is set" in warnings[0]
    assert j.count_samples() == 100 and j.get_note(NOTE_PRUNED) is None
    assert StoreConfig().retention_days == 0  # the shipped default keeps everything
    j.close()


def test_status_names_the_pruned_days(tmp_path) -> None:
    j = _journal(tmp_path / "journal.sqlite")
    RetentionKeeper(j, retention_days=40, timezone="UTC").check(NOW)
    j.close()
    st = collect_status(tmp_path / "journal.sqlite", "embedded", now_ns=NOW)
    assert st.pruned == [{"first_day": "2026-01-01", "last_day": "2026-02-28", "samples": 59, "at_ns": NOW}]
    assert "retention pruned 59 samples of 2026-01-01 .. 2026-02-28 (UTC days)" in render_status(st, NOW)


def test_the_daemon_prunes_an_embedded_journal_by_its_config(tmp_path, caplog) -> None:
    """The daemon's own loop, on real time: samples of a year ago go, today's stay."""
    today = dt.datetime.now(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    old, new = (int(d.timestamp()) * NS_PER_S for d in (today - dt.timedelta(days=365), today))
    j = JournalStore(tmp_path / "journal.sqlite")
    j.write_samples([Sample(t, "t1", "probe-1", ProbeKind.ICMP, 5, 5) for t in (old, new)])
    j.close()
    cfg = Config(state_dir=str(tmp_path))
    cfg = replace(cfg, store=replace(cfg.store, retention_days=40), sla=replace(cfg.sla, timezone="UTC"))
    daemon = Daemon(cfg, inventory=Inventory(tuple(sample_network.generate(1))))

    async def once() -> None:
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(daemon._retention_loop(), 2.0)

    with caplog.at_level(logging.WARNING):
        asyncio.run(once())
    daemon.store.close()
    with JournalStore(tmp_path / "journal.sqlite", readonly=True) as j:
        assert [s.time_ns for s in j.samples(0, 2**62)] == [new]
        assert json.loads(j.get_note(NOTE_PRUNED) or "[]")[0]["samples"] == 1

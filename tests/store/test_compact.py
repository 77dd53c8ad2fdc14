"""Compaction (slaprobe/store/compact.py): closed UTC days move from the journal into the columnar tier;
a kill -9 at any step loses nothing and duplicates nothing; the shipper's rows stay within its reach.

Every check compares with the journal as written (``few_days``: lab month's writer, the daemon's shape):
the samples, heartbeats and hourly rollups read from both tiers must be exactly the original ones.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from slaprobe.model import ProbeKind, Sample
from slaprobe.sla.kpi import SCALARS, unpack_hist
from slaprobe.storage import read_samples
from slaprobe.store import journal as journal_module
from slaprobe.store.columnar import Tier, day_start_ns
from slaprobe.store.compact import CRASH_ENV, SHIPPER_CURSORS, STEPS, compact
from slaprobe.store.journal import JournalStore
from tests.helpers import write_lock_free

ROOT = Path(__file__).resolve().parents[2]
BEFORE = "2023-02-02"  # few_days covers UTC 2023-01-30 16:00 .. 2023-02-02 16:00: three days move, one stays
MOVED = ["2023-01-30", "2023-01-31", "2023-02-01"]


def _order(s: Sample) -> tuple:
    return (s.time_ns, s.terminal, s.vantage, s.kind.value)


def _hourly_from_journal(journal: JournalStore) -> dict[tuple, tuple]:
    rows = journal._db.execute(
        f"SELECT r.terminal, r.vantage, r.kind, h.hour_ns, {', '.join('h.' + c for c in SCALARS)},"
        " h.rtt_hist, h.jit_hist FROM sla_hourly h JOIN series r ON r.id = h.series"
    ).fetchall()
    return {r[:4]: (tuple(r[4:-2]), unpack_hist(r[-2]), unpack_hist(r[-1])) for r in rows}


def _hourly_from_tier(tier: Tier) -> dict[tuple, tuple]:
    out = {}
    for day in tier.days():
        for r in tier.read(day, "hourly").to_pylist():
            key = (r["terminal"], r["vantage"], r["kind"], r["hour_ns"])
            out[key] = (tuple(r[c] for c in SCALARS), unpack_hist(r["rtt_hist"]), unpack_hist(r["jit_hist"]))
    return out


def _everything(journal_path: Path) -> tuple[list[Sample], list, dict]:
    """(samples, heartbeats, hourly rollups) as both tiers hold them, as a reader sees them."""
    tier = Tier(journal_path.parent / "columnar")
    with JournalStore(journal_path, readonly=True) as j:
        samples = sorted(read_samples(j, tier, 0, 2**62), key=_order)
        held = set(tier.days())
        day = lambda ns: dt.datetime.fromtimestamp(ns // 10**9, dt.UTC).date().isoformat()  # noqa: E731
        beats = [h for h in j.heartbeats(0, 2**62) if day(h.time_ns) not in held] + tier.heartbeats(0, 2**62)
        journal_rollups = {k: v for k, v in _hourly_from_journal(j).items() if day(k[3]) not in held}
    tier_rollups = _hourly_from_tier(tier)
    assert not set(journal_rollups) & set(tier_rollups)
    key = lambda h: (h.time_ns, h.vantage, h.group)  # noqa: E731
    return samples, sorted(beats, key=key), {**journal_rollups, **tier_rollups}


@pytest.fixture(scope="module")
def original(few_days):  # type: ignore[no-untyped-def]
    with JournalStore(few_days.journal, readonly=True) as j:
        samples = sorted(j.samples(0, 2**62), key=_order)
        beats = sorted(j.heartbeats(0, 2**62), key=lambda h: (h.time_ns, h.vantage, h.group))
        rollups = _hourly_from_journal(j)
    return samples, beats, rollups


def _run_compact(journal: Path, crash_at: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SLAPROBE_CONFIG_SEARCH": "0"}
    env.pop(CRASH_ENV, None)
    if crash_at:
        env[CRASH_ENV] = crash_at
    cmd = [
        sys.executable,
        "-m",
        "slaprobe",
        "store",
        "compact",
        "--journal",
        str(journal),
        "--before",
        BEFORE,
        "--json",
    ]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("step", STEPS)
def test_kill_9_at_any_step_loses_and_duplicates_nothing(
    few_days, original, tmp_path: Path, step: str
) -> None:  # type: ignore[no-untyped-def]
    journal = few_days.copy(tmp_path)
    crashed = _run_compact(journal, crash_at=step)
    assert crashed.returncode == -9, crashed.stderr
    assert _everything(journal) == original  # readers see exactly the data, even mid-way
    done = _run_compact(journal)
    assert done.returncode == 0, done.stderr
    assert _everything(journal) == original
    assert Tier(tmp_path / "columnar").days() == MOVED
    with JournalStore(journal, readonly=True) as j:  # the moved days left the journal entirely
        assert all(s.time_ns >= day_start_ns(dt.date(2023, 2, 2)) for s in j.samples(0, 2**62))
        assert j.count_samples() == 2 * 2 * 960  # 16 hours of 2023-02-02, counted by hand
    assert json.loads(_run_compact(journal).stdout)["days"] == []  # idempotent: nothing left to do


def test_rows_the_shipper_has_not_sent_stay_in_the_journal(few_days, original, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    journal = few_days.copy(tmp_path)
    tier = Tier(tmp_path / "columnar", create=True)
    with JournalStore(journal) as j:
        result = compact(j, tier, dt.date(2023, 2, 2), shipping=True)
        assert result.days == [] and set(result.skipped) == set(MOVED)
        assert j.count_samples() == len(original[0])
        first_day_end = day_start_ns(dt.date(2023, 1, 31))
        shipped = j.id_before("samples", first_day_end, j.last_sample_id())
        beats = j._db.execute(
            "SELECT max(id) FROM heartbeats WHERE time_ns < ?", (first_day_end,)
        ).fetchone()[0]
        rolled = j._db.execute(
            "SELECT max(last_id) FROM sla_hourly WHERE hour_ns < ?", (first_day_end,)
        ).fetchone()[0]
        j.set_cursors(
            {
                SHIPPER_CURSORS["samples"]: shipped,
                SHIPPER_CURSORS["heartbeats"]: beats,
                SHIPPER_CURSORS["rollups"]: rolled,
            }
        )
        result = compact(j, tier, dt.date(2023, 2, 2), shipping=True)
    assert result.days == ["2023-01-30"] and set(result.skipped) == set(MOVED[1:])
    assert _everything(journal) == original


def test_the_delete_leaves_the_journal_writable_between_batches(  # type: ignore[no-untyped-def]
    few_days, original, tmp_path: Path, monkeypatch
) -> None:
    """The day leaves the journal in bounded transactions: between two of them another connection (the
    daemon's writer) takes the write lock at once, with no busy wait at all."""
    journal = few_days.copy(tmp_path)
    tier = Tier(tmp_path / "columnar", create=True)
    batch = 1000  # a whole day is 2 x 2 x 1440 = 5,760 samples
    monkeypatch.setattr(journal_module, "DELETE_BATCH", batch)
    monkeypatch.setattr(journal_module, "DELETE_WINDOW", batch)
    writable: list[bool] = []
    monkeypatch.setattr(journal_module, "_pause", lambda: writable.append(write_lock_free(journal)))
    with JournalStore(journal) as j:
        result = compact(j, tier, dt.date(2023, 2, 2))
    day = lambda ns: dt.datetime.fromtimestamp(ns // 10**9, dt.UTC).date().isoformat()  # noqa: E731
    per_day = Counter(day(s.time_ns) for s in original[0]) + Counter(day(h.time_ns) for h in original[1])
    # at least a pause per full batch of ids of every moved day and table (the day's ids are a range;
    # heartbeats of other days in it add windows)
    full = sum(
        n // batch
        for rows in (original[0], original[1])
        for d, n in Counter(day(r.time_ns) for r in rows).items()
        if d in MOVED
    )
    assert result.days == MOVED and result.samples + result.heartbeats == sum(per_day[d] for d in MOVED)
    assert full >= 10 and len(writable) >= full and all(writable)
    assert _everything(journal) == original


def test_late_rows_of_a_compacted_day_are_merged_into_it(few_days, original, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    journal = few_days.copy(tmp_path)
    tier = Tier(tmp_path / "columnar", create=True)
    late = Sample(day_start_ns(dt.date(2023, 1, 31)) + 5 * 10**9, "late-T", "probe-1", ProbeKind.ICMP, 5, 1)
    with JournalStore(journal) as j:
        compact(j, tier, dt.date(2023, 2, 2))
        j.write_samples([late])  # e.g. a probe host that wrote a day late
        assert compact(j, tier, dt.date(2023, 2, 2)).days == ["2023-01-31"]
        assert j.count_samples() == 2 * 2 * 960
    samples, beats, rollups = _everything(journal)
    assert samples == sorted([*original[0], late], key=_order)
    assert beats == original[1]
    hour = late.time_ns - late.time_ns % (3600 * 10**9)
    assert rollups.pop(("late-T", "probe-1", "icmp", hour))[0][:4] == (1, 1, 5, 1)
    assert rollups == original[2]
    assert tier.info("2023-01-31")["samples"] == 2 * 2 * 1440 + 1


def test_status_and_samples_read_both_tiers(few_days, original, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    journal = few_days.copy(tmp_path)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SLAPROBE_CONFIG_SEARCH": "0"}
    args = ["--journal", str(journal), "--since", "2023-01-30T00:00:00", "--until", "2023-02-03T00:00:00"]
    cmd = [sys.executable, "-m", "slaprobe", "samples", *args, "--format", "json"]
    before = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
    assert _run_compact(journal).returncode == 0
    after = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
    key = lambda r: (r["time"], r["terminal"], r["vantage"], r["kind"])  # noqa: E731
    rows_before, rows_after = json.loads(before), json.loads(after)
    assert len(rows_before) == len(original[0]) and sorted(rows_after, key=key) == sorted(
        rows_before, key=key
    )
    status = subprocess.run(
        [sys.executable, "-m", "slaprobe", "status", "--journal", str(journal), "--json"],
        env=env, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    tier = json.loads(status)["columnar"]
    assert tier["days"] == 3 and tier["samples"] == len(original[0]) - 2 * 2 * 960
    assert tier["first_day"] == "2023-01-30" and tier["last_day"] == "2023-02-01"

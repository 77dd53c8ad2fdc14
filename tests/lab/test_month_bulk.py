"""``lab month`` in bulk writes exactly what the per-sample path writes (issue #14: an hour for 1,820
terminals sample by sample). The per-sample path (``month.write_month`` through ``JournalStore``, whose
``Sample`` builders ``tests/lab/test_month_vs_daemon.py`` ties to a real daemon) is the reference:
every sample column, heartbeat, series and rollup row must be equal, for months that hold every kind
(icmp with reference targets, stamp, rtp), every outcome, slot ties, a probe-host outage, two vantages
and a time zone whose midnight is not a UTC hour."""

from __future__ import annotations

import dataclasses
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from slaprobe.inventory import Inventory
from slaprobe.lab.month import (
    MonthPlan,
    MonthProfile,
    hour_arrays,
    month_network,
    plan_month,
    samples_for,
    write_month,
)
from slaprobe.lab.month_bulk import to_samples
from slaprobe.lab.month_columnar import write_days
from slaprobe.lab.month_cycles import CycleSettings
from slaprobe.lab.month_journal import JournalBulkWriter
from slaprobe.lab.month_output import DAY_NS, MonthOutputError, generate_month, iter_days
from slaprobe.lab.month_output import Tier as Tier_
from slaprobe.model import Heartbeat, ProbeKind, Sample
from slaprobe.store.columnar import PARTS, Tier, day_of, heartbeats_table, plain, samples_table
from slaprobe.store.columnar_write import write_day
from slaprobe.store.journal import JournalStore

# 10 slots of 5 s for up to 9 targets a cycle: several targets share a slot (the sort's tie-break)
TIGHT = CycleSettings(60.0, slot_s=5.0, references=("198.18.200.1", "198.18.200.2"))
BUSY = dataclasses.replace(
    MonthProfile(),
    vantages=("probe-1", "probe-2"),
    outages_per_terminal=4.0,
    blackouts_per_terminal=3.0,
    skipped_per_terminal=40.0,
    degraded_share=0.5,
    degraded_probability=0.3,
    host_outage_day=1,
)


def _plan(profile: MonthProfile, days: int) -> MonthPlan:
    terms = month_network(8, seed=7)
    terms[1] = dataclasses.replace(terms[1], probes=(ProbeKind.ICMP, ProbeKind.STAMP))
    terms[2] = dataclasses.replace(terms[2], probes=(ProbeKind.RTP,))
    plan = plan_month(terms, "2022-12", profile)
    plan.count = days * 24 * 60  # the day before the month and the first days are enough
    return plan


def test_columns_are_the_per_sample_builders_samples() -> None:
    plan = _plan(BUSY, 2)
    first_day = 24 * 60  # December 1 (local): the host outage, the boundary outage
    for a in range(first_day, first_day + 24 * 60, 60):
        for vantage in BUSY.vantages:
            want = samples_for(plan, a, a + 60, vantage, np.random.default_rng(a), TIGHT)
            arrays, _ = hour_arrays(plan, a, a + 60, vantage, np.random.default_rng(a), TIGHT)
            assert to_samples(arrays) == want


def _dump(path: Path) -> dict[str, list[tuple]]:
    """Every stored row, ids of samples replaced by their series' key (multi-vantage order differs)."""
    db = sqlite3.connect(path)
    try:
        key = "r.terminal, r.vantage, r.kind, r.carrier, r.region, r.level, r.tier"
        samples = db.execute(
            f"SELECT {key}, s.* FROM samples s JOIN series r ON r.id = s.series ORDER BY r.vantage, s.id"
        ).fetchall()
        return {
            "samples": [(*row[:7], row[8], *row[10:]) for row in samples],  # without id and series id
            "series": db.execute("SELECT * FROM series ORDER BY id").fetchall(),
            "heartbeats": db.execute("SELECT * FROM heartbeats ORDER BY vantage, time_ns, grp").fetchall(),
            "hourly": db.execute(
                f"SELECT {key}, h.* FROM sla_hourly h JOIN series r ON r.id = h.series"
            ).fetchall(),
            "daily": db.execute(
                f"SELECT {key}, d.* FROM sla_daily d JOIN series r ON r.id = d.series"
            ).fetchall(),
        }
    finally:
        db.close()


def _without_ids(rows: dict[str, list[tuple]]) -> dict[str, set[tuple]]:
    """Rows as sets, without the columns that count batches (row ids, series ids, last_id)."""
    return {
        "samples": set(rows["samples"]),
        "series": {r[1:] for r in rows["series"]},
        "heartbeats": {r[1:] for r in rows["heartbeats"]},
        "hourly": {r[:8] + r[9:-1] for r in rows["hourly"]},
        "daily": {r[:8] + r[9:-1] for r in rows["daily"]},
    }


@pytest.mark.parametrize("timezone", ["Asia/Shanghai", "Asia/Kolkata"])
def test_bulk_journal_equals_the_per_sample_journal(tmp_path: Path, timezone: str) -> None:
    profile = dataclasses.replace(BUSY, timezone=timezone)
    plan = _plan(profile, 3)
    tags = Inventory(tuple(plan.terminals)).tags()
    with JournalStore(tmp_path / "ref.sqlite") as js:
        js.set_terminal_tags(tags)
        n_ref = write_month(plan, js, settings=TIGHT)
    n = 0
    with JournalBulkWriter(tmp_path / "bulk.sqlite", tags) as writer:
        for batch in iter_days(plan, TIGHT):
            assert {s - s % 86_400_000_000_000 for s in batch.samples.time_ns.tolist()} == {batch.day_ns}
            writer.write(batch.samples, batch.heartbeats)
            n += len(batch.samples)
    assert n == n_ref > 3 * 24 * 60 * 8
    ref, bulk = _dump(tmp_path / "ref.sqlite"), _dump(tmp_path / "bulk.sqlite")
    assert _without_ids(bulk) == _without_ids(ref)
    # and in the daemon's order: per vantage, samples in the order they were written
    assert bulk["samples"] == ref["samples"]
    assert len(ref["hourly"]) == len(bulk["hourly"]) and len(ref["daily"]) == len(bulk["daily"])
    errors = {r[9] for r in ref["samples"]}
    assert errors == {"ok", "partial", "timeout", "not_scheduled"}, errors
    assert {r[2] for r in ref["samples"]} == {"icmp", "stamp", "rtp"}


def _tier_dump(root: Path) -> dict[str, object]:
    """Every part of every day as Python rows (dictionary columns decoded), and the manifest's counts."""
    tier = Tier(root)
    out: dict[str, object] = {}
    for day in tier.days():
        for part in PARTS:
            out[f"{day}/{part}"] = plain(tier.read(day, part)).to_pylist()
        info = dict(tier.info(day) or {})
        info.pop("bytes")
        out[f"{day}/info"] = info
    return out


def test_bulk_columnar_days_equal_the_per_sample_days(tmp_path: Path) -> None:
    """The reference: the per-sample path's Sample objects through the tier's row-wise converter
    (``columnar.samples_table``) into the same day writer."""
    plan = _plan(BUSY, 3)
    tags = Inventory(tuple(plan.terminals)).tags()
    batches = list(iter_days(plan, TIGHT))
    n, infos = write_days(tmp_path / "bulk", batches, tags)
    rows = _Rows()
    assert write_month(plan, rows, settings=TIGHT) == n
    for day in sorted({b.day_ns for b in batches}):
        samples = [s for s in rows.samples if s.time_ns - s.time_ns % DAY_NS == day]
        beats = [h for h in rows.beats if h.time_ns - h.time_ns % DAY_NS == day]
        write_day(tmp_path / "ref", day_of(day), samples_table(samples, tags), heartbeats_table(beats))
    ref, bulk = _tier_dump(tmp_path / "ref"), _tier_dump(tmp_path / "bulk")
    assert len(infos) == 4  # the partial first and last UTC days, and two whole ones
    assert sum(len(v) for k, v in ref.items() if k.endswith("/problems")) > 100  # type: ignore[arg-type]
    assert bulk == ref


class _Rows:
    """A Store that keeps what it is given (the per-sample path's output, in writing order)."""

    def __init__(self) -> None:
        self.samples: list[Sample] = []
        self.beats: list[Heartbeat] = []

    def write_samples(self, samples: list[Sample]) -> None:
        self.samples += samples

    def write_heartbeats(self, beats: list[Heartbeat]) -> None:
        self.beats += beats


@pytest.mark.parametrize("tier", list(Tier_))
def test_a_second_run_is_refused_and_replaces_on_request(tmp_path: Path, tier: Tier_) -> None:
    """Issue #14: running again appended a second copy of every sample."""
    profile = dataclasses.replace(MonthProfile(), interval_s=3600)  # one sample an hour: fast
    _, first = generate_month(2, "2022-02", profile, tmp_path, tier=tier)
    with pytest.raises(MonthOutputError, match="already exists"):
        generate_month(2, "2022-02", profile, tmp_path, tier=tier)
    _, again = generate_month(2, "2022-02", profile, tmp_path, replace=True, tier=tier)
    if tier is Tier_.JOURNAL:
        with JournalStore(tmp_path / "journal.sqlite", readonly=True) as js:
            stored = js.count_samples()
    else:
        tier_dir = Tier(tmp_path / "columnar")
        stored = sum(int(tier_dir.info(d)["samples"]) for d in tier_dir.days())  # type: ignore[index]
    assert stored == first == again > 2 * 29 * 24  # Feb 2022 and a day each side, minus unmeasured


def test_rollups_computed_in_chunks_equal_one_pass(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The day writer rolls up at most ``ROLLUP_CHUNK`` rows at a time (memory of 20,000-terminal days);
    chunks cut between series must give the very rows of one pass."""
    import slaprobe.store.columnar_write as columnar_write

    plan = _plan(BUSY, 2)
    tags = Inventory(tuple(plan.terminals)).tags()
    batches = list(iter_days(plan, TIGHT))
    write_days(tmp_path / "one", batches, tags)
    monkeypatch.setattr(columnar_write, "ROLLUP_CHUNK", 997)  # several series per chunk, cut mid-series
    write_days(tmp_path / "chunked", batches, tags)
    one, chunked = _tier_dump(tmp_path / "one"), _tier_dump(tmp_path / "chunked")
    assert sum(len(v) for k, v in one.items() if k.endswith("/hourly")) > 8 * 24  # type: ignore[arg-type]
    assert chunked == one

"""``slaprobe lab month``: a planned month written where the daemon would have written it, in bulk.

Why a module of its own: planning (``month``) says *what* happens, ``month_bulk`` turns one batch into
columns, and this module decides *where* the days go: the SQLite journal (``month_journal``, every row
as the daemon's writer stores it) or InfluxDB (the per-sample path with its ``sla_hourly`` rollups).
Days are UTC days, the unit every store tier is cut by; each is handed over once it is complete, so
memory stays one day of one vantage.

The random draws stay those of ``month.write_month`` (one generator per hour and vantage, seeded in that
order from the profile's seed), so both paths write the same values for a seed.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from slaprobe.lab.month import (
    MonthPlan,
    MonthProfile,
    MonthProfileError,
    hour_arrays,
    month_network,
    plan_month,
    write_month,
    write_side_files,
)
from slaprobe.lab.month_bulk import SampleArrays, concat
from slaprobe.lab.month_cycles import CycleSettings
from slaprobe.model import NS_PER_S, Heartbeat

DAY_NS = 86_400 * NS_PER_S


class Tier(enum.StrEnum):
    """Where ``lab month`` puts the samples of an embedded store."""

    JOURNAL = "journal"  # the SQLite journal: every row as the daemon's writer stores it
    COLUMNAR = "columnar"  # closed UTC days in the columnar tier: what compaction leaves of a past month


class MonthOutputError(MonthProfileError):
    """The output already holds a month (refused unless asked to replace it)."""


@dataclass
class DayBatch:
    """Everything one vantage wrote about one UTC day: samples (daemon order), then heartbeats."""

    vantage: str
    day_ns: int
    samples: SampleArrays
    heartbeats: list[Heartbeat] = field(default_factory=list)


def iter_days(
    plan: MonthPlan,
    settings: CycleSettings | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Iterator[DayBatch]:
    """The plan's samples and heartbeats by UTC day and vantage, in time order (days, then vantages).

    Built an hour of window intervals at a time with the same generators as ``month.write_month``;
    a day is yielded as soon as the hours written reach its end.
    """
    per_hour = 3600 // plan.profile.interval_s
    rng = np.random.default_rng(plan.profile.seed)
    hours = plan.count // per_hour
    parts: dict[int, dict[str, tuple[list[SampleArrays], list[Heartbeat]]]] = {}

    def done(day: int) -> Iterator[DayBatch]:
        by_vantage = parts.pop(day)  # the hourly parts go as soon as a day's columns are joined
        for vantage in plan.profile.vantages:
            got = by_vantage.pop(vantage, None)
            if got is not None and (got[0] or got[1]):
                hours_of_day, beats = got
                joined = concat(hours_of_day)
                hours_of_day.clear()
                yield DayBatch(vantage, day, joined, beats)

    for h in range(hours):
        a, b = h * per_hour, (h + 1) * per_hour
        for vantage in plan.profile.vantages:
            seed = np.random.default_rng(rng.integers(1 << 62))
            arrays, beats = hour_arrays(plan, a, b, vantage, seed, settings)
            days = arrays.time_ns - arrays.time_ns % DAY_NS  # rows are in time order
            if len(days) and days[0] == days[-1]:
                parts.setdefault(int(days[0]), {}).setdefault(vantage, ([], []))[0].append(arrays)
            else:
                for day in np.unique(days).tolist():
                    mine = parts.setdefault(day, {}).setdefault(vantage, ([], []))
                    mine[0].append(arrays.take(days == day))
            for hb in beats:
                parts.setdefault(hb.time_ns - hb.time_ns % DAY_NS, {}).setdefault(vantage, ([], []))[
                    1
                ].append(hb)
        reached = plan.start_ns + b * plan.interval_ns
        for day in sorted(d for d in parts if d + DAY_NS <= reached):
            yield from done(day)
        if progress is not None:
            progress(h + 1, hours)
    for day in sorted(parts):
        yield from done(day)


def _refuse_existing(path: Path, replace: bool) -> None:
    """A second run into the same journal would append a second copy of every sample (issue #14)."""
    if not path.exists():
        return
    if not replace:
        raise MonthOutputError(
            f"{path} already exists: writing a month into it again would store every sample twice. "
            "Choose another --out/--journal, delete it, or pass --replace."
        )
    for p in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        p.unlink(missing_ok=True)


def generate_month(
    terminals: int,
    month: str,
    profile: MonthProfile,
    out_dir: str | Path,
    store_kind: str = "embedded",
    journal: str | Path | None = None,
    influx_cfg: Any = None,
    progress: Callable[[int, int], None] | None = None,
    schedule: Any = None,
    replace: bool = False,
    tier: Tier = Tier.COLUMNAR,
    columnar_dir: str | Path | None = None,
) -> tuple[MonthPlan, int]:
    """``slaprobe lab month``: the example province network of ``terminals``, planned and written.

    Side files go to ``out_dir``; samples to the journal at ``journal`` (default ``out_dir/journal.sqlite``)
    or to InfluxDB (``influx_cfg``, with the ``sla_hourly`` rollups). ``schedule`` (a
    ``config.ScheduleConfig``; default: its defaults) shapes the cycles like the daemon's. An existing
    journal is refused unless ``replace`` (then it is deleted first).

    ``tier`` (embedded store): ``columnar`` writes every day into the columnar tier at ``columnar_dir``
    (default ``out_dir/columnar``, the daemon's place under its state dir): a past month, compacted,
    is what the daemon ends up with. ``journal`` writes every row into the SQLite journal instead.
    """
    from slaprobe.inventory import Inventory

    path = Path(journal) if journal else Path(out_dir) / "journal.sqlite"
    root = Path(columnar_dir) if columnar_dir else Path(out_dir) / "columnar"
    if store_kind != "influx":  # both, whichever tier: readers join the tier's days to the journal's
        from slaprobe.lab.month_columnar import refuse_existing_tier

        _refuse_existing(path, replace)
        refuse_existing_tier(root, replace)
    plan = plan_month(month_network(terminals, profile.seed), month, profile)
    settings = CycleSettings.from_schedule(schedule, float(profile.interval_s))
    write_side_files(plan, out_dir)
    tags = Inventory(tuple(plan.terminals)).tags()  # what the daemon hands the journal
    if store_kind == "influx":
        from slaprobe.store.influx import InfluxStore
        from slaprobe.store.influx_read import InfluxRollupWriter

        store = InfluxStore(influx_cfg, tags, batch_size=20_000)
        try:
            n = write_month(plan, store, InfluxRollupWriter(store.client), progress, settings)
        finally:
            store.close()
        return plan, n
    if tier is Tier.COLUMNAR:
        from slaprobe.lab.month_columnar import write_days
        from slaprobe.store.journal import JournalStore

        with JournalStore(path):  # the daemon's journal, every closed day compacted out of it
            pass
        n, _ = write_days(root, iter_days(plan, settings, progress), tags)
        return plan, n
    from slaprobe.lab.month_journal import JournalBulkWriter

    n = 0
    with JournalBulkWriter(path, tags) as writer:
        for batch in iter_days(plan, settings, progress):
            writer.write(batch.samples, batch.heartbeats)
            n += len(batch.samples)
    return plan, n

"""Wiring of the two storage tiers for the CLI and the daemon: where the tier is, compaction and tier
retention runs, and reading samples from both tiers (``slaprobe samples``).

The columnar tier lives beside the journal: ``<state_dir>/<store.columnar_dir>`` (default
``columnar``), or, when a command is given ``--journal FILE``, ``<FILE's folder>/<store.columnar_dir>``
so a copied state directory reads as a whole. See README "Storage".
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Collection
from pathlib import Path

from slaprobe.config import Config
from slaprobe.model import ProbeKind, Sample
from slaprobe.store.columnar import Tier
from slaprobe.store.columnar_read import journal_ranges
from slaprobe.store.compact import CompactResult, compact
from slaprobe.store.journal import JournalStore
from slaprobe.store.retention import TierRetentionResult, apply_tier_retention


def tier_path(config: Config, journal: str | Path | None = None) -> Path:
    if journal:
        return Path(journal).parent / config.store.columnar_dir
    return config.columnar_path


def default_before(config: Config, now_ns: int | None = None) -> dt.date:
    """The first UTC day compaction leaves in the journal: today minus ``store.compact_keep_days``."""
    now_ns = time.time_ns() if now_ns is None else now_ns
    today = dt.datetime.fromtimestamp(now_ns // 10**9, dt.UTC).date()
    return today - dt.timedelta(days=config.store.compact_keep_days)


def run_compaction(
    config: Config,
    journal: str | Path | None = None,
    before: dt.date | None = None,
    now_ns: int | None = None,
) -> CompactResult:
    """Compact the journal's closed days before ``before`` (default :func:`default_before`; never today
    or later: a day still being written is not closed)."""
    limit = default_before(config, now_ns) if before is None else before
    today = dt.datetime.fromtimestamp((time.time_ns() if now_ns is None else now_ns) // 10**9, dt.UTC).date()
    limit = min(limit, today)
    with JournalStore(journal or config.journal_path) as j:
        return compact(j, Tier(tier_path(config, journal)), limit, shipping=config.store.kind == "influx")


def run_tier_retention(
    config: Config, journal: str | Path | None = None, force: Collection[str] = (), now_ns: int | None = None
) -> TierRetentionResult:
    tier = Tier(tier_path(config, journal))
    now_ns = time.time_ns() if now_ns is None else now_ns
    return apply_tier_retention(
        tier, now_ns, config.store.raw_days, config.store.sla_days, config.sla.timezone, force
    )


def read_samples(
    journal: JournalStore,
    tier: Tier,
    start_ns: int,
    end_ns: int,
    terminals: Collection[str] | None = None,
    kinds: Collection[ProbeKind] | None = None,
) -> list[Sample]:
    """Samples of ``[start_ns, end_ns)`` from both tiers in time order: the tier's days from the tier,
    every other hour from the journal (a day in both is read once, from the tier)."""
    out: list[Sample] = list(tier.samples(start_ns, end_ns, terminals, kinds)) if tier.exists() else []
    ranges = journal_ranges(tier, start_ns, end_ns)  # everything when the tier holds nothing
    for a, b in ranges:
        out.extend(journal.samples(a, b, terminals, kinds))
    out.sort(key=lambda s: s.time_ns)  # stable: a day's rows keep their store's order
    return out


__all__ = ["default_before", "read_samples", "run_compaction", "run_tier_retention", "tier_path"]

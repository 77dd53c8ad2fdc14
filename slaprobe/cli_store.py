"""``slaprobe store``: check InfluxDB, compact closed days into the columnar tier, apply its retention."""

from __future__ import annotations

import datetime as dt
import json
import re
import sys

import click

from slaprobe.cli_common import (
    _fail,
    _load_config,
    config_option,
    journal_option,
)
from slaprobe.store.journal import JournalError


@click.group()
def store() -> None:
    """The stores: check InfluxDB, compact closed days into the columnar tier, apply its retention."""


@store.command("compact")
@config_option
@journal_option
@click.option(
    "--before", "before", help="Compact UTC days before this one, YYYY-MM-DD [today - compact_keep_days]."
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable result.")
def store_compact(config_path: str | None, journal: str | None, before: str | None, as_json: bool) -> None:
    """Move closed UTC days from the SQLite journal into the columnar tier (crash-safe, idempotent)."""
    from slaprobe.storage import run_compaction
    from slaprobe.store.columnar import TierError

    cfg = _load_config(config_path)
    try:
        day = dt.date.fromisoformat(before) if before else None
    except ValueError:
        raise click.BadParameter(f"{before!r}: expected YYYY-MM-DD", param_hint="--before") from None
    try:
        result = run_compaction(cfg, journal, day)
    except (JournalError, TierError, OSError) as exc:
        _fail(exc)
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2))
        return
    click.echo(
        f"compacted {len(result.days)} UTC days: {result.samples} samples, {result.heartbeats} heartbeats"
    )
    for day_, why in sorted(result.skipped.items()):
        click.echo(f"kept {day_} in the journal: {why}")


@store.command("retention")
@config_option
@journal_option
@click.option(
    "--force", "force", multiple=True, metavar="YYYY-MM", help="Also prune days of this unreported month."
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable result.")
def store_retention(
    config_path: str | None, journal: str | None, force: tuple[str, ...], as_json: bool
) -> None:
    """Apply store.raw_days / store.sla_days to the columnar tier; days an unreported month reads are kept
    unless that month is named with --force."""
    from slaprobe.storage import run_tier_retention

    cfg = _load_config(config_path)
    for month in force:
        if not re.fullmatch(r"\d{4}-\d{2}", month):
            raise click.BadParameter(f"{month!r}: expected YYYY-MM", param_hint="--force")
    result = run_tier_retention(cfg, journal, force)
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2))
        return
    click.echo(
        f"dropped raw detail of {len(result.raw_dropped)} days and {len(result.days_dropped)} whole days"
        f" ({result.bytes_freed / 2**20:.1f} MB)"
    )
    for day_, months in sorted(result.held.items()):
        click.echo(f"kept {day_}: month(s) {', '.join(months)} not reported (--force MONTH to prune anyway)")


@store.command("check")
@config_option
@click.option("--json", "as_json", is_flag=True, help="Machine-readable report.")
def store_check(config_path: str | None, as_json: bool) -> None:
    """Is InfluxDB reachable, which API does it speak, can these credentials write and read? Exit 1 if not."""
    from slaprobe.store.check import check_store

    cfg = _load_config(config_path)
    report = check_store(cfg.influx, cfg.vantage)
    click.echo(json.dumps(report.to_dict(), indent=2) if as_json else report.render())
    sys.exit(0 if report.ok else 1)

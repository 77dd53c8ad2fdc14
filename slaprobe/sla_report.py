"""Wiring of ``slaprobe report``: config -> store read path -> SLA engine -> MonthReport.

Which store is read: ``--store`` if given, else the config's ``store.kind`` (``influx`` reads InfluxDB,
``embedded`` the journal). The rule is the config's ``sla`` section (preset plus overrides), unless a
preset is named on the command line. Targets per tier come from the contract file when one is
configured (``sla.contract``), so "below target" means the same thing as in the money reports.

A month in which no interval of any selected terminal could be judged is an error (``NoDataError``,
exit 1) naming the month, the store and what the store holds for it, unless ``allow_empty``: an
all-unknown report of a month nobody measured must never pass for a clean month.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from slaprobe.config import Config
from slaprobe.configload import ConfigError
from slaprobe.inventory import Inventory, load_inventory
from slaprobe.sla.engine import MonthReport, Period, month_period, report_month
from slaprobe.sla.inputs import SlaSource
from slaprobe.sla.maintenance import MaintenanceWindow, load_maintenance
from slaprobe.sla.periods import Month
from slaprobe.sla.reconcile import MonthlyAvailability
from slaprobe.sla.rule import Rule, rule_from, rule_from_config


@dataclass(frozen=True)
class ReportRequest:
    month: str
    store: str | None = None  # "embedded" | "influx" | None = config
    journal: str | None = None
    inventory: str | None = None
    maintenance: str | None = None
    preset: str | None = None
    carrier: str | None = None
    region: str | None = None
    allow_empty: bool = False  # report a month with no judged interval instead of raising NoDataError


class NoDataError(Exception):
    """Nothing in the selection could be judged for the month (the CLI exits 1)."""


def store_label(config: Config, store: str | None = None, journal: str | None = None) -> str:
    """Which store a report reads, as a person would name it in an error message."""
    if (store or config.store.kind) == "influx":
        return f"the influx store ({config.influx.url}, database {config.influx.database})"
    return f"the embedded store ({Path(journal) if journal else config.journal_path})"


def judged_s(report: MonthReport) -> int:
    return sum(r.measured_s for r in report.results)


def owed_s(report: MonthReport) -> int:
    """Seconds the selection had to be measured: in service, outside maintenance."""
    return sum(max(0, r.in_service_s - r.maintenance_s) for r in report.results)


def unmeasured_month(report: MonthReport) -> bool:
    """Something was in service and nothing of it was judged. A month in which no terminal of the
    selection was in service owes nothing and is not "empty" (a year's first terminals open in May:
    January to April settle at zero, they are not missing data)."""
    return owed_s(report) > 0 and judged_s(report) == 0


def no_data_message(report: MonthReport, heartbeats: int, where: str) -> str:
    """What the store holds for a month in which nothing could be judged, and what to do about it."""
    month, n = report.period.label, len(report.terminals)
    kinds = ", ".join(k.value for k in report.rule.kinds) if report.rule.kinds else "any kind"
    q = report.quality
    samples = int(q.scalars["samples"].sum()) if q is not None and len(report.terminals) else 0
    measured = int(q.scalars["measured"].sum()) if q is not None and len(report.terminals) else 0
    if n == 0:
        found = "no terminal of the selection is in service in the month"
    elif heartbeats == 0 and samples == 0:
        found = f"no heartbeats and no samples ({kinds}) of the {n} terminals in service"
    elif heartbeats == 0:
        found = f"{samples} samples ({kinds}) but no heartbeats, so no interval can be trusted"
    elif samples == 0:
        found = f"{heartbeats} heartbeats but no samples ({kinds}) of the {n} terminals in service"
    else:
        found = (
            f"{heartbeats} heartbeats and {samples} samples ({measured} measured), but no interval could "
            "be judged (do the heartbeats cover these terminals' probe groups and kinds?)"
        )
    return (
        f"{month}: no availability can be judged from {where}: {found}. "
        "Pass --allow-empty to report or settle the month as unmeasured."
    )


@contextlib.contextmanager
def open_source(config: Config, store: str | None = None, journal: str | None = None) -> Iterator[SlaSource]:
    kind = store or config.store.kind
    if kind == "influx":
        from slaprobe.store.influx import InfluxClient
        from slaprobe.store.influx_read import InfluxSlaSource

        client = InfluxClient(config.influx)
        try:
            yield InfluxSlaSource(client)
        finally:
            client.close()
        return
    from slaprobe.store.journal import JournalError, JournalStore
    from slaprobe.store.sla_journal import JournalSlaSource, RollupError

    path = Path(journal) if journal else config.journal_path
    if not path.exists():
        raise JournalError(f"{path}: no journal here (nothing has been stored yet)")
    # Read paths never write: opened read-only, a zero-byte, foreign or damaged file is reported, not
    # "migrated" into an empty journal (only the daemon and `lab` create or migrate one).
    j = JournalStore(path, readonly=True)
    try:
        source: SlaSource = JournalSlaSource(j)
        from slaprobe.storage import tier_path
        from slaprobe.store.columnar import Tier

        tier = Tier(tier_path(config, journal))
        if tier.exists():  # closed days compacted into the columnar tier: read both (README "Storage")
            from slaprobe.store.columnar_read import TieredSlaSource

            source = TieredSlaSource(source, tier)
        yield source
    except sqlite3.DatabaseError as exc:
        raise JournalError(
            f"{path}: cannot read the journal ({exc}): truncated or damaged? "
            f"`sqlite3 {path} 'PRAGMA integrity_check'` says which pages"
        ) from None
    except RollupError as exc:
        raise JournalError(str(exc)) from None
    finally:
        j.close()


def rule_for(config: Config, preset: str | None) -> Rule:
    return rule_from(preset) if preset else rule_from_config(config.sla)


def tier_targets(config: Config) -> dict[str, float]:
    if not config.sla.contract:
        return {}
    from slaprobe.sla.contract_config import load_contract

    contract = load_contract(config.resolve(config.sla.contract))
    return {name: float(tier.availability_target) for name, tier in contract.tiers.items()}


@dataclass(frozen=True)
class RequestInputs:
    """What a report request resolves to before the store is read (shared with the HTML report)."""

    rule: Rule
    period: Period
    inventory: Inventory
    windows: tuple[MaintenanceWindow, ...]


def resolve_request(config: Config, req: ReportRequest) -> RequestInputs:
    rule = rule_for(config, req.preset)
    period = month_period(req.month, config.sla.timezone)
    inventory = load_inventory(req.inventory or config.resolve(config.inventory))
    maint_path = req.maintenance or (
        config.resolve(config.sla.maintenance) if config.sla.maintenance else None
    )
    windows = load_maintenance(maint_path, period.tz) if maint_path else ()
    return RequestInputs(rule, period, inventory, tuple(windows))


def check_filters(inventory: Inventory, carrier: str | None, region: str | None) -> None:
    """A --carrier / --region no terminal has is a typo, not an empty report (exit 2, known names listed)."""
    problems = []
    for option, value, known in (
        ("--carrier", carrier, {t.carrier for t in inventory}),
        ("--region", region, {t.region for t in inventory}),
    ):
        if value is not None and value not in known:
            problems.append(
                f"{option} {value!r}: no terminal of the inventory has it (known: {', '.join(sorted(known))})"
            )
    if problems:
        raise ConfigError("command line", problems)


def build_report(config: Config, req: ReportRequest) -> MonthReport:
    """Everything ``slaprobe report`` computes; raises ConfigError / JournalError / InfluxError, and
    NoDataError when nothing of the selection could be judged (unless ``req.allow_empty``)."""
    r = resolve_request(config, req)
    check_filters(r.inventory, req.carrier, req.region)
    with open_source(config, req.store, req.journal) as source:
        refuse_pruned(source, r.period)
        report = report_month(
            source,
            r.inventory.terminals,
            r.rule,
            r.period,
            r.windows,
            tier_targets(config),
            min_measured_share=config.sla.min_measured_share,
        ).filtered(carrier=req.carrier, region=req.region)
        ensure_data(report, source, config, req)
    return report


def refuse_pruned(source: SlaSource, period: Period) -> None:
    """A journal whose retention deleted raw samples of this period cannot re-judge it: without the
    problem rows every interval would look available. Refuse, naming the days (see store/retention.py)."""
    journal = getattr(source, "journal", None)
    if journal is None:
        return
    from slaprobe.store.journal import JournalError
    from slaprobe.store.retention import pruned_in

    hit = pruned_in(journal, period.start_ns, period.end_ns)
    if hit:
        days = ", ".join(f"{r['first_day']} .. {r['last_day']}" for r in hit)
        raise JournalError(
            f"{journal.path}: raw samples of UTC days {days} were pruned (store.retention_days): "
            f"{period.label} cannot be re-judged from this journal; use the report made before the prune"
        )


def ensure_data(report: MonthReport, source: SlaSource, config: Config, req: ReportRequest) -> None:
    """Raise NoDataError when nothing of ``report`` was judged (unless the request allows it)."""
    if req.allow_empty or not unmeasured_month(report):
        return
    beats = len(source.sla_heartbeats(report.period.start_ns, report.period.end_ns))
    raise NoDataError(no_data_message(report, beats, store_label(config, req.store, req.journal)))


def merge_handover(path: str | Path, report: MonthReport) -> None:
    """Put this month's per-terminal figures into the money side's JSON-lines hand-over file."""
    from slaprobe.sla.availability_file import read_availability, write_availability
    from slaprobe.sla.periods import Month

    if report.filters:
        raise ValueError("the hand-over file takes whole months only (drop --carrier / --region)")
    data = dict(read_availability(path)) if Path(path).exists() else {}
    data[Month.parse(report.period.label)] = {r.terminal: r for r in report.results}
    write_availability(path, data)


def monthly_availability(
    config: Config,
    months: Iterable[Month],
    *,
    store: str | None = None,
    journal: str | None = None,
    inventory: str | None = None,
    allow_empty: bool = False,
) -> MonthlyAvailability:
    """Each month's per-terminal availability computed from the store: what the money commands settle.

    The same engine and rule as ``slaprobe report`` (config ``sla.*``), month by month, so a figure in a
    reconciliation is always the figure the month's report printed.
    Months with nothing judged raise NoDataError naming every such month, unless ``allow_empty``.
    """
    out: MonthlyAvailability = {}
    empty: list[str] = []
    for month in months:
        req = ReportRequest(str(month), store, journal, inventory, allow_empty=True)
        report = build_report(config, req)
        if unmeasured_month(report):
            empty.append(str(month))
        out[month] = {r.terminal: r for r in report.results}
    if empty and not allow_empty:
        where = store_label(config, store, journal)
        raise NoDataError(
            f"{', '.join(empty)}: no availability can be judged from {where} (no judged interval of any "
            "terminal). Pass --allow-empty to settle these months as unmeasured (contract 'unmeasured')."
        )
    return out

"""Wiring of ``slaprobe outages``: the open and recent outages of a time range, with their evidence.

For the ticket to the carrier, the list must be the very outages the month report will bill, so it is
computed the same way: the same store read path (``sla_report.open_source``: the journal or InfluxDB),
the same rule, inventory and maintenance windows (``sla_report.resolve_request``'s sources), and
``engine.report_month`` over a ``Period`` of whole hours covering ``[since, until)`` (the engine takes any
range, and looks ``rule.lookaround_s`` beyond it so an outage keeps its true start and end). Listed are
the outages overlapping ``[since, until)``; one whose judged data ends while still unavailable
(``Outage.ongoing``) is **open**: its end is unknown, and ``last_judged`` says how far the data reaches.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from slaprobe.config import Config
from slaprobe.inventory import load_inventory
from slaprobe.model import NS_PER_S
from slaprobe.sla.engine import Period, PeriodError, report_month
from slaprobe.sla.kpi import HOUR_NS
from slaprobe.sla.maintenance import load_maintenance
from slaprobe.sla.types import Outage
from slaprobe.sla_report import check_filters, open_source, refuse_pruned, rule_for
from slaprobe.terminal import Terminal


@dataclass(frozen=True)
class OutagesRequest:
    since_ns: int
    until_ns: int
    carrier: str | None = None
    region: str | None = None
    store: str | None = None
    journal: str | None = None
    inventory: str | None = None
    maintenance: str | None = None
    preset: str | None = None


@dataclass(frozen=True)
class OutageList:
    since_ns: int
    until_ns: int
    timezone: str
    rule: str  # rule.describe()
    outages: tuple[Outage, ...]  # overlapping [since, until), sorted by start, terminal
    terminals: dict[str, Terminal]
    filters: dict[str, str]
    source: str  # which store was read


def covering_period(since_ns: int, until_ns: int, timezone: str) -> Period:
    """Whole UTC hours covering [since, until) (the engine's hourly rollups need them)."""
    if until_ns <= since_ns:
        raise PeriodError("--until must be later than --since")
    start = since_ns - since_ns % HOUR_NS
    end = -(-until_ns // HOUR_NS) * HOUR_NS
    label = "/".join(
        dt.datetime.fromtimestamp(x / NS_PER_S, dt.UTC).strftime("%Y-%m-%dT%H:%MZ") for x in (start, end)
    )
    return Period(label, start, end, timezone)


def build_outages(config: Config, req: OutagesRequest) -> OutageList:
    """Raises ConfigError / JournalError / InfluxError / PeriodError / MaintenanceError naming the input."""
    from slaprobe.sla_report import store_label

    rule = rule_for(config, req.preset)
    period = covering_period(req.since_ns, req.until_ns, config.sla.timezone)
    inventory = load_inventory(req.inventory or config.resolve(config.inventory))
    check_filters(inventory, req.carrier, req.region)
    maint = req.maintenance or (config.resolve(config.sla.maintenance) if config.sla.maintenance else None)
    windows = load_maintenance(maint, period.tz) if maint else ()
    with open_source(config, req.store, req.journal) as source:
        refuse_pruned(source, period)
        report = report_month(source, inventory.terminals, rule, period, windows).filtered(
            carrier=req.carrier, region=req.region
        )
    chosen = tuple(
        o for o in report.outages if o.start_ns < req.until_ns and (o.ongoing or o.end_ns > req.since_ns)
    )
    filters = {k: v for k, v in (("carrier", req.carrier), ("region", req.region)) if v is not None}
    return OutageList(
        req.since_ns,
        req.until_ns,
        config.sla.timezone,
        rule.describe(),
        chosen,
        {t.id: t for t in inventory.terminals},
        filters,
        store_label(config, req.store, req.journal),
    )

"""From the SLA engine's ``MonthReport`` (and, with a contract, the money side) to the HTML ``MonthView``.

The figures are the engine's: groups and outages are taken as the report holds them, so the page and
``--format json`` print the same numbers. Two things the JSON does not carry are derived here:

* **per-day cells** for the heat map, from the interval verdicts of the month itself (the engine's
  public ``prepare`` + ``evaluate_terminal(keep_states=True)`` over the same inputs), so the days of a
  region add up exactly to its month; ``compute_month`` does not return the verdicts, hence the second
  evaluation (a ``keep_states`` option on the engine would save it);
* **quality distributions** per carrier, from the engine's per-terminal RTT / jitter histograms
  (``MonthReport.quality``) with the engine's own ``percentile_from_hist``, so the p50 / p95 shown equal
  the report's carrier KPIs.

Money: with a contract, the month's deductions (with their reasons) and each carrier's gross / deducted /
net come from ``sla.contract.settle_month``; when the availability hand-over file holds every earlier
month of the year, the full year-to-date reconciliation of the month is shown instead.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from slaprobe import sample_network
from slaprobe.config import Config
from slaprobe.report.i18n_html import carrier_name
from slaprobe.report.i18n_money import label as money_label
from slaprobe.report.money_table import Document, table
from slaprobe.report.reconcile import (
    deduction_reason,
    fee_bases,
    reconciliation_document,
    unmeasured_note,
    unmeasured_table,
)
from slaprobe.report.view import (
    CarrierQuality,
    Distribution,
    Exclusion,
    MonthView,
    RuleView,
    daily_cells,
    loss_bin,
)
from slaprobe.sla.availability import evaluate_terminal
from slaprobe.sla.contract import join_incidents, settle_month
from slaprobe.sla.contract_config import Contract, load_contract
from slaprobe.sla.engine import MonthReport, compute_month, gather_inputs, window_for
from slaprobe.sla.inputs import SlaInputs
from slaprobe.sla.intervals import prepare
from slaprobe.sla.kpi import percentile_from_hist
from slaprobe.sla.maintenance import MaintenanceWindow
from slaprobe.sla.periods import Month, Period
from slaprobe.sla.reconcile import CarrierSettlement, MonthlyAvailability, Reconciliation, reconcile
from slaprobe.sla.types import TerminalAvailability
from slaprobe.sla_report import (
    ReportRequest,
    ensure_data,
    open_source,
    refuse_pruned,
    resolve_request,
    tier_targets,
)
from slaprobe.terminal import Terminal


def interval_states(
    report: MonthReport,
    terminals: Sequence[Terminal],
    inputs: SlaInputs,
    maintenance: Sequence[MaintenanceWindow] = (),
) -> dict[str, np.ndarray]:
    """Per terminal of ``report``, its interval verdicts over the period (``IntervalState`` values).

    ``terminals`` must be the whole inventory the report was computed from (mass events are judged over
    each vantage's whole target set, as in ``compute_month``), even when the report was filtered.
    """
    window = window_for(report.rule, report.period)
    ordered = tuple(sorted(terminals, key=lambda t: t.id))
    prepared = prepare(report.rule, window, ordered, inputs)
    first = (report.period.start_ns - window.start_ns) // window.interval_ns
    end = (report.period.end_ns - window.start_ns) // window.interval_ns
    index = {t.id: i for i, t in enumerate(ordered)}
    out: dict[str, np.ndarray] = {}
    for t in report.terminals:
        result = evaluate_terminal(
            prepared,
            index[t.id],
            report.period.tz,
            (first, end),
            maintenance,
            evidence=False,
            keep_states=True,
        )
        assert result.states is not None
        out[t.id] = result.states
    return out


def _distribution(hist: np.ndarray) -> Distribution | None:
    total = int(hist.sum())
    if total == 0:
        return None
    q = [percentile_from_hist(hist, p) for p in (5, 25, 50, 75, 95, 99)]
    if any(v is None for v in q):
        return None
    return Distribution(total, *(float(v) for v in q))  # type: ignore[arg-type]


def carrier_quality(report: MonthReport) -> tuple[CarrierQuality, ...]:
    """RTT / jitter quantiles per carrier from the engine's histograms; terminals by month loss."""
    if report.quality is None:
        return ()
    qt = report.quality
    rows_of: dict[str, list[int]] = {}
    for i, t in enumerate(report.terminals):
        rows_of.setdefault(t.carrier, []).append(i)
    out = []
    for carrier in sorted(rows_of):
        rows = np.asarray(rows_of[carrier], dtype=np.int64)
        sent = qt.scalars["sent"][rows]
        received = qt.scalars["received"][rows]
        bins = [0] * 5
        for s, r in zip(sent.tolist(), received.tolist(), strict=True):
            if s > 0:
                bins[loss_bin(s - r, s)] += 1
        out.append(
            CarrierQuality(
                carrier,
                int(qt.scalars["measured"][rows].sum()),
                _distribution(qt.rtt[rows].sum(axis=0)),
                _distribution(qt.jit[rows].sum(axis=0)),
                tuple(bins),
                int(sent.sum()),
                int(sent.sum() - received.sum()),
            )
        )
    return tuple(out)


def display_names(report: MonthReport, lang: str, contract: Contract | None = None) -> dict[str, str]:
    """Carrier and region display names, short enough for a chart axis: a well-known carrier's short
    name (中国电信 rather than the contract's full legal name), else the contract's label; the example
    network's region names; else the ids themselves."""
    regions = sample_network.REGION_NAMES_ZH if lang == "zh" else sample_network.REGION_NAMES_EN
    names: dict[str, str] = {}
    for t in report.terminals:
        names.setdefault(t.region, regions.get(t.region, t.region))
        short = carrier_name(t.carrier, lang)
        if short == t.carrier and contract is not None and t.carrier in contract.carriers:
            short = contract.carriers[t.carrier].label.get(lang, t.carrier)
        names.setdefault(t.carrier, short)
    return names


def region_carriers(report: MonthReport) -> dict[str, str]:
    """Region -> the carrier serving most of its terminals (regions are served by one carrier here)."""
    counts: dict[str, dict[str, int]] = {}
    for t in report.terminals:
        by = counts.setdefault(t.region, {})
        by[t.carrier] = by.get(t.carrier, 0) + 1
    return {r: max(sorted(by), key=lambda c: by[c]) for r, by in counts.items()}


@dataclass(frozen=True, slots=True)
class Money:
    document: Document
    figures: Mapping[str, tuple[str, str, str]]  # carrier -> gross, deducted, net (rounded once)


def month_money(
    contract: Contract,
    terminals: Sequence[Terminal],
    report: MonthReport,
    lang: str,
    handover: MonthlyAvailability | None = None,
) -> Money:
    """The month's money: the full year-to-date reconciliation when ``handover`` holds every earlier
    month of the year, else the month's own settlement (fees, each deduction and its reason)."""
    month = Month.parse(report.period.label)
    this = {r.terminal: r for r in report.results}
    earlier = Period.year(month.year).months[: month.month - 1]
    if handover is not None and all(m in handover for m in earlier):
        availability: dict[Month, Mapping[str, TerminalAvailability]] = {m: handover[m] for m in earlier}
        availability[month] = this
        rec = reconcile(contract, terminals, availability, Period.month(month))
        doc = reconciliation_document(rec, lang, tz=report.period.tz)
    else:
        incidents = join_incidents([month], {month: this})
        settled = settle_month(contract, terminals, month, this, incidents)
        carriers = tuple(CarrierSettlement(c, (cm,)) for c, cm in settled.items())
        rec = Reconciliation(contract, Period.month(month), carriers, carriers, (), ())
        doc = _month_settlement(rec, lang, report)
    figures = {
        cs.carrier: (str(rec.money(cs.gross)), str(rec.money(cs.deducted)), str(rec.money(cs.net)))
        for cs in rec.carriers
    }
    return Money(doc, figures)


def _month_settlement(rec: Reconciliation, lang: str, report: MonthReport) -> Document:
    """Fees and deductions of one month, in the money report's own words (no year-to-date balance)."""

    def L(key: str, **kw: object) -> str:
        return money_label(key, lang, **kw)

    c, m = rec.contract, rec.money
    name = {k: v.label.get(lang, k) for k, v in c.carriers.items()}
    rows = [
        (
            name.get(cs.carrier, cs.carrier),
            len({ch.terminal for ch in cs.charges}),
            cs.terminal_days,
            m(cs.gross),
            m(cs.deducted),
            m(cs.net),
        )
        for cs in rec.carriers
    ]
    rows.append(
        (
            L("total"),
            sum(int(r[1]) for r in rows),
            sum(cs.terminal_days for cs in rec.carriers),
            m(rec.gross),
            m(rec.deducted),
            m(rec.net),
        )
    )
    heads = [L(k) for k in ("carrier", "terminals", "terminal_days", "gross", "deducted", "net")]
    summary = table(L("summary"), heads, rows, range(1, 6))
    fees = fee_bases(rec)
    ded_rows = [
        (
            name.get(d.carrier, d.carrier),
            d.terminal or "",
            L(f"kind.{d.kind.value}"),
            deduction_reason(d, fees[d.carrier, d.month, d.terminal], rec, lang, report.period.tz),
            m(d.amount),
        )
        for cs in rec.carriers
        for d in cs.deductions
    ]
    deductions = table(
        L("deductions"), [L(k) for k in ("carrier", "terminal", "kind", "reason", "amount")], ded_rows, (4,)
    )
    notes = [
        L(
            "note.rounding",
            currency=c.currency,
            quantum=c.rounding.quantum,
            mode=L(f"mode.{c.rounding.mode.value}"),
        )
    ]
    unjudged = sum(len(cs.unjudged) for cs in rec.carriers)
    if unjudged:
        notes.append(L("note.unjudged", n=unjudged))
    notes.append(unmeasured_note(rec, lang))
    return Document(str(rec.period.label), (summary, deductions, unmeasured_table(rec, lang)), tuple(notes))


def month_view(
    report: MonthReport,
    lang: str,
    *,
    states: Mapping[str, np.ndarray] | None = None,
    maintenance: Sequence[MaintenanceWindow] = (),
    contract: Contract | None = None,
    money: Money | None = None,
    source: str = "",
    generated_ns: int | None = None,
) -> MonthView:
    """The page's view of ``report``: its groups and outages as they are, plus days and distributions."""
    groups = report.groups
    rule = report.rule
    targets = [Fraction(str(v)) for v in report.targets.values()]
    if report.default_target is not None:
        targets.append(Fraction(str(report.default_target)))
    target = max(targets) if targets else Fraction(999, 10)
    daily = ()
    if states is not None:
        group_of = {t.id: t.region for t in report.terminals}
        daily = daily_cells(states, group_of, report.period.start_ns, rule.interval_s, report.period.tz)
    names = display_names(report, lang, contract)
    exclusions = tuple(
        Exclusion(w.start_ns, w.end_ns, _scope(w, names), w.reason)
        for w in maintenance
        if w.start_ns < report.period.end_ns and w.end_ns > report.period.start_ns
    )
    return MonthView(
        period=report.period.label,
        start_ns=report.period.start_ns,
        end_ns=report.period.end_ns,
        tz=report.period.tz,
        rule=RuleView(rule.name, rule.interval_s, rule.threshold, rule.consecutive, report.period.timezone),
        target_percent=target,
        province=report.province,
        carriers=tuple(g for g in groups if g.dimension == "carrier"),
        regions=tuple(g for g in groups if g.dimension == "region"),
        daily=daily,
        outages=report.outages,
        exclusions=exclusions,
        quality=carrier_quality(report),
        region_carrier=region_carriers(report),
        names=names,
        money=money.document if money else None,
        money_figures=dict(money.figures) if money else {},
        generated_ns=generated_ns,
        source=source,
        min_measured_share=report.min_measured_share,
    )


def _scope(w: MaintenanceWindow, names: Mapping[str, str]) -> str:
    if w.all:
        return "*"
    parts = sorted(w.terminals) + [names.get(r, r) for r in sorted(w.regions)]
    parts += [names.get(c, c) for c in sorted(w.carriers)]
    return ", ".join(parts)


def read_handover(path: str | Path | None) -> MonthlyAvailability | None:
    if path is None or not Path(path).exists():
        return None
    from slaprobe.sla.availability_file import read_availability

    return read_availability(path)


def build_month_view(
    config: Config, req: ReportRequest, lang: str, handover: str | Path | None = None
) -> tuple[MonthView, MonthReport]:
    """``slaprobe report --format html``: the same inputs as ``sla_report.build_report``, kept for the
    per-day verdicts, plus the money of the month when the config names a contract. Returns the view
    and the report it shows (what ``build_report`` would have returned)."""
    r = resolve_request(config, req)
    terminals, windows = r.inventory.terminals, r.windows
    share = config.sla.min_measured_share
    with open_source(config, req.store, req.journal) as source:
        refuse_pruned(source, r.period)
        inputs = gather_inputs(source, terminals, r.rule, r.period)
        full = compute_month(
            terminals, r.rule, r.period, inputs, windows, tier_targets(config), min_measured_share=share
        )
        report = full.filtered(carrier=req.carrier, region=req.region)
        ensure_data(report, source, config, req)
    states = interval_states(report, terminals, inputs, windows)
    contract = load_contract(config.resolve(config.sla.contract)) if config.sla.contract else None
    money = None
    if contract is not None and not report.filters:
        money = month_money(contract, terminals, full, lang, read_handover(handover))
    view = month_view(report, lang, states=states, maintenance=windows, contract=contract, money=money)
    return view, report

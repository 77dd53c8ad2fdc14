"""Output indicators of the annual performance evaluation (项目支出绩效评价), from the inventory and the
availability engine's monthly results.

The 2022 evaluation states three output targets this module can measure:

* 产出数量 — "省、市县、乡镇垂直终端覆盖率达到90%以上": open terminals / planned terminals per level group;
* 产出质量 — "视频会议通信链路可用性达到90%以上" (reported: 99.9 %): link availability over the year;
* the number of open terminals ("全省开通终端服务数量"), which also selects the year-end unit price;

plus 产出成本 (spent within the budget) when the contract's payments are given. User satisfaction
(满意度 ≥ 85 %) is a survey, not a measurement, and is not computed.

Planned terminals come from the contract's ``evaluation.groups[].planned`` counts; a group without a count
takes every inventory row of its levels as planned (rows opening after ``as_of`` are planned, not open).
Availability is interval-weighted over every terminal and month supplied (Σ available / Σ measured), the
same definition as the monthly reports, so the evaluation agrees with the sum of the year's months.

**No "met" without measurements.** The availability indicator is met only when the year's measured
share — judged seconds / (in-service − maintenance seconds) of every inventory terminal over the whole
year, months not supplied counting as in service and unmeasured — reaches the plan's
``min_measured_percent`` (default 90); below it the verdict is "insufficient data", never met. The cost
indicator (未超预算) compares the year's fee with the budget: met whatever was measured when even the
gross fee (no deduction) fits; otherwise it needs the measured share too, because the net fee depends on
deductions only measurements can justify; already paying more than the budget is never met.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from slaprobe.sla.contract import billable_days
from slaprobe.sla.contract_config import EvaluationPlan, Label, Payments
from slaprobe.sla.periods import Month, Period
from slaprobe.sla.types import TerminalAvailability
from slaprobe.terminal import Level, Terminal


@dataclass(frozen=True, slots=True)
class CoverageLine:
    group: str
    label: Label
    levels: tuple[Level, ...]
    planned: int
    open: int
    planned_from_plan: bool  # True: the contract's planned count; False: inventory rows
    in_target: bool
    target: Decimal

    @property
    def rate(self) -> Fraction | None:
        """Percent; may exceed 100 when more terminals opened than planned. None when nothing is planned."""
        return None if self.planned == 0 else Fraction(100 * self.open, self.planned)

    @property
    def met(self) -> bool | None:
        if not self.in_target:
            return None
        rate = self.rate
        return None if rate is None else rate >= Fraction(self.target)


MET, NOT_MET, INSUFFICIENT, NOT_APPLICABLE = "met", "not_met", "insufficient_data", "n/a"


@dataclass(frozen=True, slots=True)
class AvailabilityLine:
    key: str  # "all" or a coverage group id
    terminals: int  # terminals with at least one judged second in the year
    available_s: int
    unavailable_s: int
    unknown_s: int
    maintenance_s: int
    target: Decimal
    counted_s: int = 0  # in service − maintenance over the year, months not supplied included
    min_measured_percent: Decimal = Decimal(0)

    @property
    def measured_s(self) -> int:
        return self.available_s + self.unavailable_s

    @property
    def measured_share(self) -> Fraction | None:
        """Percent of the counted time that was judged (None when nothing counts)."""
        return None if self.counted_s <= 0 else Fraction(100 * self.measured_s, self.counted_s)

    @property
    def sufficient(self) -> bool:
        share = self.measured_share
        return self.measured_s > 0 and (share is None or share >= Fraction(self.min_measured_percent))

    @property
    def rate(self) -> Fraction | None:
        return None if self.measured_s == 0 else Fraction(100 * self.available_s, self.measured_s)

    @property
    def status(self) -> str:
        rate = self.rate
        if rate is None or not self.sufficient:
            return INSUFFICIENT
        return MET if rate >= Fraction(self.target) else NOT_MET

    @property
    def met(self) -> bool | None:
        """True / False only with enough measurements; None = insufficient data (never met)."""
        return {MET: True, NOT_MET: False}.get(self.status)


@dataclass(frozen=True, slots=True)
class Evaluation:
    year: int
    as_of: dt.date
    coverage: tuple[CoverageLine, ...]
    coverage_total: CoverageLine  # the in-target groups together
    availability: AvailabilityLine  # every terminal
    availability_by_group: tuple[AvailabilityLine, ...]
    open_terminals: int
    open_by_carrier: Mapping[str, int]
    open_by_level: Mapping[str, int]
    months: tuple[Month, ...]  # months whose availability was supplied
    budget: Decimal | None = None
    paid: Decimal | None = None  # installments for the year
    year_gross: Decimal | None = None  # the year's fee before deductions (reconcile, every month)
    year_net: Decimal | None = None  # after deductions and the contract's unmeasured treatment

    @property
    def coverage_met(self) -> bool | None:
        """Every in-target group at or above the target (the report's wording: 省、市县、乡镇 each)."""
        verdicts = [line.met for line in self.coverage if line.in_target]
        if not verdicts or any(v is None for v in verdicts):
            return None
        return all(verdicts)

    @property
    def complete(self) -> bool:
        """Whether all twelve months of availability were supplied."""
        return len(self.months) == 12

    @property
    def cost_status(self) -> str:
        """未超预算: see the module doc. ``n/a`` without a budget or without the year's fee."""
        if self.budget is None:
            return NOT_APPLICABLE
        if self.paid is not None and self.paid > self.budget:
            return NOT_MET
        if self.year_gross is None or self.year_net is None:
            return NOT_APPLICABLE
        if self.year_gross <= self.budget:
            return MET
        if not self.availability.sufficient:
            return INSUFFICIENT
        return MET if self.year_net <= self.budget else NOT_MET

    @property
    def within_budget(self) -> bool | None:
        return {MET: True, NOT_MET: False}.get(self.cost_status)


def evaluate(
    plan: EvaluationPlan,
    terminals: Sequence[Terminal],
    availability: Mapping[Month, Mapping[str, TerminalAvailability]],
    year: int,
    payments: Payments | None = None,
    fees: tuple[Decimal, Decimal] | None = None,
) -> Evaluation:
    """The year's output indicators. Months of ``availability`` outside ``year`` are ignored.

    ``fees``: the year's (gross, net) fee as the reconciliation settles it, for the cost indicator.
    """
    as_of = plan.as_of or dt.date(year, 12, 31)
    open_now = [t for t in terminals if t.in_service_on(as_of)]
    coverage = tuple(
        _coverage(plan, g.id, g.label, g.levels, g.planned, g.in_target, terminals, open_now)
        for g in plan.groups
    )
    judged = [c for c in coverage if c.in_target]
    total = CoverageLine(
        "total",
        Label("合计", "Total"),
        tuple(level for c in judged for level in c.levels),
        sum(c.planned for c in judged),
        sum(c.open for c in judged),
        all(c.planned_from_plan for c in judged),
        True,
        plan.coverage_target_percent,
    )
    months = tuple(m for m in Period.year(year).months if m in availability)
    group_of = {level: g.id for g in plan.groups for level in g.levels}
    by_group: dict[str, list[TerminalAvailability]] = {g.id: [] for g in plan.groups}
    everything: list[TerminalAvailability] = []
    level_of = {t.id: t.level for t in terminals}
    for m in months:
        for tid, ta in availability[m].items():
            if tid not in level_of:
                continue  # not in the inventory: not part of the evaluated network
            everything.append(ta)
            group = group_of.get(level_of[tid])
            if group is not None:
                by_group[group].append(ta)
    counted: dict[str, int] = {g.id: 0 for g in plan.groups}
    counted_all = 0
    for t in terminals:
        for m in Period.year(year).months:
            ta = availability.get(m, {}).get(t.id)
            n = max(0, ta.in_service_s - ta.maintenance_s) if ta else billable_days(t, m) * 86_400
            counted_all += n
            if group_of.get(t.level) is not None:
                counted[group_of[t.level]] += n
    target = plan.availability_target_percent
    minimum = plan.min_measured_percent
    paid = None
    if payments is not None:
        paid = sum((i.amount for i in payments.installments if i.period.first.year == year), Decimal(0))
    return Evaluation(
        year,
        as_of,
        coverage,
        total,
        _availability("all", everything, target, counted_all, minimum),
        tuple(_availability(g, tas, target, counted[g], minimum) for g, tas in by_group.items()),
        len(open_now),
        dict(sorted(Counter(t.carrier for t in open_now).items())),
        {level.value: n for level in Level if (n := sum(1 for t in open_now if t.level is level))},
        months,
        payments.budget if payments is not None else None,
        paid,
        None if fees is None else fees[0],
        None if fees is None else fees[1],
    )


def _coverage(
    plan: EvaluationPlan,
    group: str,
    label: Label,
    levels: tuple[Level, ...],
    planned: int | None,
    in_target: bool,
    terminals: Sequence[Terminal],
    open_now: Sequence[Terminal],
) -> CoverageLine:
    wanted = set(levels)
    n_open = sum(1 for t in open_now if t.level in wanted)
    from_plan = planned is not None
    n_planned = planned if planned is not None else sum(1 for t in terminals if t.level in wanted)
    return CoverageLine(
        group, label, levels, n_planned, n_open, from_plan, in_target, plan.coverage_target_percent
    )


def _availability(
    key: str, tas: Sequence[TerminalAvailability], target: Decimal, counted: int, minimum: Decimal
) -> AvailabilityLine:
    return AvailabilityLine(
        key,
        len({ta.terminal for ta in tas if ta.measured_s > 0}),
        sum(ta.available_s for ta in tas),
        sum(ta.unavailable_s for ta in tas),
        sum(ta.unknown_s for ta in tas),
        sum(ta.maintenance_s for ta in tas),
        target,
        counted,
        minimum,
    )

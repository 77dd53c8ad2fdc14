"""The whole annual evaluation: every indicator of the report's table scored, part scores, total, grade.

Scoring rule (stated in every output and in the README):

* An indicator scored against a figure gets its full points when the figure meets the target; below it,
  points × actual / target (for a ceiling such as the budget: points × target / actual). This is the
  Ministry of Finance's usual proportional rule for 定量指标 (完成值 / 指标值 × 分值).
* 到位时效 (funds on time) is met or not: full points or none.
* A review indicator gets the panel's score from the inputs file.
* **A figure that cannot be computed is missing (缺失), never met, and its points are not awarded**: no
  input given, or availability measured over too little of the year (数据不足, the measured-share rule of
  ``slaprobe.sla.evaluation``), or a cost that depends on unmeasured deductions. The total then counts
  only awarded points, and the output says how many points are missing.
* Points are exact; the total is rounded half up to whole points before grading, as the report does
  (得分取整分), and the grade bands are the report's (``scorecard_frame.GRADES``).
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

from slaprobe.sla.contract_config import Label
from slaprobe.sla.evaluation import INSUFFICIENT, MET, NOT_MET, Evaluation
from slaprobe.sla.evaluation_inputs import EvaluationInputs, Rate
from slaprobe.sla.scorecard_frame import (
    EXECUTION_TARGET,
    FRAMEWORK,
    FUNDS_RATE_TARGET,
    PARTS,
    SATISFACTION_TARGET,
    TIMELINESS_TARGET,
    Grade,
    Indicator,
    Kind,
    Part,
    grade_of,
)

NO_BASIS = Label()


class Status(enum.StrEnum):
    MET = "met"
    NOT_MET = "not_met"
    REVIEWED = "reviewed"  # the panel's score
    MISSING = "missing"  # no figure: no points
    INSUFFICIENT = "insufficient_data"  # measured, but not enough: no points


class Unit(enum.StrEnum):
    PERCENT = "percent"
    MONEY = "money"
    DATE = "date"
    NONE = "none"


@dataclass(frozen=True, slots=True)
class ScoreLine:
    indicator: Indicator
    weight: Decimal
    status: Status
    points: Fraction | None  # None = not awarded (missing / insufficient)
    unit: Unit = Unit.NONE
    target: Fraction | Decimal | dt.date | None = None
    actual: Fraction | Decimal | dt.date | None = None
    at_least: bool = True  # target is a floor (≥); False: a ceiling (≤)
    source: str = ""  # measured | inputs | review | ""
    basis: Label = NO_BASIS

    @property
    def awarded(self) -> bool:
        return self.points is not None


@dataclass(frozen=True, slots=True)
class PartScore:
    part: Part
    weight: Decimal
    points: Fraction
    missing: Decimal  # points of lines not awarded


@dataclass(frozen=True, slots=True)
class Scorecard:
    year: int
    lines: tuple[ScoreLine, ...]
    parts: tuple[PartScore, ...]

    @property
    def total(self) -> Fraction:
        return sum((p.points for p in self.parts), Fraction(0))

    @property
    def weight(self) -> Decimal:
        return sum((p.weight for p in self.parts), Decimal(0))

    @property
    def missing(self) -> Decimal:
        return sum((p.missing for p in self.parts), Decimal(0))

    @property
    def whole(self) -> int:
        """The total rounded half up to whole points (得分取整分)."""
        exact = Decimal(self.total.numerator) / Decimal(self.total.denominator)
        return int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))

    @property
    def grade(self) -> Grade:
        return grade_of(self.whole)

    @property
    def complete(self) -> bool:
        return all(line.awarded for line in self.lines if line.weight > 0)


def proportional(weight: Decimal, actual: Fraction, target: Fraction, at_least: bool = True) -> Fraction:
    """Full points when ``actual`` meets ``target``, else the share actual / target (target / actual)."""
    w = Fraction(weight)
    if (actual >= target) if at_least else (actual <= target):
        return w
    if at_least:
        return w * actual / target if target > 0 else w
    return w * target / actual if actual > 0 else w


def _figure(
    ind: Indicator,
    weight: Decimal,
    actual: Fraction | None,
    target: Fraction,
    source: str,
    basis: Label = NO_BASIS,
    unit: Unit = Unit.PERCENT,
) -> ScoreLine:
    if actual is None:
        return ScoreLine(ind, weight, Status.MISSING, None, unit, target, None, True, "", basis)
    status = Status.MET if actual >= target else Status.NOT_MET
    points = proportional(weight, actual, target)
    return ScoreLine(ind, weight, status, points, unit, target, actual, True, source, basis)


def _pct(x: Fraction | None) -> str:
    if x is None:
        return "-"
    whole = int(x * 100)
    return f"{whole // 100}.{whole % 100:02d}%"


def build_scorecard(ev: Evaluation, inputs: EvaluationInputs) -> Scorecard:
    """Score every indicator of ``scorecard_frame.FRAMEWORK`` from the measured evaluation and the inputs."""
    lines = [_line(ind, ev, inputs) for ind in FRAMEWORK.values()]
    parts = []
    for part in PARTS:
        mine = [ln for ln in lines if ln.indicator.part == part.code]
        parts.append(
            PartScore(
                part,
                sum((ln.weight for ln in mine), Decimal(0)),
                sum((ln.points for ln in mine if ln.points is not None), Fraction(0)),
                sum((ln.weight for ln in mine if ln.points is None), Decimal(0)),
            )
        )
    return Scorecard(ev.year, tuple(lines), tuple(parts))


def _line(ind: Indicator, ev: Evaluation, inputs: EvaluationInputs) -> ScoreLine:
    weight = inputs.weight(ind.code)
    code = ind.code
    if code == "performance.output.quantity":
        return _coverage(ind, weight, ev)
    if code == "performance.output.quality":
        return _quality(ind, weight, ev, inputs)
    if code == "performance.output.cost":
        return _cost(ind, weight, ev)
    computed = _input_figure(ind, weight, ev, inputs)
    if computed is not None:
        return computed
    review = inputs.reviews.get(code)
    if review is not None:
        basis = Label(review.basis, review.basis)
        return ScoreLine(ind, weight, Status.REVIEWED, Fraction(review.score), source="review", basis=basis)
    return ScoreLine(ind, weight, Status.MISSING, None)


def _coverage(ind: Indicator, weight: Decimal, ev: Evaluation) -> ScoreLine:
    """产出数量: every in-target level group's coverage must reach the target; the lowest one is scored."""
    judged = [c for c in ev.coverage if c.in_target]
    rates = [c.rate for c in judged]
    target = Fraction(ev.coverage_total.target)
    zh = "；".join(f"{c.label.get('zh', c.group)} {c.open}/{c.planned} = {_pct(c.rate)}" for c in judged)
    en = "; ".join(f"{c.label.get('en', c.group)} {c.open}/{c.planned} = {_pct(c.rate)}" for c in judged)
    basis = Label(f"最低层级覆盖率计分；{zh}", f"lowest level group scored; {en}")
    actual = None if not rates or any(r is None for r in rates) else min(r for r in rates if r is not None)
    return _figure(ind, weight, actual, target, "measured", basis)


def _quality(ind: Indicator, weight: Decimal, ev: Evaluation, inputs: EvaluationInputs) -> ScoreLine:
    """产出质量: 视频会议平台及通信链路可用性 — a conference needs the platform AND the link, so the two
    availabilities multiply (a series system): probes measure the links, the inputs give the platform."""
    link = ev.availability
    target = Fraction(link.target)
    platform = inputs.platform.availability_percent
    link_text = _pct(link.rate) if link.status != INSUFFICIENT else f"{_pct(link.rate)} (数据不足)"
    link_en = _pct(link.rate) if link.status != INSUFFICIENT else f"{_pct(link.rate)} (insufficient data)"
    p_text = "-" if platform is None else f"{platform}%"
    basis = Label(
        f"平台 {p_text} × 链路（实测）{link_text}；测量覆盖率 {_pct(link.measured_share)}",
        f"platform {p_text} × links (measured) {link_en}; measured share {_pct(link.measured_share)}",
    )
    if link.status == INSUFFICIENT or link.rate is None:
        return ScoreLine(ind, weight, Status.INSUFFICIENT, None, Unit.PERCENT, target, None, basis=basis)
    if platform is None:
        return ScoreLine(ind, weight, Status.MISSING, None, Unit.PERCENT, target, None, basis=basis)
    combined = link.rate * Fraction(platform) / 100
    return _figure(ind, weight, combined, target, "measured+inputs", basis)


def _cost(ind: Indicator, weight: Decimal, ev: Evaluation) -> ScoreLine:
    """产出成本 (未超预算), the evaluation's cost status: the year's fee as settled and what was paid,
    against the budget; insufficient when only unmeasured deductions could bring the fee within it."""
    status = ev.cost_status
    spent = max((x for x in (ev.paid, ev.year_net) if x is not None), default=None)
    over = None if spent is None or ev.budget is None else spent - ev.budget
    zh = f"已付 {ev.paid}；全年服务费 {ev.year_net}"
    en = f"paid {ev.paid}; year's fee {ev.year_net}"
    if over is not None and over > 0:
        zh, en = f"{zh}；超出预算 {over}", f"{en}; {over} over the budget"
    basis = Label(zh, en)
    base = (Unit.MONEY, ev.budget, spent, False, "measured", basis)
    if status == MET:
        return ScoreLine(ind, weight, Status.MET, Fraction(weight), *base)
    if status == NOT_MET and ev.budget is not None and spent is not None:
        points = proportional(weight, Fraction(spent), Fraction(ev.budget), at_least=False)
        return ScoreLine(ind, weight, Status.NOT_MET, points, *base)
    missing = Status.INSUFFICIENT if status == INSUFFICIENT else Status.MISSING
    return ScoreLine(ind, weight, missing, None, *base)


def _rate(ind: Indicator, weight: Decimal, rate: Rate, default_target: Decimal) -> ScoreLine | None:
    value = rate.value
    if value is None:
        return None
    target = Fraction(rate.target_percent if rate.target_percent is not None else default_target)
    counted = "" if rate.count is None else f"{rate.count}/{rate.of}; "
    return _figure(ind, weight, value, target, "inputs", Label(counted + rate.basis, counted + rate.basis))


def _input_figure(
    ind: Indicator, weight: Decimal, ev: Evaluation, inputs: EvaluationInputs
) -> ScoreLine | None:
    """An INPUT indicator computed from its figures, or None when the inputs do not give them."""
    f = inputs.funds
    budget = f.budget if f.budget is not None else ev.budget
    basis = Label(f.basis, f.basis)
    if ind.code == "management.funds.rate" and f.received is not None:
        actual = None if not budget else Fraction(100 * f.received) / Fraction(budget)
        b = Label(f"{f.received} / {budget}；{f.basis}", f"{f.received} / {budget}; {f.basis}")
        return _figure(ind, weight, actual, Fraction(FUNDS_RATE_TARGET), "inputs", b)
    if ind.code == "management.funds.timeliness" and f.received_on is not None and f.due_by is not None:
        met = f.received_on <= f.due_by
        status = Status.MET if met else Status.NOT_MET
        points = Fraction(weight) if met else Fraction(0)
        return ScoreLine(
            ind, weight, status, points, Unit.DATE, f.due_by, f.received_on, False, "inputs", basis
        )
    if ind.code == "management.use.execution" and f.spent is not None:
        executable = f.executable if f.executable is not None else budget
        actual = None if not executable else Fraction(100 * f.spent) / Fraction(executable)
        b = Label(f"{f.spent} / {executable}；{f.basis}", f"{f.spent} / {executable}; {f.basis}")
        return _figure(ind, weight, actual, Fraction(EXECUTION_TARGET), "inputs", b)
    if ind.code == "performance.output.timeliness":
        return _rate(ind, weight, inputs.timeliness, TIMELINESS_TARGET)
    if ind.code == "performance.benefit.satisfaction":
        return _rate(ind, weight, inputs.satisfaction, SATISFACTION_TARGET)
    return None


__all__ = [
    "MET",
    "NOT_MET",
    "Kind",
    "PartScore",
    "ScoreLine",
    "Scorecard",
    "Status",
    "Unit",
    "build_scorecard",
    "proportional",
]

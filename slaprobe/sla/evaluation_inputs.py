"""The evaluation inputs file (``slaprobe evaluation --inputs FILE``): what probes cannot measure.

The annual performance evaluation (项目支出绩效评价) scores indicators slaprobe measures (terminal
coverage, link availability, the year's cost against the budget) next to ones only people know: the
budget actually received and spent, the satisfaction survey, the platform's own availability, timeliness,
and the review panel's scores for the qualitative indicators (决策依据, 管理制度, 经济效益 ...). Those come
from this file, each with the evidence it rests on, so the scorecard can say where every point came from.

Validation is exact and complete: unknown keys, floats for money, scores above an indicator's points, a
figure given both as data and as a review score, reviews of indicators slaprobe measures itself: every
problem is reported at once as ``file: key.path: problem`` (``ConfigError``).
``config/evaluation-inputs.example.yaml`` documents every key with the seed's 2022 values.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

from slaprobe.configload import ConfigError, load_dataclass, opt, read_yaml
from slaprobe.sla.scorecard_frame import FRAMEWORK, Kind


@dataclass(frozen=True, slots=True)
class Review:
    """A review panel's score for one indicator, and what it rests on."""

    score: Decimal
    basis: str = ""


@dataclass(frozen=True, slots=True)
class Funds:
    """The year's budget figures from the finance office (资金到位, 预算执行)."""

    budget: Decimal | None = None  # 批复预算; must equal the contract's payments.budget when both are given
    executable: Decimal | None = None  # 实际可执行预算 (default: the budget)
    received: Decimal | None = None  # 到位资金
    spent: Decimal | None = None  # 实际支出
    received_on: dt.date | None = None  # when the funds arrived (到位时效) ...
    due_by: dt.date | None = None  # ... and by when they should have
    basis: str = ""


@dataclass(frozen=True, slots=True)
class Rate:
    """A share people counted: ``percent`` directly, or ``count`` of ``of`` (e.g. satisfied of surveyed)."""

    percent: Decimal | None = None
    count: int | None = opt(None, min=0)
    of: int | None = opt(None, min=1)
    target_percent: Decimal | None = None  # None: the framework's target for this indicator
    basis: str = ""

    @property
    def value(self) -> Fraction | None:
        if self.percent is not None:
            return Fraction(self.percent)
        if self.count is not None and self.of is not None:
            return Fraction(100 * self.count, self.of)
        return None


@dataclass(frozen=True, slots=True)
class Platform:
    """The conference platform's (MCU, cloud service) own availability: probes see only the links."""

    availability_percent: Decimal | None = None
    basis: str = ""


@dataclass(frozen=True, slots=True)
class EvaluationInputs:
    year: int = opt(min=2000, max=2100)
    funds: Funds = field(default_factory=Funds)
    satisfaction: Rate = field(default_factory=Rate)
    timeliness: Rate = field(default_factory=Rate)
    platform: Platform = field(default_factory=Platform)
    reviews: Mapping[str, Review] = field(default_factory=dict)
    weights: Mapping[str, Decimal] = field(default_factory=dict)  # indicator code -> points
    source: str = field(default="", metadata={"key": "__source__"})

    def weight(self, code: str) -> Decimal:
        return self.weights.get(code, FRAMEWORK[code].weight)


def load_evaluation_inputs(path: str | Path) -> EvaluationInputs:
    """Read and check an inputs file; ConfigError names the file and every bad key."""
    data = read_yaml(path)
    inputs = load_dataclass(EvaluationInputs, data, str(path))
    problems = check(inputs)
    if problems:
        raise ConfigError(str(path), problems)
    return dataclasses.replace(inputs, source=str(path))


def _percent_ok(key: str, value: Decimal | None, problems: list[str], top: int = 100) -> None:
    if value is not None and not 0 <= value <= top:
        problems.append(f"{key}: {value} is not a percentage between 0 and {top}")


def check(inputs: EvaluationInputs) -> list[str]:
    """Semantic problems (key path: problem), in file order."""
    problems: list[str] = []
    f = inputs.funds
    for name in ("budget", "executable", "received", "spent"):
        value = getattr(f, name)
        if value is not None and value < 0:
            problems.append(f"funds.{name}: {value} is negative")
    if (f.received_on is None) != (f.due_by is None):
        problems.append("funds: received_on and due_by go together (到位时效 compares them)")
    for key, rate in (("satisfaction", inputs.satisfaction), ("timeliness", inputs.timeliness)):
        if rate.percent is not None and (rate.count is not None or rate.of is not None):
            problems.append(f"{key}: give percent or count/of, not both")
        if (rate.count is None) != (rate.of is None):
            problems.append(f"{key}: count and of go together (e.g. satisfied of surveyed)")
        if rate.count is not None and rate.of is not None and rate.count > rate.of:
            problems.append(f"{key}.count: {rate.count} is more than of ({rate.of})")
        _percent_ok(f"{key}.percent", rate.percent, problems)
        _percent_ok(f"{key}.target_percent", rate.target_percent, problems)
    _percent_ok("platform.availability_percent", inputs.platform.availability_percent, problems)
    for code, points in inputs.weights.items():
        if code not in FRAMEWORK:
            problems.append(f"weights.{code}: unknown indicator (known: {', '.join(FRAMEWORK)})")
        elif points < 0:
            problems.append(f"weights.{code}: {points} is negative")
    total = sum((inputs.weight(code) for code in FRAMEWORK), Decimal(0))
    if inputs.weights and total != 100:
        problems.append(f"weights: the indicators' points add up to {total}, not 100")
    for code, review in inputs.reviews.items():
        ind = FRAMEWORK.get(code)
        if ind is None:
            problems.append(f"reviews.{code}: unknown indicator (known: {', '.join(FRAMEWORK)})")
            continue
        if ind.kind is Kind.MEASURED:
            problems.append(f"reviews.{code}: measured by slaprobe ({ind.name.en}); remove the review score")
            continue
        weight = inputs.weight(code)
        if not 0 <= review.score <= weight:
            problems.append(f"reviews.{code}.score: {review.score} is outside 0..{weight} (its points)")
        if ind.kind is Kind.INPUT and has_data(inputs, code):
            problems.append(f"reviews.{code}: the file also gives its data; give one or the other")
    return problems


def has_data(inputs: EvaluationInputs, code: str) -> bool:
    """Whether the inputs hold the figures an INPUT indicator is computed from."""
    f = inputs.funds
    return {
        "management.funds.rate": f.received is not None,
        "management.funds.timeliness": f.received_on is not None,
        "management.use.execution": f.spent is not None,
        "performance.output.timeliness": inputs.timeliness.value is not None,
        "performance.benefit.satisfaction": inputs.satisfaction.value is not None,
    }.get(code, False)

"""The contract file: prices, targets, deductions, caps, payments and the evaluation plan.

YAML → frozen dataclasses through the same typed walker as the main config (``configload``), then a
semantic check that the money rules are unambiguous: price bands start at 0 and rise, deduction bands
tile [0 %, target) with no gap or overlap, incident thresholds are distinct, caps are percentages,
installment splits add up. Every problem is reported at once as ``file: key.path: problem``.

Money and percentages are ``decimal.Decimal`` parsed from strings (or integers); a YAML float such as
``960.5`` is rejected, because a binary float cannot hold most decimal amounts and figures here decide
real payments. ``config/contract.example.yaml`` documents every key.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from slaprobe.configload import ConfigError, load_dataclass, opt, read_yaml
from slaprobe.sla.periods import Month, Period
from slaprobe.terminal import Level

HUNDRED = Decimal(100)


class RoundingMode(enum.StrEnum):
    HALF_UP = "half_up"  # ties away from zero (commercial rounding, 四舍五入)
    HALF_EVEN = "half_even"  # ties to even (banker's rounding)
    DOWN = "down"  # toward zero (truncate)


@dataclass(frozen=True, slots=True)
class Label:
    zh: str = ""
    en: str = ""

    def get(self, lang: str, fallback: str = "") -> str:
        return (self.zh if lang == "zh" else self.en) or self.en or self.zh or fallback


@dataclass(frozen=True, slots=True)
class Rounding:
    """The one rounding rule: applied once, to each reported figure, from its exact value."""

    quantum: Decimal = Decimal("0.01")
    mode: RoundingMode = RoundingMode.HALF_UP


@dataclass(frozen=True, slots=True)
class PriceBand:
    """Monthly unit price that applies when at least ``from_open`` terminals are open province-wide."""

    from_open: int = opt(min=0)
    price: Decimal = opt()


@dataclass(frozen=True, slots=True)
class DeductionBand:
    """A terminal-month with availability in [from, below) percent loses ``percent`` of its monthly fee."""

    from_percent: Decimal = field(metadata={"key": "from"})
    below_percent: Decimal = field(metadata={"key": "below"})
    percent: Decimal = field()

    def contains(self, availability_percent: Any) -> bool:
        return self.from_percent <= availability_percent < self.below_percent


@dataclass(frozen=True, slots=True)
class IncidentRule:
    """An outage lasting strictly longer than ``longer_than_hours`` costs a fixed amount or a percentage
    of the terminal's monthly fee. Only the highest rule an outage exceeds applies (rules do not add)."""

    longer_than_hours: Decimal
    amount: Decimal | None = None
    percent: Decimal | None = None

    @property
    def longer_than_s(self) -> Decimal:
        return self.longer_than_hours * 3600


@dataclass(frozen=True, slots=True)
class Tier:
    availability_target: Decimal
    monthly_price: tuple[PriceBand, ...]
    label: Label = field(default_factory=Label)
    deductions: tuple[DeductionBand, ...] | None = None  # None = the contract-wide table
    incidents: tuple[IncidentRule, ...] | None = None  # None = the contract-wide rules


@dataclass(frozen=True, slots=True)
class Carrier:
    label: Label = field(default_factory=Label)
    regions: tuple[str, ...] = ()  # regions it serves ("by region"); empty = not checked


@dataclass(frozen=True, slots=True)
class Caps:
    """Ceilings on deductions, both per calendar month so quarters and years are sums of months."""

    terminal_month_percent: Decimal = HUNDRED  # of the terminal's (prorated) monthly fee
    carrier_month_percent: Decimal = HUNDRED  # of the carrier's gross fee for the month


class UnmeasuredTreatment(enum.StrEnum):
    """What a terminal-month measured less than the minimum share is settled as (see ``Unmeasured``)."""

    PAY = "pay"  # billed in full for its unmeasured time; no availability deduction (nothing proven)
    WITHHOLD = "withhold"  # the fee share of its unmeasured time is withheld (not a penalty: no cap)
    COUNT_UNAVAILABLE = "count_unavailable"  # unmeasured time counts as unavailable in its availability


DEFAULT_MIN_MEASURED_PERCENT = Decimal(90)  # same default as the reports' sla.min_measured_share


@dataclass(frozen=True, slots=True)
class Unmeasured:
    """How time nobody measured is settled, per terminal-month.

    A terminal-month whose measured share (judged / (in service − maintenance)) reaches
    ``min_measured_percent`` is settled on its measurements; its small unmeasured remainder is paid as
    delivered and shown on the statement. Below the minimum (or with nothing measured) ``treatment``
    decides, and the statement shows the terminal-months, terminal-days and amount it concerned.
    """

    treatment: UnmeasuredTreatment = UnmeasuredTreatment.PAY
    min_measured_percent: Decimal | None = None  # None: the top-level min_measured_percent, else 90


@dataclass(frozen=True, slots=True)
class Installment:
    """A payment actually made: the (cash) quarter it was paid in, the amount, optionally its carrier split
    and the service periods it pays for.

    Cash year and service year differ: the 2022 Q4 settlement is paid in 2023 (``quarter: 2023Q1``,
    ``service: {"2022Q4": ...}``) and a Q1 payment may include the previous year's settlement
    (``service: {"2021": ..., "2022Q1": ...}``). Only the parts attributed to the contract's year count
    toward its balance; without ``service`` the whole amount is for the contract year.
    """

    quarter: str  # e.g. 2022Q1: the quarter the money was paid in (cash)
    amount: Decimal
    paid_on: dt.date | None = None
    by_carrier: Mapping[str, Decimal] = field(default_factory=dict)
    service: Mapping[str, Decimal] = field(default_factory=dict)  # service period label -> amount
    note: str = ""

    @property
    def period(self) -> Period:
        return Period.parse(self.quarter)

    def for_year(self, year: int) -> Decimal:
        """The part of this payment attributed to service in ``year``."""
        if not self.service:
            return self.amount
        return sum(
            (v for k, v in self.service.items() if Period.parse(str(k)).first.year == year), Decimal(0)
        )

    def carrier_share(self, carrier: str, year: int) -> Decimal:
        """``by_carrier[carrier]`` scaled to the part of the payment that is for ``year`` (exact when the
        payment is wholly for one year, which validation requires when both splits are given)."""
        share = self.by_carrier.get(carrier, Decimal(0))
        return share if self.for_year(year) == self.amount else Decimal(0)


class NegativeBalance(enum.StrEnum):
    """What a negative balance (paid more than the service settled so far) becomes."""

    REFUND = "refund"  # the carrier pays it back
    OFFSET = "offset"  # carried forward: deducted from the next payment


@dataclass(frozen=True, slots=True)
class Payments:
    budget: Decimal | None = None
    installments: tuple[Installment, ...] = ()
    negative_balance: NegativeBalance = NegativeBalance.OFFSET


class YearEndRule(enum.StrEnum):
    """How the year's total fee is settled at year end (the seed's Q4 sentence can be read two ways)."""

    DAY_PRORATED = "day_prorated"  # Σ monthly fees prorated by in-service days (price band: volume_count_on)
    COUNT_ON_DAY = "count_on_day"  # terminals open on count_on × 12 × monthly unit price, for the whole year


@dataclass(frozen=True, slots=True)
class YearEnd:
    """The year-end settlement rule.

    ``count_on_day`` reads the seed's "以我局年末公布的全省开通终端服务数量所对应的服务单价为标准，
    核算全年服务费用总价" as: the officially published count of open terminals on ``count_on``
    (default: the year's last day) times the annual unit price (12 × the monthly price of the band that
    count selects, tier by tier). The per-terminal breakdown comes from the inventory, so
    ``published_count`` must equal the inventory's count on that day (a mismatch is an error, not a
    silent choice). The difference from the day-prorated fees is one "year-end adjustment" line per
    terminal in the contract year's last month (slaprobe.sla.year_end).
    """

    rule: YearEndRule = YearEndRule.DAY_PRORATED
    count_on: dt.date | None = None  # None = 31 December of the contract year
    published_count: int | None = opt(None, min=0)  # the count the province published (None = inventory)


@dataclass(frozen=True, slots=True)
class CoverageGroup:
    """One line of the evaluation's coverage indicator (省 / 市县 / 乡镇 ...)."""

    id: str
    levels: tuple[Level, ...]
    planned: int | None = opt(None, min=0)  # None = every inventory row of these levels is planned
    in_target: bool = True  # counts toward the ≥ target coverage indicator
    label: Label = field(default_factory=Label)


DEFAULT_GROUPS: tuple[CoverageGroup, ...] = (
    CoverageGroup("province", (Level.PROVINCE, Level.PROVINCE_DEPT), label=Label("省级", "Province")),
    CoverageGroup("city", (Level.CITY, Level.CITY_DEPT), label=Label("市县", "City/county")),
    CoverageGroup("township", (Level.TOWNSHIP,), label=Label("乡镇", "Township")),
    CoverageGroup("village", (Level.VILLAGE,), in_target=False, label=Label("行政村", "Village")),
)


@dataclass(frozen=True, slots=True)
class EvaluationPlan:
    coverage_target_percent: Decimal = Decimal(90)
    availability_target_percent: Decimal = Decimal(90)
    min_measured_percent: Decimal = Decimal(90)  # year's judged share needed for "met" (else insufficient)
    as_of: dt.date | None = None  # the day open terminals are counted; None = the contract's year end
    groups: tuple[CoverageGroup, ...] = DEFAULT_GROUPS


@dataclass(frozen=True, slots=True)
class ContractVersion:
    """Rules that take effect on ``effective_from`` (a price-list or catalogue update during the service
    period, as the seed recommends): each key given replaces the contract's from that day on; tiers are
    replaced one by one (a tier not listed keeps its earlier definition). A month that spans the day is
    split into two slices, each billed and deducted under its own rules."""

    effective_from: dt.date
    tiers: Mapping[str, Tier] = field(default_factory=dict)
    deductions: tuple[DeductionBand, ...] | None = None
    incidents: tuple[IncidentRule, ...] | None = None
    caps: Caps | None = None
    note: str = ""


@dataclass(frozen=True, slots=True)
class Contract:
    year: int = opt(min=2000, max=2100)
    carriers: Mapping[str, Carrier] = opt()
    tiers: Mapping[str, Tier] = opt()
    id: str = "contract"  # the signed contract's id (several per province: "统招分签")
    signer: Label = field(default_factory=Label)  # who signed it for the province
    regions: tuple[str, ...] = ()  # only terminals of these regions (empty: all of its carriers')
    name: Label = field(default_factory=Label)
    currency: str = "CNY"
    rounding: Rounding = field(default_factory=Rounding)
    volume_count_on: str = "year_end"  # year_end | month_end | YYYY-MM-DD
    deductions: tuple[DeductionBand, ...] = ()
    incidents: tuple[IncidentRule, ...] = ()
    caps: Caps = field(default_factory=Caps)
    min_measured_percent: Decimal | None = None  # old spelling of unmeasured.min_measured_percent
    unmeasured: Unmeasured = field(default_factory=Unmeasured)
    payments: Payments = field(default_factory=Payments)
    year_end: YearEnd = field(default_factory=YearEnd)
    versions: tuple[ContractVersion, ...] = ()
    evaluation: EvaluationPlan = field(default_factory=EvaluationPlan)
    source: str = field(default="", metadata={"key": "__source__"})

    @property
    def period(self) -> Period:
        return Period.year(self.year)

    @property
    def measured_minimum(self) -> Decimal:
        """Percent of a terminal-month's counted time that must be measured for it to be judged."""
        for value in (self.unmeasured.min_measured_percent, self.min_measured_percent):
            if value is not None:
                return value
        return DEFAULT_MIN_MEASURED_PERCENT

    def tier(self, name: str) -> Tier:
        return self.tiers[name]

    def deduction_bands(self, tier: str) -> tuple[DeductionBand, ...]:
        own = self.tiers[tier].deductions
        return self.deductions if own is None else own

    def incident_rules(self, tier: str) -> tuple[IncidentRule, ...]:
        own = self.tiers[tier].incidents
        return self.incidents if own is None else own

    def covers(self, carrier: str, region: str) -> bool:
        """Whether a terminal of this carrier and region is billed under this contract."""
        return carrier in self.carriers and (not self.regions or region in self.regions)

    @property
    def year_end_day(self) -> dt.date:
        return self.year_end.count_on or dt.date(self.year, 12, 31)

    def at(self, day: dt.date) -> Contract:
        """The rules in effect on ``day``: the base contract with every version up to ``day`` applied."""
        out = self
        for v in self.versions:
            if v.effective_from > day:
                break
            out = dataclasses.replace(
                out,
                tiers={**out.tiers, **v.tiers},
                deductions=out.deductions if v.deductions is None else v.deductions,
                incidents=out.incidents if v.incidents is None else v.incidents,
                caps=out.caps if v.caps is None else v.caps,
                versions=(),
            )
        return out if out is self else dataclasses.replace(out, versions=())

    def version_label(self, day: dt.date) -> str:
        """Which rules apply on ``day``: ``base`` or the effective date of the last version before it."""
        label = "base"
        for v in self.versions:
            if v.effective_from <= day:
                label = v.effective_from.isoformat()
        return label

    def slices(self, month: Month) -> tuple[tuple[dt.date, dt.date], ...]:
        """``month`` cut at every version's effective day inside it (first..last day, inclusive)."""
        cuts = sorted(
            v.effective_from for v in self.versions if month.first_day < v.effective_from <= month.last_day
        )
        starts = [month.first_day, *cuts]
        ends = [*(d - dt.timedelta(days=1) for d in cuts), month.last_day]
        return tuple(zip(starts, ends, strict=True))

    def volume_count_day(self, month: Month) -> dt.date:
        """The day whose province-wide open-terminal count selects the price band for ``month``."""
        if self.volume_count_on == "year_end":
            return dt.date(self.year, 12, 31)
        if self.volume_count_on == "month_end":
            return month.last_day
        return dt.date.fromisoformat(self.volume_count_on)


def load_contract(path: str | Path) -> Contract:
    """Read and validate a contract file; raise ConfigError listing every problem with its key path.

    A file of several signed contracts (``contracts:``, see ``contract_book``) is checked whole and its
    province-level contract returned (the tender's terms, the province's budget and installments)."""
    data = read_yaml(path)
    if isinstance(data, dict) and "contracts" in data:
        from slaprobe.sla.contract_book import parse_book

        return parse_book(data, str(path)).province
    return parse_contract(data, str(path))


def parse_contract(data: Any, source: str = "<contract>") -> Contract:
    contract = load_dataclass(Contract, data, source)
    problems = validate_contract(contract)
    if problems:
        raise ConfigError(source, problems)
    return dataclasses.replace(contract, source=source)


def validate_contract(c: Contract) -> list[str]:
    """Semantic problems (each ``key.path: problem``); empty when the rules are unambiguous."""
    p: list[str] = []
    if not c.carriers:
        p.append("carriers: at least one carrier is required")
    if not c.tiers:
        p.append("tiers: at least one tier is required")
    if c.rounding.quantum <= 0:
        p.append(f"rounding.quantum: must be positive, got {c.rounding.quantum}")
    if c.volume_count_on not in ("year_end", "month_end"):
        try:
            dt.date.fromisoformat(c.volume_count_on)
        except ValueError:
            p.append(
                "volume_count_on: expected year_end, month_end or a date YYYY-MM-DD, "
                f"got {c.volume_count_on!r}"
            )
    p += _check_deductions("deductions", c.deductions, None)
    p += _check_incidents("incidents", c.incidents)
    for name, tier in c.tiers.items():
        key = f"tiers.{name}"
        if not Decimal(0) < tier.availability_target <= HUNDRED:
            p.append(f"{key}.availability_target: must be in (0, 100], got {tier.availability_target}")
        p += _check_prices(f"{key}.monthly_price", tier.monthly_price)
        if tier.deductions is not None:
            p += _check_deductions(f"{key}.deductions", tier.deductions, tier.availability_target)
        elif c.deductions and c.deductions[0].below_percent > tier.availability_target:
            p.append(
                f"{key}: the contract-wide deductions start below {c.deductions[0].below_percent} %, "
                f"above this tier's target {tier.availability_target} % (give the tier its own table)"
            )
        if tier.incidents is not None:
            p += _check_incidents(f"{key}.incidents", tier.incidents)
    for key, v in (
        ("caps.terminal_month_percent", c.caps.terminal_month_percent),
        ("caps.carrier_month_percent", c.caps.carrier_month_percent),
        ("min_measured_percent", c.min_measured_percent),
        ("unmeasured.min_measured_percent", c.unmeasured.min_measured_percent),
    ):
        if v is not None and not Decimal(0) <= v <= HUNDRED:
            p.append(f"{key}: must be in [0, 100], got {v}")
    if c.min_measured_percent is not None and c.unmeasured.min_measured_percent is not None:
        p.append(
            "min_measured_percent: given twice; keep unmeasured.min_measured_percent "
            "(the top-level key is its old spelling)"
        )
    p += _check_payments(c)
    p += _check_year_end(c)
    p += _check_versions(c)
    p += _check_evaluation(c.evaluation)
    return p


def _check_year_end(c: Contract) -> list[str]:
    p: list[str] = []
    if c.year_end.count_on is not None and c.year_end.count_on.year != c.year:
        p.append(f"year_end.count_on: {c.year_end.count_on} is outside the contract year {c.year}")
    if c.year_end.rule is YearEndRule.COUNT_ON_DAY and c.volume_count_on == "month_end":
        p.append(
            "year_end.rule: count_on_day prices the year at one count; volume_count_on month_end "
            "contradicts it (use year_end or a date)"
        )
    return p


def _check_versions(c: Contract) -> list[str]:
    p: list[str] = []
    for i, v in enumerate(c.versions):
        key = f"versions[{i}]"
        if v.effective_from.year != c.year or v.effective_from == dt.date(c.year, 1, 1):
            p.append(f"{key}.effective_from: {v.effective_from} must lie in {c.year} after 1 January")
        if i and v.effective_from <= c.versions[i - 1].effective_from:
            p.append(f"{key}.effective_from: versions must be listed in increasing order of date")
        for name, tier in v.tiers.items():
            if name not in c.tiers:
                p.append(f"{key}.tiers.{name}: not a tier of the contract (known: {', '.join(c.tiers)})")
            p += _check_prices(f"{key}.tiers.{name}.monthly_price", tier.monthly_price)
            if tier.deductions is not None:
                target = tier.availability_target
                p += _check_deductions(f"{key}.tiers.{name}.deductions", tier.deductions, target)
        if v.deductions is not None:
            p += _check_deductions(f"{key}.deductions", v.deductions, None)
        if v.incidents is not None:
            p += _check_incidents(f"{key}.incidents", v.incidents)
    return p


def _check_prices(key: str, bands: tuple[PriceBand, ...]) -> list[str]:
    p: list[str] = []
    if not bands:
        return [f"{key}: at least one price band is required"]
    if bands[0].from_open != 0:
        p.append(f"{key}[0].from_open: the first band must start at 0 terminals, got {bands[0].from_open}")
    for i, band in enumerate(bands):
        if band.price < 0:
            p.append(f"{key}[{i}].price: must not be negative, got {band.price}")
        if i and band.from_open <= bands[i - 1].from_open:
            p.append(f"{key}[{i}].from_open: bands must be in increasing order of from_open")
    return p


def _check_deductions(key: str, bands: tuple[DeductionBand, ...], target: Decimal | None) -> list[str]:
    """Bands listed from the highest availability down must tile [0, top) with top ≤ target."""
    p: list[str] = []
    for i, b in enumerate(bands):
        if not b.from_percent < b.below_percent:
            p.append(f"{key}[{i}]: 'from' ({b.from_percent}) must be below 'below' ({b.below_percent})")
        if not Decimal(0) <= b.percent <= HUNDRED:
            p.append(f"{key}[{i}].percent: must be in [0, 100], got {b.percent}")
        if i and b.below_percent != bands[i - 1].from_percent:
            p.append(
                f"{key}[{i}].below: must equal the previous band's 'from' ({bands[i - 1].from_percent}); "
                "list bands from the highest availability down with no gap or overlap"
            )
        if i and b.percent < bands[i - 1].percent:
            p.append(f"{key}[{i}].percent: a lower availability band must not cost less than the one above")
    if bands and bands[-1].from_percent != 0:
        p.append(
            f"{key}[{len(bands) - 1}].from: the lowest band must start at 0, got {bands[-1].from_percent}"
        )
    if bands and target is not None and bands[0].below_percent > target:
        p.append(f"{key}[0].below: {bands[0].below_percent} is above the tier's target {target}")
    return p


def _check_incidents(key: str, rules: tuple[IncidentRule, ...]) -> list[str]:
    p: list[str] = []
    seen: set[Decimal] = set()
    for i, r in enumerate(rules):
        if r.longer_than_hours <= 0:
            p.append(f"{key}[{i}].longer_than_hours: must be positive, got {r.longer_than_hours}")
        if r.longer_than_hours in seen:
            p.append(f"{key}[{i}].longer_than_hours: {r.longer_than_hours} is listed twice")
        seen.add(r.longer_than_hours)
        if (r.amount is None) == (r.percent is None):
            p.append(f"{key}[{i}]: give exactly one of 'amount' or 'percent'")
        if r.amount is not None and r.amount < 0:
            p.append(f"{key}[{i}].amount: must not be negative, got {r.amount}")
        if r.percent is not None and not Decimal(0) <= r.percent <= HUNDRED:
            p.append(f"{key}[{i}].percent: must be in [0, 100], got {r.percent}")
    return p


def _check_payments(c: Contract) -> list[str]:
    p: list[str] = []
    if c.payments.budget is not None and c.payments.budget < 0:
        p.append(f"payments.budget: must not be negative, got {c.payments.budget}")
    for i, inst in enumerate(c.payments.installments):
        key = f"payments.installments[{i}]"
        try:
            period = inst.period
            if len(period.months) != 3:
                p.append(f"{key}.quarter: expected a quarter like {c.year}Q1, got {inst.quarter!r}")
        except ValueError:
            p.append(f"{key}.quarter: expected a quarter like {c.year}Q1, got {inst.quarter!r}")
        for label in inst.service:
            try:
                Period.parse(str(label))
            except ValueError:
                p.append(f"{key}.service.{label}: not a service period (2022Q4, 2022 or 2022-03)")
        if inst.service and sum(inst.service.values(), Decimal(0)) != inst.amount:
            total = sum(inst.service.values(), Decimal(0))
            p.append(f"{key}.service: the parts add up to {total}, not the amount {inst.amount}")
        elif inst.service and inst.by_carrier and inst.for_year(c.year) not in (0, inst.amount):
            p.append(f"{key}: give by_carrier only on a payment wholly for one service year")
        if inst.amount < 0:
            p.append(f"{key}.amount: must not be negative, got {inst.amount}")
        for carrier in inst.by_carrier:
            if carrier not in c.carriers:
                p.append(f"{key}.by_carrier.{carrier}: unknown carrier (known: {', '.join(c.carriers)})")
        if inst.by_carrier and sum(inst.by_carrier.values(), Decimal(0)) != inst.amount:
            total = sum(inst.by_carrier.values(), Decimal(0))
            p.append(f"{key}.by_carrier: the split adds up to {total}, not the amount {inst.amount}")
    return p


def _check_evaluation(e: EvaluationPlan) -> list[str]:
    p: list[str] = []
    for k in ("coverage_target_percent", "availability_target_percent", "min_measured_percent"):
        v = getattr(e, k)
        if not Decimal(0) <= v <= HUNDRED:
            p.append(f"evaluation.{k}: must be in [0, 100], got {v}")
    seen_ids: set[str] = set()
    seen_levels: dict[Level, str] = {}
    for i, g in enumerate(e.groups):
        if g.id in seen_ids:
            p.append(f"evaluation.groups[{i}].id: {g.id!r} is listed twice")
        seen_ids.add(g.id)
        if not g.levels:
            p.append(f"evaluation.groups[{i}].levels: at least one level is required")
        for level in g.levels:
            if level in seen_levels:
                p.append(
                    f"evaluation.groups[{i}].levels: {level.value!r} is already in {seen_levels[level]!r}"
                )
            seen_levels[level] = g.id
    return p

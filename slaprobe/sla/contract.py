"""Fees and deductions of one month: prices, proration, availability bands, incidents and caps.

Pure functions over the inventory, the contract and the availability engine's per-month results.

Exactness and the rounding rule
-------------------------------
Prices, percentages and caps are ``Decimal`` from the contract file. A prorated fee such as
960 × 17 / 31 has no finite decimal expansion, so every intermediate amount is kept as an exact
``fractions.Fraction`` built from those Decimals: nothing is rounded on its way to a total, and the sum
of a year does not depend on the order in which terminals are added. ``round_money`` is the one rounding
rule (the contract's quantum, 0.01 CNY by default, and mode, half up by default), applied once, at the
end: to each carrier's gross fee and deductions for the settled period (``reconcile.Amounts``; net is
their difference, so printed figures add up), and to each detail line shown on its own.

Order of the rules for one terminal-month
-----------------------------------------
1. fee = unit price × in-service days / days in month. The unit price is the tier's price band selected
   by the number of terminals open province-wide on the contract's count day (all units at that price).
2. availability deduction = band percent × fee, from the band containing the month's availability
   (bands are [from, below): exactly at a threshold falls in the higher band), when the month's
   measured share (judged / (in service − maintenance)) reaches the contract's minimum
   (``unmeasured.min_measured_percent``, default 90). Below it (or with nothing measured) the month is
   settled by ``unmeasured.treatment``:
   * ``pay``: no availability deduction (nothing was proven); the fee is paid, unmeasured time included;
   * ``count_unavailable``: availability = available / (in service − maintenance), i.e. unmeasured time
     counted as unavailable, and its band's deduction (kind ``unmeasured_unavailable``, capped like an
     availability deduction);
   * ``withhold``: the fee share of the unmeasured time, fee × unmeasured / (in service − maintenance),
     is withheld (kind ``unmeasured_withheld``): money held back for service nobody could verify, not
     a penalty, so outside both caps, but never more than what the capped deductions leave of the fee.
   Incidents still count in every case: an outage seen is a fact.
3. incident deductions: each outage (joined across month boundaries) longer than a rule's threshold,
   charged once, in the month it began, by the highest rule it exceeds.
4. terminal cap: the sum of 2 and 3 is limited to cap % of the fee (and never above the fee).
5. carrier cap (per carrier per month): the sum over its terminals' capped deductions is limited to
   cap % of its gross; withheld amounts are added after it.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, localcontext
from fractions import Fraction

from slaprobe.sla.contract_config import (
    Contract,
    DeductionBand,
    IncidentRule,
    PriceBand,
    Rounding,
    RoundingMode,
    UnmeasuredTreatment,
)
from slaprobe.sla.periods import Month
from slaprobe.sla.types import TerminalAvailability
from slaprobe.terminal import Terminal

ZERO = Fraction(0)


def exact(value: Decimal | int) -> Fraction:
    """The exact rational value of a Decimal (Fraction accepts Decimal without rounding)."""
    return Fraction(value)


def round_money(value: Fraction, rounding: Rounding) -> Decimal:
    """THE rounding rule: ``value`` rounded once to a multiple of ``rounding.quantum``."""
    steps = value / Fraction(rounding.quantum)
    sign = -1 if steps < 0 else 1
    whole, rest = divmod(abs(steps.numerator), steps.denominator)
    if rounding.mode is not RoundingMode.DOWN:
        twice = 2 * rest
        if twice > steps.denominator or (
            twice == steps.denominator and (rounding.mode is RoundingMode.HALF_UP or whole % 2 == 1)
        ):
            whole += 1
    with localcontext() as ctx:
        ctx.prec = 60
        return (Decimal(sign * whole) * rounding.quantum).quantize(rounding.quantum)


def open_count(terminals: Iterable[Terminal], day: dt.date) -> int:
    """Terminals in service on ``day`` (all carriers, all tiers): what selects the volume band."""
    return sum(1 for t in terminals if t.in_service_on(day))


def price_band(bands: Sequence[PriceBand], open_terminals: int) -> PriceBand:
    """The band with the highest ``from_open`` not above the count (bands are validated ascending)."""
    chosen = bands[0]
    for band in bands:
        if band.from_open <= open_terminals:
            chosen = band
    return chosen


def billable_days(
    terminal: Terminal, month: Month, first: dt.date | None = None, last: dt.date | None = None
) -> int:
    """In-service calendar days of ``month`` (opening day and retirement day both count), optionally only
    those of the slice ``first..last`` of the month (a month cut by a contract version)."""
    lo, hi = first or month.first_day, last or month.last_day
    start = max(terminal.in_service_from, lo)
    end = hi if terminal.in_service_to is None else min(terminal.in_service_to, hi)
    return max((end - start).days + 1, 0)


def availability_percent(
    ta: TerminalAvailability | None, min_measured_percent: Decimal = Decimal(0)
) -> Fraction | None:  # see measured_enough for the contract's minimum
    """Exact availability in percent (a threshold of 99.9 compares exactly), or None if unjudged.

    Unjudged: nothing measured, or measured time below ``min_measured_percent`` of the time that counts
    (in service minus maintenance): a month we mostly did not see is not priced from its few hours.
    """
    if ta is None or ta.measured_s <= 0:
        return None
    if ta.measured_s * 100 < exact(min_measured_percent) * (ta.in_service_s - ta.maintenance_s):
        return None
    return Fraction(100 * ta.available_s, ta.measured_s)


def counted_seconds(ta: TerminalAvailability) -> int:
    """The measured share's denominator: in service minus announced maintenance."""
    return max(0, ta.in_service_s - ta.maintenance_s)


def measured_enough(ta: TerminalAvailability | None, min_measured_percent: Decimal) -> bool:
    """Whether a terminal-month is settled on its measurements (exact comparison with the minimum).

    Nothing measured is never enough; a month entirely in maintenance (nothing counts) always is.
    """
    if ta is None:
        return False
    counted = counted_seconds(ta)
    if counted == 0:
        return True
    return ta.measured_s > 0 and ta.measured_s * 100 >= exact(min_measured_percent) * counted


def unmeasured_share(ta: TerminalAvailability | None) -> Fraction:
    """Share of the counted time nobody judged (1 when the month has no figures at all)."""
    if ta is None:
        return Fraction(1)
    counted = counted_seconds(ta)
    if counted == 0:
        return ZERO
    return Fraction(max(0, counted - ta.measured_s), counted)


def deduction_band(bands: Sequence[DeductionBand], availability: Fraction) -> DeductionBand | None:
    for band in bands:
        if exact(band.from_percent) <= availability < exact(band.below_percent):
            return band
    return None


def incident_rule(rules: Sequence[IncidentRule], duration_s: int) -> IncidentRule | None:
    """The highest-threshold rule the duration strictly exceeds (exactly X hours is not longer than X)."""
    best: IncidentRule | None = None
    for rule in rules:
        if duration_s > exact(rule.longer_than_s) and (
            best is None or rule.longer_than_hours > best.longer_than_hours
        ):
            best = rule
    return best


@dataclass(frozen=True, slots=True)
class Incident:
    """One outage as money sees it: joined across month boundaries, charged in the month it began."""

    terminal: str
    month: Month
    start_ns: int
    end_ns: int
    duration_s: int  # unavailable seconds (the engine's duration: unknown gaps inside do not count)
    parts: int = 1  # monthly outage records joined into this one


def join_incidents(
    months: Sequence[Month], availability: Mapping[Month, Mapping[str, TerminalAvailability]]
) -> dict[str, list[Incident]]:
    """Per terminal, its outages over consecutive ``months``, re-joined where the engine cut them.

    The engine reports each month separately, so an outage from 31 Jan 22:00 to 1 Feb 03:00 arrives as
    two records: one ending exactly at January's period end and one starting exactly at February's
    period start. A 5-hour outage must meet a 4-hour rule, so such pieces are joined.
    """
    out: dict[str, list[Incident]] = {}
    prev_end: dict[str, int] = {}  # terminal -> period_end_ns of the previous month
    for month in months:
        month_av = availability.get(month, {})
        for tid, ta in month_av.items():
            items = out.setdefault(tid, [])
            for o in sorted(ta.outages, key=lambda o: o.start_ns):
                last = items[-1] if items else None
                if (
                    last is not None
                    and o.start_ns == ta.period_start_ns
                    and prev_end.get(tid) == ta.period_start_ns
                    and last.end_ns == ta.period_start_ns
                ):
                    items[-1] = Incident(
                        tid,
                        last.month,
                        last.start_ns,
                        o.end_ns,
                        last.duration_s + o.duration_s,
                        last.parts + 1,
                    )
                else:
                    items.append(Incident(tid, month, o.start_ns, o.end_ns, o.duration_s))
        prev_end = {tid: ta.period_end_ns for tid, ta in month_av.items()}
    return {tid: items for tid, items in out.items() if items}


class DeductionKind(enum.StrEnum):
    AVAILABILITY = "availability"  # availability band of the month
    INCIDENT = "incident"  # one outage longer than a rule's threshold
    TERMINAL_CAP = "terminal_cap"  # (negative) what the per-terminal cap gave back
    CARRIER_CAP = "carrier_cap"  # (negative) what the per-carrier cap gave back
    UNMEASURED_UNAVAILABLE = "unmeasured_unavailable"  # band deduction with unmeasured time counted down
    UNMEASURED_WITHHELD = "unmeasured_withheld"  # fee share of unmeasured time withheld (not capped)


@dataclass(frozen=True, slots=True)
class Deduction:
    """One reason money is withheld, with the figures that justify it. Cap lines are negative."""

    kind: DeductionKind
    carrier: str
    month: Month
    amount: Fraction
    terminal: str | None = None
    availability: Fraction | None = None  # percent
    band: DeductionBand | None = None
    incident: Incident | None = None
    rule: IncidentRule | None = None
    cap_percent: Decimal | None = None


@dataclass(frozen=True, slots=True)
class TerminalMonthCharge:
    terminal: str
    carrier: str
    tier: str
    month: Month
    days: int
    unit_price: Decimal
    fee: Fraction
    availability: Fraction | None  # percent; None = unjudged (below the measured minimum, not counted down)
    deductions: tuple[Deduction, ...] = ()
    unmeasured: Fraction = ZERO  # share of the counted time nobody judged
    insufficient: bool = False  # below the contract's measured minimum: settled by its treatment
    first_day: dt.date | None = None  # the days billed (settle_month always sets them; None: whole month)
    last_day: dt.date | None = None
    version: str = "base"  # the contract version whose rules priced it ("base" or its effective date)

    @property
    def deducted(self) -> Fraction:
        return sum((d.amount for d in self.deductions), ZERO)

    @property
    def withheld(self) -> Fraction:
        """Withheld for unmeasured time (outside the caps)."""
        return sum((d.amount for d in self.deductions if d.kind is DeductionKind.UNMEASURED_WITHHELD), ZERO)

    @property
    def net(self) -> Fraction:
        return self.fee - self.deducted


def charge_terminal_month(
    contract: Contract,
    terminal: Terminal,
    month: Month,
    open_terminals: int,
    ta: TerminalAvailability | None,
    incidents: Sequence[Incident] = (),
    first: dt.date | None = None,
    last: dt.date | None = None,
    version: str = "base",
) -> TerminalMonthCharge | None:
    """Fee and capped deductions of one terminal for one month (or the slice ``first..last`` of it, under
    the rules ``contract`` holds for that slice); None when it was not in service.

    A slice is billed and judged like a month of its own: fee = price × its days / days in the month;
    the month's availability band applies to the slice's fee; the terminal cap limits the slice's
    deductions to cap % of the slice's fee (percent caps add up, so two slices cap the month's fee
    exactly unless one slice alone exceeds it).
    """
    days = billable_days(terminal, month, first, last)
    if days == 0:
        return None
    tier = contract.tier(terminal.tier)
    price = price_band(tier.monthly_price, open_terminals).price
    fee = exact(price) * days / month.days
    enough = measured_enough(ta, contract.measured_minimum)
    unmeasured = unmeasured_share(ta)
    treatment = contract.unmeasured.treatment
    avail = availability_percent(ta) if enough else None
    kind = DeductionKind.AVAILABILITY
    if not enough and treatment is UnmeasuredTreatment.COUNT_UNAVAILABLE:
        counted = counted_seconds(ta) if ta is not None else 0
        avail = Fraction(100 * ta.available_s, counted) if ta is not None and counted else ZERO
        kind = DeductionKind.UNMEASURED_UNAVAILABLE
    lines: list[Deduction] = []
    if avail is not None:
        band = deduction_band(contract.deduction_bands(terminal.tier), avail)
        if band is not None and band.percent > 0:
            amount = fee * exact(band.percent) / 100
            lines.append(Deduction(kind, terminal.carrier, month, amount, terminal.id, avail, band))
    rules = contract.incident_rules(terminal.tier)
    for inc in incidents:
        if inc.month != month:
            continue
        rule = incident_rule(rules, inc.duration_s)
        if rule is None:
            continue
        amount = exact(rule.amount) if rule.amount is not None else fee * exact(rule.percent or 0) / 100
        if amount > 0:
            lines.append(
                Deduction(
                    DeductionKind.INCIDENT,
                    terminal.carrier,
                    month,
                    amount,
                    terminal.id,
                    incident=inc,
                    rule=rule,
                )
            )
    cap_pct = contract.caps.terminal_month_percent
    cap = fee * exact(cap_pct) / 100
    total = sum((d.amount for d in lines), ZERO)
    if total > cap:
        lines.append(
            Deduction(
                DeductionKind.TERMINAL_CAP,
                terminal.carrier,
                month,
                cap - total,
                terminal.id,
                cap_percent=cap_pct,
            )
        )
        total = cap
    if not enough and treatment is UnmeasuredTreatment.WITHHOLD:
        held = min(fee * unmeasured, fee - total)
        if held > 0:
            lines.append(
                Deduction(DeductionKind.UNMEASURED_WITHHELD, terminal.carrier, month, held, terminal.id)
            )
    return TerminalMonthCharge(
        terminal.id,
        terminal.carrier,
        terminal.tier,
        month,
        days,
        price,
        fee,
        avail,
        tuple(lines),
        unmeasured,
        not enough,
        first,
        last,
        version,
    )


@dataclass(frozen=True, slots=True)
class CarrierMonth:
    """One carrier's month: every terminal's charge and the carrier cap, if it bit.

    ``gross`` and ``deducted`` are summed once when the month is built (``CarrierMonth.build``): a
    year's report reads them many times and exact sums over thousands of charges are not free.
    """

    carrier: str
    month: Month
    count_day: dt.date
    open_terminals: int  # province-wide on count_day: the volume band basis
    charges: tuple[TerminalMonthCharge, ...]
    gross: Fraction  # fees, plus the year-end adjustment in the year's last month (count_on_day)
    deducted: Fraction  # after both caps
    cap: Deduction | None = None
    year_end: tuple[YearEndLine, ...] = ()  # count_on_day: per terminal, year-end total − prorated fees

    @property
    def year_end_adjustment(self) -> Fraction:
        return sum((y.amount for y in self.year_end), ZERO)

    @classmethod
    def build(
        cls,
        carrier: str,
        month: Month,
        count_day: dt.date,
        open_terminals: int,
        charges: Sequence[TerminalMonthCharge],
        cap_percent: Decimal,
    ) -> CarrierMonth:
        gross = sum((c.fee for c in charges), ZERO)
        withheld = sum((c.withheld for c in charges), ZERO)
        capped = sum((c.deducted for c in charges), ZERO) - withheld
        cap = gross * exact(cap_percent) / 100
        adj = None
        if capped > cap:
            adj = Deduction(DeductionKind.CARRIER_CAP, carrier, month, cap - capped, cap_percent=cap_percent)
            capped = cap
        return cls(carrier, month, count_day, open_terminals, tuple(charges), gross, capped + withheld, adj)

    @property
    def net(self) -> Fraction:
        return self.gross - self.deducted

    @property
    def deductions(self) -> tuple[Deduction, ...]:
        lines = [d for c in self.charges for d in c.deductions]
        if self.cap is not None:
            lines.append(self.cap)
        return tuple(lines)


@dataclass(frozen=True, slots=True)
class YearEndLine:
    """count_on_day: one terminal's year-end adjustment = its share of the year's total (12 × the annual
    band's monthly price if open on the count day, else 0) − the day-prorated fees billed for it."""

    terminal: str
    carrier: str
    tier: str | None  # its tier on the count day (None: not open then)
    unit_price: Decimal  # monthly price of that tier at the count's band (0 when not open)
    annual: Fraction  # 12 × unit_price, or 0
    prorated: Fraction  # its day-prorated fees of the year under this contract
    amount: Fraction  # annual − prorated


def incident_day(inc: Incident, ta: TerminalAvailability | None, month: Month) -> dt.date:
    """The local day an incident began (the engine's periods start at local midnight of the month)."""
    if ta is None:
        return month.first_day
    offset = max(0, (inc.start_ns - ta.period_start_ns) // 86_400_000_000_000)
    return min(month.first_day + dt.timedelta(days=offset), month.last_day)


def settle_month(
    contract: Contract,
    terminals: Sequence[Terminal],
    month: Month,
    availability: Mapping[str, TerminalAvailability],
    incidents: Mapping[str, Sequence[Incident]] | None = None,
    count_terminals: Sequence[Terminal] | None = None,
) -> dict[str, CarrierMonth]:
    """Every carrier's month (carriers with no terminal in service get an empty month).

    ``terminals`` may hold several records (slices of a dated history) per terminal id, with disjoint
    in-service dates; ``count_terminals`` (default ``terminals``) are the province-wide terminals whose
    count selects the price band. A month cut by a contract version is billed slice by slice; an
    incident is charged to the slice in which it began.
    """
    count_day = contract.volume_count_day(month)
    n_open = open_count(terminals if count_terminals is None else count_terminals, count_day)
    incidents = incidents or {}
    by_carrier: dict[str, list[TerminalMonthCharge]] = {c: [] for c in contract.carriers}
    slices = [(a, b, contract.at(a) if contract.versions else contract, contract.version_label(a))
              for a, b in contract.slices(month)]  # fmt: skip
    whole = len(slices) == 1
    records: dict[str, int] = {}
    for t in terminals:
        if billable_days(t, month):
            records[t.id] = records.get(t.id, 0) + 1
    for t in terminals:
        ta = availability.get(t.id)
        own = incidents.get(t.id, ())
        for first, last, rules, version in slices:
            lo, hi = max(first, t.in_service_from), min(last, t.in_service_to or last)  # the days billed
            mine = list(own)
            if not whole or records.get(t.id, 0) > 1:  # the incident goes to the slice it began in
                mine = [i for i in own if i.month == month and lo <= incident_day(i, ta, month) <= hi]
            charge = charge_terminal_month(rules, t, month, n_open, ta, mine, lo, hi, version)
            if charge is not None:
                by_carrier.setdefault(t.carrier, []).append(charge)
    cap_pct = contract.at(month.last_day).caps.carrier_month_percent
    return {
        carrier: CarrierMonth.build(carrier, month, count_day, n_open, charges, cap_pct)
        for carrier, charges in by_carrier.items()
    }


def inventory_problems(contract: Contract, terminals: Iterable[Terminal]) -> list[str]:
    """Rows the contract cannot price: unknown carrier or tier, or a region the carrier does not serve."""
    problems: list[str] = []
    for t in terminals:
        if t.carrier not in contract.carriers:
            problems.append(f"terminal {t.id}: carrier {t.carrier!r} is not in the contract")
        elif contract.carriers[t.carrier].regions and t.region not in contract.carriers[t.carrier].regions:
            problems.append(
                f"terminal {t.id}: region {t.region!r} is not served by {t.carrier!r} in the contract"
            )
        if t.tier not in contract.tiers:
            problems.append(f"terminal {t.id}: tier {t.tier!r} has no price in the contract")
    return problems

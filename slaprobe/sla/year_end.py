"""The year-end settlement read as "count on the day × annual unit price" (contract ``year_end``).

The seed's sentence "在支付最后一季度服务费用时，以我局年末公布的全省开通终端服务数量所对应的服务单价为标准，
核算全年服务费用总价" has two readings. ``day_prorated`` (the default) bills every terminal-month by its
in-service days at the price band the year-end count selects: nothing to do here. ``count_on_day``
takes the officially published count of open terminals on the count day as the year's billable
quantity: every terminal open that day is billed 12 × its tier's monthly price at the band that count
selects, and terminals not open that day are billed nothing for the year.

Why an adjustment and not a second fee model: quarterly statements during the year are day-prorated
(the year-end count does not exist yet), and deductions are a share of a terminal's monthly fee as the
contract's deduction rules say. So the day-prorated months stay as they are, and the year's last month
carries one adjustment line per terminal: its year-end total − its day-prorated fees. Quarters still
sum to the year, and every line can be checked by hand against the inventory.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from fractions import Fraction

from slaprobe.sla.contract import ZERO, CarrierMonth, YearEndLine, exact, open_count, price_band
from slaprobe.sla.contract_config import Contract
from slaprobe.sla.periods import Month
from slaprobe.terminal import Terminal


class YearEndError(ValueError):
    """The published count and the inventory disagree: the per-terminal split cannot be made."""


def year_end_count(contract: Contract, count_terminals: Sequence[Terminal]) -> int:
    """The count that prices the year: the inventory's on the count day, which must equal the published
    count when one is given (the published figure is the official one; the inventory must say who)."""
    day = contract.year_end_day
    n = open_count(count_terminals, day)
    published = contract.year_end.published_count
    if published is not None and published != n:
        raise YearEndError(
            f"{contract.source}: year_end.published_count is {published}, but the inventory has {n} "
            f"terminals open on {day}: the year-end total cannot be split per terminal and carrier "
            "(correct the inventory or the published count)"
        )
    return n


def year_end_lines(
    contract: Contract,
    months: Mapping[Month, Mapping[str, CarrierMonth]],
    terminals: Sequence[Terminal],
    count_terminals: Sequence[Terminal],
) -> dict[str, tuple[YearEndLine, ...]]:
    """Per carrier, one line per terminal billed this year or open on the count day."""
    day = contract.year_end_day
    n = year_end_count(contract, count_terminals)
    rules = contract.at(day)
    prorated: dict[tuple[str, str], Fraction] = {}
    tiers: dict[tuple[str, str], str] = {}
    for by_carrier in months.values():
        for carrier, cm in by_carrier.items():
            for ch in cm.charges:
                key = (ch.terminal, carrier)
                prorated[key] = prorated.get(key, ZERO) + ch.fee
                tiers.setdefault(key, ch.tier)
    open_now = {(t.id, t.carrier): t for t in terminals if t.in_service_on(day)}
    out: dict[str, list[YearEndLine]] = {}
    for key in sorted(prorated.keys() | open_now.keys()):
        tid, carrier = key
        t = open_now.get(key)
        price = price_band(rules.tier(t.tier).monthly_price, n).price if t is not None else None
        annual = exact(price) * 12 if price is not None else ZERO
        done = prorated.get(key, ZERO)
        line = YearEndLine(
            tid, carrier, t.tier if t else None, price if price is not None else exact(0), annual, done,
            annual - done,
        )  # fmt: skip
        out.setdefault(carrier, []).append(line)
    return {c: tuple(lines) for c, lines in out.items()}


def apply_year_end(
    contract: Contract,
    months: Mapping[Month, Mapping[str, CarrierMonth]],
    terminals: Sequence[Terminal],
    count_terminals: Sequence[Terminal],
) -> dict[Month, dict[str, CarrierMonth]]:
    """``months`` with the year-end adjustment added to the gross of the contract year's last month."""
    last = Month(contract.year, 12)
    lines = year_end_lines(contract, months, terminals, count_terminals)
    out = {m: dict(by_carrier) for m, by_carrier in months.items()}
    for carrier, cm in out[last].items():
        mine = lines.get(carrier, ())
        adjustment = sum((y.amount for y in mine), ZERO)
        out[last][carrier] = dataclasses.replace(cm, gross=cm.gross + adjustment, year_end=mine)
    return out

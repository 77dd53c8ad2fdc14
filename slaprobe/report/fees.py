"""The per-terminal fee listing: one line per terminal and billed slice of a month, to defend each line.

A carrier disputes figures terminal by terminal, so the statement lists, for every terminal-month (or
slice of one, where a contract version or the terminal's own history cut the month): carrier, tier, the
rules' version, the days billed, the unit price, the gross fee, each deduction with its reason and the
net. Count-on-day contracts add one year-end adjustment line per terminal (year-end total − prorated).
Each amount is the exact value rounded once by the contract's rule, so a line may differ from a
carrier total by rounding; the carrier cap (a carrier-month line) is not in this listing.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from slaprobe.report.i18n_money import label
from slaprobe.report.money_table import Table, table
from slaprobe.report.reconcile import CST, deduction_reason
from slaprobe.sla.reconcile import Reconciliation

FEE_HEADS = (
    "month", "terminal", "carrier", "tier", "version", "billed_from", "billed_to", "days", "unit_price",
    "gross", "deducted", "net", "deduction_reasons",
)  # fmt: skip


def fee_lines(rec: Reconciliation, lang: str = "zh", tz: dt.tzinfo = CST) -> list[dict[str, Any]]:
    """The listing as JSON-ready dicts (amounts as decimal strings rounded by the contract's rule)."""
    m = rec.money
    out: list[dict[str, Any]] = []
    for cs in rec.carriers:
        for month in cs.months:
            for ch in month.charges:
                out.append(
                    {
                        "month": str(ch.month),
                        "terminal": ch.terminal,
                        "carrier": ch.carrier,
                        "tier": ch.tier,
                        "version": ch.version,
                        "billed_from": (ch.first_day or ch.month.first_day).isoformat(),
                        "billed_to": (ch.last_day or ch.month.last_day).isoformat(),
                        "days": ch.days,
                        "unit_price": str(ch.unit_price),
                        "gross": str(m(ch.fee)),
                        "deducted": str(m(ch.deducted)),
                        "net": str(m(ch.net)),
                        "deductions": [
                            {
                                "kind": d.kind.value,
                                "reason": deduction_reason(d, ch.fee, rec, lang, tz),
                                "amount": str(m(d.amount)),
                            }
                            for d in ch.deductions
                        ],
                    }
                )
            for y in month.year_end:
                out.append(
                    {
                        "month": str(month.month),
                        "terminal": y.terminal,
                        "carrier": y.carrier,
                        "tier": y.tier or "",
                        "version": "year_end",
                        "billed_from": rec.contract.year_end_day.isoformat(),
                        "billed_to": rec.contract.year_end_day.isoformat(),
                        "days": 0,
                        "unit_price": str(y.unit_price),
                        "gross": str(m(y.amount)),
                        "deducted": "0.00",
                        "net": str(m(y.amount)),
                        "deductions": [
                            {
                                "kind": "year_end_adjustment",
                                "reason": label(
                                    "reason.year_end",
                                    lang,
                                    annual=m(y.annual),
                                    prorated=m(y.prorated),
                                    day=rec.contract.year_end_day,
                                ),
                                "amount": str(m(y.amount)),
                            }
                        ],
                    }
                )
    return out


def fee_table(rec: Reconciliation, lang: str = "zh", tz: dt.tzinfo = CST) -> Table:
    rows = [
        (
            *(line[k] for k in FEE_HEADS[:-1]),
            "; ".join(f"{d['reason']}: {d['amount']}" for d in line["deductions"]),
        )
        for line in fee_lines(rec, lang, tz)
    ]
    return table(label("fees", lang), [label(f"fee.{k}", lang) for k in FEE_HEADS], rows, (7, 8, 9, 10, 11))

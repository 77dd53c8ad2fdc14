"""Renderers for ``slaprobe reconcile``: text table, CSV, Markdown and JSON, in Chinese or English.

Renderers only lay figures out. Every amount is the settlement's exact value passed through
``Reconciliation.money`` (the contract's one rounding rule); availability in a reason is truncated to
four decimals, so a month just under a threshold never prints as the threshold itself.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from decimal import Decimal
from fractions import Fraction
from typing import Any

from slaprobe.report.i18n_money import label
from slaprobe.report.money_table import Document, Table, render, table
from slaprobe.sla.contract import Deduction, DeductionKind
from slaprobe.sla.contract_config import Installment
from slaprobe.sla.periods import Month
from slaprobe.sla.reconcile import Discrepancy, Reconciliation, billing_totals

CST = dt.timezone(dt.timedelta(hours=8), "UTC+8")
FORMATS = ("table", "csv", "markdown", "json")


def truncate_percent(value: Fraction, places: int) -> str:
    """``value`` (a percentage) cut, not rounded, to ``places`` decimals: 99.89999 -> '99.8999'."""
    scale = 10**places
    whole = int(value * scale)  # int() truncates toward zero
    sign = "-" if whole < 0 else ""
    q, r = divmod(abs(whole), scale)
    return f"{sign}{q}.{r:0{places}d}" if places else f"{sign}{q}"


def render_reconciliation(
    rec: Reconciliation,
    fmt: str = "table",
    lang: str = "zh",
    discrepancies: Sequence[Discrepancy] | None = None,
    invoice_source: str = "",
    tz: dt.tzinfo = CST,
) -> str:
    if fmt == "json":
        data = reconciliation_json(rec, discrepancies, lang=lang, tz=tz)
        return json.dumps(data, ensure_ascii=False, indent=2) + "\n"
    doc = reconciliation_document(rec, lang, discrepancies, invoice_source, tz)
    if fmt == "html":  # the same tables as a self-contained page (report/html.py)
        from slaprobe.report.html import render_document

        return render_document(doc, lang)
    if fmt == "csv":  # with the per-terminal listing; a BOM so Excel on Chinese Windows reads UTF-8
        from slaprobe.report.fees import fee_table

        doc = Document(doc.title, (*doc.tables, fee_table(rec, lang, tz)), doc.notes)
        return with_bom(render(doc, fmt))
    return render(doc, fmt)


def with_bom(text: str) -> str:
    """CSV text starting with exactly one U+FEFF (utf-8-sig when written as UTF-8)."""
    return text if text.startswith("\ufeff") else "\ufeff" + text


def reconciliation_document(
    rec: Reconciliation,
    lang: str = "zh",
    discrepancies: Sequence[Discrepancy] | None = None,
    invoice_source: str = "",
    tz: dt.tzinfo = CST,
) -> Document:
    c = rec.contract
    m = rec.money

    def L(key: str, **kw: object) -> str:
        return label(key, lang, **kw)

    def carrier_name(carrier: str) -> str:
        return c.carriers[carrier].label.get(lang, carrier) if carrier in c.carriers else carrier

    def tier_name(tier: str | None) -> str:
        if tier is None:
            return ""
        return c.tiers[tier].label.get(lang, tier) if tier in c.tiers else tier

    summary_rows = []
    for cs, ytd in zip(rec.carriers, rec.year_to_date, strict=True):
        paid, balance = rec.carrier_paid_to_date(cs.carrier), rec.carrier_balance_due(cs.carrier)
        a = rec.amounts(cs)
        summary_rows.append(
            (
                carrier_name(cs.carrier),
                len({ch.terminal for ch in cs.charges}),
                cs.terminal_days,
                a.gross,
                a.deducted,
                a.net,
                len(cs.unjudged),
                rec.amounts(ytd).net,
                "-" if paid is None else paid,
                "-" if balance is None else balance,
            )
        )
    total = rec.total
    summary_rows.append(
        (
            L("total"),
            sum(int(r[1]) for r in summary_rows),
            sum(cs.terminal_days for cs in rec.carriers),
            total.gross,
            total.deducted,
            total.net,
            sum(len(cs.unjudged) for cs in rec.carriers),
            rec.total_year_to_date.net,
            rec.paid_to_date,
            rec.balance_due,
        )
    )
    heads = ("carrier", "terminals", "terminal_days", "gross", "deducted", "net", "unjudged", "net_ytd")
    summary = table(
        L("summary"),
        [L(k) for k in (*heads, "paid_to_date", "balance_due")],
        summary_rows,
        range(1, 10),
    )
    tier_rows = [
        (
            carrier_name(line.carrier),
            tier_name(line.tier),
            line.terminals,
            line.terminal_days,
            " / ".join(str(p) for p in line.unit_prices),
            m(line.gross),
            m(line.deducted),
        )
        for cs in rec.carriers
        for line in cs.tiers()
    ]
    tier_rows += [
        (carrier_name(cs.carrier), L("year_end_adjustment"), "", "", "", m(adj), "")
        for cs in rec.carriers
        if (adj := sum((mo.year_end_adjustment for mo in cs.months), Fraction(0)))
    ]
    tiers = table(
        L("by_tier"),
        [L(k) for k in ("carrier", "tier", "terminals", "terminal_days", "unit_price", "gross")]
        + [L("terminal_deducted")],
        tier_rows,
        range(2, 7),
    )
    basis = table(
        L("price_basis"),
        [L("month"), L("count_day"), L("open_terminals")],
        [(str(month), day, n) for month, day, n in rec.price_basis],
        (2,),
    )
    fees = fee_bases(rec)
    ded_rows = [
        (
            str(d.month),
            carrier_name(d.carrier),
            d.terminal or "",
            L(f"kind.{d.kind.value}"),
            deduction_reason(d, fees[d.carrier, d.month, d.terminal], rec, lang, tz),
            m(d.amount),
        )
        for cs in rec.carriers
        for d in cs.deductions
    ]
    deductions = table(
        L("deductions"),
        [L(k) for k in ("month", "carrier", "terminal", "kind", "reason", "amount")],
        ded_rows,
        (5,),
    )
    pay_rows: list[tuple[object, ...]] = [
        (i.quarter, i.amount, i.paid_on or "", i.note) for i in rec.installments_to_date
    ]
    pay_rows.append((L("paid_to_date"), rec.paid_to_date, "", ""))
    if rec.installments_later:
        pay_rows.append(
            (L("paid_later"), rec.paid_later, "", ", ".join(i.quarter for i in rec.installments_later))
        )
    if c.payments.budget is not None:
        pay_rows += [
            (L("budget"), c.payments.budget, "", ""),
            (L("budget_remaining"), rec.budget_remaining, "", ""),
        ]
    pay_rows += [
        (L("net_ytd"), rec.total_year_to_date.net, "", ""),
        (L("balance_due"), rec.balance_due, "", L(f"treatment.{rec.balance_treatment}")),
    ]
    if rec.installments_later:
        pay_rows.append((L("outstanding"), rec.outstanding, "", ""))
    payments = table(L("payments"), [L("quarter"), L("amount"), L("paid_on"), L("note")], pay_rows, (1,))
    tables = [summary, tiers, basis, deductions, unmeasured_table(rec, lang), payments]
    if discrepancies is not None:
        tables.append(discrepancy_table(rec, discrepancies, lang, invoice_source))
    notes = [
        L(
            "note.rounding",
            currency=c.currency,
            quantum=c.rounding.quantum,
            mode=L(f"mode.{c.rounding.mode.value}"),
        ),
        L("note.balance", end=rec.period.last),
        L("note.price_basis"),
    ]
    unjudged = sum(len(cs.unjudged) for cs in rec.carriers)
    if unjudged:
        notes.append(L("note.unjudged", n=unjudged))
    notes.append(unmeasured_note(rec, lang))
    if c.versions:  # a month spanning a version's day is billed in slices (the fee listing shows them)
        notes.append(L("note.versions", days=", ".join(v.effective_from.isoformat() for v in c.versions)))
    if c.year_end.rule.value == "count_on_day":
        notes.append(L("note.count_on_day", day=c.year_end_day))
    title = L("reconcile.title", period=rec.period, contract=c.name.get(lang, str(c.year)))
    return Document(title, tuple(tables), tuple(notes))


def unmeasured_table(rec: Reconciliation, lang: str) -> Table:
    """Unmeasured terminal-time per carrier and how it was settled: never silently paid or deducted."""
    c = rec.contract
    rows = [
        (
            c.carriers[line.carrier].label.get(lang, line.carrier)
            if line.carrier in c.carriers
            else line.carrier,
            label(f"unmeasured.{line.treatment}", lang),
            line.terminal_months,
            line.terminal_days,
            truncate_percent(line.unmeasured_days, 2),
            rec.money(line.amount),
        )
        for cs in rec.carriers
        for line in cs.unmeasured(c.unmeasured.treatment)
    ]
    heads = ("carrier", "settled_as", "terminal_months", "terminal_days", "unmeasured_days", "amount")
    return table(
        label("unmeasured", lang, pct=c.measured_minimum),
        [label(k, lang) for k in heads],
        rows,
        (2, 3, 4, 5),
    )


def unmeasured_note(rec: Reconciliation, lang: str) -> str:
    c = rec.contract
    treatment = c.unmeasured.treatment.value
    return label(
        "note.unmeasured",
        lang,
        pct=c.measured_minimum,
        treatment=label(f"unmeasured.{treatment}", lang),
        meaning=label(f"note.unmeasured.{treatment}", lang),
    )


def unmeasured_warning(rec: Reconciliation) -> str | None:
    """The stderr line when terminal-months fell below the measured minimum (None otherwise)."""
    lines = [
        line
        for cs in rec.carriers
        for line in cs.unmeasured(rec.contract.unmeasured.treatment)
        if line.treatment != "within_minimum"
    ]
    if not lines:
        return None
    months = sum(line.terminal_months for line in lines)
    days = sum(line.terminal_days for line in lines)
    amount = rec.money(sum((line.amount for line in lines), Fraction(0)))
    treatment = rec.contract.unmeasured.treatment.value
    return (
        f"WARNING {rec.period}: {months} terminal-month(s) ({days} terminal-days) measured below the "
        f"contract's minimum {rec.contract.measured_minimum} %: settled as '{treatment}' "
        f"({amount} {rec.contract.currency}; see the statement's unmeasured-time table)"
    )


def discrepancy_table(rec: Reconciliation, found: Sequence[Discrepancy], lang: str, source: str) -> Table:
    c = rec.contract
    rows = [
        (
            "" if d.line is None else d.line,
            label(f"disc.{d.kind.value}", lang),
            c.carriers[d.carrier].label.get(lang, d.carrier) if d.carrier in c.carriers else d.carrier,
            d.terminal or "",
            d.tier or "",
            d.billed,
            d.expected,
        )
        for d in found
    ]
    for t in billing_totals(found):
        name = c.carriers[t.carrier].label.get(lang, t.carrier) if t.carrier in c.carriers else t.carrier
        rows += [
            ("", label(k, lang, tol=""), name, "", "", str(v), "")
            for k, v in (
                ("overbilled", t.overbilled),
                ("underbilled", t.underbilled),
                ("rounding_difference", t.rounding),
            )
            if v
        ]
    if not rows:
        rows = [("", label("disc.none", lang), "", "", "", "", "")]
    heads = ("line", "kind", "carrier", "terminal", "tier", "billed", "expected")
    return table(label("discrepancies", lang, source=source), [label(k, lang) for k in heads], rows, (0,))


def deduction_reason(d: Deduction, fee: Fraction, rec: Reconciliation, lang: str, tz: dt.tzinfo = CST) -> str:
    """Why ``d`` was withheld, with its figures; ``fee`` is what a percentage applies to (see fee_bases)."""
    m = rec.money
    if d.kind is DeductionKind.AVAILABILITY and d.band is not None and d.availability is not None:
        return label(
            "reason.availability",
            lang,
            avail=truncate_percent(d.availability, 4),
            lo=d.band.from_percent,
            hi=d.band.below_percent,
            pct=d.band.percent,
            fee=m(fee),
        )
    if d.kind is DeductionKind.INCIDENT and d.incident is not None and d.rule is not None:
        start = dt.datetime.fromtimestamp(d.incident.start_ns / 1e9, tz).strftime("%Y-%m-%d %H:%M")
        minutes = d.incident.duration_s // 60
        dur = label("duration", lang, h=minutes // 60, m=minutes % 60)
        hours = d.rule.longer_than_hours
        if d.rule.amount is not None:
            return label(
                "reason.incident_amount", lang, start=start, dur=dur, hours=hours, amount=m(d.amount)
            )
        return label(
            "reason.incident_percent", lang, start=start, dur=dur, hours=hours, pct=d.rule.percent, fee=m(fee)
        )
    if d.kind is DeductionKind.UNMEASURED_UNAVAILABLE and d.band is not None and d.availability is not None:
        return label(
            "reason.unmeasured_unavailable",
            lang,
            avail=truncate_percent(d.availability, 4),
            lo=d.band.from_percent,
            hi=d.band.below_percent,
            pct=d.band.percent,
            fee=m(fee),
        )
    if d.kind is DeductionKind.UNMEASURED_WITHHELD:
        share = truncate_percent(d.amount / fee * 100, 4) if fee else "-"
        return label("reason.unmeasured_withheld", lang, share=share, fee=m(fee))
    if d.kind is DeductionKind.TERMINAL_CAP:
        return label("reason.terminal_cap", lang, pct=d.cap_percent, fee=m(fee))
    return label("reason.carrier_cap", lang, pct=d.cap_percent, fee=m(fee))


def fee_bases(rec: Reconciliation) -> dict[tuple[str, Month, str | None], Fraction]:
    """(carrier, month, terminal) -> the terminal-month fee; terminal None -> the carrier-month gross."""
    out: dict[tuple[str, Month, str | None], Fraction] = {}
    for cs in rec.carriers:
        for month in cs.months:
            out[cs.carrier, month.month, None] = month.gross
            for ch in month.charges:
                out[cs.carrier, month.month, ch.terminal] = ch.fee
    return out


def reconciliation_json(
    rec: Reconciliation,
    discrepancies: Sequence[Discrepancy] | None = None,
    fees: bool = True,
    lang: str = "zh",
    tz: dt.tzinfo = CST,
) -> dict[str, Any]:
    """Machine-readable settlement: amounts as decimal strings rounded by the contract's rule."""
    m = rec.money

    def money(x: Fraction | Decimal | None) -> str | None:
        return None if x is None else str(m(x))

    def deduction(d: Deduction) -> dict[str, Any]:
        out: dict[str, Any] = {
            "month": str(d.month),
            "carrier": d.carrier,
            "terminal": d.terminal,
            "kind": d.kind.value,
            "amount": money(d.amount),
        }
        if d.availability is not None:
            out["availability_percent"] = truncate_percent(d.availability, 6)
        if d.band is not None:
            out["band"] = {
                "from": str(d.band.from_percent),
                "below": str(d.band.below_percent),
                "percent": str(d.band.percent),
            }
        if d.incident is not None:
            out["outage"] = {
                "start_ns": d.incident.start_ns,
                "end_ns": d.incident.end_ns,
                "duration_s": d.incident.duration_s,
                "parts": d.incident.parts,
            }
        if d.rule is not None:
            out["rule"] = {
                "longer_than_hours": str(d.rule.longer_than_hours),
                "amount": None if d.rule.amount is None else str(d.rule.amount),
                "percent": None if d.rule.percent is None else str(d.rule.percent),
            }
        if d.cap_percent is not None:
            out["cap_percent"] = str(d.cap_percent)
        return out

    carriers = []
    for cs, ytd in zip(rec.carriers, rec.year_to_date, strict=True):
        a = rec.amounts(cs)
        carriers.append(
            {
                "carrier": cs.carrier,
                "terminals": len({ch.terminal for ch in cs.charges}),
                "terminal_days": cs.terminal_days,
                "gross": str(a.gross),
                "deducted": str(a.deducted),
                "net": str(a.net),
                "net_year_to_date": str(rec.amounts(ytd).net),
                "paid_to_date": money(rec.carrier_paid_to_date(cs.carrier)),
                "balance_due": money(rec.carrier_balance_due(cs.carrier)),
                "unjudged_terminal_months": [[ch.terminal, str(ch.month)] for ch in cs.unjudged],
                "unmeasured": [
                    {
                        "settled_as": line.treatment,
                        "terminal_months": line.terminal_months,
                        "terminal_days": line.terminal_days,
                        "unmeasured_terminal_days": truncate_percent(line.unmeasured_days, 2),
                        "amount": money(line.amount),
                    }
                    for line in cs.unmeasured(rec.contract.unmeasured.treatment)
                ],
                "year_end_adjustment": money(sum((mo.year_end_adjustment for mo in cs.months), Fraction(0))),
                "tiers": [
                    {
                        "tier": t.tier,
                        "terminals": t.terminals,
                        "terminal_days": t.terminal_days,
                        "unit_prices": [str(p) for p in t.unit_prices],
                        "gross": money(t.gross),
                        "deducted": money(t.deducted),
                    }
                    for t in cs.tiers()
                ],
                "deductions": [deduction(d) for d in cs.deductions],
            }
        )
    c = rec.contract
    out: dict[str, Any] = {
        "contract": {
            "year": c.year,
            "name": c.name.zh or c.name.en,
            "source": c.source,
            "currency": c.currency,
        },
        "period": rec.period.label,
        "rounding": {"quantum": str(c.rounding.quantum), "mode": c.rounding.mode.value},
        "unmeasured_rule": {
            "treatment": c.unmeasured.treatment.value,
            "min_measured_percent": str(c.measured_minimum),
        },
        "price_basis": [
            {"month": str(mo), "count_day": day.isoformat(), "open_terminals": n}
            for mo, day, n in rec.price_basis
        ],
        "carriers": carriers,
        "gross": str(rec.total.gross),
        "deducted": str(rec.total.deducted),
        "net": str(rec.total.net),
        "net_year_to_date": str(rec.total_year_to_date.net),
        "installments_to_date": [_installment(i) for i in rec.installments_to_date],
        "installments_later": [_installment(i) for i in rec.installments_later],
        "paid_to_date": money(rec.paid_to_date),
        "balance_due": money(rec.balance_due),
        "balance_treatment": rec.balance_treatment,
        "paid_later": money(rec.paid_later),
        "outstanding": money(rec.outstanding),
        "budget": money(c.payments.budget),
        "budget_remaining": money(rec.budget_remaining),
        "year_end": {
            "rule": c.year_end.rule.value,
            "count_on": c.year_end_day.isoformat(),
            "published_count": c.year_end.published_count,
        },
        "contract_id": c.id,
        "versions": [v.effective_from.isoformat() for v in c.versions],
    }
    if fees:
        from slaprobe.report.fees import fee_lines

        out["fees"] = fee_lines(rec, lang, tz)
    if discrepancies is not None:
        out["discrepancies"] = [
            {
                "kind": d.kind.value,
                "line": d.line,
                "carrier": d.carrier,
                "terminal": d.terminal,
                "tier": d.tier,
                "billed": d.billed,
                "expected": d.expected,
                "difference": None if d.difference is None else str(d.difference),
            }
            for d in discrepancies
        ]
        out["invoice_totals"] = [
            {
                "carrier": t.carrier,
                "overbilled": str(t.overbilled),
                "underbilled": str(t.underbilled),
                "rounding_difference": str(t.rounding),
            }
            for t in billing_totals(discrepancies)
        ]
    return out


def _installment(i: Installment) -> dict[str, Any]:
    return {
        "quarter": i.quarter,
        "amount": str(i.amount),
        "paid_on": i.paid_on.isoformat() if i.paid_on else None,
        "by_carrier": {k: str(v) for k, v in i.by_carrier.items()},
        "service": {str(k): str(v) for k, v in i.service.items()},
        "note": i.note,
    }

"""Renderers of the province's settlement over several signed contracts (``sla.province``).

The old single-contract file renders exactly as before (``report.reconcile``). With several signed
contracts: a province summary per carrier (each contract's rounded figures added up, balance due per
carrier), then every contract's own statement, its tables titled with the contract's id. JSON keeps the
top-level fields of the single-contract statement (summed) and lists each contract under ``contracts``.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from slaprobe.report.i18n_money import label
from slaprobe.report.money_table import Document, render, table
from slaprobe.report.reconcile import (
    CST,
    reconciliation_document,
    reconciliation_json,
    render_reconciliation,
    with_bom,
)
from slaprobe.sla.province import ProvinceReconciliation
from slaprobe.sla.reconcile import Discrepancy, Reconciliation


def _money(x: Decimal | None) -> str | None:
    return None if x is None else str(x)


def province_json(
    prov: ProvinceReconciliation,
    found: dict[str, Sequence[Discrepancy]] | None = None,
    lang: str = "zh",
    tz: dt.tzinfo = CST,
    fees: bool = True,
) -> dict[str, Any]:
    """Top-level figures of the province (sums of the contracts'), carriers merged, each contract whole."""
    parts = [
        reconciliation_json(r, (found or {}).get(r.contract.id), fees=fees, lang=lang, tz=tz)
        for r in prov.parts
    ]
    if prov.book.single:
        return parts[0]
    carriers: dict[str, dict[str, Any]] = {}
    for r, part in zip(prov.parts, parts, strict=True):
        for entry in part["carriers"]:
            merged = carriers.setdefault(entry["carrier"], {"carrier": entry["carrier"], "contracts": []})
            merged["contracts"].append(r.contract.id)
            for k, v in entry.items():
                if isinstance(v, list):
                    merged[k] = merged.get(k, []) + v
                elif k not in merged:
                    merged[k] = v
    for name, entry in carriers.items():
        ytd, period = prov.carrier_amounts(name, True), prov.carrier_amounts(name)
        entry |= {
            "terminals": sum(e["terminals"] for p in parts for e in p["carriers"] if e["carrier"] == name),
            "gross": str(period.gross),
            "deducted": str(period.deducted),
            "net": str(period.net),
            "net_year_to_date": str(ytd.net),
            "paid_to_date": _money(prov.carrier_paid_to_date(name)),
            "balance_due": _money(prov.carrier_balance_due(name)),
        }
    c = prov.province
    out: dict[str, Any] = {
        "contract": parts[0]["contract"] | {"name": c.name.zh or c.name.en},
        "period": prov.period.label,
        "rounding": parts[0]["rounding"],
        "unmeasured_rule": parts[0]["unmeasured_rule"],
        "price_basis": parts[0]["price_basis"],
        "carriers": list(carriers.values()),
        "gross": str(prov.total.gross),
        "deducted": str(prov.total.deducted),
        "net": str(prov.total.net),
        "net_year_to_date": str(prov.total_year_to_date.net),
        "installments_to_date": [i for p in parts for i in p["installments_to_date"]],
        "installments_later": [i for p in parts for i in p["installments_later"]],
        "paid_to_date": str(prov.paid_to_date),
        "balance_due": str(prov.balance_due),
        "paid_later": str(prov.paid_later),
        "outstanding": str(prov.balance_due - prov.paid_later),
        "budget": _money(prov.budget),
        "budget_remaining": _money(prov.budget_remaining),
        "contracts": parts,
    }
    if found is not None:
        out["discrepancies"] = [d for p in parts for d in p.get("discrepancies", [])]
    fees = [line for p in parts for line in p.get("fees", [])]
    if fees:
        out["fees"] = fees
    return out


def province_document(prov: ProvinceReconciliation, lang: str = "zh", tz: dt.tzinfo = CST) -> Document:
    def L(key: str, **kw: object) -> str:
        return label(key, lang, **kw)

    c = prov.province
    rows: list[tuple[object, ...]] = []
    for name in prov.carriers:
        a, ytd = prov.carrier_amounts(name), prov.carrier_amounts(name, True)
        paid, bal = prov.carrier_paid_to_date(name), prov.carrier_balance_due(name)
        rows.append(
            (
                c.carriers[name].label.get(lang, name),
                ", ".join(r.contract.id for r in prov.parts if name in r.contract.carriers),
                a.gross, a.deducted, a.net, ytd.net,
                "-" if paid is None else paid, "-" if bal is None else bal,
            )
        )  # fmt: skip
    t = prov.total
    rows.append(
        (L("total"), "", t.gross, t.deducted, t.net, prov.total_year_to_date.net, prov.paid_to_date,
         prov.balance_due)
    )  # fmt: skip
    heads = ("carrier", "contract", "gross", "deducted", "net", "net_ytd", "paid_to_date", "balance_due")
    summary = table(L("province"), [L(k) for k in heads], rows, range(2, 8))
    pay_rows: list[tuple[object, ...]] = []
    if prov.budget is not None:
        pay_rows += [(L("budget"), prov.budget), (L("budget_remaining"), prov.budget_remaining)]
    pay_rows += [(L("paid_to_date"), prov.paid_to_date), (L("balance_due"), prov.balance_due)]
    payments = table(L("payments"), [L("note"), L("amount")], pay_rows, (1,))
    tables = [summary, payments]
    notes: list[str] = []
    for r in prov.parts:
        doc = reconciliation_document(r, lang, None, "", tz)
        prefix = L("contract_part", id=r.contract.id)
        tables += [type(x)(f"{prefix}: {x.title}", x.headers, x.rows, x.numeric) for x in doc.tables]
        notes = list(doc.notes)
    title = L("reconcile.title", period=prov.period, contract=c.name.get(lang, str(c.year)))
    return Document(title, tuple(tables), tuple(notes))


def render_province(
    prov: ProvinceReconciliation,
    fmt: str = "table",
    lang: str = "zh",
    found: dict[str, Sequence[Discrepancy]] | None = None,
    invoice_source: str = "",
    tz: dt.tzinfo = CST,
) -> str:
    if prov.book.single:
        rec: Reconciliation = prov.parts[0]
        disc = None if found is None else found.get(rec.contract.id, ())
        return render_reconciliation(rec, fmt, lang, disc, invoice_source, tz)
    if fmt == "json":
        return json.dumps(province_json(prov, found, lang, tz), ensure_ascii=False, indent=2) + "\n"
    doc = province_document(prov, lang, tz)
    if found is not None:
        from slaprobe.report.reconcile import discrepancy_table

        extra = [discrepancy_table(r, found.get(r.contract.id, ()), lang, invoice_source) for r in prov.parts]
        doc = Document(doc.title, (*doc.tables, *extra), doc.notes)
    if fmt == "html":
        from slaprobe.report.html import render_document

        return render_document(doc, lang)
    if fmt == "csv":
        from slaprobe.report.fees import fee_table

        fees = tuple(fee_table(r, lang, tz) for r in prov.parts)
        return with_bom(render(Document(doc.title, (*doc.tables, *fees), doc.notes), fmt))
    return render(doc, fmt)

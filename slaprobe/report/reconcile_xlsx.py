"""``reconcile --format xlsx``: the statement's JSON laid out as sheets (report/xlsx.py rules).

Built from the JSON document, not from the tables, so every cell is the figure the JSON states (a test
opens the file with openpyxl and compares cell by cell): amounts are Decimal numbers (MONEY format),
counts integers, one sheet per section, headers in the chosen language (Chinese by default).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from slaprobe.report.i18n_money import label
from slaprobe.report.xlsx import Fmt, Sheet, workbook_bytes

SUMMARY = ("carrier", "terminals", "gross", "deducted", "net", "net_ytd", "paid_to_date", "balance_due")
SUMMARY_KEYS = ("carrier", "terminals", "gross", "deducted", "net", "net_year_to_date", "paid_to_date",
                "balance_due")  # fmt: skip
DEDUCTIONS = ("month", "carrier", "terminal", "kind", "amount")
TIERS = ("carrier", "tier", "terminals", "terminal_days", "unit_price", "gross", "terminal_deducted")
UNMEASURED = ("carrier", "settled_as", "terminal_months", "terminal_days", "unmeasured_days", "amount")
PAYMENTS = ("quarter", "amount", "paid_on", "note")
FEES = ("month", "terminal", "carrier", "tier", "version", "billed_from", "billed_to", "days", "unit_price",
        "gross", "deducted", "net", "deduction_reasons")  # fmt: skip
DISCREPANCIES = ("line", "kind", "carrier", "terminal", "tier", "billed", "expected")


def num(value: Any) -> Decimal | None:
    """A JSON decimal string as a number cell (None stays empty)."""
    return None if value is None else Decimal(str(value))


def reconcile_sheets(doc: dict[str, Any], lang: str = "zh") -> list[Sheet]:
    def L(key: str) -> str:
        return label(key, lang)

    money = dict.fromkeys(range(2, 8), Fmt.MONEY)
    summary = [
        [c["carrier"], c["terminals"], *(num(c[k]) for k in SUMMARY_KEYS[2:])] for c in doc["carriers"]
    ]
    summary.append([L("total"), sum(c["terminals"] for c in doc["carriers"]),
                    *(num(doc[k]) for k in SUMMARY_KEYS[2:])])  # fmt: skip
    deductions = [
        [d["month"], d["carrier"], d["terminal"] or "", d["kind"], num(d["amount"])]
        for c in doc["carriers"]
        for d in c["deductions"]
    ]
    payments = [
        [i["quarter"], num(i["amount"]), i["paid_on"] or "", i["note"]] for i in doc["installments_to_date"]
    ]
    fees = [
        [f["month"], f["terminal"], f["carrier"], f["tier"], f["version"], f["billed_from"], f["billed_to"],
         f["days"], num(f["unit_price"]), num(f["gross"]), num(f["deducted"]), num(f["net"]),
         "; ".join(f"{d['reason']}: {d['amount']}" for d in f["deductions"])]
        for f in doc.get("fees", [])
    ]  # fmt: skip
    tiers = [
        [c["carrier"], t["tier"], t["terminals"], t["terminal_days"], " / ".join(t["unit_prices"]),
         num(t["gross"]), num(t["deducted"])]
        for c in doc["carriers"] for t in c["tiers"]
    ]  # fmt: skip
    tiers += [
        [c["carrier"], L("year_end_adjustment"), None, None, "", num(c["year_end_adjustment"]), None]
        for c in doc["carriers"]
        if c.get("year_end_adjustment") not in (None, "0.00")
    ]
    basis = [[b["month"], b["count_day"], b["open_terminals"]] for b in doc["price_basis"]]
    unmeasured = [
        [c["carrier"], u["settled_as"], u["terminal_months"], u["terminal_days"],
         num(u["unmeasured_terminal_days"]), num(u["amount"])]
        for c in doc["carriers"] for u in c["unmeasured"]
    ]  # fmt: skip
    unmeasured_title = label("unmeasured", lang, pct=doc["unmeasured_rule"]["min_measured_percent"])
    sheets = [
        Sheet(L("summary"), [L(k) for k in SUMMARY], summary, money),
        Sheet(L("by_tier"), [L(k) for k in TIERS], tiers, {5: Fmt.MONEY, 6: Fmt.MONEY}),
        Sheet(L("price_basis"), [L(k) for k in ("month", "count_day", "open_terminals")], basis),
        Sheet(unmeasured_title, [L(k) for k in UNMEASURED], unmeasured, {5: Fmt.MONEY}),
        Sheet(L("deductions"), [L(k) for k in DEDUCTIONS], deductions, {4: Fmt.MONEY}),
        Sheet(L("payments"), [L(k) for k in PAYMENTS], payments, {1: Fmt.MONEY}),
        Sheet(L("fees"), [L(f"fee.{k}") for k in FEES], fees, dict.fromkeys(range(8, 12), Fmt.MONEY)),
    ]
    if "discrepancies" in doc:
        rows = [[d["line"], d["kind"], d["carrier"], d["terminal"] or "", d["tier"] or "", d["billed"],
                 d["expected"]] for d in doc["discrepancies"]]  # fmt: skip
        title = label("discrepancies", lang, source="").rstrip(":： ")
        sheets.append(Sheet(title, [L(k) for k in DISCREPANCIES], rows))
    return sheets


def reconcile_xlsx(doc: dict[str, Any], lang: str = "zh") -> bytes:
    return workbook_bytes(reconcile_sheets(doc, lang))

"""Bench: settle the 2022 example year (1,820 terminals x 12 months) and compare with a naive engine.

Ours: exact rational amounts, rounded once per reported figure (slaprobe.sla.reconcile).
Reference: the usual spreadsheet way, the same rules on Decimal with every terminal-month fee and every
deduction rounded to the cent as it is computed, then summed. Same inputs, same run.

Prints the median time of each phase and the totals both ways (the difference is what per-line
rounding moves). Synthetic availability: deterministic (seed), most terminal-months clean, some with
short or long outages and some unknown time.

    /work/.venv/bin/python bench/money_2022.py [--runs 5] [--seed 7]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from slaprobe.inventory import load_inventory
from slaprobe.report.reconcile import render_reconciliation
from slaprobe.sla.availability_file import read_availability, write_availability
from slaprobe.sla.contract import billable_days, open_count, price_band
from slaprobe.sla.contract_config import Contract, load_contract
from slaprobe.sla.evaluation import evaluate
from slaprobe.sla.periods import Period
from slaprobe.sla.reconcile import MonthlyAvailability, reconcile
from slaprobe.sla.types import Outage, TerminalAvailability
from slaprobe.terminal import Terminal

ROOT = Path(__file__).resolve().parent.parent
CENT = Decimal("0.01")
NS = 1_000_000_000
EPOCH_2022_CST = 1640966400  # 2022-01-01T00:00:00+08:00


def synthesize(terminals: list[Terminal], seed: int) -> dict:
    rng = random.Random(seed)
    data: dict = {}
    start = EPOCH_2022_CST
    for month in Period.year(2022).months:
        secs = month.days * 86400
        data[month] = {}
        for t in terminals:
            days = billable_days(t, month)
            if days == 0:
                continue
            in_service = days * 86400
            down = min(
                rng.choices([0, 300, 3 * 3600, 5 * 3600, 30 * 3600], [90, 4, 3, 2, 1])[0], in_service // 2
            )
            unknown = min(rng.choices([0, 3600, 86400], [95, 4, 1])[0], in_service - down)
            outages = ()
            if down:
                o_start = start + secs - in_service + rng.randrange(0, in_service - down)
                outages = (Outage(t.id, o_start * NS, (o_start + down) * NS, down, t.carrier, t.region),)
            data[month][t.id] = TerminalAvailability(
                t.id, start * NS, (start + secs) * NS, 60, in_service, 0, unknown,
                in_service - down - unknown, down, down // 60, outages,
            )  # fmt: skip
        start += secs
    return data


def naive_total(
    contract: Contract, terminals: list[Terminal], data: MonthlyAvailability
) -> tuple[Decimal, Decimal]:
    """Gross and deductions with every line rounded to the cent on the way (same rules, same order)."""
    gross = deducted = Decimal(0)
    for month in Period.year(2022).months:
        n_open = open_count(terminals, contract.volume_count_day(month))
        by_carrier: dict[str, list[Decimal]] = {}
        for t in terminals:
            days = billable_days(t, month)
            if not days:
                continue
            price = price_band(contract.tier(t.tier).monthly_price, n_open).price
            fee = (price * days / month.days).quantize(CENT, ROUND_HALF_UP)
            cut = Decimal(0)
            ta = data[month].get(t.id)
            if (
                ta is not None
                and ta.measured_s
                and ta.measured_s * 100 >= contract.measured_minimum * (ta.in_service_s - ta.maintenance_s)
            ):
                avail = Decimal(100 * ta.available_s) / Decimal(ta.measured_s)
                for band in contract.deduction_bands(t.tier):
                    if band.from_percent <= avail < band.below_percent:
                        cut += (fee * band.percent / 100).quantize(CENT, ROUND_HALF_UP)
            for o in ta.outages if ta is not None else ():
                rules = [r for r in contract.incident_rules(t.tier) if o.duration_s > r.longer_than_s]
                if rules:
                    r = max(rules, key=lambda r: r.longer_than_hours)
                    cut += (
                        r.amount
                        if r.amount is not None
                        else (fee * (r.percent or 0) / 100).quantize(CENT, ROUND_HALF_UP)
                    )
            cut = min(cut, (fee * contract.caps.terminal_month_percent / 100).quantize(CENT, ROUND_HALF_UP))
            gross += fee
            by_carrier.setdefault(t.carrier, [Decimal(0), Decimal(0)])
            by_carrier[t.carrier][0] += fee
            by_carrier[t.carrier][1] += cut
        for fee_sum, cut_sum in by_carrier.values():
            deducted += min(
                cut_sum, (fee_sum * contract.caps.carrier_month_percent / 100).quantize(CENT, ROUND_HALF_UP)
            )
    return gross, deducted


def median_time(fn, runs: int):  # type: ignore[no-untyped-def]
    times, result = [], None
    for _ in range(runs):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    contract = load_contract(ROOT / "config/contract.example.yaml")
    terminals = list(load_inventory(ROOT / "config/terminals.example.csv").terminals)
    data = synthesize(terminals, args.seed)
    with tempfile.TemporaryDirectory(prefix="slp-money-") as tmp:
        path = Path(tmp) / "availability-2022.jsonl"
        write_availability(path, data)
        size_mb = path.stat().st_size / 1e6
        t_read, loaded = median_time(lambda: read_availability(path), args.runs)
    year = Period.year(2022)
    t_ours, rec = median_time(lambda: reconcile(contract, terminals, loaded, year), args.runs)
    t_ref, (ref_gross, ref_cut) = median_time(lambda: naive_total(contract, terminals, loaded), args.runs)
    t_render, text = median_time(lambda: render_reconciliation(rec, "table", "zh"), args.runs)
    t_eval, _ = median_time(
        lambda: evaluate(contract.evaluation, terminals, loaded, 2022, contract.payments), args.runs
    )
    months = sum(len(m) for m in loaded.values())
    lines = sum(len(c.deductions) for c in rec.carriers)
    print(f"2022 example: {len(terminals)} terminals, {months} terminal-months, {lines} deduction lines")
    print(f"availability file {size_mb:.1f} MB; medians of {args.runs} runs\n")
    print(f"{'phase':<34}{'ours (s)':>10}{'reference (s)':>15}{'ratio':>8}")
    print(f"{'settle the year (exact vs per-line)':<34}{t_ours:>10.3f}{t_ref:>15.3f}{t_ours / t_ref:>8.2f}")
    print(f"{'read availability file':<34}{t_read:>10.3f}{'-':>15}{'-':>8}")
    print(
        f"{'render year table (zh)':<34}{t_render:>10.3f}{'-':>15}{'-':>8}   ({len(text.splitlines())} lines)"
    )
    print(f"{'evaluation indicators':<34}{t_eval:>10.3f}{'-':>15}{'-':>8}")
    print()
    ours_gross, ours_cut, ours_net = rec.total.gross, rec.total.deducted, rec.total.net
    print(f"{'total (CNY)':<34}{'ours':>16}{'per-line rounding':>20}{'difference':>12}")
    print(f"{'gross':<34}{ours_gross:>16}{ref_gross:>20}{ref_gross - ours_gross:>12}")
    print(f"{'deductions':<34}{ours_cut:>16}{ref_cut:>20}{ref_cut - ours_cut:>12}")
    print(f"{'net':<34}{ours_net:>16}{ref_gross - ref_cut:>20}{ref_gross - ref_cut - ours_net:>12}")
    print(
        f"{'balance due (paid 21,000,000.00)':<34}{rec.balance_due:>16}"
        f"{ref_gross - ref_cut - rec.paid_to_date:>20}"
    )


if __name__ == "__main__":
    main()

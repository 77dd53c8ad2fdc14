"""Builders for the money tests: terminals, per-month availability and a small contract.

Plain functions (not fixtures) so table-driven tests can call them inside parametrize tables.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from typing import Any

from slaprobe.sla.contract_config import Contract, parse_contract
from slaprobe.sla.periods import Month
from slaprobe.sla.types import Outage, TerminalAvailability
from slaprobe.terminal import Level, Terminal

CST = dt.timezone(dt.timedelta(hours=8))
NS = 1_000_000_000
D2021 = dt.date(2021, 1, 1)


def month_bounds_ns(month: Month) -> tuple[int, int]:
    start = dt.datetime(month.year, month.month, 1, tzinfo=CST)
    nxt = month.next()
    end = dt.datetime(nxt.year, nxt.month, 1, tzinfo=CST)
    return int(start.timestamp()) * NS, int(end.timestamp()) * NS


def term(
    tid: str,
    carrier: str = "telecom",
    tier: str = "gold",
    start: dt.date = D2021,
    end: dt.date | None = None,
    level: Level = Level.TOWNSHIP,
    region: str = "r1",
) -> Terminal:
    n = int("".join(ch for ch in tid if ch.isdigit()) or 0)
    return Terminal(
        tid, tid, ipaddress.ip_address(f"198.18.0.{n + 1}"), carrier, region, level, tier, start, end
    )


def avail(
    tid: str,
    month: Month,
    available_s: int,
    unavailable_s: int = 0,
    outages: tuple[tuple[int, int], ...] = (),
    unknown_s: int = 0,
    maintenance_s: int = 0,
) -> TerminalAvailability:
    """One terminal-month. ``outages`` are (offset from the month start in s, duration in s); an offset
    of -1 means "runs to the month end" (the outage ends exactly at the period end)."""
    start_ns, end_ns = month_bounds_ns(month)
    out = []
    for offset, duration in outages:
        o_start = end_ns - duration * NS if offset == -1 else start_ns + offset * NS
        out.append(Outage(tid, o_start, o_start + duration * NS, duration, "x", "r1"))
    return TerminalAvailability(
        tid,
        start_ns,
        end_ns,
        60,
        available_s + unavailable_s + unknown_s + maintenance_s,
        maintenance_s,
        unknown_s,
        available_s,
        unavailable_s,
        0,
        tuple(out),
    )


SMALL: dict[str, Any] = {
    "year": 2022,
    "volume_count_on": "month_end",
    "carriers": {"telecom": {}, "unicom": {}},
    "tiers": {
        "gold": {
            "availability_target": "99.9",
            "monthly_price": [{"from_open": 0, "price": "1000.00"}, {"from_open": 10, "price": "900.00"}],
        },
        "basic": {
            "availability_target": "99.5",
            "monthly_price": [{"from_open": 0, "price": "310.00"}],
            "deductions": [
                {"from": "99.0", "below": "99.5", "percent": "5"},
                {"from": "90.0", "below": "99.0", "percent": "20"},
                {"from": "0", "below": "90.0", "percent": "50"},
            ],
        },
    },
    "deductions": [
        {"from": "99.0", "below": "99.9", "percent": "10"},
        {"from": "95.0", "below": "99.0", "percent": "25"},
        {"from": "0", "below": "95.0", "percent": "60"},
    ],
    "incidents": [
        {"longer_than_hours": "4", "amount": "50.00"},
        {"longer_than_hours": "24", "percent": "30"},
    ],
    "caps": {"terminal_month_percent": "50", "carrier_month_percent": "20"},
}


def small_contract(**overrides: Any) -> Contract:
    data = {**SMALL, **overrides}
    return parse_contract(data, "small.yaml")

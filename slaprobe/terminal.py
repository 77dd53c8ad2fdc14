"""The terminal record: one video-conference endpoint the carrier is paid for.

Kept apart from ``inventory`` (which loads and validates files) so that probes, stores and the SLA engine
can share the type without importing the loader.
"""

from __future__ import annotations

import datetime as dt
import enum
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field

from slaprobe.model import ProbeKind

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class Level(enum.StrEnum):
    """Administrative level of the site, as the province's evaluation report groups them."""

    PROVINCE = "province"  # 省级会场
    PROVINCE_DEPT = "province_dept"  # 省直部门会场
    CITY = "city"  # 市县会场
    CITY_DEPT = "city_dept"  # 市县部门会场
    TOWNSHIP = "township"  # 乡镇会场
    VILLAGE = "village"  # 行政村会场


@dataclass(frozen=True, slots=True)
class Terminal:
    id: str
    name: str
    address: IPAddress
    carrier: str
    region: str
    level: Level
    tier: str
    in_service_from: dt.date
    in_service_to: dt.date | None = None  # last day in service (inclusive); None = still in service
    # STAMP / RTP-echo reflector (host, port); port None = each kind's configured port. No reflector =
    # the terminal's own address (CPEs often reflect themselves).
    reflector: tuple[str, int | None] | None = None
    probes: tuple[ProbeKind, ...] = ()  # empty = the config's default probe set
    group: str = "default"  # scheduling group (its own interval)
    tags: Mapping[str, str] = field(default_factory=dict)

    def in_service_on(self, day: dt.date) -> bool:
        if day < self.in_service_from:
            return False
        return self.in_service_to is None or day <= self.in_service_to

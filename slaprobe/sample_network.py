"""A province-shaped example network: the example inventory, the demo, tests and benchmarks use it.

Laid out like Hainan's government video-conference network: the province venue, provincial departments,
the 20 cities/counties (Yangpu included) with their departments, townships and villages; China Telecom
and China Unicom each carry some regions; terminals opened progressively from 2020 to 2022. Addresses
are in the lab's benchmarking blocks (198.18.0.0/16, 2001:2:0:1::/64) so the lab can answer for them.
Deterministic: the same arguments always give the same inventory.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import random

from slaprobe.terminal import Level, Terminal

# (id, English, Chinese, carrier, townships). Township counts are close to the real ones and also weight
# where the villages go.
REGIONS: tuple[tuple[str, str, str, str, int], ...] = (
    ("haikou", "Haikou", "海口", "telecom", 22),
    ("sanya", "Sanya", "三亚", "telecom", 10),
    ("sansha", "Sansha", "三沙", "telecom", 2),
    ("danzhou", "Danzhou", "儋州", "telecom", 17),
    ("wuzhishan", "Wuzhishan", "五指山", "telecom", 7),
    ("qionghai", "Qionghai", "琼海", "telecom", 12),
    ("wenchang", "Wenchang", "文昌", "telecom", 17),
    ("wanning", "Wanning", "万宁", "telecom", 12),
    ("dongfang", "Dongfang", "东方", "unicom", 10),
    ("dingan", "Ding'an", "定安", "unicom", 10),
    ("tunchang", "Tunchang", "屯昌", "unicom", 8),
    ("chengmai", "Chengmai", "澄迈", "unicom", 11),
    ("lingao", "Lingao", "临高", "unicom", 10),
    ("baisha", "Baisha", "白沙", "unicom", 11),
    ("changjiang", "Changjiang", "昌江", "unicom", 8),
    ("ledong", "Ledong", "乐东", "unicom", 11),
    ("lingshui", "Lingshui", "陵水", "unicom", 11),
    ("baoting", "Baoting", "保亭", "unicom", 9),
    ("qiongzhong", "Qiongzhong", "琼中", "unicom", 10),
    ("yangpu", "Yangpu", "洋浦", "telecom", 2),
)
PROVINCE_REGION = ("province", "Province", "省本级", "telecom", 0)

REGION_NAMES_ZH: dict[str, str] = {r[0]: r[2] for r in (*REGIONS, PROVINCE_REGION)}
REGION_NAMES_EN: dict[str, str] = {r[0]: r[1] for r in (*REGIONS, PROVINCE_REGION)}

TIER_BY_LEVEL: dict[Level, str] = {
    Level.PROVINCE: "premium",
    Level.PROVINCE_DEPT: "premium",
    Level.CITY: "standard",
    Level.CITY_DEPT: "standard",
    Level.TOWNSHIP: "basic",
    Level.VILLAGE: "basic",
}

V4_BLOCK = ipaddress.IPv4Network("198.18.0.0/16")
V6_BLOCK = ipaddress.IPv6Network("2001:2:0:1::/64")


def lab_address(index: int, ipv6: bool = False) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """The index-th terminal address in the lab block (skipping .0 and .255 in every /24)."""
    if ipv6:
        return V6_BLOCK.network_address + index + 1
    third, fourth = divmod(index, 254)
    if third > 255:
        raise ValueError(f"the IPv4 lab block holds 65,024 terminals; asked for index {index}")
    return V4_BLOCK.network_address + third * 256 + fourth + 1


def generate(terminals: int = 1820, *, seed: int = 2022, ipv6: bool = False) -> list[Terminal]:
    """A deterministic province network of exactly ``terminals`` terminals (≥ 1)."""
    rng = random.Random(seed)
    plan: list[tuple[Level, tuple[str, str, str, str, int], dt.date]] = []
    opening = dt.date(2020, 1, 15)
    plan.append((Level.PROVINCE, PROVINCE_REGION, opening))
    plan.append((Level.PROVINCE, PROVINCE_REGION, opening))
    plan.extend((Level.PROVINCE_DEPT, PROVINCE_REGION, dt.date(2020, 3, 1)) for _ in range(58))
    for region in REGIONS:
        plan.append((Level.CITY, region, dt.date(2020, 4, 1)))
    for region in REGIONS:
        plan.extend((Level.CITY_DEPT, region, dt.date(2020, 6, 1)) for _ in range(18))
    for region in REGIONS:
        plan.extend((Level.TOWNSHIP, region, dt.date(2020, 9, 1)) for _ in range(region[4]))
    # Villages fill the rest, spread over regions by township count, opened through 2021-2022.
    weights = [r[4] for r in REGIONS]
    remaining = max(terminals - len(plan), 0)
    for _ in range(remaining):
        region = rng.choices(REGIONS, weights)[0]
        day = dt.date(2021, 1, 1) + dt.timedelta(days=rng.randrange(0, 700))
        plan.append((Level.VILLAGE, region, day))
    plan = plan[:terminals]
    out: list[Terminal] = []
    counters: dict[tuple[str, Level], int] = {}
    for index, (level, region, day) in enumerate(plan):
        n = counters[region[0], level] = counters.get((region[0], level), 0) + 1
        out.append(
            Terminal(
                id=f"T{index + 1:05d}",
                name=f"{region[2]} {_LEVEL_ZH[level]} {n}",
                address=lab_address(index, ipv6),
                carrier=region[3],
                region=region[0],
                level=level,
                tier=TIER_BY_LEVEL[level],
                in_service_from=day,
                group="province" if level is Level.PROVINCE else "default",
            )
        )
    return out


_LEVEL_ZH: dict[Level, str] = {
    Level.PROVINCE: "省级会场",
    Level.PROVINCE_DEPT: "省直部门",
    Level.CITY: "市县会场",
    Level.CITY_DEPT: "市县部门",
    Level.TOWNSHIP: "乡镇",
    Level.VILLAGE: "行政村",
}

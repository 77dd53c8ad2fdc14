"""Inventory loading: good files load whole; every bad row is named; nothing is half-loaded."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from pathlib import Path

import pytest

from slaprobe import sample_network
from slaprobe.inventory import CSV_COLUMNS, InventoryError, load_inventory, shard_of, summarize, write_csv
from slaprobe.terminal import Level
from tests.helpers import ROOT, run_cli

EXAMPLE = ROOT / "config" / "terminals.example.csv"
GOOD = "T1,Haikou 1,198.18.0.1,telecom,haikou,city,standard,2020-04-01,,,,,"


def _csv(tmp_path: Path, *rows: str, header: str = ",".join(CSV_COLUMNS)) -> Path:
    path = tmp_path / "inv.csv"
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


def test_example_inventory_is_the_province_network() -> None:
    inv = load_inventory(EXAMPLE)
    assert len(inv) == 1820
    levels = Counter(t.level for t in inv)
    assert levels[Level.PROVINCE] == 2
    assert levels[Level.CITY] == 20  # the 20 cities and counties
    assert {t.region for t in inv if t.level is Level.CITY} == {r[0] for r in sample_network.REGIONS}
    assert {t.carrier for t in inv} == {"telecom", "unicom"}
    # every region is served by exactly one carrier
    carriers_by_region = {(t.region, t.carrier) for t in inv}
    assert len(carriers_by_region) == len({t.region for t in inv})
    # opened progressively, all open by the end of 2022
    assert summarize(inv, dt.date(2022, 12, 31)).open == 1820
    assert summarize(inv, dt.date(2021, 1, 1)).open < 1820


@pytest.mark.parametrize(
    ("row", "problem"),
    [
        ("T2,x,198.18.0.300,telecom,haikou,city,standard,2020-04-01,,,,,", "row 3: address: '198.18.0.300'"),
        (
            "T2,x,198.18.0.2,mobile,haikou,city,standard,2020-04-01,,,,,",
            "row 3: carrier: unknown carrier 'mobile'",
        ),
        (
            "T2,x,198.18.0.2,telecom,haikou,town,standard,2020-04-01,,,,,",
            "row 3: level: unknown level 'town'",
        ),
        ("T2,x,198.18.0.2,telecom,haikou,city,gold,2020-04-01,,,,,", "row 3: tier: unknown tier 'gold'"),
        ("T2,x,198.18.0.2,telecom,haikou,city,basic,2020-02-30,,,,,", "row 3: in_service_from: '2020-02-30'"),
        (
            "T2,x,198.18.0.2,telecom,haikou,city,basic,2021-01-01,2020-01-01,,,,",
            "row 3: in_service_to: 2020-01-01 is before in_service_from 2021-01-01",
        ),
        (
            "T1,x,198.18.0.2,telecom,haikou,city,basic,2021-01-01,,,,,",
            "row 3: id: duplicate id 'T1' (first at row 2)",
        ),
        (
            "T2,x,198.18.0.1,telecom,haikou,city,basic,2021-01-01,,,,,",
            "row 3: address: duplicate address 198.18.0.1 (first at row 2)",
        ),
        ("T2,x,198.18.0.2,telecom,haikou,city,basic,2021-01-01,,[::1]:0,,,", "row 3: reflector: '[::1]:0'"),
        ("T2,x,198.18.0.2,telecom,haikou,city,basic,2021-01-01,,nohost,,,", "row 3: reflector: 'nohost'"),
        (
            "T2,x,198.18.0.2,telecom,haikou,city,basic,2021-01-01,,,ping,,",
            "row 3: probes: unknown probe kind 'ping'",
        ),
        (
            "T2,x,198.18.0.2,telecom,haikou,city,basic,2021-01-01,,,,,a=1;b",
            "row 3: tags: 'b' is not key=value",
        ),
        (",x,,telecom,haikou,city,basic,2021-01-01,,,,,", "row 3: address: required, empty"),
        ("T\\2,x,198.18.0.2,telecom,haikou,city,basic,2021-01-01,,,,,", "row 3: id: 'T\\\\2' must not"),
    ],
)
def test_bad_rows_are_named(tmp_path: Path, row: str, problem: str) -> None:
    path = _csv(tmp_path, GOOD, row)
    with pytest.raises(InventoryError) as info:
        load_inventory(path)
    assert f"{path}: {problem}" in str(info.value)


def test_every_bad_row_is_reported_at_once(tmp_path: Path) -> None:
    rows = [GOOD] + [f"T{i},x,198.18.1.{i},nope,haikou,city,basic,2021-01-01,,,,," for i in range(2, 12)]
    with pytest.raises(InventoryError) as info:
        load_inventory(_csv(tmp_path, *rows))
    assert len(info.value.problems) == 10
    assert [p.split(":")[0] for p in info.value.problems] == [f"row {n}" for n in range(3, 13)]


def test_missing_and_unknown_columns(tmp_path: Path) -> None:
    with pytest.raises(InventoryError, match="header: missing column"):
        load_inventory(_csv(tmp_path, "T1,198.18.0.1", header="id,address"))
    with pytest.raises(InventoryError, match="header: unknown column"):
        load_inventory(_csv(tmp_path, GOOD + ",x", header=",".join(CSV_COLUMNS) + ",colour"))


def test_yaml_inventory_with_declared_carriers_and_tiers(tmp_path: Path) -> None:
    path = tmp_path / "inv.yaml"
    path.write_text(
        """
carriers: {cmcc: China Mobile}
tiers: [gold]
terminals:
  - {id: A, address: "2001:2:0:1::5", carrier: cmcc, region: sanya, level: township, tier: gold,
     in_service_from: 2022-03-01, reflector: "[2001:2:0:1::5]:862", probes: [icmp, stamp],
     tags: {site: pier}}
  - {id: B, address: 198.18.0.9, carrier: telecom, region: sanya, level: village, tier: gold,
     in_service_from: 2022-03-01, colour: red}
"""
    )
    with pytest.raises(InventoryError) as info:
        load_inventory(path)
    assert "terminals[1]: colour: unknown field" in str(info.value)
    assert "terminals[1]: carrier: unknown carrier 'telecom'" in str(info.value)
    path.write_text(
        path.read_text().replace("carrier: telecom", "carrier: cmcc").replace(", colour: red", "")
    )
    inv = load_inventory(path)
    a = inv.get("A")
    assert a is not None and a.reflector == ("2001:2:0:1::5", 862) and a.tags == {"site": "pier"}
    path.write_text(path.read_text().replace('"[2001:2:0:1::5]:862"', '"2001:2:0:1::7"'))
    assert load_inventory(path).get("A").reflector == ("2001:2:0:1::7", None)  # port: the kind's default


def test_csv_round_trip(tmp_path: Path) -> None:
    terminals = sample_network.generate(300, ipv6=True)
    write_csv(terminals, tmp_path / "x.csv")
    assert list(load_inventory(tmp_path / "x.csv")) == terminals


def test_shards_partition_the_inventory_stably() -> None:
    inv = load_inventory(EXAMPLE)
    parts = [inv.select(k, 3) for k in (1, 2, 3)]
    ids = [t.id for p in parts for t in p]
    assert sorted(ids) == sorted(t.id for t in inv)  # every terminal exactly once
    assert all(500 < len(p) < 720 for p in parts)  # roughly even (expected 607 each)
    assert shard_of("T00042", 3) == shard_of("T00042", 3)
    haikou = inv.select(regions=["haikou"])
    assert {t.region for t in haikou} == {"haikou"} and len(haikou) > 0


def test_cli_check_and_summary(tmp_path: Path) -> None:
    ok = run_cli("inventory", "summary", str(EXAMPLE), "--date", "2022-06-30", "--format", "json")
    assert ok.returncode == 0, ok.stderr
    data = json.loads(ok.stdout)
    inv = load_inventory(EXAMPLE)
    assert data["open"] == sum(1 for t in inv if t.in_service_on(dt.date(2022, 6, 30)))
    assert data["open"] + data["not_yet_open"] + data["retired"] == 1820
    bad = _csv(tmp_path, GOOD, GOOD)
    proc = run_cli("inventory", "check", str(bad))
    assert proc.returncode == 2
    assert "row 3: id: duplicate id 'T1'" in proc.stderr

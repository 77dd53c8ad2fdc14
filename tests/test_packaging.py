"""What a non-editable install ships: `slaprobe demo` must not need the repository's config/ folder."""

from __future__ import annotations

import tomllib
from pathlib import Path

from slaprobe import demo
from slaprobe.inventory import load_inventory

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "config"


def test_packaged_contract_is_the_documented_example() -> None:
    assert demo.EXAMPLE_CONTRACT.is_relative_to(Path(demo.__file__).resolve().parent)
    packaged = demo.EXAMPLE_CONTRACT.read_bytes()
    assert packaged == (CONFIG / "contract.example.yaml").read_bytes()


def test_demo_network_is_the_documented_example_inventory() -> None:
    generated = demo.example_inventory()
    documented = load_inventory(CONFIG / "terminals.example.csv")
    assert generated.terminals == documented.terminals
    assert dict(generated.carriers) == dict(documented.carriers)
    assert generated.tiers == documented.tiers


def test_runtime_dependencies_are_what_slaprobe_imports() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = {d.split(">")[0].split("<")[0].split("=")[0].strip().lower() for d in project["dependencies"]}
    assert names == {"apscheduler", "pyyaml", "click", "numpy", "matplotlib", "fonttools", "pyarrow"}
    assert any(d.startswith("scapy") for d in project["optional-dependencies"]["test"])
    package_data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    assert "data/*.yaml" in package_data["slaprobe"]

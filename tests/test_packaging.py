"""What a non-editable install ships: `slaprobe demo` must not need the repository's config/ folder."""

from __future__ import annotations

import fnmatch
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from slaprobe import demo, examples
from slaprobe.cli import cli
from slaprobe.inventory import load_inventory

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "config"


def _package_data() -> list[str]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"][
        "slaprobe"
    ]


@pytest.mark.parametrize(
    ("packaged", "name"),
    [
        (demo.EXAMPLE_CONTRACT, "contract.example.yaml"),
        (examples.EXAMPLE_EVALUATION_INPUTS, "evaluation-inputs.example.yaml"),
    ],
)
def test_packaged_examples_are_the_documented_ones(packaged: Path, name: str) -> None:
    assert packaged.is_relative_to(Path(demo.__file__).resolve().parent / "data")
    assert packaged.read_bytes() == (CONFIG / name).read_bytes()


def test_every_packaged_file_is_package_data_and_a_documented_example() -> None:
    # A file added to slaprobe/data/ that no package-data pattern covers works in the checkout and is
    # missing from the wheel: only this test would notice.
    data = ROOT / "slaprobe" / "data"
    files = sorted(p.relative_to(data.parent).as_posix() for p in data.iterdir())
    assert files == ["data/contract.example.yaml", "data/evaluation-inputs.example.yaml"]
    for name in files:
        assert any(fnmatch.fnmatch(name, pattern) for pattern in _package_data()), name
        assert (data.parent / name).read_bytes() == (CONFIG / Path(name).name).read_bytes(), name


def test_evaluation_hands_out_the_packaged_template(tmp_path: Path) -> None:
    documented = (CONFIG / "evaluation-inputs.example.yaml").read_text(encoding="utf-8")
    result = CliRunner().invoke(cli, ["evaluation", "--example-inputs"])
    assert result.exit_code == 0, result.output
    assert result.stdout == documented
    out = tmp_path / "inputs.yaml"
    result = CliRunner().invoke(cli, ["evaluation", "--example-inputs", "--out", str(out)])
    assert result.exit_code == 0 and out.read_text(encoding="utf-8") == documented
    for args in (["--year", "2022"], ["--inputs", str(out)]):
        result = CliRunner().invoke(cli, ["evaluation", "--example-inputs", *args])
        assert result.exit_code == 2 and "--example-inputs prints the template only" in result.output
    result = CliRunner().invoke(cli, ["evaluation"])
    assert result.exit_code == 2 and "give --year YYYY (or --example-inputs" in result.output


def test_demo_network_is_the_documented_example_inventory() -> None:
    generated = demo.example_inventory()
    documented = load_inventory(CONFIG / "terminals.example.csv")
    assert generated.terminals == documented.terminals
    assert dict(generated.carriers) == dict(documented.carriers)
    assert generated.tiers == documented.tiers


def test_runtime_dependencies_are_what_slaprobe_imports() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = {d.split(">")[0].split("<")[0].split("=")[0].strip().lower() for d in project["dependencies"]}
    assert names == {
        "apscheduler",
        "pyyaml",
        "click",
        "numpy",
        "matplotlib",
        "fonttools",
        "openpyxl",
        "prometheus-client",
        "pyarrow",
        "adbc-driver-sqlite",
    }
    assert any(d.startswith("scapy") for d in project["optional-dependencies"]["test"])

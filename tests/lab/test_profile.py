"""Profile loading and validation: precedence of defaults, ranges and per-terminal entries, and errors that
name the file, the key path and the problem."""

from __future__ import annotations

import ipaddress
import json

import pytest

from slaprobe.lab import Impairment, LabProfile, ProfileError, load_profile, profile_for_inventory

YAML = """\
seed: 4
terminals:
  T1: 198.18.0.1
  T2: 198.18.1.2
  T3: "2001:2:0:1::3"
defaults: {delay_ms: 10, jitter_ms: 1}
ranges:
  - {prefix: 198.18.0.0/23, loss: 0.1}
  - {prefix: 198.18.1.0/24, loss: 0.2, delay_fwd_ms: 8}
per_terminal:
  T2: {loss: 0.5}
  198.18.0.77: {duplicate: 0.3}
outages:
  - {terminals: [T1, 198.18.4.0/24], start_offset_s: 5, duration_s: 10}
  - {terminals: T3, start: "2024-05-01T00:00:00Z", duration_s: 60}
udp: {862: "pkg.mod:func"}
"""


def test_yaml_profile_resolves_with_precedence(tmp_path) -> None:
    path = tmp_path / "lab.yaml"
    path.write_text(YAML)
    p = load_profile(path)
    assert p.seed == 4 and p.udp == {862: "pkg.mod:func"}
    # T1: defaults + the /23 range
    assert p.impairment_for("198.18.0.1") == Impairment(
        loss=0.1, delay_fwd_ms=5.0, delay_rev_ms=5.0, jitter_ms=1.0
    )
    # T2: the /24 beats the /23 whatever the file order; per-terminal beats both; fwd given -> rev = rest
    assert p.impairment_for("198.18.1.2") == Impairment(
        loss=0.5, delay_fwd_ms=8.0, delay_rev_ms=2.0, jitter_ms=1.0
    )
    assert p.impairment_for("198.18.0.77").duplicate == 0.3
    assert p.impairment_for("198.18.9.9") == Impairment(delay_fwd_ms=5.0, delay_rev_ms=5.0, jitter_ms=1.0)
    assert p.outages[1].start_ns(0) == 1714521600 * 10**9
    assert p.outages[0].start_ns(10**9) == 6 * 10**9
    assert LabProfile.from_dict(json.loads(json.dumps(p.to_dict())), "<copy>") == p


def test_json_profile_and_inventory_builder(tmp_path) -> None:
    terminals = [(f"T{i:05d}", str(ipaddress.IPv4Address("198.18.0.1") + i)) for i in range(20_000)]
    p = profile_for_inventory(terminals, impairments={"T00002": {"loss": 0.1}}, defaults={"delay_ms": 1})
    assert len(p.terminals) == 20_000 and p.address_of("T19999") == ipaddress.ip_address("198.18.78.32")
    assert p.impairment_for("198.18.0.3").loss == 0.1
    path = tmp_path / "lab.json"
    path.write_text(json.dumps(p.to_dict()))
    assert load_profile(path) == p


@pytest.mark.parametrize(
    ("data", "where", "problem"),
    [
        ({"sed": 1}, "sed", "unknown key"),
        ({"defaults": {"loss": 1.5}}, "defaults.loss", "probability"),
        ({"defaults": {"lost": 0.1}}, "defaults.lost", "unknown impairment"),
        ({"defaults": {"delay_ms": -1}}, "defaults.delay_ms", "must not be negative"),
        ({"defaults": {"jitter_ms": "3"}}, "defaults.jitter_ms", "must be a number"),
        ({"terminals": {"T1": "10.0.0.1"}}, "terminals.T1", "outside the lab blocks"),
        ({"terminals": [{"id": "A", "address": "198.18.0.1"}, {"id": "A", "address": "198.18.0.2"}]},
         "terminals[1]", "duplicate terminal id"),
        ({"terminals": [{"id": "A", "address": "198.18.0.1"}, {"id": "B", "address": "198.18.0.1"}]},
         "terminals[1]", "already used by A"),
        ({"terminals": [{"id": "A"}]}, "terminals[0]", "exactly 'id' and 'address'"),
        ({"per_terminal": {"T9": {"loss": 0.1}}}, "per_terminal.T9", "neither a listed terminal id"),
        ({"ranges": [{"prefix": "198.18.0.1/24"}]}, "ranges[0].prefix", "not a valid network prefix"),
        ({"outages": [{"terminals": ["X"], "start_offset_s": 1, "duration_s": 1}]},
         "outages[0].terminals[0]", "neither a listed terminal id"),
        ({"outages": [{"terminals": ["198.18.0.1"], "duration_s": 1}]}, "outages[0]", "exactly one of"),
        ({"outages": [{"terminals": ["198.18.0.1"], "start": "2024-05-01T00:00:00", "duration_s": 1}]},
         "outages[0].start", "must be UTC"),
        ({"outages": [{"terminals": ["198.18.0.1"], "start_offset_s": 0, "duration_s": 0}]},
         "outages[0].duration_s", "must be positive"),
        ({"block_v4": "10.0.0.0/8"}, "block_v4", "must lie inside 198.18.0.0/15"),
        ({"udp": {"862": "nocolon"}}, "udp.862", "module:function"),
    ],
)  # fmt: skip
def test_errors_name_file_key_and_problem(tmp_path, data, where, problem) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ProfileError) as err:
        load_profile(path)
    assert err.value.source == str(path) and err.value.where == where
    assert problem in err.value.problem
    assert str(err.value).startswith(f"{path}: {where}: ")


def test_unreadable_and_unparsable_files(tmp_path) -> None:
    with pytest.raises(ProfileError, match="cannot read"):
        load_profile(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("defaults: {loss: [unclosed\n")
    with pytest.raises(ProfileError, match=r"bad\.yaml: not valid YAML"):
        load_profile(bad)
    with pytest.raises(ProfileError, match=r"<profile>: per_terminal\.T1\.loss: is a probability"):
        LabProfile.build(terminals=[("T1", "198.18.0.1")], per_terminal={"T1": {"loss": 2}})


def test_example_profile_file_loads() -> None:
    """config/lab-profile.example.yaml is the README's `lab serve --profile` example: it must stay valid."""
    from pathlib import Path

    from slaprobe.lab.udp import resolve_handler

    path = Path(__file__).resolve().parents[2] / "config" / "lab-profile.example.yaml"
    profile = load_profile(path)
    assert profile.address_of("T00117") == ipaddress.ip_address("198.18.0.117")
    assert profile.impairment_for("198.18.0.117").loss == 0.05
    assert profile.impairment_for("198.18.0.2").delay_fwd_ms == 1.5  # the /24 range: 3 ms round trip
    assert len(profile.outages) == 2
    assert sorted(profile.udp) == [862, 5004]
    for spec in profile.udp.values():
        assert callable(resolve_handler(spec))

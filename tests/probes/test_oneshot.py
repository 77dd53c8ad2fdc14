"""``slaprobe probe``: arguments, exit codes and output, run for real inside a private namespace."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from slaprobe.cli import cli
from tests.probes.netns import NetNs, private_netns

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def ns() -> Iterator[NetNs]:
    with private_netns() as n:
        yield n


def probe(ns: NetNs, *args: str) -> subprocess.CompletedProcess[str]:
    argv = ["ip", "netns", "exec", ns.name, sys.executable, "-m", "slaprobe", "probe", *args]
    return subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=60)


@pytest.mark.lab
def test_json_output(ns: NetNs) -> None:
    r = probe(
        ns, "127.0.0.1", "::1", "--count", "3", "--interval", "10", "--timeout", "500", "--format", "json"
    )
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert [d["address"] for d in data] == ["127.0.0.1", "::1"]
    for d in data:
        assert (d["sent"], d["received"], d["loss"], d["kind"], d["error"]) == (3, 3, 0.0, "icmp", "ok")
        assert 0 <= d["rtt_min_ms"] <= d["rtt_avg_ms"] <= d["rtt_max_ms"] < 500
        assert d["jitter_ms"] is not None and "pdv_ms" in d and "duplicates" in d


@pytest.mark.lab
def test_jitter_kind_and_table(ns: NetNs) -> None:
    r = probe(ns, "127.0.0.5", "--kind", "icmp-jitter", "--count", "4", "--interval", "5")
    assert r.returncode == 0, r.stderr
    header, row = r.stdout.splitlines()
    assert header.split()[:5] == ["terminal", "kind", "sent", "recv", "loss%"]
    assert row.split()[:5] == ["127.0.0.5", "icmp-jitter", "4", "4", "0.0"]


@pytest.mark.lab
def test_exit_1_when_a_target_does_not_answer(ns: NetNs) -> None:
    # 198.18.0.0/24 is routed to the namespace's TUN device, which nothing reads: no answer
    r = probe(ns, "127.0.0.1", "198.18.0.2", "--count", "2", "--interval", "10", "--timeout", "200")
    assert r.returncode == 1, r.stderr
    rows = [line.split() for line in r.stdout.splitlines()[1:]]
    assert rows[0][2:5] == ["2", "2", "0.0"] and rows[0][-1] == "ok"
    assert rows[1][2:5] == ["2", "0", "100.0"] and rows[1][-1] == "timeout"


@pytest.mark.lab
def test_exit_3_when_the_source_address_is_not_local(ns: NetNs) -> None:
    r = probe(ns, "127.0.0.1", "--source", "198.18.0.77")
    assert r.returncode == 3
    assert "cannot bind ICMP source address 198.18.0.77" in r.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "Missing argument 'ADDRESSES...'"),
        (["1.2.3.x"], "not an IPv4 or IPv6 address: '1.2.3.x'"),
        (["127.0.0.1", "--count", "0"], "Invalid value for '--count'"),
        (["127.0.0.1", "--dscp", "64"], "Invalid value for '--dscp'"),
        (["127.0.0.1", "--size", "4"], "Invalid value for '--size'"),
        (["127.0.0.1", "--timeout", "0"], "Invalid value for '--timeout'"),
        (["127.0.0.1", "--kind", "rtp"], "Invalid value for '--kind'"),
        (["127.0.0.1", "--source", "::1", "--source", "::2"], "more than one IPv6 source address"),
        (["127.0.0.1", "--source", "nowhere"], "--source: not an IP address: 'nowhere'"),
    ],
)
def test_bad_arguments_exit_2_with_a_clear_message(args: list[str], message: str) -> None:
    result = CliRunner().invoke(cli, ["probe", *args])
    assert result.exit_code == 2
    assert message in result.output

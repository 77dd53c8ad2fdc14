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
        ([], "Missing argument 'TARGET...'"),
        (["[::1"], "bad target '[::1': expected [IPv6]:port"),
        (["127.0.0.1:862"], "'127.0.0.1:862': a port only makes sense for --kind stamp or rtp"),
        (["--kind", "stamp", "127.0.0.1:99999"], "bad port in '127.0.0.1:99999'"),
        (["-6", "127.0.0.1"], "'127.0.0.1' is an IPv4 address, but -6 was given"),
        (["--kind", "rtp", "127.0.0.1", "--size", "100"], "--size is for ICMP"),
        (["--kind", "stamp", "127.0.0.1", "--source", "127.0.0.1"], "--source is for ICMP"),
        (["127.0.0.1", "--count", "0"], "Invalid value for '--count'"),
        (["127.0.0.1", "--dscp", "64"], "Invalid value for '--dscp'"),
        (["127.0.0.1", "--size", "4"], "Invalid value for '--size'"),
        (["127.0.0.1", "--timeout", "0"], "Invalid value for '--timeout'"),
        (["127.0.0.1", "--kind", "ping"], "Invalid value for '--kind'"),
        (["127.0.0.1", "--source", "::1", "--source", "::2"], "more than one IPv6 source address"),
        (["127.0.0.1", "--source", "nowhere"], "--source: not an IP address: 'nowhere'"),
    ],
)
def test_bad_arguments_exit_2_with_a_clear_message(args: list[str], message: str) -> None:
    result = CliRunner().invoke(cli, ["probe", *args])
    assert result.exit_code == 2
    assert message in result.output


@pytest.fixture
def reflector(ns: NetNs) -> Iterator[None]:
    """``slaprobe reflect`` on the namespace's loopback, STAMP 862 and RTP echo 5004, both families."""
    argv = ["ip", "netns", "exec", ns.name, sys.executable, "-m", "slaprobe", "reflect", "--rtp-port", "5004",
            "--bind", "127.0.0.1", "--bind", "::1", "--stats-interval", "0"]  # fmt: skip
    proc = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        for _ in range(4):  # stamp + rtp on two addresses
            assert proc.stdout is not None and proc.stdout.readline().startswith("listening"), proc.stderr
        yield
    finally:
        proc.terminate()
        proc.communicate(timeout=10)


@pytest.mark.lab
@pytest.mark.parametrize(
    ("kind", "targets", "addresses"),
    [
        ("stamp", ["localhost", "[::1]:862", "127.0.0.1:862"], ["127.0.0.1", "::1", "127.0.0.1"]),
        ("rtp", ["-4", "localhost:5004", "127.0.0.1"], ["127.0.0.1", "127.0.0.1"]),
    ],
)
def test_stream_kinds_one_shot_with_host_names_and_ports(
    ns: NetNs, reflector: None, kind: str, targets: list[str], addresses: list[str]
) -> None:
    r = probe(ns, "--kind", kind, *targets, "--count", "20", "--interval", "10", "--format", "json")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    names = [t for t in targets if t != "-4"]
    assert [d["terminal"] for d in data] == names and [d["address"] for d in data] == addresses
    for d in data:
        assert (d["kind"], d["sent"], d["received"], d["error"]) == (kind, 20, 20, "ok")
        assert d["rtt_avg_ms"] < 50 and d["jitter_ms"] is not None and d["mos"] > 4
        # the daemon's Sample fields, every one of them
        assert {"jitter_rfc3550_ms", "pdv_ms", "loss_fwd", "max_loss_burst", "r_factor", "time"} <= set(d)

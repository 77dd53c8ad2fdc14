"""Lab lifecycle: namespaces are private, removed on close, cleaned up after a crashed owner; several labs
run side by side; the ``slaprobe lab serve`` command serves until SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from slaprobe.lab import Lab, LabProfile, netns
from tests.lab.pinger import ping

pytestmark = pytest.mark.lab
ROOT = Path(__file__).resolve().parents[2]


def _root_netns_links() -> str:
    return subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, check=True).stdout


def test_labs_are_isolated_and_leave_nothing_behind(lab_factory) -> None:
    before = _root_netns_links()
    a = lab_factory(LabProfile.build(defaults={"delay_ms": 1}))
    b = lab_factory(LabProfile.build(defaults={"loss": 1.0}))
    assert a.netns != b.netns and netns.exists(a.netns) and netns.exists(b.netns)
    assert "slptun0" not in _root_netns_links()
    assert len(ping(a, "198.18.0.1", count=3, interval_s=0.01).answered) == 3
    assert len(ping(b, "198.18.0.1", count=3, interval_s=0.01, wait_s=0.1).answered) == 0
    out = a.run(["ip", "-o", "addr", "show", "dev", "lo"], capture_output=True, text=True).stdout
    assert "198.19.255.1/32" in out and "2001:2:ffff::1/128" in out
    a.close()
    a.close()  # idempotent
    assert not netns.exists(a.netns) and a.proc.returncode is not None
    summary = a.ground_truth().summary  # still readable after close
    assert summary is not None and summary["replied"] == 3
    assert _root_netns_links() == before or "slptun0" not in _root_netns_links()


def test_responder_dies_with_its_owner_and_the_stale_namespace_is_removed(lab_factory, tmp_path) -> None:
    script = textwrap.dedent(
        """
        import sys, time
        from slaprobe.lab import Lab, LabProfile
        lab = Lab.start(LabProfile.build())
        print(lab.netns, lab.proc.pid, flush=True)
        time.sleep(60)
        """
    )
    owner = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        name, responder = owner.stdout.readline().split()
    finally:
        owner.send_signal(signal.SIGKILL)  # no atexit, no cleanup: the worst case
        owner.wait()
    deadline = time.monotonic() + 5
    while Path(f"/proc/{responder}").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not Path(f"/proc/{responder}").exists(), "responder outlived its owner"
    # Starting any lab sweeps namespaces of dead owners. Other test processes on this machine start labs
    # too and may sweep it first, so "already gone" is the same outcome, not a failure.
    lab_factory(LabProfile.build())
    assert not netns.exists(name)


def test_failed_start_cleans_up(tmp_path) -> None:
    profile = LabProfile.build(udp={9000: "no.such.module:handler"})
    before = set(os.listdir(netns.NETNS_DIR)) if netns.NETNS_DIR.exists() else set()
    with pytest.raises(Exception, match=r"no\.such\.module"):
        Lab.start(profile)
    after = set(os.listdir(netns.NETNS_DIR)) if netns.NETNS_DIR.exists() else set()
    assert not {n for n in after - before if n.startswith(f"slp-lab-{os.getpid()}-")}


def test_cli_serve_until_sigterm(tmp_path) -> None:
    profile = tmp_path / "lab.yaml"
    profile.write_text("terminals: {T1: 198.18.0.1}\ndefaults: {delay_ms: 2}\n")
    truth = tmp_path / "truth.jsonl"
    name = f"slp-lab-{os.getpid()}-cli"
    proc = subprocess.Popen(
        [sys.executable, "-m", "slaprobe", "lab", "serve", "--profile", str(profile), "--netns", name,
         "--truth", str(truth)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        first = proc.stdout.readline()
        assert first.strip() == f"lab namespace: {name}"
        out = subprocess.run(
            ["ip", "netns", "exec", name, "fping", "-c", "3", "-p", "20", "-q", "198.18.0.1"],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert "3/3/0%" in out.stderr
    finally:
        proc.send_signal(signal.SIGTERM)
        rest, err = proc.communicate(timeout=15)
    assert proc.returncode == 0, err
    assert "stopped" in rest and not netns.exists(name)
    lines = truth.read_text().splitlines()
    assert sum('"kind":"pkt"' in line for line in lines) == 3 and '"kind":"summary"' in lines[-1]

"""The systemd units: ``systemd-analyze verify`` accepts them, the hardening holds, the commands exist.

``verify`` checks that every ``Exec*`` binary exists, and slaprobe is not installed at
``/opt/slaprobe/bin/slaprobe`` on a build machine, so the units are verified inside a throw-away root
(``--root``) holding the system's own unit files, an executable stub at that path and the host's real
``/bin/kill``. A unit with a broken key is verified the same way to prove the check can fail.
"""

from __future__ import annotations

import configparser
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from slaprobe.cli import cli

ROOT = Path(__file__).resolve().parents[2]
UNITS = ("slaprobe.service", "slaprobe-reflect.service")
ANALYZE = shutil.which("systemd-analyze") or "systemd-analyze (not installed: apt-get install systemd)"


def _exec_paths(unit: Path) -> set[str]:
    paths = set()
    for line in unit.read_text().splitlines():
        m = re.match(r"Exec\w+=[-@:+!]*(/\S+)", line)
        if m:
            paths.add(m.group(1))
    return paths


@pytest.fixture
def fake_root(tmp_path) -> Path:
    root = tmp_path / "root"
    (root / "etc/systemd/system").mkdir(parents=True)
    (root / "usr/lib/systemd").mkdir(parents=True)
    shutil.copytree("/usr/lib/systemd/system", root / "usr/lib/systemd/system", symlinks=True)
    for name in UNITS:
        for exe in _exec_paths(ROOT / "systemd" / name):
            target = root / exe.lstrip("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            if exe.startswith("/opt/slaprobe/"):
                target.write_text("#!/bin/sh\nexit 0\n")  # stands in for the pip-installed entry point
                target.chmod(0o755)
            else:
                assert Path(exe).exists(), f"{name} runs {exe}, which this system does not have"
                shutil.copy2(exe, target)
    return root


def _verify(root: Path, *units: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [ANALYZE, "verify", f"--root={root}", *units], capture_output=True, text=True, timeout=60
    )


def test_both_units_verify_cleanly(fake_root):
    for name in UNITS:
        shutil.copy(ROOT / "systemd" / name, fake_root / "etc/systemd/system" / name)
    result = _verify(fake_root, *UNITS)
    assert result.returncode == 0 and result.stderr.strip() == "", result.stderr


def test_a_broken_unit_is_caught(fake_root):
    text = (ROOT / "systemd/slaprobe.service").read_text().replace("Type=notify", "Type=notifyy")
    (fake_root / "etc/systemd/system/slaprobe.service").write_text(text)
    result = _verify(fake_root, "slaprobe.service")
    assert "notifyy" in result.stderr


@pytest.mark.parametrize("name", UNITS)
def test_exposure_rated_ok(fake_root, name):
    shutil.copy(ROOT / "systemd" / name, fake_root / "etc/systemd/system" / name)
    out = subprocess.run(
        [ANALYZE, "security", "--offline=yes", f"--root={fake_root}", name],
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    m = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", out)
    assert m, out[-500:]
    assert float(m.group(1)) <= 2.0  # systemd's scale: 0 (locked down) to 10 (unprotected); <= 2 "OK"


def _service(name: str) -> dict[str, str]:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(ROOT / "systemd" / name)
    return dict(parser["Service"])


def test_daemon_unit_contract():
    svc = _service("slaprobe.service")
    assert svc["Type"] == "notify" and svc["WatchdogSec"] and svc["NotifyAccess"] == "main"
    assert svc["ExecReload"] == "/bin/kill -HUP $MAINPID"
    assert svc["AmbientCapabilities"] == svc["CapabilityBoundingSet"] == "CAP_NET_RAW"
    assert svc["DynamicUser"] == "yes" and svc["StateDirectory"] == "slaprobe"
    assert svc["NoNewPrivileges"] == "yes" and svc["ProtectHome"] == "yes"
    assert svc["ProtectSystem"] == "strict"
    assert set(svc["RestrictAddressFamilies"].split()) <= {"AF_INET", "AF_INET6", "AF_UNIX", "AF_NETLINK"}


def test_exec_start_command_lines_parse_with_the_cli():
    """The units' command lines are real slaprobe commands (click parses them; --help stops there)."""
    for name in UNITS:
        argv = _service(name)["ExecStart"].split()[1:]
        argv = [a for a in argv if not a.startswith("$")]
        result = CliRunner().invoke(cli, [*argv, "--help"])
        assert result.exit_code == 0, f"{name}: {argv}: {result.output}"

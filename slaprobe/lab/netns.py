"""Network namespaces and the TUN device: create, enter, configure, remove.

Each lab gets its own namespace ``slp-lab-<owner pid>-<n>``, so several labs (from several test
processes) coexist and nothing in the root namespace changes. A namespace whose owner process is gone is
stale and is removed by the next lab that starts (see :func:`remove_stale`).

``setns`` switches only the calling thread; sockets remember the namespace they were created in, so
``with entered(ns): sock = socket.socket(...)`` gives a socket that lives in the lab for good.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import fcntl
import os
import re
import signal
import struct
import subprocess
from collections.abc import Iterator, Sequence
from pathlib import Path

CLONE_NEWNET = 0x40000000
NETNS_DIR = Path("/var/run/netns")
NAME_PREFIX = "slp-lab-"
_STALE_RE = re.compile(r"^slp-lab-(\d+)-\d+$")

TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000

_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


class NetnsError(RuntimeError):
    """Setting up or entering a lab namespace failed (the message carries the command and its stderr)."""


def ip(*args: str, netns: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run ``ip [-n NS] ARGS`` and raise NetnsError with its stderr on failure."""
    argv = ["ip", *(["-n", netns] if netns else []), *args]
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    if check and proc.returncode != 0:
        raise NetnsError(f"{' '.join(argv)} failed ({proc.returncode}): {proc.stderr.strip()}")
    return proc


def ip_batch(commands: Sequence[str], netns: str | None = None) -> None:
    """Run several ``ip`` commands in one process (``ip -batch -``); raise with stderr on failure."""
    argv = ["ip", *(["-n", netns] if netns else []), "-batch", "-"]
    proc = subprocess.run(argv, input="\n".join(commands) + "\n", capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise NetnsError(
            f"ip -batch failed ({proc.returncode}): {proc.stderr.strip()}\n" + "\n".join(commands)
        )


def exists(name: str) -> bool:
    return (NETNS_DIR / name).exists()


def create(name: str) -> None:
    if exists(name):
        raise NetnsError(f"network namespace {name} already exists")
    ip("netns", "add", name)


def delete(name: str) -> None:
    """Remove the namespace (its TUN device dies with the last process holding it)."""
    if exists(name):
        ip("netns", "delete", name, check=False)


def pids_in(name: str) -> list[int]:
    proc = ip("netns", "pids", name, check=False)
    return [int(p) for p in proc.stdout.split() if p.isdigit()]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale() -> list[str]:
    """Delete ``slp-lab-<pid>-<n>`` namespaces whose owner pid is dead, and the responders left in them.

    Only processes running our responder module are signalled; anything else is left alone.
    """
    removed = []
    if not NETNS_DIR.is_dir():
        return removed
    for entry in NETNS_DIR.iterdir():
        m = _STALE_RE.match(entry.name)
        if not m or _alive(int(m.group(1))):
            continue
        for pid in pids_in(entry.name):
            with contextlib.suppress(OSError):
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
                if b"slaprobe.lab.responder" in cmdline:
                    os.kill(pid, signal.SIGTERM)
        delete(entry.name)
        removed.append(entry.name)
    return removed


def _setns(fd: int) -> None:
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise NetnsError(f"setns failed: {os.strerror(err)}")


@contextlib.contextmanager
def entered(name: str) -> Iterator[None]:
    """Run the body with the calling thread inside namespace ``name``; always switch back."""
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    try:
        target = os.open(NETNS_DIR / name, os.O_RDONLY)
    except FileNotFoundError:
        os.close(own)
        raise NetnsError(f"network namespace {name} does not exist") from None
    try:
        _setns(target)
        try:
            yield
        finally:
            _setns(own)
    finally:
        os.close(target)
        os.close(own)


def open_tun(name: str) -> int:
    """Create (or attach to) TUN device ``name`` in the current namespace: L3 packets, no PI header."""
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_CLOEXEC)
    try:
        fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH22x", name.encode(), IFF_TUN | IFF_NO_PI))
    except OSError:
        os.close(fd)
        raise
    return fd

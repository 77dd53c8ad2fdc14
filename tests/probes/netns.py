"""A private network namespace with a TUN device the test itself drives, for the ICMP engine tests.

Tests that forge packets need a peer that answers exactly as told and nothing else: the test opens a
TUN device ``t0`` in a namespace of its own (``slp-icmp-<pid>-<n>``), reads the echo requests the engine
sends to 198.18.0.0/24 or 2001:2::/64 and writes back whatever replies (genuine, late, duplicated,
forged, truncated) the test wants. Sockets created inside the namespace stay there, so the engine then
runs on the test's normal event loop. Separate from the TUN lab on purpose: the lab simulates healthy
and impaired terminals; these tests need to control every single packet.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import itertools
import os
import struct
import subprocess
from collections.abc import Iterator

CLONE_NEWNET = 0x40000000
TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000

_libc = ctypes.CDLL(None, use_errno=True)
_seq = itertools.count()


def _setns(fd: int) -> None:
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True)


class NetNs:
    """A namespace with lo up and TUN ``t0`` (198.18.0.1/24, 2001:2::1/64) whose fd is ``tun_fd``."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.tun_fd = -1

    def run(self, *argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["ip", "netns", "exec", self.name, *argv], check=True, capture_output=True, text=True
        )

    @contextlib.contextmanager
    def inside(self) -> Iterator[None]:
        """Switch this thread into the namespace (sockets created here live there), then back."""
        with open("/proc/thread-self/ns/net") as home, open(f"/run/netns/{self.name}") as target:
            _setns(target.fileno())
            try:
                yield
            finally:
                _setns(home.fileno())


@contextlib.contextmanager
def private_netns() -> Iterator[NetNs]:
    name = f"slp-icmp-{os.getpid()}-{next(_seq)}"
    _ip("netns", "add", name)
    ns = NetNs(name)
    try:
        _ip("-n", name, "link", "set", "lo", "up")
        with ns.inside():
            ns.tun_fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
            fcntl.ioctl(ns.tun_fd, TUNSETIFF, struct.pack("16sH", b"t0", IFF_TUN | IFF_NO_PI))
        _ip("-n", name, "addr", "add", "198.18.0.1/24", "dev", "t0")
        _ip("-n", name, "addr", "add", "2001:2::1/64", "dev", "t0", "nodad")
        _ip("-n", name, "link", "set", "t0", "up")
        yield ns
    finally:
        if ns.tun_fd >= 0:
            os.close(ns.tun_fd)
        subprocess.run(["ip", "netns", "del", name], check=False, capture_output=True)

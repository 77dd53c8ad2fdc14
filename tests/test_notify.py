"""sd_notify over a real AF_UNIX datagram socket (a path and an abstract name), as systemd listens."""

from __future__ import annotations

import asyncio
import os
import socket
import time
import uuid
from collections.abc import Iterator

import pytest

from slaprobe.notify import Notifier, reloading


@pytest.fixture(params=["path", "abstract"])
def listener(request, tmp_path) -> Iterator[tuple[socket.socket, str]]:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    if request.param == "path":
        name = str(tmp_path / "notify.sock")
        sock.bind(name)
    else:
        name = f"@slp-influx-notify-{uuid.uuid4().hex}"
        sock.bind(b"\0" + name[1:].encode())
    sock.settimeout(2)
    yield sock, name
    sock.close()


def recv(sock: socket.socket) -> dict[str, str]:
    data = sock.recv(4096).decode()
    return dict(line.split("=", 1) for line in data.split("\n"))


def test_ready_status_stopping(listener):
    sock, name = listener
    n = Notifier({"NOTIFY_SOCKET": name})
    assert n.ready("probing 1820 terminals")
    assert recv(sock) == {"READY": "1", "STATUS": "probing 1820 terminals"}
    assert n.status("cycle 3 done")
    assert recv(sock) == {"STATUS": "cycle 3 done"}
    assert n.stopping()
    assert recv(sock) == {"STOPPING": "1"}
    n.close()


def test_reloading_carries_monotonic_usec_and_ends_with_ready(listener):
    sock, name = listener
    n = Notifier({"NOTIFY_SOCKET": name})
    before = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    with reloading(n, "reloaded"):
        msg = recv(sock)
    after = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    assert msg["RELOADING"] == "1" and before <= int(msg["MONOTONIC_USEC"]) <= after
    assert recv(sock) == {"READY": "1", "STATUS": "reloaded"}


def test_watchdog_interval_is_half_of_watchdog_usec_and_pid_checked():
    me = str(os.getpid())
    assert Notifier({"NOTIFY_SOCKET": "@x", "WATCHDOG_USEC": "60000000"}).watchdog_interval_s == 30.0
    assert Notifier({"WATCHDOG_USEC": "60000000", "WATCHDOG_PID": me}).watchdog_interval_s == 30.0
    assert Notifier({"WATCHDOG_USEC": "60000000", "WATCHDOG_PID": "1"}).watchdog_interval_s is None
    assert Notifier({"WATCHDOG_USEC": "0"}).watchdog_interval_s is None
    assert Notifier({}).watchdog_interval_s is None


def test_watchdog_loop_pings_while_healthy_only(listener):
    sock, name = listener
    sock.settimeout(0.05)
    healthy = {"ok": True}
    n = Notifier({"NOTIFY_SOCKET": name, "WATCHDOG_USEC": "100000"})  # ping every 50 ms

    async def run(seconds: float) -> None:
        task = asyncio.create_task(n.watchdog_loop(lambda: healthy["ok"]))
        await asyncio.sleep(seconds)
        task.cancel()

    def drain() -> list[dict[str, str]]:
        out = []
        while True:
            try:
                out.append(recv(sock))
            except TimeoutError:
                return out

    asyncio.run(run(0.3))
    pings = drain()
    assert len(pings) >= 3 and all(p == {"WATCHDOG": "1"} for p in pings)
    healthy["ok"] = False
    asyncio.run(run(0.3))
    assert drain() == []


def test_no_notify_socket_is_a_quiet_no_op():
    n = Notifier({})
    assert not n.enabled
    assert n.ready() is False and n.watchdog() is False


def test_vanished_socket_is_logged_not_raised(tmp_path, caplog):
    n = Notifier({"NOTIFY_SOCKET": str(tmp_path / "gone.sock")})
    assert n.ready() is False
    assert "sd_notify" in caplog.text

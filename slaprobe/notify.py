"""systemd's notify protocol (sd_notify) with the standard library: READY, WATCHDOG, RELOADING, STOPPING.

The protocol is one AF_UNIX datagram per message, ``KEY=VALUE`` lines, sent to the path in
``$NOTIFY_SOCKET`` (a leading ``@`` means the Linux abstract namespace). Outside systemd the variable is
unset and every call is a cheap no-op, so the daemon calls these unconditionally.

Why it matters here: with ``Type=notify`` systemd starts dependents only after READY=1 (the journal is
open and the scheduler armed), and with ``WatchdogSec=`` it restarts a daemon whose event loop stopped
turning — a hung loop means no probes, which would otherwise look like an outage of every terminal.
The watchdog ping therefore comes from a task *in the probe loop* and only while the loop is healthy.

``RELOADING=1`` must carry ``MONOTONIC_USEC`` (CLOCK_MONOTONIC in µs; systemd ≥ 253 checks it) and be
followed by ``READY=1`` when the reload is done.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from collections.abc import Callable, Iterator, Mapping

log = logging.getLogger(__name__)


def _address(path: str) -> str | bytes:
    if path.startswith("@"):
        return b"\0" + path[1:].encode()  # abstract namespace
    return path


class Notifier:
    """Sends sd_notify messages; a no-op when ``NOTIFY_SOCKET`` is not set.

    ``env`` defaults to ``os.environ``; tests pass their own mapping. The socket is created once and
    kept (a datagram socket is connectionless, one ``sendto`` per message).
    """

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        env = os.environ if env is None else env
        self.socket_path = env.get("NOTIFY_SOCKET", "")
        self._sock: socket.socket | None = None
        usec = env.get("WATCHDOG_USEC", "")
        pid = env.get("WATCHDOG_PID", "")
        self.watchdog_usec: int | None = None
        if usec.isdigit() and int(usec) > 0 and (not pid or pid == str(os.getpid())):
            self.watchdog_usec = int(usec)

    @property
    def enabled(self) -> bool:
        return bool(self.socket_path)

    @property
    def watchdog_interval_s(self) -> float | None:
        """How often to send WATCHDOG=1: half of ``WatchdogSec``, as sd_watchdog_enabled(3) advises."""
        if self.watchdog_usec is None:
            return None
        return self.watchdog_usec / 2 / 1e6

    def notify(self, **fields: object) -> bool:
        """Send one message (``notify(READY=1, STATUS="...")``); return whether it was sent.

        Errors are logged, never raised: losing a status line must not stop the probes.
        """
        if not self.socket_path:
            return False
        message = "\n".join(f"{key}={value}" for key, value in fields.items()).encode()
        try:
            if self._sock is None:
                self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
            self._sock.sendto(message, _address(self.socket_path))
        except OSError as exc:
            log.warning("sd_notify to %s failed: %s", self.socket_path, exc)
            return False
        return True

    def ready(self, status: str = "") -> bool:
        return self.notify(READY=1, **({"STATUS": status} if status else {}))

    def reloading(self) -> bool:
        return self.notify(RELOADING=1, MONOTONIC_USEC=time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000)

    def stopping(self, status: str = "") -> bool:
        return self.notify(STOPPING=1, **({"STATUS": status} if status else {}))

    def watchdog(self) -> bool:
        return self.notify(WATCHDOG=1)

    def status(self, text: str) -> bool:
        return self.notify(STATUS=text)

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    async def watchdog_loop(self, healthy: Callable[[], bool] = lambda: True) -> None:
        """Ping the watchdog every ``WATCHDOG_USEC/2`` while ``healthy()``; returns at once if disabled.

        Run it as a task in the daemon's loop. Because it is a task, a blocked loop stops the pings by
        itself; ``healthy`` adds what the loop cannot see (e.g. the scheduler's last cycle is too old).
        """
        interval = self.watchdog_interval_s
        if interval is None or not self.enabled:
            return
        while True:
            if healthy():
                self.watchdog()
            else:
                log.error("not pinging the systemd watchdog: the daemon reports itself unhealthy")
            await asyncio.sleep(interval)


@contextlib.contextmanager
def reloading(notifier: Notifier, status: str = "") -> Iterator[Notifier]:
    """``with reloading(n): reload()`` sends RELOADING=1 before and READY=1 after (also on failure)."""
    notifier.reloading()
    try:
        yield notifier
    finally:
        notifier.ready(status)

"""A systemd-like NOTIFY_SOCKET for daemons under test: a thread drains it all the time.

Why not ``tests/test_daemon_influx.NotifySocket``: that one reads only while a test waits, and the daemon
sends a STATUS line every cycle; over a few minutes the datagram queue fills and the daemon's (blocking,
like sd_notify's) send stalls its event loop. systemd always reads; so does this.
"""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path


class NotifyListener:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.settimeout(0.2)
        self.messages: list[dict[str, str]] = []
        self._seen = 0  # messages before this index were consumed by wait_for
        self._cond = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._drain, name="notify-listener", daemon=True)
        self._thread.start()

    def _drain(self) -> None:
        while not self._closed:
            try:
                data = self.sock.recv(65536).decode()
            except (TimeoutError, OSError):
                continue
            msg = dict(line.split("=", 1) for line in data.splitlines() if "=" in line)
            with self._cond:
                self.messages.append(msg)
                self._cond.notify_all()

    def wait_for(self, key: str, timeout: float) -> dict[str, str]:
        """The next message (after the last one returned) carrying ``key``."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for i in range(self._seen, len(self.messages)):
                    if key in self.messages[i]:
                        self._seen = i + 1
                        return self.messages[i]
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no {key} from the daemon in {timeout} s")
                self._cond.wait(left)

    def close(self) -> None:
        self._closed = True
        self._thread.join(2)
        self.sock.close()

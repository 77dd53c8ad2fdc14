"""The :class:`Lab` handle: start a namespace + responder for a profile, reach into it, read the truth, stop.

The prober under test runs inside the lab namespace: in-process by creating its sockets under
``with lab.inside():`` (sockets keep the namespace they were born in), or as a subprocess through
``lab.command([...])``. The root namespace is never changed.
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import slaprobe
from slaprobe.lab import netns as _netns
from slaprobe.lab.profile import SOURCE_V4, SOURCE_V6, LabProfile, load_profile
from slaprobe.lab.truth import GroundTruth

_counter = itertools.count(1)
_live: weakref.WeakSet[Lab] = weakref.WeakSet()
_PACKAGE_ROOT = str(Path(slaprobe.__file__).resolve().parent.parent)


class LabError(RuntimeError):
    """The lab could not start or answer; the message includes the responder's stderr when useful."""


class Lab:
    """A running lab. Create with :meth:`start`; use as a context manager (or call :meth:`close`)."""

    netns: str
    source_v4: str = str(SOURCE_V4)
    source_v6: str = str(SOURCE_V6)

    def __init__(
        self,
        profile: LabProfile,
        netns: str,
        proc: subprocess.Popen[str],
        workdir: tempfile.TemporaryDirectory[str],
        truth_path: Path,
        t0_ns: int,
        sched: str = "other",
    ) -> None:
        self.profile = profile
        self.netns = netns
        self.proc = proc
        self.truth_path = truth_path
        self.t0_ns = t0_ns  # the responder's start: outage ``start_offset_s`` counts from here
        self.sched = sched  # the responder's scheduling: "fifo:<priority>" or "other"
        self._workdir = workdir  # keeps profile, truth and log alive until the Lab is collected
        self._lock = threading.Lock()
        self._closed = False
        self._owner_pid = os.getpid()  # a forked child must not tear down its parent's lab at exit
        _live.add(self)

    # ------------------------------------------------------------------ lifecycle

    @classmethod
    def start(
        cls,
        profile: LabProfile | str | Path,
        *,
        truth: bool | str | Path = True,
        netns: str | None = None,
        udp: Mapping[int, str] | None = None,
        packets: bool | None = None,
        realtime: bool = True,
        ready_timeout: float = 20.0,
    ) -> Lab:
        """Create the namespace, start the responder in it and wait until it serves.

        ``truth``: True = per-packet ground truth in a temporary file; False = summary counters only;
        a path = truth written there. ``packets`` overrides whether per-packet records are written
        (default: unless ``truth`` is False). ``udp``: extra port -> ``"module:function"`` handlers (on
        top of the profile's and the built-in echo on port 7). ``netns``: namespace name (default
        ``slp-lab-<pid>-<n>``); it must not exist yet. ``realtime``: run the responder under SCHED_FIFO
        (priority 10) so reply timing holds on a busy machine (falls back to normal scheduling where
        refused; ``lab.sched`` says which).
        """
        if isinstance(profile, str | Path):
            profile = load_profile(profile)
        if os.geteuid() != 0:
            raise LabError("the lab needs root (CAP_NET_ADMIN for ip netns and /dev/net/tun)")
        _netns.remove_stale()
        name = netns or f"{_netns.NAME_PREFIX}{os.getpid()}-{next(_counter)}"
        workdir = tempfile.TemporaryDirectory(prefix=f"{name}-")
        wd = Path(workdir.name)
        (wd / "profile.json").write_text(json.dumps(profile.to_dict()), encoding="utf-8")
        truth_path = Path(truth) if isinstance(truth, str | Path) else wd / "truth.jsonl"
        log_path = wd / "responder.log"
        argv = [
            "ip", "netns", "exec", name, sys.executable, "-m", "slaprobe.lab.responder",
            "--profile", str(wd / "profile.json"), "--truth", str(truth_path), "--control-stdin",
        ]  # fmt: skip
        if realtime:
            argv += ["--rt-priority", "10"]
        if not (packets if packets is not None else truth is not False):
            argv.append("--no-packets")
        for port, spec in (udp or {}).items():
            argv += ["--udp", f"{int(port)}={spec}"]
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [_PACKAGE_ROOT, env.get("PYTHONPATH")]))
        _netns.create(name)
        proc = None
        try:
            with open(log_path, "w", encoding="utf-8") as log:
                proc = subprocess.Popen(
                    argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True, env=env
                )
            try:
                line = _readline(proc, ready_timeout)
            except LabError as exc:
                raise LabError(f"lab responder in {name} did not start: {exc}\n{_tail(log_path)}") from None
            if not line.startswith("READY "):
                raise LabError(f"lab responder in {name} did not start (got {line!r}):\n{_tail(log_path)}")
            ready = json.loads(line[6:])
        except BaseException:
            if proc is not None:
                _stop(proc)
            _netns.delete(name)
            workdir.cleanup()
            raise
        return cls(profile, name, proc, workdir, truth_path, ready["t0_ns"], ready["sched"])

    def close(self) -> None:
        """Stop the responder (it writes its summary) and delete the namespace. Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            _stop(self.proc)
            _netns.delete(self.netns)

    def __repr__(self) -> str:
        state = "closed" if self._closed else f"responder pid {self.proc.pid}"
        return f"<Lab {self.netns} {len(self.profile.terminals)} terminals, {state}>"

    def __enter__(self) -> Lab:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def closed(self) -> bool:
        return self._closed

    # ------------------------------------------------------------------ reaching in

    @contextlib.contextmanager
    def inside(self) -> Iterator[None]:
        """Run the body (this thread only) inside the lab namespace; sockets made here stay in the lab."""
        with _netns.entered(self.netns):
            yield

    def command(self, argv: Sequence[str]) -> list[str]:
        """``argv`` prefixed so that it runs inside the lab namespace."""
        return ["ip", "netns", "exec", self.netns, *argv]

    def run(self, argv: Sequence[str], **kwargs: Any) -> subprocess.CompletedProcess[Any]:
        """``subprocess.run`` of ``argv`` inside the lab namespace (kwargs passed through)."""
        return subprocess.run(self.command(argv), check=kwargs.pop("check", False), **kwargs)

    def address(self, terminal_id: str) -> str:
        return str(self.profile.address_of(terminal_id))

    # ------------------------------------------------------------------ truth

    def ground_truth(self, settle_timeout: float = 5.0) -> GroundTruth:
        """The ground truth so far. While running, waits (up to ``settle_timeout``) until every request
        already received has its final fate (replies still in their delay are not yet written)."""
        if not self._closed and self.proc.poll() is None:
            deadline = time.monotonic() + settle_timeout
            while True:
                pending = int(self._ask("flush", "FLUSHED ").split()[1])
                if pending == 0 or time.monotonic() > deadline:
                    break
                time.sleep(0.005)
        return GroundTruth.read(self.truth_path)

    def stats(self, reset_lateness: bool = False) -> dict[str, Any]:
        """Live counters of the responder (requests, fates, release lateness percentiles in µs).

        ``reset_lateness``: lateness samples start over after this call (counters never reset)."""
        return json.loads(self._ask("stats reset" if reset_lateness else "stats", "STATS ")[6:])

    def log(self) -> str:
        """The responder's stderr so far."""
        return _tail(Path(self._workdir.name) / "responder.log", 100_000)

    def _ask(self, cmd: str, prefix: str, timeout: float = 10.0) -> str:
        with self._lock:
            if self._closed or self.proc.poll() is not None:
                raise LabError(f"lab {self.netns} is not running:\n{self.log()}")
            assert self.proc.stdin is not None
            self.proc.stdin.write(cmd + "\n")
            self.proc.stdin.flush()
            line = _readline(self.proc, timeout)
            if not line.startswith(prefix):
                raise LabError(f"lab {self.netns}: expected {prefix.strip()}, got {line!r}")
            return line


def describe(lab: Lab) -> str:
    """How to reach a running lab, for humans (``slaprobe lab serve`` prints it)."""
    p = lab.profile
    return (
        f"lab namespace: {lab.netns}\n"
        f"answering for: {p.block_v4} and {p.block_v6} ({len(p.terminals)} listed terminals)\n"
        f"prober sources: {lab.source_v4} and {lab.source_v6}\n"
        f"run a prober inside it, e.g.: ip netns exec {lab.netns} fping -c 5 {_example(lab)}\n"
        "stop with Ctrl-C or SIGTERM\n"
    )


def _example(lab: Lab) -> str:
    return str(lab.profile.terminals[0][1]) if lab.profile.terminals else str(lab.profile.block_v4[1])


def wait_for_stop_signal() -> int:
    """Block the calling (main) thread until SIGINT or SIGTERM; return the signal number."""
    stop = {signal.SIGINT, signal.SIGTERM}
    old = signal.pthread_sigmask(signal.SIG_BLOCK, stop)
    try:
        return signal.sigwait(stop)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def _readline(proc: subprocess.Popen[str], timeout: float) -> str:
    """One line from the responder's stdout, or LabError after ``timeout`` seconds or on its exit."""
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    if not ready:
        raise LabError(f"lab responder gave no answer within {timeout} s")
    line = proc.stdout.readline()
    if not line:
        proc.wait(timeout=5)
        raise LabError(f"lab responder exited with status {proc.returncode}")
    return line.rstrip("\n")


def _stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    for stream in (proc.stdin, proc.stdout):
        if stream is not None:
            with contextlib.suppress(OSError):
                stream.close()


def _tail(path: Path, limit: int = 4000) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")[-limit:]
    except OSError:
        return ""


@atexit.register
def _close_all() -> None:
    for lab in list(_live):
        if lab._owner_pid == os.getpid():
            with contextlib.suppress(Exception):
                lab.close()

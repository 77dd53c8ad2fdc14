"""The ``stamp`` probe against reflector kinds seen in the field: stateful reflectors without RFC 8972
session ids (one counter across all our streams, starting anywhere, wrapping at 2^32) and reflectors whose
replies do not parse as STAMP (TWAMP-light without MBZ/TTL, garbage).

The reflector here packs its replies from RFC 8762 §4.3.1 with ``struct`` itself (not our wire module),
and drops requests by sender seq, so every expected figure below is counted by hand from the drops.
"""

from __future__ import annotations

import asyncio
import struct
import time
from dataclasses import dataclass, field

import pytest

from slaprobe.model import Outcome
from slaprobe.probes.stamp import StampEngine, StampSettings
from tests.probes.streamlab import target

NTP_UNIX = 2_208_988_800


def _ntp(ns: int) -> int:
    sec, rem = divmod(ns, 1_000_000_000)
    return ((sec + NTP_UNIX) << 32) | ((rem << 32) // 1_000_000_000)


class ScriptedReflector(asyncio.DatagramProtocol):
    """A stateful reflector with one counter for every sender and session (no SSID echoed: 0).

    ``drop_fwd``: sender seqs ignored (lost before the reflector: the counter does not move);
    ``drop_rev``: counted but not answered (lost on the way back). ``reply_size`` cuts each reply to
    that many bytes (38: a TWAMP-light reply without the MBZ and TTL octets); ``garbage`` replies with
    that instead of a reflector packet.
    """

    def __init__(self, start: int) -> None:
        self.counter = start
        self.drop_fwd: set[int] = set()
        self.drop_rev: set[int] = set()
        self.reply_size: int | None = None
        self.garbage: bytes | None = None
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple) -> None:
        t2 = time.time_ns()
        seq, t1, err = struct.unpack_from("!IQH", data)
        if seq in self.drop_fwd:
            return
        mine = self.counter & 0xFFFFFFFF
        self.counter += 1
        if seq in self.drop_rev:
            return
        # seq, T3, error estimate, SSID (0: none), T2, sender seq, T1, sender error, MBZ, TTL, MBZ
        t3 = _ntp(time.time_ns())
        reply = struct.pack("!IQHHQIQHHB3x", mine, t3, 0x0101, 0, _ntp(t2), seq, t1, err, 0, 64)
        if self.garbage is not None:
            reply = self.garbage
        elif self.reply_size is not None:
            reply = reply[: self.reply_size]
        assert self.transport is not None
        self.transport.sendto(reply, addr)


@dataclass
class Stream:
    drop_fwd: set[int] = field(default_factory=set)
    drop_rev: set[int] = field(default_factory=set)
    loss_fwd: float | None = 0.0
    loss_rev: float | None = 0.0


N = 20  # packets per stream (100 pps for 0.2 s)
SETTINGS = StampSettings(rate_pps=100, duration_s=0.2, timeout_ms=200)


def _run_streams(start: int, streams: list[Stream], prepare=None) -> list:  # type: ignore[no-untyped-def]
    """Consecutive streams from one engine to one reflector whose counter starts at ``start``."""

    async def main():  # type: ignore[no-untyped-def]
        loop = asyncio.get_running_loop()
        transport, reflector = await loop.create_datagram_endpoint(
            lambda: ScriptedReflector(start), local_addr=("127.0.0.1", 0)
        )
        if prepare is not None:
            prepare(reflector)
        port = transport.get_extra_info("sockname")[1]
        out = []
        try:
            async with StampEngine(SETTINGS) as engine:
                for s in streams:
                    reflector.drop_fwd, reflector.drop_rev = s.drop_fwd, s.drop_rev
                    out.append(await engine.measure(target("T1", "127.0.0.1", port), "v1"))
        finally:
            transport.close()
        return out

    return asyncio.run(main())


# Per stream: drops by sender seq and the figures counted by hand. The window runs from the first to the
# last packet answered; within it, forward loss = dropped forward / packets sent in the window, reverse
# loss = dropped back / packets the reflector received in the window.
SCRIPTS = {
    "clean streams, counter continuing across them": [Stream(), Stream(), Stream()],
    "forward and reverse loss between clean streams": [
        Stream(),
        Stream(drop_fwd={3, 7}, drop_rev={5, 12, 13}, loss_fwd=2 / 20, loss_rev=3 / 18),
        Stream(),
        Stream(drop_fwd={10}, loss_fwd=1 / 20, loss_rev=0.0),
        Stream(drop_rev={0, 19}),  # both edges lost: window 1..18, nothing lost inside it
        Stream(drop_fwd={0, 1}, drop_rev={2, 4}, loss_fwd=0.0, loss_rev=1 / 17),  # window 3..19
    ],
}


@pytest.mark.parametrize("start", [0, 1000, (1 << 32) - 30], ids=["from-0", "from-1000", "wrapping"])
@pytest.mark.parametrize("script", list(SCRIPTS), ids=["clean", "lossy"])
def test_directional_loss_with_a_session_less_counter(start: int, script: str) -> None:
    streams = SCRIPTS[script]
    results = _run_streams(start, streams)
    for i, (s, m) in enumerate(zip(streams, results, strict=True)):
        lost = len(s.drop_fwd) + len(s.drop_rev)
        assert (m.sample.sent, m.sample.received) == (N, N - lost), (script, i)
        assert m.sample.loss_fwd == pytest.approx(s.loss_fwd), (script, i)
        assert m.sample.loss_rev == pytest.approx(s.loss_rev), (script, i)
        if not lost:  # G.711, no loss, sub-ms delay: R = 93.2 - Id (~0), however far the counter ran
            assert m.sample.r_factor is not None and m.sample.r_factor > 90, (script, i)


def _record(counter: list[int | None]):  # type: ignore[no-untyped-def]
    """A 20-packet stream whose packet i was answered with reflector seq ``counter[i]`` (None: no reply)."""
    from slaprobe.probes.stamp import StampReplyInfo
    from slaprobe.probes.stream import Reply, StreamRecord

    t0 = 1_700_000_000_000_000_000
    record = StreamRecord(dest=("127.0.0.1", 862), settings=SETTINGS.stream, session_id=7)
    record.send_ns = [t0 + i * 10_000_000 for i in range(len(counter))]
    for i, c in enumerate(counter):
        if c is not None:
            record.replies.append(Reply(i, record.send_ns[i] + 1_000_000, StampReplyInfo(c, 0, 0, 64)))
    return record


@pytest.mark.parametrize(
    "counter",
    [
        list(range(10)) + [15 + i for i in range(10)],  # 5 foreign packets mid-stream
        list(range(10)) + [3 + i for i in range(10)],  # the reflector restarted mid-stream
        [i // 2 for i in range(20)],  # one counter value for two of our packets
    ],
    ids=["shared-counter", "reset", "not-per-packet"],
)
def test_a_counter_that_is_not_this_streams_alone_gives_unknown_not_a_figure(counter: list[int]) -> None:
    from slaprobe.probes.stamp import analyze

    stats = analyze(_record(counter), stateful=True)
    assert stats.seq.received == 20  # every packet answered: only the directions are unknowable
    assert (stats.loss_fwd, stats.loss_rev) == (None, None)


def test_a_clean_counter_from_anywhere_gives_zero_loss() -> None:
    from slaprobe.probes.stamp import analyze

    stats = analyze(_record([(1 << 32) - 7 + i & 0xFFFFFFFF for i in range(20)]), stateful=True)
    assert (stats.loss_fwd, stats.loss_rev) == (0.0, 0.0)


# ---------------------------------------------------------------- replies that arrive but do not parse

UNREADABLE = {
    "twamp-light-38": (
        {"reply_size": 38},
        "38-byte reply, shorter than the 44-byte STAMP reflector packet (TWAMP-light without MBZ/TTL?)",
    ),
    "garbage-10": (
        {"garbage": b"\xff" * 10},
        "10-byte reply, shorter than the 44-byte STAMP reflector packet",
    ),
}


@pytest.mark.parametrize("case", list(UNREADABLE))
def test_replies_that_do_not_parse_are_malformed_not_timeouts(case: str) -> None:
    attrs, reason = UNREADABLE[case]

    def prepare(reflector: ScriptedReflector) -> None:
        for k, v in attrs.items():
            setattr(reflector, k, v)

    (m,) = _run_streams(1000, [Stream()], prepare)
    s = m.sample
    # Every one of the 20 requests was answered, none readably: 20 malformed, 0 received, not "timeout".
    assert (s.sent, s.received, s.malformed) == (N, 0, N)
    assert s.error is Outcome.MALFORMED and s.malformed_reason == reason
    assert not s.measured and s.loss is None  # the peer answered: unknown, never loss of the link
    assert s.loss_fwd is None and s.loss_rev is None and s.r_factor is None


def test_malformed_is_unknown_to_the_sla_engine_and_survives_the_stores(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from slaprobe.model import ProbeKind, Sample
    from slaprobe.sla.inputs import UNMEASURED_ERRORS, SampleColumnsBuilder
    from slaprobe.store.journal import JournalStore
    from slaprobe.store.lineproto import sample_line

    s = Sample(1_700_000_000_000_000_000, "T1", "v1", ProbeKind.STAMP, sent=20, received=0,
               error=Outcome.MALFORMED, malformed=20, malformed_reason='38-byte "reply"')  # fmt: skip
    assert "malformed" in UNMEASURED_ERRORS
    b = SampleColumnsBuilder()
    b.add("T1", "v1", ProbeKind.STAMP, s.time_ns, s.sent, s.received, s.error.value)
    cols = b.build()
    assert cols.measured.tolist() == [False] and cols.sent.tolist() == [0]  # not 20 packets lost
    assert sample_line(s, {}).endswith(
        'max_loss_burst=0i,malformed=20i,error="malformed",'
        'malformed_reason="38-byte \\"reply\\"" 1700000000000'
    )
    with JournalStore(tmp_path / "j.db") as journal:
        journal.write_samples([s])
        (back,) = journal.samples(0, 2_000_000_000_000_000_000)
    assert back == s


def test_cli_json_says_malformed() -> None:
    """``slaprobe probe --kind stamp`` against a reflector answering with 38-byte replies."""
    import json
    import socket
    import subprocess
    import sys
    import threading
    from pathlib import Path

    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.2)
    reflector = ScriptedReflector(1000)
    reflector.reply_size = 38
    reflector.transport = sock  # type: ignore[assignment]  # only sendto is used
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                data, addr = sock.recvfrom(2048)
            except TimeoutError:
                continue
            reflector.datagram_received(data, addr)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        argv = [
            sys.executable,
            "-m",
            "slaprobe",
            "probe",
            "--kind",
            "stamp",
            f"127.0.0.1:{sock.getsockname()[1]}",
        ]
        argv += ["--count", "10", "--interval", "10", "--timeout", "300", "--format", "json"]
        root = Path(__file__).resolve().parents[2]
        r = subprocess.run(argv, cwd=root, capture_output=True, text=True, timeout=60)
    finally:
        stop.set()
        thread.join()
        sock.close()
    assert r.returncode == 1, r.stderr  # nothing measurable came back
    (row,) = json.loads(r.stdout)
    assert (row["sent"], row["received"], row["malformed"], row["error"]) == (10, 0, 10, "malformed")
    assert row["malformed_reason"].startswith("38-byte reply")


def test_short_replies_are_told_apart_by_the_t1_they_echo() -> None:
    """Three concurrent streams to one TWAMP-light reflector: its 38-byte replies name no session, but
    they echo sender seq and T1 at bytes 24..36, so each stream counts exactly its own 20 replies."""

    async def main():  # type: ignore[no-untyped-def]
        loop = asyncio.get_running_loop()
        transport, reflector = await loop.create_datagram_endpoint(
            lambda: ScriptedReflector(0), local_addr=("127.0.0.1", 0)
        )
        reflector.reply_size = 38
        port = transport.get_extra_info("sockname")[1]
        try:
            async with StampEngine(SETTINGS) as engine:
                return await asyncio.gather(
                    *(engine.probe(target(f"T{i}", "127.0.0.1", port), "v1") for i in range(3))
                ), engine.streams.unmatched
        finally:
            transport.close()

    samples, unmatched = asyncio.run(main())
    assert [(s.malformed, s.received, s.error) for s in samples] == [(N, 0, Outcome.MALFORMED)] * 3
    assert unmatched == 0

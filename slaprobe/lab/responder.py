"""The TUN responder: one process inside the lab namespace that plays every terminal of the address blocks.

Run as ``ip netns exec NS python -m slaprobe.lab.responder --profile P.json --truth T.jsonl``. It creates
the TUN device, routes the blocks through it, prints ``READY {json}`` and serves until SIGTERM, SIGINT or
EOF on stdin (so it dies with its owner). Commands on stdin, one per line: ``flush`` (write all final
ground-truth records; answers ``FLUSHED <events still pending>``), ``stats`` (answers ``STATS {json}``),
``stats reset`` (the same, then the lateness samples start over).

Timing. One thread, one heap of events keyed by due time (CLOCK_REALTIME ns). ``select`` waits with
microsecond timeouts (epoll would round to whole milliseconds), the process timer slack is set to 1 ns,
the last ``SPIN_NS`` before a release are spent polling, and with ``--rt-priority`` the process runs under
SCHED_FIFO, so replies leave within tens of µs of their due time even on a busy machine. Ground truth is
formatted when no release is due within ``IDLE_NS`` (or in bounded slices once ``MAX_PENDING`` records
wait), so bookkeeping does not delay replies. Lateness (actual send − due) of every release is kept and
summarised. A prober sees RTT = injected delay + its own stack and our wake-up (~30-60 µs here).

Fate of a request (decided on arrival at the TUN, from a per-terminal deterministic random stream:
BLAKE2b(seed, address, n-th request of that terminal), so the same seed and traffic give the same
fates whatever other terminals do):
  outage active -> ``dropped_outage``; u < loss -> ``dropped_loss``; otherwise the request reaches the
  terminal after the forward delay (UDP handlers run then), and u' < loss_rev -> ``dropped_loss_rev``
  else ``replied`` after the reverse delay (+ ``reorder_ms`` with probability ``reorder``; sent twice
  with probability ``duplicate``). UDP to a port without handler -> ``no_listener``; a handler returning
  None -> ``no_reply``; a handler raising -> ``handler_error``; a failed TUN write -> ``send_error``.

Ground truth (JSON lines; a record is written when the packet's fate is final, so sort by ``rx_ns`` for
arrival order)::

  {"kind":"start","t0_ns":..,"pid":..,"blocks":[..],"packets":true}
  {"kind":"pkt","rx_ns":<arrival at the TUN>,"terminal":"T0001"|null,"addr":"198.18.0.1",
   "src":"198.19.255.1","proto":"icmp"|"icmp6"|"udp","id":..,"seq":.. | "sport":..,"dport":..,
   "action":"replied"|..., "fwd_ms":2.5,"rev_ms":2.5,"reorder_ms":0,"tx_ns":<reply sent>|null,"dups":0,
   "n":<index of this request at this terminal>}
  {"kind":"outage","index":0,"targets":[..],"scheduled_start_ns":..,"scheduled_end_ns":..,
   "start_ns":<applied>,"end_ns":<lifted>}   (both null: the window was over before the lab started;
   end null: the lab stopped during the window)
  {"kind":"terminal","terminal":..,"addr":..,"requests":..,"replied":..,"dropped_loss":..,
   "dropped_outage":..,"dropped_loss_rev":..,"other":..,"duplicates":..}   (one per terminal seen, at exit)
  {"kind":"summary","requests":..,"replied":..,...,"late_us":{"n":..,"p50":..,"p99":..,"max":..},
   "kernel_tx_dropped":..}   (at exit)

With ``--no-packets`` the ``pkt`` records are omitted (counters only), for big benches.
"""

from __future__ import annotations

import argparse
import array
import bisect
import ctypes
import ctypes.util
import hashlib
import heapq
import ipaddress
import itertools
import json
import math
import os
import select
import signal
import socket
import struct
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TextIO

from slaprobe.lab import netns, packets
from slaprobe.lab.packets import PROTO_ICMP, PROTO_ICMPV6, PROTO_UDP
from slaprobe.lab.profile import SOURCE_V4, SOURCE_V6, Impairment, LabProfile, load_profile
from slaprobe.lab.udp import UdpContext, UdpHandler, resolve_registry

TUN_NAME = "slptun0"
SPIN_NS = 200_000  # poll instead of sleeping for the last 200 µs before a release
IDLE_NS = 2_000_000  # format ground truth only when nothing is due within 2 ms
TRUTH_CHUNK = 200  # records formatted per idle slice (~0.3 ms)
MAX_PENDING = 20_000  # past this, format a slice even when busy: memory stays bounded under any load
READ_BURST = 64

_RELEASE, _UDP_ARRIVE, _OUTAGE_START, _OUTAGE_END = range(4)
_PROTO_NAME = {PROTO_ICMP: "icmp", PROTO_ICMPV6: "icmp6", PROTO_UDP: "udp"}
_U64 = struct.Struct("<6Q")
_COUNTERS = ("replied", "dropped_loss", "dropped_outage", "dropped_loss_rev", "other")


class Term:
    """Mutable per-terminal state: identity, resolved impairments, outage membership, RNG, counters."""

    __slots__ = (
        "addr",
        "counts",
        "dups",
        "hasher",
        "imp",
        "n",
        "outages",
        "tid",
        "tid_json",
        "udp_state",
    )

    def __init__(
        self, addr: str, tid: str | None, imp: Impairment, outages: frozenset[int], seed: int
    ) -> None:
        self.addr = addr
        self.tid = tid
        self.tid_json = json.dumps(tid)
        self.imp = imp
        self.outages = outages
        packed = socket.inet_pton(socket.AF_INET6 if ":" in addr else socket.AF_INET, addr)
        self.hasher = hashlib.blake2b(key=struct.pack("<q", seed) + packed, digest_size=48)
        self.n = 0
        self.counts = dict.fromkeys(_COUNTERS, 0)
        self.dups = 0
        self.udp_state: dict[tuple[Any, ...], dict[str, Any]] = {}

    def draws(self, n: int) -> tuple[float, ...]:
        """Six uniforms in [0, 1) for the n-th request: loss, loss_rev, jitter fwd/rev, dup, reorder."""
        h = self.hasher.copy()
        h.update(n.to_bytes(8, "little"))
        return tuple(x / 18446744073709551616.0 for x in _U64.unpack(h.digest()))


class Lateness:
    """Histogram of release lateness, 1 µs bins up to 10 ms (constant memory, O(1) record; percentiles in
    well under a millisecond, so ``stats`` never stalls a busy responder)."""

    BINS = 10_000

    def __init__(self) -> None:
        self.counts = array.array("q", bytes(8 * (self.BINS + 1)))
        self.n = 0
        self.max_ns = 0

    def add(self, late_ns: int) -> None:
        self.counts[min(late_ns // 1000, self.BINS)] += 1
        self.n += 1
        if late_ns > self.max_ns:
            self.max_ns = late_ns

    def percentile_us(self, q: float) -> float | None:
        """Upper edge (µs) of the bin holding the q-quantile (the maximum if beyond 10 ms); None if empty."""
        if not self.n:
            return None
        i = bisect.bisect_left(list(itertools.accumulate(self.counts)), max(1, math.ceil(q * self.n)))
        return float(i + 1) if i < self.BINS else round(self.max_ns / 1000, 1)

    def summary(self) -> dict[str, Any]:
        return {"n": self.n, "p50": self.percentile_us(0.5), "p99": self.percentile_us(0.99),
                "max": round(self.max_ns / 1000, 1)}  # fmt: skip


class _Matcher:
    """Which addresses one outage covers: a set of single addresses (ids, /32, /128) plus real prefixes,
    so an outage naming thousands of terminals costs one set lookup per terminal."""

    def __init__(self, targets: tuple[str, ...], profile: LabProfile) -> None:
        ids = dict(profile.terminals)
        self.single: set[ipaddress.IPv4Address | ipaddress.IPv6Address] = set()
        self.nets: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
        for t in targets:
            if t in ids:
                self.single.add(ids[t])
                continue
            net = ipaddress.ip_network(t)
            if net.num_addresses == 1:
                self.single.add(net.network_address)
            else:
                self.nets.append(net)

    def covers(self, addr: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
        return addr in self.single or any(addr.version == n.version and addr in n for n in self.nets)


class Responder:
    """Answers for the profile's blocks on an open TUN fd; see the module docstring for the semantics."""

    def __init__(
        self,
        profile: LabProfile,
        tun_fd: int,
        udp: Mapping[int, UdpHandler],
        truth: TextIO | None,
        packets_truth: bool = True,
        t0_ns: int | None = None,
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        self.profile = profile
        self.fd = tun_fd
        self.udp = dict(udp)
        self.truth = truth
        self.packets_truth = packets_truth and truth is not None
        self.clock = clock
        self.t0_ns = t0_ns if t0_ns is not None else clock()
        self.heap: list[tuple[int, int, int, Any]] = []
        self.seq = 0
        self.terms: dict[bytes, Term | None] = {}
        self.pending: list[tuple[Any, ...]] = []  # final pkt records not yet formatted
        self.lateness = Lateness()
        self.counters = dict.fromkeys(("malformed", "foreign", "write_errors", "handler_errors"), 0)
        self.counters["internal_errors"] = 0
        # running totals, so ``stats`` is O(1) however many terminals there are
        self.totals = dict.fromkeys(("requests", *_COUNTERS, "duplicates"), 0)
        self.imp_cache: dict[tuple[tuple[str, float], ...], Impairment] = {}
        self.active: set[int] = set()
        self.matchers = [_Matcher(o.targets, profile) for o in profile.outages]
        self.outage_times: list[list[int | None]] = []  # [sched_start, sched_end, start, end]
        self.blocks = (profile.block_v4, profile.block_v6)
        self.ids = {a: tid for tid, a in profile.terminals}
        now = clock()
        for i, o in enumerate(profile.outages):
            start = o.start_ns(self.t0_ns)
            end = start + round(o.duration_s * 1e9)
            self.outage_times.append([start, end, None, None])
            if end > now:
                self.push(max(start, now), _OUTAGE_START, i)
                self.push(end, _OUTAGE_END, i)
        for _tid, addr in profile.terminals:  # resolve listed terminals now, not during a burst
            self.term(addr.packed)

    # ------------------------------------------------------------------ lookup

    def term(self, dst: bytes) -> Term | None:
        t = self.terms.get(dst, False)
        if t is not False:
            return t  # type: ignore[return-value]
        addr = ipaddress.ip_address(dst)
        if not any(addr.version == b.version and addr in b for b in self.blocks):
            t = None
        else:
            merged = self.profile.merged_impairments(addr)
            key = tuple(sorted(merged.items()))
            imp = self.imp_cache.get(key)
            if imp is None:
                imp = self.imp_cache[key] = Impairment.resolve(merged)
            outs = frozenset(i for i, m in enumerate(self.matchers) if m.covers(addr))
            t = Term(str(addr), self.ids.get(addr), imp, outs, self.profile.seed)
        if len(self.terms) > 500_000:  # a scan of the /64 must not eat memory: forget unlisted addresses
            self.terms = {k: v for k, v in self.terms.items() if v is not None and v.tid is not None}
        self.terms[dst] = t
        return t

    # ------------------------------------------------------------------ events

    def push(self, due: int, kind: int, data: Any) -> None:
        self.seq += 1
        heapq.heappush(self.heap, (due, self.seq, kind, data))

    def run_due(self) -> None:
        heap = self.heap
        while heap and heap[0][0] <= self.clock():
            due, _, kind, data = heapq.heappop(heap)
            try:
                if kind == _RELEASE:
                    self.release(due, *data)
                elif kind == _UDP_ARRIVE:
                    self.udp_arrive(due, *data)
                elif kind == _OUTAGE_START:
                    self.active.add(data)
                    self.outage_times[data][2] = self.clock()
                else:
                    self.active.discard(data)
                    self.outage_times[data][3] = self.clock()
                    self.write_outage(data)
            except Exception as exc:  # a bug must cost one event, not the lab; say so loudly
                self.counters["internal_errors"] += 1
                print(f"lab responder: internal error on event {kind}: {exc!r}", file=sys.stderr)

    def release(
        self, due: int, pkt: bytes, copies: int, rec: list[Any] | None, term: Term, action: str = "replied"
    ) -> None:
        tx = self.clock()
        try:
            for _ in range(copies):
                os.write(self.fd, pkt)
        except OSError:
            self.counters["write_errors"] += 1
            self.finish(rec, term, "send_error", None, 0)
            return
        self.lateness.add(tx - due)
        self.finish(rec, term, action, tx, copies - 1)

    def finish(self, rec: list[Any] | None, term: Term, action: str, tx: int | None, dups: int) -> None:
        key = action if action in term.counts else "other"
        term.counts[key] += 1
        term.dups += dups
        self.totals[key] += 1
        self.totals["duplicates"] += dups
        if rec is not None:
            rec[6], rec[10], rec[11] = action, tx, dups
            self.pending.append(tuple(rec))

    # ------------------------------------------------------------------ ingress

    def ingest(self, pkt: bytes, now: int) -> None:
        p = packets.parse(pkt)
        if p is None:
            self.counters["malformed"] += 1
            return
        term = self.term(p.dst)
        if term is None:
            self.counters["foreign"] += 1
            return
        n = term.n
        term.n = n + 1
        self.totals["requests"] += 1
        u_loss, u_rev, u_jf, u_jr, u_dup, u_reo = term.draws(n)
        imp = term.imp
        fwd = imp.delay_fwd_ms
        rev = imp.delay_rev_ms
        if imp.jitter_ms:
            fwd = max(0.0, fwd + (u_jf - 0.5) * imp.jitter_ms)
            rev = max(0.0, rev + (u_jr - 0.5) * imp.jitter_ms)
        reorder = imp.reorder_ms if u_reo < imp.reorder else 0.0
        copies = 2 if u_dup < imp.duplicate else 1
        rec: list[Any] | None = None
        if self.packets_truth:
            a, b = (p.sport, p.dport) if p.proto == PROTO_UDP else (p.ident, p.seq)
            src = socket.inet_ntop(socket.AF_INET if p.version == 4 else socket.AF_INET6, p.src)
            rec = [now, term, src, p.proto, a, b, "", round(fwd, 4), round(rev, 4), reorder, None, 0, n]
        if self.active and not self.active.isdisjoint(term.outages):
            self.finish(rec, term, "dropped_outage", None, 0)
            return
        if u_loss < imp.loss:
            self.finish(rec, term, "dropped_loss", None, 0)
            return
        fwd_ns = round(fwd * 1e6)
        back_ns = round((rev + reorder) * 1e6)
        if p.proto != PROTO_UDP:
            if u_rev < imp.loss_rev:
                self.finish(rec, term, "dropped_loss_rev", None, 0)
                return
            self.push(now + fwd_ns + back_ns, _RELEASE, (packets.echo_reply(p), copies, rec, term))
            return
        handler = self.udp.get(p.dport)
        if handler is None:
            if self.profile.icmp_unreachable:
                unreach = packets.port_unreachable(p)
                self.push(now + fwd_ns + back_ns, _RELEASE, (unreach, 1, rec, term, "no_listener"))
            else:
                self.finish(rec, term, "no_listener", None, 0)
            return
        self.push(now + fwd_ns, _UDP_ARRIVE, (p, term, handler, back_ns, copies, u_rev < imp.loss_rev, rec))

    def udp_arrive(
        self, due: int, p: packets.Parsed, term: Term, handler: UdpHandler, back_ns: int, copies: int,
        lost_rev: bool, rec: list[Any] | None,
    ) -> None:  # fmt: skip
        family = socket.AF_INET if p.version == 4 else socket.AF_INET6
        src = socket.inet_ntop(family, p.src)
        state = term.udp_state.setdefault((p.dport, src, p.sport), {})
        ctx = UdpContext(src, p.sport, term.addr, p.dport, term.tid, due, due, state)
        try:
            answer = handler(p.payload, ctx)
            if answer is not None:
                answer = bytes(answer)  # a handler returning str or int is a handler error, not our crash
        except Exception as exc:
            self.counters["handler_errors"] += 1
            if self.counters["handler_errors"] <= 5:
                print(f"lab responder: UDP handler for port {p.dport} raised {exc!r}", file=sys.stderr)
            self.finish(rec, term, "handler_error", None, 0)
            return
        if answer is None:
            self.finish(rec, term, "no_reply", None, 0)
        elif lost_rev:
            self.finish(rec, term, "dropped_loss_rev", None, 0)
        else:
            self.push(due + back_ns, _RELEASE, (packets.udp_reply(p, answer), copies, rec, term))

    # ------------------------------------------------------------------ ground truth

    def format_pending(self, limit: int | None = None) -> None:
        if self.truth is None:
            self.pending.clear()
            return
        batch = self.pending if limit is None else self.pending[:limit]
        lines = []
        for rx, term, src, proto, a, b, action, fwd, rev, reo, tx, dups, n in batch:
            ab = f'"sport":{a},"dport":{b}' if proto == PROTO_UDP else f'"id":{a},"seq":{b}'
            lines.append(
                f'{{"kind":"pkt","rx_ns":{rx},"terminal":{term.tid_json},"addr":"{term.addr}","src":"{src}",'
                f'"proto":"{_PROTO_NAME[proto]}",{ab},"action":"{action}","fwd_ms":{fwd},"rev_ms":{rev},'
                f'"reorder_ms":{reo},"tx_ns":{"null" if tx is None else tx},"dups":{dups},"n":{n}}}\n'
            )
        self.truth.write("".join(lines))
        if limit is None:
            self.pending.clear()
        else:
            del self.pending[:limit]

    def write_record(self, record: Mapping[str, Any]) -> None:
        if self.truth is not None:
            self.truth.write(json.dumps(record, separators=(",", ":")) + "\n")

    def write_outage(self, i: int) -> None:
        s_start, s_end, start, end = self.outage_times[i]
        self.write_record(
            {"kind": "outage", "index": i, "targets": list(self.profile.outages[i].targets),
             "scheduled_start_ns": s_start, "scheduled_end_ns": s_end, "start_ns": start, "end_ns": end}
        )  # fmt: skip

    def stats(self) -> dict[str, Any]:
        return {
            **self.totals, **self.counters,
            "pending_events": len(self.heap),
            "late_us": self.lateness.summary(),
            "kernel_tx_dropped": _tun_tx_dropped(),
        }  # fmt: skip

    def write_summary(self) -> None:
        self.format_pending()
        for i, (_s, _e, _start, end) in enumerate(self.outage_times):
            if end is None:  # still active (end null), or over before the lab started (start null too)
                self.write_outage(i)
        for t in self.terms.values():
            if t is not None and t.n:
                self.write_record(
                    {"kind": "terminal", "terminal": t.tid, "addr": t.addr, "requests": t.n, **t.counts,
                     "duplicates": t.dups}
                )  # fmt: skip
        self.write_record({"kind": "summary", **self.stats()})
        if self.truth is not None:
            self.truth.flush()

    # ------------------------------------------------------------------ loop

    def serve(self, control_fd: int | None, stop_fd: int) -> None:
        """Run until ``stop_fd`` becomes readable or ``control_fd`` hits EOF."""
        os.set_blocking(self.fd, False)
        rlist = [self.fd, stop_fd] + ([control_fd] if control_fd is not None else [])
        heap = self.heap
        clock = self.clock
        ctl_buf = b""
        while True:
            now = clock()
            if heap and heap[0][0] <= now:
                self.run_due()
                continue
            wait = heap[0][0] - now if heap else 1 << 62
            if self.pending and (wait > IDLE_NS or len(self.pending) > MAX_PENDING):
                self.format_pending(TRUTH_CHUNK)  # when idle, or a bounded slice when never idle
                continue
            timeout = 0.0 if wait <= SPIN_NS else min(0.25, (wait - SPIN_NS) / 1e9)
            ready, _, _ = select.select(rlist, [], [], timeout)
            if not ready:
                continue
            if self.fd in ready:
                self.read_burst()
            if stop_fd in ready:
                return
            if control_fd is not None and control_fd in ready:
                chunk = os.read(control_fd, 4096)
                if not chunk:
                    return
                ctl_buf += chunk
                while b"\n" in ctl_buf:
                    line, ctl_buf = ctl_buf.split(b"\n", 1)
                    self.command(line.decode(errors="replace").strip())

    def read_burst(self) -> None:
        heap = self.heap
        clock = self.clock
        for _ in range(READ_BURST):
            try:
                pkt = os.read(self.fd, 65536)
            except BlockingIOError:
                return
            now = clock()
            try:
                self.ingest(pkt, now)
            except Exception as exc:  # never die on a packet; count it and say why once
                self.counters["malformed"] += 1
                if self.counters["malformed"] < 3:
                    print(f"lab responder: dropped a packet that broke the parser: {exc!r}", file=sys.stderr)
            if heap and heap[0][0] <= now:
                self.run_due()

    def command(self, line: str) -> None:
        if line == "flush":
            self.format_pending()
            if self.truth is not None:
                self.truth.flush()
            _say(f"FLUSHED {sum(1 for e in self.heap if e[2] in (_RELEASE, _UDP_ARRIVE))}")
        elif line in ("stats", "stats reset"):
            _say("STATS " + json.dumps(self.stats()))
            if line == "stats reset":  # lateness percentiles start over (per-phase figures in benches)
                self.lateness = Lateness()
        elif line:
            _say(f"ERROR unknown command {line!r}")


def _say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def _tun_tx_dropped() -> int | None:
    """Requests the kernel dropped because our TUN queue was full (lost before we saw them)."""
    try:
        return int(Path(f"/sys/class/net/{TUN_NAME}/statistics/tx_dropped").read_text())
    except (OSError, ValueError):
        return None


def _set_timer_slack_ns(ns: int) -> None:
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    libc.prctl(29, ns, 0, 0, 0)  # PR_SET_TIMERSLACK


def _set_realtime(priority: int) -> str:
    """Ask for SCHED_FIFO so replies leave on time on a busy machine (measured here with two CPU hogs on
    two cores: release lateness p99 5 ms under normal scheduling, 50 µs under SCHED_FIFO). The responder
    sleeps between releases and spins at most SPIN_NS before each, and the kernel's RT throttling caps it
    anyway, so it cannot starve the machine. Falls back to normal scheduling where not permitted."""
    if priority <= 0:
        return "other"
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(priority))
    except OSError as exc:
        print(f"lab responder: SCHED_FIFO refused ({exc.strerror}); timing will be noisier", file=sys.stderr)
        return "other"
    return f"fifo:{priority}"


def configure_namespace(profile: LabProfile, tun: str = TUN_NAME) -> None:
    """Inside the lab namespace: loopback with the prober sources, the TUN device up, blocks routed to it."""
    netns.ip_batch(
        [
            "link set dev lo up",
            f"addr add {SOURCE_V4}/32 dev lo",
            f"addr add {SOURCE_V6}/128 dev lo nodad",
            f"link set dev {tun} addrgenmode none",  # no link-local address: no RS/MLD chatter
            f"link set dev {tun} txqueuelen 20000 mtu 1500 up",
            f"route add {profile.block_v4} dev {tun} src {SOURCE_V4}",
            f"route add {profile.block_v6} dev {tun} src {SOURCE_V6}",
        ]
    )
    # Unprivileged ICMP sockets inside the lab only (probers may use SOCK_DGRAM ICMP without root).
    Path("/proc/sys/net/ipv4/ping_group_range").write_text("0 2147483647\n")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m slaprobe.lab.responder", description=__doc__.split("\n")[0])
    ap.add_argument("--profile", required=True, help="profile file (YAML or JSON)")
    ap.add_argument("--truth", help="ground-truth JSON-lines file to write")
    ap.add_argument("--no-packets", action="store_true", help="summary counters only, no per-packet records")
    ap.add_argument("--udp", action="append", default=[], metavar="PORT=MODULE:FUNC", help="UDP handler")
    ap.add_argument("--t0-ns", type=int, help="lab start (outage offsets count from it); default now")
    ap.add_argument("--control-stdin", action="store_true", help="read commands on stdin; exit on EOF")
    ap.add_argument("--rt-priority", type=int, default=0, help="SCHED_FIFO priority (0 = normal scheduling)")
    args = ap.parse_args(argv)

    try:
        profile = load_profile(args.profile)
        specs = dict(profile.udp)
        for item in args.udp:
            port, _, spec = item.partition("=")
            specs[int(port)] = spec
        handlers = resolve_registry(specs)
        tun_fd = netns.open_tun(TUN_NAME)
        configure_namespace(profile)
    except (ValueError, OSError, netns.NetnsError) as exc:  # ProfileError is a ValueError
        print(f"lab responder: cannot start: {exc}", file=sys.stderr)
        return 2
    _set_timer_slack_ns(1)
    sched = _set_realtime(args.rt_priority)

    stop_r, stop_w = os.pipe()
    os.set_blocking(stop_w, False)
    signal.set_wakeup_fd(stop_w)
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda *_: None)  # the wakeup fd does the work

    truth = open(args.truth, "w", encoding="utf-8", buffering=1 << 20) if args.truth else None  # noqa: SIM115
    resp = Responder(profile, tun_fd, handlers, truth, not args.no_packets, args.t0_ns)
    blocks = [str(profile.block_v4), str(profile.block_v6)]
    resp.write_record(
        {"kind": "start", "t0_ns": resp.t0_ns, "pid": os.getpid(), "packets": resp.packets_truth,
         "blocks": blocks, "udp": {str(k): v for k, v in specs.items()}, "sched": sched}
    )  # fmt: skip
    _say("READY " + json.dumps({"t0_ns": resp.t0_ns, "pid": os.getpid(), "tun": TUN_NAME, "sched": sched}))
    try:
        resp.serve(0 if args.control_stdin else None, stop_r)
    finally:
        resp.write_summary()
        if truth is not None:
            truth.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

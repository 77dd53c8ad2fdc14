"""What one ICMP probe records while it runs, and the engine-wide counters: plain data, no sockets.

Kept apart from the transport (which owns the sockets and the matching) so the per-probe book-keeping
stays small and readable; the transport fills an :class:`EchoProbe` in, the engine judges it when the
probe ends.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass, fields
from ipaddress import IPv4Address, IPv6Address
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import asyncio

TOKEN_SIZE = 8  # payload bytes holding nonce + counter

# Per-echo states inside a probe. NOT_SENT until sendto succeeded (a failed send is not a loss).
# Whether an answered echo was in time is decided when the probe ends, once both stamps are known.
NOT_SENT, WAITING, UNREACHED = 0, 1, 2


@dataclass(slots=True)
class IcmpStats:
    """Engine-wide counters: what the transport saw that is not (only) in a Sample.

    Everything ignored is counted here, so a test or an operator can prove that hostile or foreign
    packets were seen and discarded rather than silently mismatched.
    """

    sent: int = 0  # echoes that left via sendto
    send_errors: int = 0  # sendto failures (those echoes are not counted as sent)
    rx_packets: int = 0  # packets read from the sockets (replies, errors, anything)
    replies: int = 0  # in-time replies matched to an echo (counted when its probe ends)
    late: int = 0  # matched replies after the timeout (counted lost in the sample)
    duplicates: int = 0  # further replies to an already answered echo
    tx_kernel_stamps: int = 0  # sent echoes whose RTT used the kernel transmit stamp
    tx_user_stamps: int = 0  # sent echoes that fell back to time_ns() before sendto
    unreachable: int = 0  # ICMP destination-unreachable quoting one of our echoes
    foreign: int = 0  # echo replies that are not ours (other nonce / id / seq)
    stale: int = 0  # our replies arriving after their probe finished
    wrong_source: int = 0  # our token, but from an address other than the target
    truncated: int = 0  # too short to carry what its type needs
    errors_ignored: int = 0  # ICMP errors quoting something that is not one of our live echoes
    other_types: int = 0  # ICMP types we do not use
    socket_errors: int = 0  # recvmsg errors other than EAGAIN
    rx_queue_drops: int = 0  # kernel receive-queue overflow counter (SO_RXQ_OVFL), cumulative
    clock_anomalies: int = 0  # receive stamp before send stamp (wall clock stepped)
    tx_stamps_unmatched: int = 0  # transmit stamps for no live echo (e.g. after its probe ended)

    def snapshot(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


class EchoProbe:
    """Book-keeping for one burst/train to one address; the transport fills in stamps as they arrive.

    A plain slots class (not a dataclass) because the reader touches it for every packet. It only
    records: ``send_ns`` (time_ns before sendto), ``tx_ns`` (kernel transmit stamp, 0 = none yet),
    ``rx_ns`` (kernel receive stamp of the first reply, 0 = none); the engine judges at the end.
    """

    __slots__ = (
        "addr_packed",
        "addr_str",
        "base",
        "count",
        "done",
        "duplicates",
        "family",
        "rx_ns",
        "send_ns",
        "sockaddr",
        "state",
        "tx_ns",
    )

    def __init__(self, address: IPv4Address | IPv6Address, count: int) -> None:
        self.family = socket.AF_INET if address.version == 4 else socket.AF_INET6
        self.addr_packed = address.packed
        self.addr_str = str(address)
        self.sockaddr = (self.addr_str, 0)
        self.count = count
        self.base = 0
        self.send_ns = [0] * count
        self.tx_ns = [0] * count
        self.rx_ns = [0] * count
        self.state = [NOT_SENT] * count
        self.duplicates = 0
        self.done: asyncio.Future[None] | None = None  # resolved at the deadline or when the transport closes

    def reply(self, index: int, rx_ns: int, stats: IcmpStats) -> None:
        if self.rx_ns[index]:
            self.duplicates += 1
            stats.duplicates += 1
        else:
            self.rx_ns[index] = rx_ns  # an echo reply outranks an unreachable for the same echo

    def unreachable(self, index: int, stats: IcmpStats) -> None:
        if self.state[index] == WAITING and not self.rx_ns[index]:
            self.state[index] = UNREACHED
            stats.unreachable += 1
        else:
            stats.errors_ignored += 1


def padding(size: int) -> tuple[bytes, int]:
    """Padding after the 8-byte token (a recognisable byte ramp, like ping) and its one's complement sum."""
    pad = bytes((8 + i) & 0xFF for i in range(size))
    s = 0
    for i in range(0, len(pad) - 1, 2):
        s += (pad[i] << 8) | pad[i + 1]
    if len(pad) % 2:
        s += pad[-1] << 8
    return pad, s

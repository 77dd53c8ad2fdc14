"""Pure statistics over the loss pattern of one packet stream: loss, reordering, duplicates, bursts.

Kept apart from the socket code so tests and the benchmark compute the same figures from the lab's
ground truth with the very same definitions. Delay statistics (RFC 3550 jitter, RFC 5481 PDV,
percentiles) are shared with the ICMP probes in ``slaprobe.probes.stats``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SequenceStats:
    """Counts over the packets of one stream (indices 0..n-1) that actually left this host.

    ``received`` counts distinct packets answered in time; ``duplicates`` extra copies of them;
    ``reordered`` packets that arrived after a packet with a higher index (RFC 4737 sense);
    ``max_loss_burst`` the longest run of consecutive sent packets never answered in time;
    ``burst_ratio`` the ITU-T G.107 BurstR: mean observed loss-burst length divided by the mean burst
    length random loss of the same ratio would give (1 / (1 - Ppl)); 1.0 when nothing was lost.
    """

    sent: int
    received: int
    duplicates: int
    reordered: int
    max_loss_burst: int
    burst_ratio: float

    @property
    def lost(self) -> int:
        return self.sent - self.received

    @property
    def loss(self) -> float | None:
        return self.lost / self.sent if self.sent else None


def sequence_stats(sent: Sequence[bool], arrivals: Iterable[int]) -> SequenceStats:
    """Stats for a stream whose packet ``i`` left when ``sent[i]``; ``arrivals`` are answered indices in
    arrival order (in-time answers only, duplicates included, indices outside the stream ignored)."""
    n = len(sent)
    got = [False] * n
    duplicates = reordered = 0
    highest = -1
    for index in arrivals:
        if not 0 <= index < n or not sent[index]:
            continue
        if got[index]:
            duplicates += 1
            continue
        got[index] = True
        if index < highest:
            reordered += 1
        else:
            highest = index
    sent_count = sum(1 for s in sent if s)
    received = sum(1 for g in got if g)
    longest = run = bursts = 0
    for i in range(n):
        if not sent[i]:
            continue  # a packet that never left is neither lost nor a break in a loss burst
        if got[i]:
            run = 0
        else:
            if run == 0:
                bursts += 1
            run += 1
            longest = max(longest, run)
    lost = sent_count - received
    burst_ratio = 1.0
    if bursts and lost < sent_count:
        burst_ratio = (lost / bursts) * (1.0 - lost / sent_count)
    return SequenceStats(sent_count, received, duplicates, reordered, longest, burst_ratio)

"""The one small interface every store implements.

Writers hand over whole batches (a cycle's worth) so a store can commit them in one transaction.
Readers iterate, so a month of samples never has to sit in memory at once.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from typing import Protocol, runtime_checkable

from slaprobe.model import Heartbeat, ProbeKind, Sample


@runtime_checkable
class Store(Protocol):
    def write_samples(self, samples: Sequence[Sample]) -> None:
        """Durably store a batch; returns only when the batch is committed."""
        ...

    def write_heartbeats(self, heartbeats: Sequence[Heartbeat]) -> None: ...

    def samples(
        self,
        start_ns: int,
        end_ns: int,
        terminals: Collection[str] | None = None,
        kinds: Collection[ProbeKind] | None = None,
    ) -> Iterator[Sample]:
        """Samples with start_ns <= time_ns < end_ns, ordered by time."""
        ...

    def heartbeats(self, start_ns: int, end_ns: int, vantage: str | None = None) -> Iterator[Heartbeat]: ...

    def close(self) -> None: ...

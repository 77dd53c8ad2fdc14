"""Reading the lab's ground truth (the JSON-lines file the responder writes; format in ``responder``).

Tests compare what a prober reported against these records, so the helpers here count from the records
alone and never from the profile: if the responder drifted from the profile, the truth says so.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DROPPED = ("dropped_loss", "dropped_outage", "dropped_loss_rev")


@dataclass(frozen=True, slots=True)
class TerminalTruth:
    """What happened to the requests of one terminal."""

    requests: int = 0
    replied: int = 0
    dropped_loss: int = 0
    dropped_outage: int = 0
    dropped_loss_rev: int = 0
    other: int = 0  # no_listener, no_reply, handler_error, send_error
    duplicates: int = 0

    @property
    def lost(self) -> int:
        return self.dropped_loss + self.dropped_outage + self.dropped_loss_rev

    @property
    def loss(self) -> float:
        """Share of requests that got no reply because the lab dropped them (0.0 with no requests)."""
        return self.lost / self.requests if self.requests else 0.0


@dataclass(frozen=True)
class GroundTruth:
    """Parsed ground truth. ``packets`` are the per-request records, in arrival (``rx_ns``) order."""

    records: tuple[Mapping[str, Any], ...]

    @classmethod
    def read(cls, path: str | Path) -> GroundTruth:
        with open(path, encoding="utf-8") as f:
            return cls.parse(f)

    @classmethod
    def parse(cls, lines: Iterable[str]) -> GroundTruth:
        records = []
        for line in lines:
            if line.endswith("\n"):  # a line without newline is a record still being written
                records.append(json.loads(line))
        return cls(tuple(records))

    def of_kind(self, kind: str) -> Iterator[Mapping[str, Any]]:
        return (r for r in self.records if r.get("kind") == kind)

    @functools.cached_property
    def packets(self) -> list[Mapping[str, Any]]:
        return sorted(self.of_kind("pkt"), key=lambda r: r["rx_ns"])

    @property
    def outages(self) -> list[Mapping[str, Any]]:
        return sorted(self.of_kind("outage"), key=lambda r: r["index"])

    @property
    def start(self) -> Mapping[str, Any] | None:
        return next(self.of_kind("start"), None)

    @property
    def summary(self) -> Mapping[str, Any] | None:
        """The responder's final counters (present once the lab has been closed)."""
        return next(self.of_kind("summary"), None)

    def by_terminal(self) -> dict[str, TerminalTruth]:
        """Per terminal (id, or address when the profile gives no id): counts of each fate.

        Built from the per-packet records when there are any, else from the final ``terminal`` records
        (labs run with per-packet truth off).
        """
        counts: dict[str, dict[str, int]] = {}
        pkts = list(self.of_kind("pkt"))
        if pkts:
            for r in pkts:
                c = counts.setdefault(r["terminal"] or r["addr"], dict.fromkeys(TerminalTruth.__slots__, 0))
                c["requests"] += 1
                action = r["action"]
                c[action if action in ("replied", *DROPPED) else "other"] += 1
                c["duplicates"] += r["dups"]
        else:
            for r in self.of_kind("terminal"):
                key = r["terminal"] or r["addr"]
                counts[key] = {k: r.get(k, 0) for k in TerminalTruth.__slots__}
        return {k: TerminalTruth(**v) for k, v in counts.items()}

    def loss_by_terminal(self) -> dict[str, float]:
        """Terminal -> share of its requests the lab dropped (any cause)."""
        return {k: v.loss for k, v in self.by_terminal().items()}

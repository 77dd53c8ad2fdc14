"""The durable side of alert delivery: one small SQLite file in the state dir.

Three tables, each keyed by receiver name, so every receiver keeps its own progress:

- ``pending``: events accepted by :meth:`AlertQueue.push` and not yet delivered (or given up). A row is
  deleted only after its receiver acknowledged it, so a crash or restart re-sends rather than loses
  (at-least-once; Alertmanager de-duplicates by labels, webhook consumers get the alert key).
- ``active``: alerts a receiver was told are firing and not yet told are resolved, with when it was last
  told. It drives re-notification and Alertmanager re-posting, and survives a restart, so an outage that
  began before the restart is still repeated and still resolved afterwards.
- ``silences``: maintenance windows already turned into Alertmanager silences (not created twice).

Why SQLite and not a JSON file: appends are small transactions (WAL, synchronous=NORMAL: no fsync per
event, ~0.1 ms), the daemon's event loop and the delivery threads use their own connections without a
global lock, and a torn write cannot corrupt the rest of the queue.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from slaprobe.live.events import EventKind, LiveEvent

_SCHEMA = """
CREATE TABLE IF NOT EXISTS pending (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    receiver TEXT NOT NULL,
    queued_ns INTEGER NOT NULL,
    event TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS pending_receiver ON pending (receiver, id);
CREATE TABLE IF NOT EXISTS active (
    receiver TEXT NOT NULL,
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    notified_ns INTEGER NOT NULL,
    event TEXT NOT NULL,
    PRIMARY KEY (receiver, kind, key)
);
CREATE TABLE IF NOT EXISTS silences (
    receiver TEXT NOT NULL,
    window TEXT NOT NULL,
    silence_id TEXT NOT NULL,
    ends_ns INTEGER NOT NULL,
    PRIMARY KEY (receiver, window)
);
"""


def event_to_json(event: LiveEvent) -> str:
    data: dict[str, Any] = {
        "kind": event.kind.value,
        "firing": event.firing,
        "key": event.key,
        "vantage": event.vantage,
        "start_ns": event.start_ns,
        "end_ns": event.end_ns,
        "labels": dict(event.labels),
        "evidence": dict(event.evidence),
        "summary": event.summary,
        "at_ns": event.at_ns,
    }
    return json.dumps(data, ensure_ascii=False)  # evidence keeps the tracker's order


def event_from_json(text: str) -> LiveEvent:
    data = json.loads(text)
    data["kind"] = EventKind(data["kind"])
    return LiveEvent(**data)


@dataclass(frozen=True, slots=True)
class Pending:
    """One queued event of one receiver."""

    id: int
    queued_ns: int
    event: LiveEvent


@dataclass(frozen=True, slots=True)
class Active:
    """A firing alert a receiver was told about, and when it was last told."""

    notified_ns: int
    event: LiveEvent


class AlertQueue:
    """Thread-safe access to the queue file; each thread gets its own connection."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._db.executescript(_SCHEMA)

    @property
    def _db(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=5.0)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            self._local.db = db
            with self._lock:
                self._all.append(db)
        return db

    # ------------------------------------------------------------------ pending
    def push(self, receiver: str, events: Sequence[LiveEvent], queued_ns: int) -> None:
        rows = [(receiver, queued_ns, event_to_json(e)) for e in events]
        with self._db:
            self._db.executemany("INSERT INTO pending (receiver, queued_ns, event) VALUES (?, ?, ?)", rows)

    def pending(self, receiver: str, limit: int = 1000) -> list[Pending]:
        rows = self._db.execute(
            "SELECT id, queued_ns, event FROM pending WHERE receiver = ? ORDER BY id LIMIT ?",
            (receiver, limit),
        ).fetchall()
        return [Pending(i, q, event_from_json(e)) for i, q, e in rows]

    def count(self, receiver: str) -> int:
        return self._db.execute("SELECT count(*) FROM pending WHERE receiver = ?", (receiver,)).fetchone()[0]

    def remove(self, ids: Iterable[int]) -> None:
        with self._db:
            self._db.executemany("DELETE FROM pending WHERE id = ?", [(i,) for i in ids])

    def trim(self, receiver: str, keep: int) -> list[Pending]:
        """Delete the oldest rows beyond ``keep``; return them (the caller counts and logs the drop)."""
        over = self.count(receiver) - keep
        if over <= 0:
            return []
        gone = self.pending(receiver, over)
        self.remove(p.id for p in gone)
        return gone

    # ------------------------------------------------------------------ active
    def activate(self, receiver: str, events: Iterable[LiveEvent], notified_ns: int) -> None:
        rows = [(receiver, e.kind.value, e.key, notified_ns, event_to_json(e)) for e in events]
        with self._db:
            self._db.executemany("INSERT OR REPLACE INTO active VALUES (?, ?, ?, ?, ?)", rows)

    def deactivate(self, receiver: str, events: Iterable[LiveEvent]) -> None:
        rows = [(receiver, e.kind.value, e.key) for e in events]
        with self._db:
            self._db.executemany("DELETE FROM active WHERE receiver = ? AND kind = ? AND key = ?", rows)

    def active(self, receiver: str) -> dict[tuple[EventKind, str], Active]:
        rows = self._db.execute(
            "SELECT notified_ns, event FROM active WHERE receiver = ?", (receiver,)
        ).fetchall()
        out = {}
        for notified, text in rows:
            e = event_from_json(text)
            out[(e.kind, e.key)] = Active(notified, e)
        return out

    # ------------------------------------------------------------------ silences
    def silence_ids(self, receiver: str) -> dict[str, str]:
        rows = self._db.execute("SELECT window, silence_id FROM silences WHERE receiver = ?", (receiver,))
        return dict(rows.fetchall())

    def add_silence(self, receiver: str, window: str, silence_id: str, ends_ns: int) -> None:
        with self._db:
            self._db.execute(
                "INSERT OR REPLACE INTO silences VALUES (?, ?, ?, ?)", (receiver, window, silence_id, ends_ns)
            )

    def prune_silences(self, before_ns: int) -> None:
        with self._db:
            self._db.execute("DELETE FROM silences WHERE ends_ns < ?", (before_ns,))

    def close(self) -> None:
        with self._lock:
            for db in self._all:
                db.close()
            self._all.clear()
        self._local = threading.local()

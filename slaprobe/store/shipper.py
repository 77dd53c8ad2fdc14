"""The shipper: forwards journal rows to InfluxDB in id order and remembers, in the journal, how far it got.

Zero loss is three rules:

1. every sample is committed to the journal before the shipper can see it (the daemon writes, we read);
2. the cursor (last shipped id, one for samples, one for heartbeats) is committed only after InfluxDB
   acknowledged the batch (2xx); a crash between the ack and the commit re-sends the batch, and because
   a point is identified by measurement + tags + timestamp the re-sent points overwrite themselves
   (at-least-once + idempotent = exactly-once in the database);
3. on any failure the batch stays where it is and is retried with exponential backoff and jitter
   (``Retry-After`` of a 429/503 honoured): InfluxDB down, slow, 5xx, 429, network flapping, wrong
   credentials or a missing database all just make the backlog wait in the journal.

Two answers are about the data, not the server, so retrying unchanged would stall the shipper forever:
413 (batch too large) splits the batch in halves until it fits; 400 (a point InfluxDB refuses, e.g. a
field type conflict) bisects to isolate the refused point(s), which are skipped with a CRITICAL log and
counted (``shipper.rejected``), while every other point is written.

Why a thread and not a task in the daemon's event loop: all of the shipper's work blocks — SQLite reads
of thousands of rows, gzip, an HTTP POST that may hang for ``influx.timeout_s`` when InfluxDB is slow —
and the event loop times probe packets; ``asyncio.to_thread`` for each step would be the same thread
with more ceremony. It is *one* thread for the whole host, with its own SQLite connection (WAL lets it
read while the daemon writes). The daemon calls :meth:`Shipper.wake` after journaling a cycle, so rows
leave within milliseconds when InfluxDB is healthy.

The journal's disk use is capped (``shipper.journal_cap_mb``): rows already shipped are pruned first
(after ``keep_shipped_days`` routinely, oldest-first whenever the cap is near); when only unshipped rows
remain an ERROR is logged from 80 % of the cap, and only beyond the cap are the oldest unshipped rows
dropped, with a CRITICAL log and a persistent count (``shipper.dropped``).
"""

from __future__ import annotations

import json
import logging
import random
import re
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import NamedTuple

from slaprobe.config import ShipperConfig
from slaprobe.model import NS_PER_MS, NS_PER_S, ProbeKind
from slaprobe.store.influx import ErrorKind, InfluxClient, InfluxError
from slaprobe.store.influx_read import daily_line, rollup_line
from slaprobe.store.journal import STORED_COLUMNS, ZERO_IF_NULL, JournalStore
from slaprobe.store.lineproto import (
    SAMPLE_TAGS,
    LineProtocolError,
    heartbeat_line,
    series_key,
    stored_fields_encoder,
)
from slaprobe.store.rollup_tables import SHIPPER_ROLLUP_CURSOR, rollups_after

log = logging.getLogger(__name__)

CURSOR_SAMPLES = "shipper.samples"
CURSOR_HEARTBEATS = "shipper.heartbeats"
CURSOR_ROLLUPS = SHIPPER_ROLLUP_CURSOR  # SLA hourly rollups shipped for samples up to this id
COUNT_DROPPED = "shipper.dropped"
COUNT_REJECTED = "shipper.rejected"
NOTE_LAST_ERROR = "shipper.last_error"
WARN_RATIO = 0.8  # journal use above this share of the cap: prune shipped rows, ERROR if unshipped
LOW_WATER_RATIO = 0.7  # prune shipped rows down to this share
MAX_RETRY_AFTER_S = 900.0  # honour Retry-After, but not a server asking us to wait for hours
_MB = 1024 * 1024
_BEYOND_RP = re.compile(r"points beyond retention policy dropped=(\d+)")


@dataclass
class ShipperState:
    """The live view of one shipper (the persistent part is in the journal, see :func:`journal_status`)."""

    shipped: int = 0  # points acknowledged by InfluxDB since start
    batches: int = 0
    failures: int = 0  # consecutive failed attempts (0 = healthy)
    errors_total: int = 0  # failed attempts since start
    last_ok_ns: int | None = None
    last_error: str = ""
    failing_since: float | None = None  # monotonic time of the first failure of the current streak


class _Position(NamedTuple):
    """Journal ids a batch starts after (or ends at): samples, heartbeats, SLA rollups."""

    samples: int
    heartbeats: int
    rollups: int


@dataclass
class _Batch:
    """Encoded lines of one write and the journal positions they cover."""

    start: _Position
    end: _Position
    lines: list[str]
    shipped: int  # samples + heartbeats (rollup points are derived data)
    refused: list[str] = field(default_factory=list)


def backoff_delay(failures: int, min_s: float, max_s: float, rng: random.Random) -> float:
    """Exponential backoff with "equal jitter": half the step fixed, half random, capped at ``max_s``.

    The fixed half keeps retries from hammering a server that just came back; the random half keeps a
    fleet of probe hosts from retrying in lock-step after a shared outage.
    """
    step = min(max_s, min_s * (2 ** max(failures - 1, 0)))
    return step / 2 + rng.uniform(0, step / 2)


def _encode_rollups(hourly: Sequence, daily: Sequence) -> list[str]:
    """Rollup points of the batch. A rollup that cannot be encoded belongs to samples that could not be
    either (same tags), which are already refused and counted: skip it without counting it again."""
    out: list[str] = []
    for encode, rows in ((rollup_line, hourly), (daily_line, daily)):
        for row in rows:
            try:
                out.append(encode(row))
            except LineProtocolError as exc:
                log.warning("SLA rollup of %s not shipped: %s", row.terminal, exc)
    return out


class Shipper:
    """Ships journal rows to one InfluxDB; ``start()`` runs it in a thread, ``ship_once()`` is one batch.

    ``journal`` should be its own :class:`JournalStore` on the daemon's journal file (a second
    connection), so shipping never waits on the daemon's lock.
    """

    def __init__(
        self,
        journal: JournalStore,
        client: InfluxClient,
        cfg: ShipperConfig,
        *,
        clock: Callable[[], int] = time.time_ns,
        rng: random.Random | None = None,
    ) -> None:
        self.journal = journal
        self.client = client
        self.cfg = cfg
        self.state = ShipperState()
        self._clock = clock
        self._rng = rng or random.Random()
        self._keys: dict[int, str | LineProtocolError] = {}  # journal series id -> series key
        self._fields = stored_fields_encoder(("id", *STORED_COLUMNS), ZERO_IF_NULL)
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_cap_check = 0.0
        self._last_loud = 0.0

    # ------------------------------------------------------------------ one batch
    def _position(self) -> _Position:
        """Where the committed cursors say the next batch starts."""
        cur = self.journal.cursor_info()
        names = (CURSOR_SAMPLES, CURSOR_HEARTBEATS, CURSOR_ROLLUPS)
        return _Position(*(cur.get(name, (0, None))[0] for name in names))

    def _series_keys(self, ids: set[int]) -> dict[int, str | LineProtocolError]:
        """Series key per journal series id, cached (a series' tags never change under its id)."""
        if len(self._keys) > 200_000:
            self._keys.clear()
        missing = [i for i in ids if i not in self._keys]
        for sid, (kind, terminal, vantage, *rest) in self.journal.series_by_id(missing).items():
            tags = [("terminal", terminal), ("vantage", vantage), *zip(SAMPLE_TAGS[2:], rest, strict=True)]
            try:
                self._keys[sid] = series_key(ProbeKind(kind).measurement, tags)
            except (LineProtocolError, ValueError) as exc:
                self._keys[sid] = LineProtocolError(f"{terminal} ({kind}): {exc}")
        return self._keys

    def _encode_samples(self, after: int, limit: int, refused: list[str]) -> tuple[list[str], int | None]:
        rows = self.journal.stored_rows_after(after, limit)
        if not rows:
            return [], None
        keys = self._series_keys({r[2] for r in rows})
        fields = self._fields
        lines = []
        for row in rows:
            key = keys.get(row[2])
            try:
                if not isinstance(key, str):
                    raise key or LineProtocolError(f"series {row[2]} is missing from the journal")
                lines.append(f"{key} {fields(row)} {row[1] // NS_PER_MS}")
            except LineProtocolError as exc:
                refused.append(f"sample id {row[0]} cannot be encoded: {exc}")
        return lines, rows[-1][0]

    def _encode_heartbeats(self, after: int, limit: int, refused: list[str]) -> tuple[list[str], int | None]:
        rows = self.journal.heartbeat_rows_after(after, limit)
        lines = []
        for hid, hb in rows:
            try:
                lines.append(heartbeat_line(hb))
            except LineProtocolError as exc:
                refused.append(f"journal heartbeat id {hid} cannot be encoded: {exc}")
        return lines, (rows[-1][0] if rows else None)

    def _prepare(self, at: _Position) -> _Batch | None:
        """Read and encode the batch that starts at ``at``; None when the journal holds nothing newer."""
        refused: list[str] = []  # counted only once the batch is done, so a retry does not count twice
        hb_lines, hb_last = self._encode_heartbeats(at.heartbeats, max(1, self.cfg.batch_size // 10), refused)
        lines, last = self._encode_samples(at.samples, self.cfg.batch_size, refused)
        if last is None and hb_last is None:
            return None
        lines.extend(hb_lines)
        shipped = len(lines)  # rollup points below are derived data, not counted as shipped rows
        if last is not None:  # the SLA engine's hourly rollups touched by these samples (full totals)
            hourly, daily, _ = rollups_after(self.journal, at.rollups, last)
            lines.extend(_encode_rollups(hourly, daily))
        end = _Position(
            at.samples if last is None else last,
            at.heartbeats if hb_last is None else hb_last,
            at.rollups if last is None else last,
        )
        return _Batch(at, end, lines, shipped, refused)

    def _deliver(self, batch: _Batch) -> None:
        if batch.lines:
            self._send(batch.lines, batch.refused)

    def _commit(self, batch: _Batch) -> None:
        """InfluxDB acknowledged ``batch``: move the cursors past it (rule 2 of zero loss)."""
        now = self._clock()
        cursors = {
            name: value
            for name, value, before in zip(
                (CURSOR_SAMPLES, CURSOR_HEARTBEATS, CURSOR_ROLLUPS), batch.end, batch.start, strict=True
            )
            if value != before
        }
        self.journal.set_cursors(cursors, now)
        if batch.refused:
            self._count_rejected(batch.refused)
        self.state.shipped += batch.shipped
        self.state.batches += 1
        self.state.last_ok_ns = now

    def ship_once(self) -> int:
        """Ship up to ``batch_size`` samples (plus pending heartbeats) as one write; return rows shipped.

        Raises :class:`InfluxError` when the batch could not be delivered; the cursor is then unchanged.
        """
        batch = self._prepare(self._position())
        if batch is None:
            return 0
        self._deliver(batch)
        self._commit(batch)
        return batch.shipped

    def _send(self, lines: Sequence[str], refused: list[str]) -> None:
        """Write ``lines``; split on 413, bisect on 400; let every other error propagate (retry later).

        Points InfluxDB refuses for good are noted in ``refused`` (one reason each).
        """
        try:
            self.client.write(lines)
        except InfluxError as exc:
            if exc.kind is ErrorKind.REJECTED and (m := _BEYOND_RP.search(exc.message)):
                refused.extend([f"InfluxDB dropped a point outside its retention: {exc}"] * int(m.group(1)))
                return
            if exc.kind not in (ErrorKind.TOO_LARGE, ErrorKind.REJECTED):
                raise
            if len(lines) == 1:
                refused.append(f"InfluxDB refuses this point for good: {exc}; line: {lines[0][:300]}")
                return
            mid = len(lines) // 2
            log.warning("InfluxDB answered %s for %d points; splitting the batch", exc.kind.value, len(lines))
            self._send(lines[:mid], refused)
            self._send(lines[mid:], refused)

    def _count_rejected(self, reasons: list[str]) -> None:
        total = self.journal.get_cursor(COUNT_REJECTED) + len(reasons)
        self.journal.set_cursor(COUNT_REJECTED, total, self._clock())
        shown = "; ".join(dict.fromkeys(reasons[:5]))
        log.critical(
            "%d point(s) will never reach InfluxDB (total %d refused): %s", len(reasons), total, shown
        )

    # ------------------------------------------------------------------ the loop
    def drain(self, *, max_seconds: float | None = None) -> int:
        """Ship until the journal is caught up, retrying with backoff; return points shipped.

        Used by the thread (between wake-ups), by tests and by the benchmark. Returns early when
        ``max_seconds`` elapsed or :meth:`stop` was called.

        One batch is in flight while the next one is read and encoded (a backlog replay then takes
        about as long as InfluxDB needs, not InfluxDB plus our encoding). Batches still go out strictly
        one after the other, and the read-ahead is used only if the cursors are exactly where it
        started: after a failure, or a cap prune that moved the cursor, it is thrown away and re-read.
        """
        deadline = None if max_seconds is None else time.monotonic() + max_seconds
        total = 0
        ahead: _Batch | None = None
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="slaprobe-shipper-post") as poster:
            while not self._stop.is_set():
                if deadline is not None and time.monotonic() >= deadline:
                    break
                self.enforce_cap()
                at = self._position()
                batch = ahead if ahead is not None and ahead.start == at else self._prepare(at)
                if batch is None:
                    break
                posted = poster.submit(self._deliver, batch)
                ahead = self._prepare(batch.end)
                try:
                    posted.result()
                except InfluxError as exc:
                    ahead = None
                    self._on_failure(exc)
                    if self._stop.wait(self._delay(exc)):
                        break
                    continue
                self._commit(batch)
                self._on_success()
                total += batch.shipped
        return total

    def _delay(self, exc: InfluxError) -> float:
        delay = backoff_delay(self.state.failures, self.cfg.min_backoff_s, self.cfg.max_backoff_s, self._rng)
        if exc.retry_after is not None:
            delay = max(delay, min(exc.retry_after, MAX_RETRY_AFTER_S))
        return delay

    def _on_failure(self, exc: InfluxError) -> None:
        st = self.state
        st.failures += 1
        st.errors_total += 1
        mono = time.monotonic()
        if st.failing_since is None:
            st.failing_since = mono
        changed = exc.message != st.last_error
        st.last_error = exc.message
        self.journal.set_note(
            NOTE_LAST_ERROR,
            json.dumps({"time_ns": self._clock(), "kind": exc.kind.value, "message": exc.message}),
        )
        if changed or mono - self._last_loud >= 300:
            self._last_loud = mono
            backlog = self.journal.count_after("samples", self.journal.get_cursor(CURSOR_SAMPLES))
            log.error(
                "InfluxDB write failed (%s): %s; %d samples wait in the journal and will be replayed",
                exc.kind.value,
                exc.message,
                backlog,
            )
        else:
            log.debug("InfluxDB write failed again (attempt %d): %s", st.failures, exc.message)

    def _on_success(self) -> None:
        st = self.state
        if st.failures:
            took = time.monotonic() - (st.failing_since or time.monotonic())
            log.warning("InfluxDB writes recovered after %.0f s and %d failed attempts", took, st.failures)
        st.failures = 0
        st.failing_since = None

    # ------------------------------------------------------------------ disk cap
    def enforce_cap(self, *, force: bool = False) -> None:
        """Keep the journal under ``journal_cap_mb`` (checked at most every 30 s unless ``force``)."""
        mono = time.monotonic()
        if not force and mono - self._last_cap_check < 30:
            return
        self._last_cap_check = mono
        cursor = self.journal.get_cursor(CURSOR_SAMPLES)
        hb_cursor = self.journal.get_cursor(CURSOR_HEARTBEATS)
        if self.cfg.keep_shipped_days > 0:
            horizon = self._clock() - int(self.cfg.keep_shipped_days * 86_400 * NS_PER_S)
            for table, upto in (("samples", cursor), ("heartbeats", hb_cursor)):
                old = self.journal.id_before(table, horizon, upto)
                if old:
                    self.journal.delete_through(table, old)
        cap = int(self.cfg.journal_cap_mb * _MB)
        used = self.journal.used_bytes()
        if used <= WARN_RATIO * cap:
            return
        lo, hi = self.journal.id_range("samples")
        per_row = used / max(hi - lo + 1, 1)
        want = int((used - LOW_WATER_RATIO * cap) / per_row) + 1
        shipped_upto = min(cursor, lo + want - 1)
        if shipped_upto >= lo:
            n = self.journal.delete_through("samples", shipped_upto)
            log.warning(
                "journal near its cap (%.1f of %.1f MB): pruned %d shipped samples", used / _MB, cap / _MB, n
            )
            used = self.journal.used_bytes()
        if used <= WARN_RATIO * cap:
            return
        backlog = self.journal.count_after("samples", cursor)
        if used <= cap:
            log.error(
                "journal holds %d unshipped samples using %.1f of %.1f MB (%.0f %%): if InfluxDB stays away, "
                "the oldest unshipped samples will be dropped at the cap",
                backlog,
                used / _MB,
                cap / _MB,
                100 * used / cap,
            )
            return
        first, total = self.journal.id_range("samples")[0], 0
        upto = first - 1
        while used > cap:  # the per-row estimate ignores index and page slack: measure again
            lo, hi = self.journal.id_range("samples")
            if hi == 0:
                break
            per_row = used / (hi - lo + 1)
            upto = lo + int((used - 0.95 * cap) / per_row)
            total += self.journal.delete_through("samples", upto)
            used = self.journal.used_bytes()
        dropped = self.journal.get_cursor(COUNT_DROPPED) + total
        self.journal.set_cursors({COUNT_DROPPED: dropped, CURSOR_SAMPLES: max(cursor, upto)}, self._clock())
        log.critical(
            "journal over its cap (%.1f MB) with InfluxDB unreachable: DROPPED the %d oldest unshipped"
            " samples (ids %d..%d; %d dropped in total); raise shipper.journal_cap_mb or fix InfluxDB.",
            cap / _MB,
            total,
            first,
            upto,
            dropped,
        )

    # ------------------------------------------------------------------ thread
    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="slaprobe-shipper", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """New rows are in the journal: ship now rather than at the next poll (thread-safe)."""
        self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            try:
                self.drain()
            except Exception:  # a journal error must not kill shipping silently
                log.exception("shipper error; retrying in %.0f s", self.cfg.max_backoff_s)
                self._stop.wait(self.cfg.max_backoff_s)
            self._wake.wait(self.cfg.poll_s)

    def stop(self, flush_s: float = 5.0) -> None:
        """Stop the thread; if InfluxDB is healthy, first give what is pending up to ``flush_s`` to go."""
        if self._thread is None:
            return
        if self.state.failures == 0 and flush_s > 0:
            self._wake.set()
            deadline = time.monotonic() + flush_s
            cursor = self.journal.last_sample_id()
            while time.monotonic() < deadline and self.journal.get_cursor(CURSOR_SAMPLES) < cursor:
                time.sleep(0.05)
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=self.client.cfg.timeout_s + 5)
        self._thread = None
        self.client.close()

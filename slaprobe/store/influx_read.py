"""The SLA engine's read path over InfluxDB (InfluxQL ``/query``, every generation), and its rollups.

What is asked of the server (the design rule: push the filtering to the server, fetch only what can change a
verdict; measured on this machine for 1,820 terminals):

* problem rows: ``SELECT sent, received, error FROM <kind> WHERE <day> AND (lost > 0 OR sent = 0) AND
  (<terminals>) GROUP BY terminal, vantage`` for the terminal-days ``sla_hourly`` flags — the server
  scans those, only the lossy/unsent rows travel;
* rollups: aggregates over ``sla_hourly`` in the window (one point per terminal, vantage, kind and
  hour; 1.35 M points for a month of 1,820 terminals) and ``sla_daily``. ``percentile()`` over raw
  samples was measured at ~4 minutes for a month and ``sum(*)`` over sparse per-bucket fields at 42 s,
  so the histograms travel as one hex string field per point and are summed here;
* heartbeats, and the samples of the few (terminal, hour) pairs that must be pooled.

``sla_hourly`` schema: tags ``terminal, vantage, kind``; integer fields ``samples, measured, sent,
received, rtt_n, jit_n, mos_n, mos_milli, y0_n, y0_ok``; string fields ``rtt_hist, jit_hist`` (hex of the
packed little-endian (u16 bucket, u32 count) pairs of ``sla/kpi.py``); timestamp = the UTC hour, ms
precision. Each point holds the hour's full totals, so writing it again overwrites it identically; the
journal's ``sla_hourly`` table is the source (``rollup_tables.rollups_after``), and ``lab month`` writes
the same rows when it fills InfluxDB directly.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from slaprobe.model import NS_PER_MS, ProbeKind, Sample
from slaprobe.sla.inputs import (
    HeartbeatColumns,
    HeartbeatRow,
    SampleColumns,
    SampleColumnsBuilder,
    heartbeat_columns,
)
from slaprobe.sla.kpi import HOUR_NS, SCALARS, RollupRow, pack_hist, rollup_samples
from slaprobe.sla.rollups import DAY_NS, RollupReducer, RollupSummary, hist_ranges, whole_days
from slaprobe.store.influx import InfluxClient, quote_ident, quote_literal
from slaprobe.store.lineproto import HEARTBEAT_MEASUREMENT, series_key

ROLLUP_MEASUREMENT = "sla_hourly"
DAILY_MEASUREMENT = "sla_daily"
_TERMINALS_PER_QUERY = 200  # terminals named per statement (50 and 200 measured alike; 200: fewer)
_SAMPLE_SELECT = "sent, received, error"
_SAMPLE_GROUP = "terminal, vantage"
_SERIES = "terminal, vantage, kind"
_HEARTBEAT_INTS = ("due", "probed", "reference_ok", "reference_total", "unstored")


def _key(measurement: str, row: RollupRow) -> str:
    tags = (("terminal", row.terminal), ("vantage", row.vantage), ("kind", row.kind.value))
    return series_key(measurement, tags)


def _hists(row: RollupRow) -> str:
    return f'rtt_hist="{pack_hist(row.rtt_hist).hex()}",jit_hist="{pack_hist(row.jit_hist).hex()}"'


def rollup_line(row: RollupRow) -> str:
    """One ``sla_hourly`` point in line protocol (ms precision)."""
    fields = ",".join(f"{name}={getattr(row, name)}i" for name in SCALARS)
    return f"{_key(ROLLUP_MEASUREMENT, row)} {fields},{_hists(row)} {row.hour_ns // NS_PER_MS}"


def daily_line(row: RollupRow) -> str:
    """One ``sla_daily`` point (``row.hour_ns`` is the UTC day start; histograms only)."""
    return f"{_key(DAILY_MEASUREMENT, row)} {_hists(row)} {row.hour_ns // NS_PER_MS}"


def rollup_lines(hourly: Iterable[RollupRow], daily: Iterable[RollupRow] = ()) -> Iterator[str]:
    for row in hourly:
        yield rollup_line(row)
    for row in daily:
        yield daily_line(row)


class InfluxRollupWriter:
    """Writes the rollups of sample batches that arrive in time order, whole hours at a time.

    Each call gets every sample of some hours (``lab month`` writes hour by hour); the hourly points are
    complete, the daily points carry the running total of their day and are overwritten as it fills.
    """

    def __init__(self, client: InfluxClient, batch: int = 20_000) -> None:
        self.client = client
        self.batch = batch
        self._days: dict[tuple, RollupRow] = {}

    def __call__(self, samples: Sequence[Sample]) -> None:
        hourly = rollup_samples(samples)
        touched = set()
        for (terminal, vantage, kind, hour), row in hourly.items():
            key = (terminal, vantage, kind, hour - hour % DAY_NS)
            day = self._days.get(key)
            if day is None:
                day = self._days[key] = RollupRow(terminal, vantage, kind, key[3])
            day.merge(row)
            touched.add(key)
        lines = list(rollup_lines(hourly.values(), (self._days[k] for k in sorted(touched))))
        for k in range(0, len(lines), self.batch):
            self.client.write(lines[k : k + self.batch])
        newest = max((k[3] for k in touched), default=0)
        for key in [k for k in self._days if k[3] < newest]:
            del self._days[key]  # days before the newest are complete


def _time_where(start_ns: int, end_ns: int) -> str:
    return f"time >= {int(start_ns)} AND time < {int(end_ns)}"


_MEASUREMENT_KIND = {k.measurement: k for k in ProbeKind}
_STATEMENT_BYTES = 24_000  # statements per /query request, by size of the query string
_PARALLEL = 3  # concurrent /query requests (the server runs them on its cores)


class InfluxSlaSource:
    """:class:`slaprobe.sla.inputs.SlaSource` over an :class:`~slaprobe.store.influx.InfluxClient`.

    Every question is answered by the server from ``sla_hourly`` first, so the raw samples are read only
    where they can change a verdict:

    * *which terminals hold problem rows on which days*: ``sla_hourly`` points with ``received < sent``
      (a lossy sample) or ``measured < samples`` (an unsent one); then only those terminals are asked
      for their problem rows of those UTC days, many statements per request. A month of 1,820 terminals
      has ~6,300 such terminal-days (9 M points to scan) instead of 81 M points;
    * *presence*: per (terminal, vantage, kind) the number of hourly points of each UTC day and the
      largest hourly sample count; only days with hours missing are read hour by hour;
    * period sums by ``sum()``; histograms from ``sla_daily`` plus the period's edge hours.

    Server CPU, not bytes, is what a month costs (measured, 1,820 terminals): per field and point
    scanned, and per TSM block decoded (~1,000 points, ~16 h of one series at Δt 60 s), which is why
    the raw samples are read in whole days and not in flagged hours.
    """

    def __init__(self, client: InfluxClient) -> None:
        self.client = client

    def _batched(self, statements: Sequence[str]) -> Iterator[dict]:
        """Series of many statements, sent as few ``;``-joined requests, ``_PARALLEL`` at a time.

        The order of the answers does not matter: the engine sorts and deduplicates what it gets.
        """
        requests: list[str] = []
        batch: list[str] = []
        size = 0
        for stmt in statements:
            if batch and size + len(stmt) > _STATEMENT_BYTES:
                requests.append(";".join(batch))
                batch, size = [], 0
            batch.append(stmt)
            size += len(stmt) + 1
        if batch:
            requests.append(";".join(batch))
        with ThreadPoolExecutor(max_workers=_PARALLEL) as pool:
            for answer in pool.map(lambda q: list(self.client.query(q)), requests):
                yield from answer

    def _sample_columns(self, statements: Sequence[str]) -> SampleColumns:
        b = SampleColumnsBuilder()
        for series in self._batched(statements):
            kind = _MEASUREMENT_KIND[series["name"]]
            tags = series.get("tags", {})
            terminal, vantage = tags.get("terminal", ""), tags.get("vantage", "")
            cols = series["columns"]
            it, isent, irecv = (cols.index(c) for c in ("time", "sent", "received"))
            if "error" not in cols:  # rows of terminal-days whose every sample was measured
                for v in series["values"]:
                    b.add(terminal, vantage, kind, int(v[it]), v[isent] or 0, v[irecv] or 0)
                continue
            ierr = cols.index("error")
            for v in series["values"]:
                b.add(terminal, vantage, kind, int(v[it]), v[isent] or 0, v[irecv] or 0, v[ierr] or "ok")
        return b.build()

    @staticmethod
    def _statements(
        by_range: dict[tuple[str, str, int, int], set[str]], select: str, group: str
    ) -> list[str]:
        """``SELECT select FROM measurement WHERE range AND condition AND (terminals) GROUP BY group``.

        ``by_range`` maps (measurement, condition, start, end) to its terminals; each statement names up
        to ``_TERMINALS_PER_QUERY`` of them (the server filters series by tag before reading a block).
        """
        out = []
        for (measurement, condition, a, b), names in sorted(
            by_range.items(), key=lambda x: (*x[0][2:], *x[0][:2])
        ):
            ordered = sorted(names)
            for i in range(0, len(ordered), _TERMINALS_PER_QUERY):
                who = " OR ".join(
                    f"terminal = {quote_literal(t)}" for t in ordered[i : i + _TERMINALS_PER_QUERY]
                )
                out.append(
                    f"SELECT {select} FROM {quote_ident(measurement)} WHERE {_time_where(a, b)}{condition}"
                    f" AND ({who}) GROUP BY {group}"
                )
        return out

    def problem_samples(self, start_ns: int, end_ns: int, kinds: Sequence[ProbeKind]) -> SampleColumns:
        which = " OR ".join(f"kind = {quote_literal(k.value)}" for k in kinds)
        q = (
            f"SELECT measured, samples FROM {quote_ident(ROLLUP_MEASUREMENT)}"
            f" WHERE {_time_where(start_ns, end_ns)} AND ({which})"
            " AND (received < sent OR measured < samples) GROUP BY terminal, kind"
        )
        # asked per UTC day, not per flagged hour: a TSM block holds ~1,000 points (~16 h of one series),
        # so hour-sized statements decoded the same blocks again and again (1,820 terminals: 1,581
        # statements, 18 s of server CPU; per day: 138 statements, 6 s). A day returns every problem row
        # of its terminals, and each of those lies in a flagged hour, so the rows are the same.
        # Where every sample of the terminal-day was measured (no hour with measured < samples), the
        # problem rows are the lossy ones and the server need not read ``error`` nor ``lost``: two
        # fields scanned instead of four (4.1 s instead of 5.8 s of server CPU).
        lossy: dict[tuple[str, str, int, int], set[str]] = {}
        unmeasured: dict[tuple[str, str, int, int], set[str]] = {}
        for series in self.client.query(q):
            tags = series.get("tags", {})
            kind = ProbeKind(tags.get("kind", "")).measurement
            for t, measured, samples in series["values"]:
                day = int(t) - int(t) % DAY_NS
                key = (kind, "", max(day, start_ns), min(day + DAY_NS, end_ns))
                into = unmeasured if (measured or 0) < (samples or 0) else lossy
                into.setdefault(key, set()).add(tags.get("terminal", ""))
        for key, names in unmeasured.items():
            lossy.get(key, set()).difference_update(names)
        lossy_q = {(m, " AND received < sent", a, b): names for (m, _, a, b), names in lossy.items() if names}
        full_q = {
            (m, " AND (lost > 0 OR sent = 0)", a, b): names for (m, _, a, b), names in unmeasured.items()
        }
        return self._sample_columns(
            self._statements(lossy_q, "sent, received", _SAMPLE_GROUP)
            + self._statements(full_q, _SAMPLE_SELECT, _SAMPLE_GROUP)
        )

    def hour_samples(self, keys: Sequence[tuple[str, int]], kinds: Sequence[ProbeKind]) -> SampleColumns:
        by_hour: dict[tuple[str, str, int, int], set[str]] = {}
        for terminal, hour in keys:
            for kind in kinds:
                by_hour.setdefault((kind.measurement, "", hour, hour + HOUR_NS), set()).add(terminal)
        return self._sample_columns(self._statements(by_hour, _SAMPLE_SELECT, _SAMPLE_GROUP))

    def rollups(
        self,
        start_ns: int,
        end_ns: int,
        kinds: Sequence[ProbeKind],
        terminals: Sequence[str],
        period: tuple[int, int],
    ) -> RollupSummary:
        reducer = RollupReducer(start_ns, end_ns, kinds, terminals, period)
        which = " OR ".join(f"kind = {quote_literal(k.value)}" for k in kinds)
        hourly = quote_ident(ROLLUP_MEASUREMENT)
        where = f"{_time_where(start_ns, end_ns)} AND ({which})"
        # presence: the hourly points of each series counted per UTC day, so only days with hours missing
        # are read point by point; each hour counts at the series' largest hourly count (an over-count
        # can only ask for more pooling detail, which gives the same verdicts). For 1,820 terminals
        # first/last/max and elapsed() gaps cost 6.6 s of server CPU, daily counts and max 2 s.
        count_q = f"SELECT count(samples) FROM {hourly} WHERE {where} GROUP BY time(1d), {_SERIES} fill(none)"
        max_q = f"SELECT max(samples) FROM {hourly} WHERE {where} GROUP BY {_SERIES}"
        # period sums: the server's cost is per field and point; two statements use two cores
        sums = [f"sum({c})" for c in SCALARS]
        half = len(sums) // 2
        in_period = f"{_time_where(*period)} AND ({which})"
        sums_qs = [
            f"SELECT {', '.join(part)} FROM {hourly} WHERE {in_period} GROUP BY terminal"
            for part in (sums[:half], sums[half:])
        ]
        days, edges = hist_ranges(*period)  # whole UTC days from sla_daily, the edges from sla_hourly
        hist_from = [(DAILY_MEASUREMENT, days)] if days else []
        hist_from += [(ROLLUP_MEASUREMENT, edge) for edge in edges]
        hist_qs = [
            f"SELECT rtt_hist, jit_hist FROM {quote_ident(m)} WHERE {_time_where(a, b)} AND ({which})"
            " GROUP BY terminal"
            for m, (a, b) in hist_from
        ]
        with ThreadPoolExecutor(max_workers=_PARALLEL) as pool:
            sums_a, sums_b, counts, maxes, *hist_rows = pool.map(
                lambda q: [(s.get("tags", {}), s["values"]) for s in self.client.query(q)],
                [*sums_qs, count_q, max_q, *hist_qs],
            )
        self._presence(reducer, start_ns, end_ns, counts, maxes)
        for part, rows in enumerate((sums_a, sums_b)):
            cols = slice(0, half) if part == 0 else slice(half, len(SCALARS))
            for tags, values in rows:
                t = reducer.terminal(tags.get("terminal", ""))
                for v in values:
                    row = np.zeros((1, len(SCALARS)), dtype=np.int64)
                    row[0, cols] = [x or 0 for x in v[1:]]
                    reducer.add_scalars(np.array([t]), row)
        for rows in hist_rows:
            for tags, values in rows:
                t = reducer.terminal(tags.get("terminal", ""))
                reducer.add_hists(
                    np.full(len(values), t),
                    [bytes.fromhex(v[1] or "") for v in values],
                    [bytes.fromhex(v[2] or "") for v in values],
                )
        return reducer.build()

    def _presence(
        self, reducer: RollupReducer, start_ns: int, end_ns: int, counts: list, maxes: list
    ) -> None:
        """Fold the daily counts into presence; read the hours of the days that are not whole."""

        def key(tags: dict) -> tuple[str, str, str]:
            return tags["terminal"], tags["vantage"], tags["kind"]

        most = {key(tags): int(values[0][1]) for tags, values in maxes}
        partial: dict[tuple[str, str, int, int], set[str]] = {}  # like _statements' by_range
        missing: set[tuple[tuple[str, str, str], int]] = set()  # (series, day) read hour by hour
        for tags, values in counts:
            k = key(tags)
            t, v = reducer.terminal(k[0]), reducer.vantage(k[1])
            if t < 0:
                continue
            days = np.array([int(d) for d, _ in values], dtype=np.int64)
            whole, _, hours = whole_days(days, np.array([n for _, n in values]), start_ns, end_ns)
            n = len(hours)
            reducer.add_presence(np.full(n, t), np.full(n, v), hours, np.full(n, most[k]))
            for day in days[~whole].tolist():
                missing.add((k, day))
                a, b = max(day, start_ns), min(day + DAY_NS, end_ns)
                partial.setdefault(
                    (ROLLUP_MEASUREMENT, f" AND kind = {quote_literal(k[2])}", a, b), set()
                ).add(k[0])
        for series in self._batched(self._statements(partial, "samples", _SERIES)):
            k = key(series.get("tags", {}))
            hours = np.array([int(v[0]) for v in series["values"]], dtype=np.int64)
            hours = hours[[(k, int(h - h % DAY_NS)) in missing for h in hours]]
            n = len(hours)
            t, v = reducer.terminal(k[0]), reducer.vantage(k[1])
            reducer.add_presence(np.full(n, t), np.full(n, v), hours, np.full(n, most[k]))

    def sla_heartbeats(self, start_ns: int, end_ns: int) -> HeartbeatColumns:
        # ``unstored`` is absent from points written before it existed: null, read as 0
        fields = ", ".join(("interval_s", *_HEARTBEAT_INTS))
        q = (
            f"SELECT {fields} FROM {quote_ident(HEARTBEAT_MEASUREMENT)} WHERE {_time_where(start_ns, end_ns)}"
            ' GROUP BY vantage, "group"'
        )

        def rows() -> Iterator[HeartbeatRow]:
            for series in self.client.query(q):
                tags = series.get("tags", {})
                vantage, group = tags.get("vantage", ""), tags.get("group", "")
                cols = series["columns"]
                it, ivl = cols.index("time"), cols.index("interval_s")
                ints = [cols.index(c) if c in cols else None for c in _HEARTBEAT_INTS]
                for v in series["values"]:
                    due, probed, ok, total, unstored = (int(v[i] or 0) if i is not None else 0 for i in ints)
                    yield (int(v[it]), vantage, group, float(v[ivl] or 0.0), due, probed, ok, total, unstored)

        return heartbeat_columns(rows())

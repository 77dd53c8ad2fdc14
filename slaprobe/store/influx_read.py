"""The SLA engine's read path over InfluxDB (InfluxQL ``/query``, every generation), and its rollups.

What is asked of the server (DESIGN §7: push the filtering to the server, fetch only what can change a
verdict; measured on this machine for 1,820 terminals):

* problem rows: ``SELECT sent, received, error FROM <kind> WHERE time .. AND (lost > 0 OR sent = 0)
  GROUP BY terminal, vantage`` — the server scans, only the lossy/unsent rows travel;
* rollups: every point of ``sla_hourly`` in the window (one per terminal, vantage, kind and hour;
  1.35 M points for a month of 1,820 terminals). ``percentile()`` over raw samples was measured at
  ~4 minutes for a month and ``sum(*)`` over sparse per-bucket fields at 42 s, so the histograms travel
  as one hex string field per point and are summed here;
* heartbeats, and the samples of the few (terminal, hour) pairs that must be pooled.

``sla_hourly`` schema: tags ``terminal, vantage, kind``; integer fields ``samples, measured, sent,
received, rtt_n, jit_n, mos_n, mos_milli, y0_n, y0_ok``; string fields ``rtt_hist, jit_hist`` (hex of the
packed little-endian (u16 bucket, u32 count) pairs of ``sla/kpi.py``); timestamp = the UTC hour, ms
precision. Each point holds the hour's full totals, so writing it again overwrites it identically; the
journal's ``sla_hourly`` table is the source (``sla_journal.rollups_after``), and ``lab month`` writes
the same rows when it fills InfluxDB directly.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

from slaprobe.model import NS_PER_MS, Heartbeat, ProbeKind
from slaprobe.sla.inputs import RollupColumns, RollupColumnsBuilder, SampleColumns, SampleColumnsBuilder
from slaprobe.sla.kpi import HOUR_NS, SCALARS, RollupRow, pack_hist
from slaprobe.store.influx import InfluxClient, _heartbeat_from_row, quote_ident, quote_literal
from slaprobe.store.lineproto import HEARTBEAT_MEASUREMENT, series_key

ROLLUP_MEASUREMENT = "sla_hourly"
_TERMINALS_PER_QUERY = 50


def rollup_line(row: RollupRow) -> str:
    """One ``sla_hourly`` point in line protocol (ms precision)."""
    key = series_key(
        ROLLUP_MEASUREMENT, (("terminal", row.terminal), ("vantage", row.vantage), ("kind", row.kind.value))
    )
    fields = [f"{name}={getattr(row, name)}i" for name in SCALARS]
    fields.append(f'rtt_hist="{pack_hist(row.rtt_hist).hex()}"')
    fields.append(f'jit_hist="{pack_hist(row.jit_hist).hex()}"')
    return f"{key} {','.join(fields)} {row.hour_ns // NS_PER_MS}"


def rollup_lines(rows: Iterable[RollupRow]) -> Iterator[str]:
    for row in rows:
        yield rollup_line(row)


def write_rollups(client: InfluxClient, rows: Iterable[RollupRow], batch: int = 5000) -> int:
    """Write rollup points (ms precision, the client's destination); returns how many."""
    lines: list[str] = []
    n = 0
    for line in rollup_lines(rows):
        lines.append(line)
        if len(lines) >= batch:
            client.write(lines)
            n += len(lines)
            lines = []
    if lines:
        client.write(lines)
        n += len(lines)
    return n


def _time_where(start_ns: int, end_ns: int) -> str:
    return f"time >= {int(start_ns)} AND time < {int(end_ns)}"


class InfluxSlaSource:
    """:class:`slaprobe.sla.inputs.SlaSource` over an :class:`~slaprobe.store.influx.InfluxClient`."""

    def __init__(self, client: InfluxClient) -> None:
        self.client = client

    def _sample_columns(self, queries: Iterable[tuple[ProbeKind, str]]) -> SampleColumns:
        b = SampleColumnsBuilder()
        for kind, q in queries:
            for series in self.client.query(q):
                tags = series.get("tags", {})
                terminal, vantage = tags.get("terminal", ""), tags.get("vantage", "")
                cols = series["columns"]
                it, isent, irecv, ierr = (cols.index(c) for c in ("time", "sent", "received", "error"))
                for v in series["values"]:
                    b.add(terminal, vantage, kind, int(v[it]), v[isent] or 0, v[irecv] or 0, v[ierr] or "ok")
        return b.build()

    def problem_samples(self, start_ns: int, end_ns: int, kinds: Sequence[ProbeKind]) -> SampleColumns:
        where = f"{_time_where(start_ns, end_ns)} AND (lost > 0 OR sent = 0)"
        return self._sample_columns(
            (
                k,
                f"SELECT sent, received, error FROM {quote_ident(k.measurement)} WHERE {where}"
                " GROUP BY terminal, vantage",
            )
            for k in kinds
        )

    def hour_samples(self, keys: Sequence[tuple[str, int]], kinds: Sequence[ProbeKind]) -> SampleColumns:
        by_hour: dict[int, list[str]] = {}
        for terminal, hour in keys:
            by_hour.setdefault(hour, []).append(terminal)
        queries = []
        for hour in sorted(by_hour):
            names = sorted(set(by_hour[hour]))
            for i in range(0, len(names), _TERMINALS_PER_QUERY):
                chunk = names[i : i + _TERMINALS_PER_QUERY]
                who = " OR ".join(f"terminal = {quote_literal(t)}" for t in chunk)
                where = f"{_time_where(hour, hour + HOUR_NS)} AND ({who})"
                queries.extend(
                    (
                        k,
                        f"SELECT sent, received, error FROM {quote_ident(k.measurement)} WHERE {where}"
                        " GROUP BY terminal, vantage",
                    )
                    for k in kinds
                )
        return self._sample_columns(queries)

    def rollups(self, start_ns: int, end_ns: int, kinds: Sequence[ProbeKind]) -> RollupColumns:
        which = " OR ".join(f"kind = {quote_literal(k.value)}" for k in kinds)
        q = (
            f"SELECT {', '.join(SCALARS)}, rtt_hist, jit_hist FROM {quote_ident(ROLLUP_MEASUREMENT)}"
            f" WHERE {_time_where(start_ns, end_ns)} AND ({which}) GROUP BY terminal, vantage, kind"
        )
        b = RollupColumnsBuilder()
        n = len(SCALARS)
        for series in self.client.query(q):
            tags = series.get("tags", {})
            terminal, vantage, kind = tags.get("terminal", ""), tags.get("vantage", ""), tags.get("kind", "")
            for v in series["values"]:
                b.add(
                    terminal,
                    vantage,
                    kind,
                    int(v[0]),
                    v[1 : 1 + n],
                    bytes.fromhex(v[1 + n] or ""),
                    bytes.fromhex(v[2 + n] or ""),
                )
        return b.build()

    def sla_heartbeats(self, start_ns: int, end_ns: int) -> Iterator[Heartbeat]:
        q = f"SELECT * FROM {quote_ident(HEARTBEAT_MEASUREMENT)} WHERE {_time_where(start_ns, end_ns)}"
        for row in self.client.rows(q):
            yield _heartbeat_from_row(row)

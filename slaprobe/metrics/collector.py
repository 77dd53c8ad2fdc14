"""The daemon's metrics, built at scrape time from what the daemon already keeps (nothing per sample).

Names follow blackbox_exporter / smokeping_prober: base units (seconds, ratios), ``_total`` counters,
``_timestamp_seconds`` for instants, one family per quantity and labels for the dimensions.

Per terminal (labels terminal, carrier, region, level, tier, vantage; the probe figures also ``kind``):
the last probe's ``slaprobe_terminal_loss_ratio``, ``_rtt_seconds`` (mean RTT), ``_jitter_seconds``;
the live state ``slaprobe_terminal_up`` (1, 0, NaN while the probe host cannot vouch; absent before the
first judged interval) and ``slaprobe_terminal_state_since_timestamp_seconds``. The label values come
from the inventory, whose tags are low-cardinality by design (README "InfluxDB schema"), so the series
count is bounded: terminals × (3 × kinds + 2), README "Live alerts and metrics".

Per vantage and cycle: duration, worst start lateness, skipped and late targets, due targets, last cycle
start, reference targets answered. Per vantage: journal backlog, shipper state, last InfluxDB success,
dropped samples by reason. Per alert receiver: the delivery counters.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from slaprobe.model import NS_PER_S, ProbeKind, Sample
from slaprobe.store.shipper import COUNT_DROPPED, COUNT_REJECTED, CURSOR_SAMPLES

if TYPE_CHECKING:
    from slaprobe.daemon import Daemon

TERMINAL_LABELS = ["terminal", "carrier", "region", "level", "tier", "vantage"]
PROBE_LABELS = [*TERMINAL_LABELS, "kind"]


class LatestSamples:
    """The last stored sample per (terminal, kind): one dict assignment per sample, read at scrape."""

    def __init__(self) -> None:
        self._last: dict[tuple[str, ProbeKind], Sample] = {}

    def update(self, samples: Iterable[Sample]) -> None:
        last = self._last
        for s in samples:
            last[(s.terminal, s.kind)] = s

    def snapshot(self) -> list[Sample]:
        return list(self._last.values())

    def forget(self, keep: set[str]) -> None:
        """Drop terminals that left the inventory (their series vanish instead of going stale)."""
        for key in [k for k in self._last if k[0] not in keep]:
            del self._last[key]


def _s(ms: float | None) -> float | None:
    return None if ms is None else ms / 1000.0


class DaemonCollector(Collector):
    """A custom collector over a running :class:`~slaprobe.daemon.Daemon`."""

    def __init__(self, daemon: Daemon) -> None:
        self.daemon = daemon

    def collect(self) -> Iterator[Metric]:
        d = self.daemon
        vantage = d.config.vantage
        if d.config.metrics.per_terminal:
            yield from self._terminals(vantage)
        yield from self._cycles(vantage)
        yield from self._store(vantage)
        yield from self._alerts(vantage)

    # ------------------------------------------------------------------ per terminal
    def _terminals(self, vantage: str) -> Iterator[Metric]:
        d = self.daemon
        tags = {t.id: t for t in d.inventory}
        loss = GaugeMetricFamily(
            "slaprobe_terminal_loss_ratio",
            "Packet loss of the terminal's last probe (0..1).",
            labels=PROBE_LABELS,
        )
        rtt = GaugeMetricFamily(
            "slaprobe_terminal_rtt_seconds", "Mean round-trip time of the last probe.", labels=PROBE_LABELS
        )
        jitter = GaugeMetricFamily(
            "slaprobe_terminal_jitter_seconds",
            "Jitter of the last probe (mean |D| of consecutive transits, RFC 3550).",
            labels=PROBE_LABELS,
        )
        for s in d.latest.snapshot():
            t = tags.get(s.terminal)
            if t is None:
                continue
            labels = [t.id, t.carrier, t.region, t.level.value, t.tier, vantage, s.kind.value]
            for family, value in ((loss, s.loss), (rtt, _s(s.rtt_avg_ms)), (jitter, _s(s.jitter_ms))):
                if value is not None:
                    family.add_metric(labels, value)
        yield from (loss, rtt, jitter)
        up = GaugeMetricFamily(
            "slaprobe_terminal_up",
            "Live SLA state: 1 available, 0 unavailable (same rule as the report), NaN unknown.",
            labels=TERMINAL_LABELS,
        )
        since = GaugeMetricFamily(
            "slaprobe_terminal_state_since_timestamp_seconds",
            "When the terminal's current live state began (an outage: its back-dated start).",
            labels=TERMINAL_LABELS,
        )
        live = d.live_state
        if live is not None:
            for t in tags.values():
                st = live.state(t.id)
                if st is None:
                    continue
                labels = [t.id, t.carrier, t.region, t.level.value, t.tier, vantage]
                up.add_metric(labels, st.up)
                if st.since_ns is not None:
                    since.add_metric(labels, st.since_ns / NS_PER_S)
        yield from (up, since)

    # ------------------------------------------------------------------ per cycle
    def _cycles(self, vantage: str) -> Iterator[Metric]:
        d = self.daemon
        names = ["vantage", "cycle"]
        fams = {
            "duration": GaugeMetricFamily(
                "slaprobe_cycle_duration_seconds", "Wall time of the last cycle.", labels=names
            ),
            "lateness": GaugeMetricFamily(
                "slaprobe_cycle_lateness_seconds", "Worst start lateness in the last cycle.", labels=names
            ),
            "skipped": GaugeMetricFamily(
                "slaprobe_cycle_skipped_targets",
                "Targets not probed in the last cycle (not measured).",
                labels=names,
            ),
            "late": GaugeMetricFamily(
                "slaprobe_cycle_late_targets", "Targets started later than late_tolerance_ms.", labels=names
            ),
            "due": GaugeMetricFamily(
                "slaprobe_cycle_due_targets", "Targets due in the last cycle.", labels=names
            ),
            "start": GaugeMetricFamily(
                "slaprobe_cycle_last_timestamp_seconds", "Start of the last finished cycle.", labels=names
            ),
            "refs": GaugeMetricFamily(
                "slaprobe_cycle_reference_answered_ratio",
                "Share of the reference targets that answered in the last cycle.",
                labels=names,
            ),
        }
        lateness = d.runner.last_lateness_s if d.runner is not None else {}
        for name, hb in sorted(d.state.last_heartbeat.items()):
            labels = [vantage, name]
            fams["duration"].add_metric(labels, hb.duration_s)
            fams["lateness"].add_metric(labels, lateness.get(name, 0.0))
            fams["skipped"].add_metric(labels, hb.skipped)
            fams["late"].add_metric(labels, hb.late)
            fams["due"].add_metric(labels, hb.due)
            fams["start"].add_metric(labels, hb.time_ns / NS_PER_S)
            if hb.reference_total:
                fams["refs"].add_metric(labels, hb.reference_ok / hb.reference_total)
        yield from fams.values()
        cycles = CounterMetricFamily("slaprobe_cycles", "Cycles finished since start.", labels=["vantage"])
        cycles.add_metric([vantage], d.state.cycles)
        yield cycles

    # ------------------------------------------------------------------ store and shipper
    def _store(self, vantage: str) -> Iterator[Metric]:
        d = self.daemon
        stored = CounterMetricFamily(
            "slaprobe_samples_stored", "Samples the journal accepted.", labels=["vantage"]
        )
        stored.add_metric([vantage], d.state.samples)
        yield stored
        dropped = CounterMetricFamily(
            "slaprobe_samples_dropped",
            "Samples lost: refused by the journal (store_refused), dropped at the journal cap unshipped "
            "(journal_cap), refused by InfluxDB (influx_rejected).",
            labels=["vantage", "reason"],
        )
        dropped.add_metric([vantage, "store_refused"], d.state.lost_samples)
        shipper = d.shipper
        if shipper is None:
            yield dropped
            return
        journal = d.store
        try:
            backlog = journal.count_after("samples", journal.get_cursor(CURSOR_SAMPLES))
            cap = journal.get_cursor(COUNT_DROPPED)
            rejected = journal.get_cursor(COUNT_REJECTED)
        except Exception:  # a journal that cannot answer: leave these out of this scrape
            backlog = cap = rejected = math.nan
        dropped.add_metric([vantage, "journal_cap"], cap)
        dropped.add_metric([vantage, "influx_rejected"], rejected)
        yield dropped
        yield _gauge(
            "slaprobe_journal_backlog_samples",
            "Samples in the journal not yet in InfluxDB.",
            vantage,
            backlog,
        )
        st = shipper.state
        yield _gauge(
            "slaprobe_shipper_up",
            "1 while InfluxDB accepts writes, 0 while failing.",
            vantage,
            st.failures == 0,
        )
        if st.last_ok_ns is not None:
            yield _gauge(
                "slaprobe_influx_last_success_timestamp_seconds",
                "Last write InfluxDB acknowledged.",
                vantage,
                st.last_ok_ns / NS_PER_S,
            )

    # ------------------------------------------------------------------ alerts
    def _alerts(self, vantage: str) -> Iterator[Metric]:
        dispatcher = self.daemon.alerts
        if dispatcher is None:
            return
        labels = ["vantage", "receiver", "type"]
        help_ = {
            "queued": "Alert events accepted into the receiver's durable queue.",
            "delivered": "Alert events the receiver acknowledged (first notice or resolution).",
            "failed": "Delivery attempts that failed (each logged with its cause).",
            "retried": "Delivery attempts made after a failure.",
            "dropped": "Alert events given up (refused for good, or queue over alerts.max_queue).",
            "suppressed": "Alert events not notified (maintenance, duplicates, unnotified resolutions).",
            "messages": "Requests or mails that succeeded, reminders and re-posts included.",
        }
        fams = {k: CounterMetricFamily(f"slaprobe_alerts_{k}", h, labels=labels) for k, h in help_.items()}
        pending = GaugeMetricFamily(
            "slaprobe_alerts_pending", "Alert events waiting in the queue.", labels=labels
        )
        try:
            queued = dispatcher.queued()
        except Exception:
            queued = {}
        for w in dispatcher.workers:
            key = [vantage, w.name, w.kind]
            for k, fam in fams.items():
                fam.add_metric(key, getattr(w.counters, k))
            pending.add_metric(key, queued.get(w.name, math.nan))
        yield from fams.values()
        yield pending
        failed = CounterMetricFamily(
            "slaprobe_alerts_publish_failed",
            "Alert events that could not even be queued.",
            labels=["vantage"],
        )
        failed.add_metric([vantage], dispatcher.publish_failed)
        yield failed


def _gauge(name: str, doc: str, vantage: str, value: float) -> GaugeMetricFamily:
    g = GaugeMetricFamily(name, doc, labels=["vantage"])
    g.add_metric([vantage], float(value))
    return g


def series_count(families: Sequence[Metric]) -> int:
    return sum(len(f.samples) for f in families)

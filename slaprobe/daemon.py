"""The probe daemon: wiring of config, inventory, engines, scheduler and store; signals; lifecycle.

One asyncio loop. APScheduler (3.x, AsyncIOScheduler) starts one job per scheduling group × probe kind,
aligned to multiples of its interval on the wall clock; each job runs a cycle (``scheduler.CycleRunner``)
that spreads the targets over the interval. Every sample is committed to the journal before anything
else happens to it.

In service: the inventory's terminals are all scheduled; each cycle probes those in service at its start
under the SLA engine's own rule (from local midnight, ``sla.timezone``, of ``in_service_from`` to the end of
``in_service_to``), so a terminal opening while the daemon runs is probed from its first minute, and the
engine never judges a minute we did not look at.

A store that refuses writes (disk full, I/O error) does not stop probing: each refused batch is counted in
its cycle's heartbeat (``unstored``) and in ``DaemonState.lost_samples``, logged as an ERROR with its cause,
and the recovery of writes is logged too and recorded in the journal's meta (note ``daemon.store_faults``:
the daemon's lost totals, when writes began failing and when they recovered), where ``status`` reads it:
the counters in memory die with the process, the note does not.

Signals: SIGTERM/SIGINT drain (no new cycles, no new probes; probes in flight finish and are stored;
exit 0). SIGHUP reloads the inventory: cycles in flight finish with the old list, the next cycle of each
group uses the new one, on the same time grid, so no cycle is lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import ipaddress
import json
import logging
import math
import signal
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from slaprobe.config import Config
from slaprobe.configload import ConfigError
from slaprobe.inventory import Inventory, load_inventory
from slaprobe.model import Heartbeat, ProbeKind, Sample
from slaprobe.notify import Notifier
from slaprobe.probes.base import ProbeEngine, ProbeTarget
from slaprobe.probes.pool import EnginePool
from slaprobe.scheduler import CycleRunner, CycleSpec
from slaprobe.sla.availability import in_service_mask
from slaprobe.store.influx import InfluxClient, InfluxError
from slaprobe.store.journal import NOTE_STORE_FAULTS, JournalStore
from slaprobe.store.retention import RetentionKeeper
from slaprobe.store.shipper import Shipper
from slaprobe.terminal import Terminal

log = logging.getLogger(__name__)

REFERENCE_KINDS = (ProbeKind.ICMP, ProbeKind.ICMP_JITTER)


def engine_settings(config: Config, kind: ProbeKind) -> object:
    """The config section holding ``kind``'s engine settings."""
    return {
        ProbeKind.ICMP: config.probes.icmp,
        ProbeKind.ICMP_JITTER: config.probes.icmp_jitter,
        ProbeKind.RTP: config.probes.rtp,
        ProbeKind.STAMP: config.probes.stamp,
    }[kind]


def reflector_for(config: Config, terminal: Terminal, kind: ProbeKind) -> tuple[str, int] | None:
    """Where a stream probe goes: the inventory's reflector host, or the terminal itself (CPEs often
    reflect). The column's port is the STAMP port (default ``probes.stamp.port``, 862); RTP echo goes to
    the same host at ``probes.rtp.port``."""
    if kind not in (ProbeKind.STAMP, ProbeKind.RTP):
        return None
    host, port = terminal.reflector or (str(terminal.address), None)
    if kind is ProbeKind.RTP or port is None:
        port = engine_settings(config, kind).port
    return host, port


class ServiceCalendar:
    """Whether a terminal is in service at an instant, by the SLA engine's own rule.

    The engine counts a terminal from local midnight (``sla.timezone``) of its ``in_service_from`` day to
    the end of its ``in_service_to`` day (``sla.availability.in_service_mask``); this asks that very
    function about the one-nanosecond interval at ``t_ns``, so the daemon probes exactly the time the
    engine will judge. (5 ms for 1,820 terminals, once per cycle.)
    """

    def __init__(self, terminals: Iterable[Terminal], timezone: str) -> None:
        try:
            self.tz = ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            problem = f"sla.timezone: {timezone!r} is not a known IANA time zone"
            raise ConfigError("config", [problem]) from None
        self.terminals = {t.id: t for t in terminals}

    def __call__(self, terminal: str, t_ns: int) -> bool:
        t = self.terminals.get(terminal)
        return t is not None and bool(in_service_mask(t, self.tz, t_ns, 1, 1)[0])


def build_specs(config: Config, inventory: Inventory) -> dict[str, CycleSpec]:
    """Group the inventory into cycles: (scheduling group, probe kind) → targets and interval.

    Every terminal is a target, including those still to open and to retire: each cycle probes only
    those in service at its start (:class:`ServiceCalendar`), because nobody pays for the others and
    their silence must not look like an outage, while one that opens mid-run must be probed at once.
    """
    calendar = ServiceCalendar(inventory, config.sla.timezone)
    buckets: dict[tuple[str, ProbeKind], list[ProbeTarget]] = {}
    for t in inventory:
        for kind in t.probes or tuple(config.probes.default):
            target = ProbeTarget(terminal=t.id, address=t.address, reflector=reflector_for(config, t, kind))
            buckets.setdefault((t.group, kind), []).append(target)
    refs = tuple(
        ProbeTarget(terminal=f"ref:{addr}", address=ipaddress.ip_address(addr))
        for addr in config.schedule.reference_targets
    )
    specs: dict[str, CycleSpec] = {}
    for (group, kind), targets in sorted(buckets.items(), key=lambda kv: (kv[0][0], kv[0][1].value)):
        group_cfg = config.schedule.groups.get(group)
        interval = config.probes.intervals_s.get(
            kind, group_cfg.interval_s if group_cfg else config.schedule.interval_s
        )
        spec = CycleSpec(
            group=group,
            kind=kind,
            interval_s=interval,
            targets=tuple(targets),
            references=refs if kind in REFERENCE_KINDS else (),
            in_service=calendar,
        )
        specs[spec.name] = spec
    return specs


def next_boundary(now: float, interval_s: float) -> float:
    """The next multiple of the interval on the wall clock (cycles of all hosts share a grid)."""
    return math.floor(now / interval_s) * interval_s + interval_s


@dataclass
class DaemonState:
    """What the daemon exposes about itself (for status, logs and tests)."""

    cycles: int = 0
    samples: int = 0
    last_heartbeat: dict[str, Heartbeat] = field(default_factory=dict)
    reloads: int = 0
    lost_samples: int = 0  # samples the journal refused (disk full, I/O error): gone for good
    lost_heartbeats: int = 0
    store_failing: bool = False  # the last write failed (a success after it is logged as recovery)
    failing_since_ns: int | None = None  # first failed write of the current streak


class Daemon:
    def __init__(
        self, config: Config, *, inventory: Inventory | None = None, shipper: Shipper | None = None
    ) -> None:
        self.config = config
        self.inventory = inventory or self._load_inventory()
        self.store = JournalStore(config.journal_path)
        self.store.set_terminal_tags(self.inventory.tags())
        self.state = DaemonState()
        self.pool = EnginePool()
        self.engines: dict[ProbeKind, ProbeEngine] = self.pool.engines  # what the cycle runner uses
        self.specs: dict[str, CycleSpec] = {}
        self.scheduler: AsyncIOScheduler | None = None
        self.runner: CycleRunner | None = None
        self._running: set[asyncio.Task] = set()
        self._stop = asyncio.Event()
        self.notifier = Notifier()
        self.shipper: Shipper | None = shipper  # default: started by run() when store.kind = influx
        self._reload_task: asyncio.Future[None] | None = None

    # ------------------------------------------------------------------ inventory
    def _load_inventory(self) -> Inventory:
        inv = load_inventory(self.config.resolve(self.config.inventory))
        shard = self.config.shard
        return inv.select(shard.index, shard.count, shard.regions)

    # ------------------------------------------------------------------ sinks
    def _write_samples(self, samples: list[Sample]) -> None:
        """Raises what the store raised, after counting: the cycle runner logs it and marks the cycle."""
        try:
            self.store.write_samples(samples)
        except Exception:
            self.state.lost_samples += len(samples)
            self._store_failed()
            raise
        self._store_ok()
        self.state.samples += len(samples)

    def _store_failed(self) -> None:
        if not self.state.store_failing:
            self.state.failing_since_ns = time.time_ns()
        self.state.store_failing = True

    def _store_ok(self) -> None:
        if self.state.store_failing:
            self.state.store_failing = False
            st = self.state
            note = {
                "vantage": self.config.vantage,
                "lost_samples": st.lost_samples,  # since the daemon started
                "lost_heartbeats": st.lost_heartbeats,
                "failing_since_ns": st.failing_since_ns,
                "recovered_ns": time.time_ns(),
            }
            try:  # the disk takes writes again: make the loss durable, not only a log line
                self.store.set_note(NOTE_STORE_FAULTS, json.dumps(note))
            except Exception as exc:
                log.warning("journal: cannot record the store fault in its meta: %s", exc)
            log.warning(
                "journal writes recovered after losing %d samples and %d heartbeats in all",
                st.lost_samples,
                st.lost_heartbeats,
                extra={"lost_samples": st.lost_samples, "lost_heartbeats": st.lost_heartbeats},
            )

    def _write_heartbeat(self, hb: Heartbeat) -> None:
        self.state.cycles += 1
        self.state.last_heartbeat[hb.group] = hb  # the cycle ran (for the watchdog) even if not stored
        try:
            self.store.write_heartbeats([hb])
        except Exception:
            self.state.lost_heartbeats += 1
            self._store_failed()
            raise
        self._store_ok()
        if self.shipper is not None:
            self.shipper.wake()  # the cycle's samples and heartbeat are committed: ship them now
        self.notifier.status(f"cycle {hb.group}: {hb.probed}/{hb.due} probed, {hb.skipped} skipped")
        log.info(
            "cycle done",
            extra={
                "group": hb.group,
                "due": hb.due,
                "probed": hb.probed,
                "late": hb.late,
                "skipped": hb.skipped,
                "unstored": hb.unstored,
                "duration_s": hb.duration_s,
            },
        )

    # ------------------------------------------------------------------ lifecycle
    async def _ensure_engines(self) -> None:
        """An engine for every probe kind of the current specs, sharing sockets where allowed
        (``probes.pool``: icmp + icmp-jitter one raw socket per family, stamp + rtp one UDP socket)."""
        for spec in self.specs.values():
            if spec.kind not in self.engines:
                # Only the probe sockets live in the configured namespace (the lab); the shipper and
                # everything else stay in the host's, where InfluxDB is.
                with network_namespace(self.config.netns):
                    await self.pool.engine(spec.kind, engine_settings(self.config, spec.kind))

    def _schedule(self) -> None:
        assert self.scheduler is not None
        wanted = set(self.specs)
        for job in self.scheduler.get_jobs():
            if job.id not in wanted:
                job.remove()
        now = time.time()
        for name, spec in self.specs.items():
            job = self.scheduler.get_job(name)
            if job is not None and job.trigger.interval.total_seconds() == spec.interval_s:
                continue
            if job is not None:
                job.remove()
            start = dt.datetime.fromtimestamp(next_boundary(now, spec.interval_s), dt.UTC)
            self.scheduler.add_job(
                self._fire,
                IntervalTrigger(seconds=spec.interval_s, start_date=start, timezone=dt.UTC),
                args=[name],
                id=name,
                name=name,
                max_instances=3,
                coalesce=True,
                misfire_grace_time=max(int(spec.interval_s // 2), 1),
            )

    async def _fire(self, name: str) -> None:
        spec = self.specs.get(name)
        if spec is None or self._stop.is_set() or self.runner is None:
            return
        start = math.floor(time.time() / spec.interval_s) * spec.interval_s
        task = asyncio.current_task()
        if task is not None:
            self._running.add(task)
        try:
            await self.runner.run(spec, start=start, stop=self._stop)
        finally:
            if task is not None:
                self._running.discard(task)

    def stop(self) -> None:
        """Drain and exit (what SIGTERM does)."""
        self._stop.set()

    def reload(self) -> None:
        """SIGHUP: re-read the inventory; a broken file is reported and the old one kept."""
        self.notifier.reloading()
        try:
            inventory = self._load_inventory()
        except Exception as exc:  # any failure keeps the running inventory
            log.error("reload failed, keeping the current inventory: %s", exc)
            self.notifier.ready("running")
            return
        self.inventory = inventory
        self.store.set_terminal_tags(inventory.tags())
        self.specs = build_specs(self.config, inventory)
        self.state.reloads += 1
        self._reload_task = asyncio.ensure_future(self._apply_reload())
        log.info("inventory reloaded", extra={"terminals": len(inventory), "cycles": sorted(self.specs)})

    async def _apply_reload(self) -> None:
        try:
            await self._ensure_engines()
        except Exception:
            log.exception("reload: cannot start a probe engine; new probe kinds stay idle")
        self._schedule()
        self.notifier.ready("running")  # READY=1 closes the RELOADING=1 sent by reload()

    def _start_shipper(self) -> None:
        if self.shipper is None:
            self.shipper = start_shipper(self.config)

    async def _retention_loop(self, every_s: float = 3600.0) -> None:
        """Embedded store: size warning and retention (``store/retention.py``) at start, then hourly, in a
        thread with its own journal connection. A failure is logged and retried next time."""
        if self.config.store.kind != "embedded":
            return  # the shipper caps and prunes a journal that feeds InfluxDB
        keeper = RetentionKeeper(
            JournalStore(self.config.journal_path),
            self.config.store.retention_days,
            self.config.store.warn_mb,
            self.config.sla.timezone,
        )
        try:
            while True:
                try:
                    await asyncio.to_thread(keeper.check, time.time_ns())
                except Exception:
                    log.exception("journal retention check failed (retried in %.0f s)", every_s)
                await asyncio.sleep(every_s)
        finally:
            keeper.journal.close()

    async def _compaction_loop(self) -> None:
        """Once every ``store.compact_every_h`` (default a day), from start: move closed UTC days from the
        journal into the columnar tier, then apply the tier's retention (``slaprobe/storage.py``), in a
        thread with its own journal connection. Crash-safe by design, so cancelling at exit is fine; a
        failure is logged and retried next time."""
        store = self.config.store
        if not store.compact:
            return
        from slaprobe.storage import run_compaction, run_tier_retention

        while True:
            try:
                result = await asyncio.to_thread(run_compaction, self.config)
                if result.days or result.skipped:
                    log.info(
                        "compaction: %d UTC days moved to the columnar tier, %d kept in the journal",
                        len(result.days),
                        len(result.skipped),
                        extra=result.to_dict(),
                    )
                if store.raw_days or store.sla_days:
                    await asyncio.to_thread(run_tier_retention, self.config)
            except Exception:
                log.exception(
                    "compaction / columnar retention failed (retried in %.0f h)", store.compact_every_h
                )
            await asyncio.sleep(store.compact_every_h * 3600)

    def healthy(self) -> bool:
        """For the systemd watchdog: every cycle kind has finished a cycle within three intervals."""
        now_ns = time.time_ns()
        for name, spec in self.specs.items():
            hb = self.state.last_heartbeat.get(name)
            if hb is not None and now_ns - hb.time_ns > 3 * spec.interval_s * 1e9 + 60e9:
                return False
        return True

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        self.specs = build_specs(self.config, self.inventory)
        await self._ensure_engines()
        sched = self.config.schedule
        self.runner = CycleRunner(
            vantage=self.config.vantage,
            engines=self.engines,
            sink=self._write_samples,
            heartbeat_sink=self._write_heartbeat,
            spread=sched.spread,
            slot_s=sched.slot_ms / 1000,
            late_tolerance_s=sched.late_tolerance_ms / 1000,
        )
        self.scheduler = AsyncIOScheduler(event_loop=loop, timezone=dt.UTC)
        self._schedule()
        self.scheduler.start()
        self._start_shipper()
        watchdog = asyncio.ensure_future(self.notifier.watchdog_loop(self.healthy))
        retention = asyncio.ensure_future(self._retention_loop())
        compaction = asyncio.ensure_future(self._compaction_loop())
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stop)
        loop.add_signal_handler(signal.SIGHUP, self.reload)
        self.notifier.ready("running")
        log.info(
            "slaprobe running",
            extra={
                "vantage": self.config.vantage,
                "terminals": len(self.inventory),
                "cycles": {n: len(s.targets) for n, s in self.specs.items()},
                "journal": str(self.config.journal_path),
            },
        )
        await self._stop.wait()
        log.info("stopping: draining probes in flight")
        self.notifier.stopping("draining probes in flight")
        watchdog.cancel()
        retention.cancel()
        compaction.cancel()
        self.scheduler.pause()  # no new cycles; shutting down now would cancel the ones in flight
        if self._running:
            await asyncio.gather(*self._running, return_exceptions=True)
        self.scheduler.shutdown(wait=False)
        await self.pool.close()
        if self.shipper is not None:
            await asyncio.to_thread(self.shipper.stop)
        self.store.close()
        self.notifier.close()
        log.info(
            "stopped",
            extra={
                "samples": self.state.samples,
                "cycles": self.state.cycles,
                "lost_samples": self.state.lost_samples,
                "lost_heartbeats": self.state.lost_heartbeats,
            },
        )
        return 0


@contextlib.contextmanager
def network_namespace(name: str) -> Iterator[None]:
    """Run inside a named network namespace (the lab) when configured; a no-op otherwise."""
    if not name:
        yield
        return
    from slaprobe.lab.netns import entered

    with entered(name):
        yield


def start_shipper(config: Config) -> Shipper | None:
    """store.kind = influx: a shipper thread forwards the journal to InfluxDB.

    A wrong URL, credentials or database is logged loudly here and by the shipper on every retry,
    but never stops probing: samples wait in the journal until InfluxDB accepts them.
    """
    if config.store.kind != "influx":
        return None
    try:
        client = InfluxClient(config.influx)
    except InfluxError as exc:
        log.error("InfluxDB shipping disabled, samples stay in the journal: %s", exc)
        return None
    shipper = Shipper(JournalStore(config.journal_path), client, config.shipper)
    shipper.start()
    return shipper


def run_daemon(config: Config) -> int:
    return asyncio.run(Daemon(config).run())

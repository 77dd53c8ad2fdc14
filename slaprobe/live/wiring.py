"""How the daemon sets up live tracking from its config, and keeps the tracker's state across restarts.

Why in the daemon and not a companion ``slaprobe watch`` reading the store: the daemon holds each cycle's
samples in memory the moment the store accepted them, so the tracker needs no re-reading of the journal
or InfluxDB (a watcher would re-query every minute what was just written, and depend on the shipper's
delay for InfluxDB), and the latency is one cycle: an interval is judged as soon as the heartbeat that
closes it is stored. The tracker is fed only what the store accepted, so it sees what the report sees.

The state (open outages, pending runs, next interval to judge; a few KB) is written to the journal's
meta table (note ``live.state``) after every heartbeat, in the same SQLite file as the samples, so a
restarted daemon continues each run where it stopped; the restart gap has no heartbeat and is UNKNOWN,
which neither extends nor breaks a run, exactly as the month report sees it. The gap is announced once,
already resolved, and only when it is at least ``live.restart_grace_s`` long (tracker docstring); a first
start (no saved state) announces nothing for the time before its first cycle.
"""

from __future__ import annotations

import json
import logging
from typing import Any
from zoneinfo import ZoneInfo

from slaprobe.config import Config
from slaprobe.configload import ConfigError
from slaprobe.live.events import EventSink
from slaprobe.live.sinks import JsonLinesSink, LogSink
from slaprobe.live.tracker import LiveTracker, StateError
from slaprobe.sla.maintenance import MaintenanceError, MaintenanceWindow, load_maintenance
from slaprobe.sla.rule import RuleError, rule_from_config
from slaprobe.terminal import Terminal

log = logging.getLogger("slaprobe.live")

STATE_NOTE = "live.state"


def maintenance_windows(config: Config) -> tuple[MaintenanceWindow, ...]:
    """The config's ``sla.maintenance`` windows; a bad file raises ConfigError naming file and entry."""
    sla = config.sla
    if not sla.maintenance:
        return ()
    try:
        return load_maintenance(config.resolve(sla.maintenance), ZoneInfo(sla.timezone))
    except MaintenanceError as exc:
        raise ConfigError(config.source or "config", [f"sla.maintenance: {exc}"]) from None


def reload_maintenance(tracker: LiveTracker, config: Config) -> None:
    """SIGHUP: announced work added since the start counts from now on; a broken file keeps the old
    windows (logged with the problem), it never stops probing."""
    try:
        tracker.maintenance = maintenance_windows(config)
    except ConfigError as exc:
        log.error("live: maintenance windows not reloaded, keeping the %d in use: %s",
                  len(tracker.maintenance), exc)  # fmt: skip


def build_tracker(config: Config, terminals: tuple[Terminal, ...] | list[Terminal]) -> LiveTracker:
    """The tracker for the config's SLA rule, time zone and maintenance windows (errors name the key)."""
    sla = config.sla
    try:
        rule = rule_from_config(sla)
    except RuleError as exc:
        raise ConfigError(config.source or "config", [f"sla: {exc}"]) from None
    windows = maintenance_windows(config)
    return LiveTracker(
        rule,
        terminals,
        timezone=sla.timezone,
        maintenance=windows,
        stale_s=config.live.stale_s,
        restart_grace_s=config.live.restart_grace_s,
    )


def default_sinks(config: Config) -> list[EventSink]:
    sinks: list[EventSink] = []
    if config.live.log_events:
        sinks.append(LogSink())
    if config.live.events_file:
        sinks.append(JsonLinesSink(config.resolve_state(config.live.events_file)))
    return sinks


def restore_state(tracker: LiveTracker, journal: Any) -> bool:
    """Continue from the state a previous run left in the journal; a state that does not fit (another
    rule, a damaged note) is logged and the runs start afresh (the report is unaffected either way)."""
    try:
        text = journal.get_note(STATE_NOTE)
    except Exception as exc:
        log.warning("live: cannot read the saved state from the journal (%s); starting afresh", exc)
        return False
    if not text:
        return False
    try:
        tracker.load(json.loads(text))
    except (StateError, json.JSONDecodeError) as exc:
        log.warning("live: saved state in journal note %s not used: %s; runs start afresh", STATE_NOTE, exc)
        return False
    opened = sum(1 for r in tracker.runs.values() if r.down)
    log.info("live: state restored (%d open outage(s), next interval %s)", opened, tracker.next_interval)
    return True


def save_state(tracker: LiveTracker, journal: Any) -> None:
    journal.set_note(STATE_NOTE, json.dumps(tracker.to_dict(), separators=(",", ":")))

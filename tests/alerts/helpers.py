"""Hand-built live events and dispatcher configs for the alert delivery tests."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

from slaprobe.config import Config, load_config
from slaprobe.live.events import EventKind, LiveEvent

NS = 1_000_000_000


def outage(
    terminal: str,
    *,
    region: str = "hangzhou",
    carrier: str = "telecom",
    firing: bool = True,
    start_ns: int | None = None,
    end_ns: int | None = None,
) -> LiveEvent:
    """A terminal outage as the tracker reports it: started 5 minutes ago unless told otherwise."""
    start = start_ns if start_ns is not None else (int(time.time()) - 300) * NS
    return LiveEvent(
        kind=EventKind.TERMINAL_OUTAGE,
        firing=firing,
        key=terminal,
        vantage="probe-t",
        start_ns=start,
        end_ns=end_ns if not firing else None,
        labels={
            "terminal": terminal,
            "carrier": carrier,
            "region": region,
            "level": "county",
            "tier": "standard",
            "vantage": "probe-t",
        },
        evidence={"loss": "1.00 1.00 1.00", "intervals": "3 x 60 s"},
        summary=f"{terminal} unreachable",
        at_ns=time.time_ns(),
    )


def probe_host(vantage: str = "probe-t", *, firing: bool = True) -> LiveEvent:
    return LiveEvent(
        kind=EventKind.PROBE_HOST,
        firing=firing,
        key=vantage,
        vantage=vantage,
        start_ns=(int(time.time()) - 120) * NS,
        end_ns=None if firing else int(time.time()) * NS,
        labels={"vantage": vantage},
        evidence={"reference_targets": "0/2 answered"},
        summary="reference targets failed",
        at_ns=time.time_ns(),
    )


def alert_config(state_dir: Path, receivers: list[dict[str, Any]], **alerts: Any) -> Config:
    """A validated config (as the daemon loads it) with test-sized timings patched in afterwards
    (the loader's minimums are for production: repeat_interval_s >= 60)."""
    cfg = load_config(None, {"state_dir": str(state_dir), "alerts": {"receivers": receivers}})
    fast = {"min_backoff_s": 0.1, "max_backoff_s": 0.4, "group_wait_s": 0.5} | alerts
    return dataclasses.replace(cfg, alerts=dataclasses.replace(cfg.alerts, **fast))


def with_receiver(cfg: Config, **changes: Any) -> Config:
    receivers = [dataclasses.replace(r, **changes) for r in cfg.alerts.receivers]
    return dataclasses.replace(cfg, alerts=dataclasses.replace(cfg.alerts, receivers=receivers))


def with_sla(cfg: Config, **changes: Any) -> Config:
    return dataclasses.replace(cfg, sla=dataclasses.replace(cfg.sla, **changes))

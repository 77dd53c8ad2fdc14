"""The daemon's configuration: YAML onto frozen dataclasses.

Every default lives in one place: here, or, for a probe kind's settings, in that engine's own settings
dataclass (which validates itself), so the engine and the config cannot disagree.

``config/slaprobe.example.yaml`` mirrors these classes option by option (a test keeps them in step), so
the sample file *is* the reference. Secrets (InfluxDB password/token) are never required in the config
file itself: each can come from an environment variable or a separate file readable only by the service.
"""

from __future__ import annotations

import ipaddress
import os
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from slaprobe.configload import ConfigError, load_dataclass, opt, read_yaml
from slaprobe.model import ProbeKind
from slaprobe.probes.icmp import IcmpJitterSettings, IcmpSettings
from slaprobe.probes.rtp import RtpSettings
from slaprobe.probes.stamp import StampSettings

DEFAULT_CONFIG_PATH = Path("/etc/slaprobe/slaprobe.yaml")
_BAD_VANTAGE_CHARS = " ,=\\\"'"  # the vantage is an InfluxDB tag value and a log field


@dataclass(frozen=True, slots=True)
class ProbesConfig:
    default: list[ProbeKind] = opt([ProbeKind.ICMP])  # probe kinds for terminals that name none
    intervals_s: dict[ProbeKind, float] = opt({})  # per-kind cycle length, e.g. {icmp-jitter: 300}
    icmp: IcmpSettings = field(default_factory=IcmpSettings)
    icmp_jitter: IcmpJitterSettings = field(
        default_factory=IcmpJitterSettings, metadata={"key": "icmp-jitter"}
    )
    rtp: RtpSettings = field(default_factory=RtpSettings)
    stamp: StampSettings = field(default_factory=StampSettings)


@dataclass(frozen=True, slots=True)
class GroupConfig:
    interval_s: float = opt(60.0, min=1.0, max=86_400.0)


@dataclass(frozen=True, slots=True)
class ScheduleConfig:
    interval_s: float = opt(60.0, min=1.0, max=86_400.0)  # cycle length for the default group
    groups: dict[str, GroupConfig] = opt({})  # e.g. {province: {interval_s: 30}}
    slot_ms: float = opt(100.0, min=10.0, max=10_000.0)  # granularity of the even spread
    spread: float = opt(0.9, min=0.1, max=1.0)  # fraction of the cycle over which starts are spread
    late_tolerance_ms: float = opt(1000.0, min=0.0)  # a start later than this counts as late
    reference_targets: list[str] = opt([])  # addresses that must answer for a cycle to count


@dataclass(frozen=True, slots=True)
class ShardConfig:
    """Which part of the inventory this probe host probes (several hosts share one inventory)."""

    index: int = opt(1, min=1)  # K in K/N
    count: int = opt(1, min=1)  # N in K/N
    regions: list[str] = opt([])  # alternatively: only these regions (empty = all)


@dataclass(frozen=True, slots=True)
class InfluxConfig:
    url: str = "http://127.0.0.1:8086"
    api: str = opt("auto", choices=("auto", "v1", "v2"))
    database: str = "slaprobe"  # v1 database (v2: mapped bucket of the same name by default)
    retention_policy: str = ""
    username: str = ""
    password: str = ""  # prefer password_env or password_file
    password_env: str = "SLAPROBE_INFLUX_PASSWORD"
    password_file: str = ""
    org: str = ""  # v2
    bucket: str = ""  # v2; empty = database/retention_policy
    token: str = ""  # prefer token_env or token_file
    token_env: str = "SLAPROBE_INFLUX_TOKEN"
    token_file: str = ""
    timeout_s: float = opt(10.0, min=0.1, max=600.0)
    verify_tls: bool = True
    gzip: bool = True  # compress writes (line protocol shrinks ~10x; costs a little CPU)

    def resolved_password(self) -> str:
        return resolve_secret(self.password, self.password_env, self.password_file)

    def resolved_token(self) -> str:
        return resolve_secret(self.token, self.token_env, self.token_file)


@dataclass(frozen=True, slots=True)
class ShipperConfig:
    batch_size: int = opt(5000, min=1, max=1_000_000)  # points per write
    min_backoff_s: float = opt(1.0, min=0.01, max=3600.0)  # first retry after ~this; doubles per failure
    max_backoff_s: float = opt(60.0, min=0.1, max=3600.0)
    poll_s: float = opt(2.0, min=0.05, max=600.0)  # look for new rows at least this often (wake() is sooner)
    journal_cap_mb: float = opt(4096.0, min=1.0)  # journal disk cap; rows already shipped are pruned first
    keep_shipped_days: float = opt(40.0, min=0.0)  # keep shipped rows this long; 0 = no age limit


@dataclass(frozen=True, slots=True)
class StoreConfig:
    kind: str = opt("embedded", choices=("embedded", "influx"))  # influx = journal + shipper to InfluxDB
    journal: str = "journal.sqlite"  # relative to state_dir
    # embedded store only (store/retention.py): raw samples of months that ended this long ago are
    # deleted, loudly; rollups and heartbeats stay. 0 = keep forever.
    retention_days: int = opt(0, min=0, max=3650)
    warn_mb: float = opt(8192.0, min=0.0)  # daily WARNING while the journal is larger; 0 = never
    # the columnar tier (store/columnar.py, store/compact.py): closed UTC days as Parquet, ~9 bytes/sample
    columnar_dir: str = "columnar"  # relative to state_dir
    compact: bool = True  # the daemon moves closed UTC days from the journal into the tier once a day
    compact_keep_days: int = opt(1, min=0, max=3650)  # closed UTC days left in the journal before that
    compact_every_h: float = opt(24.0, min=0.01)  # how often the daemon compacts (and applies retention)
    raw_days: int = opt(0, min=0, max=36500)  # tier: raw detail fields kept this many days (0 = forever)
    sla_days: int = opt(0, min=0, max=36500)  # tier: what the SLA report reads kept this long (0 = forever)


@dataclass(frozen=True, slots=True)
class SlaConfig:
    preset: str = opt("mef10.3", choices=("mef10.3", "y1540", "strict"))
    interval_s: int | None = opt(None, min=1)  # overrides the preset's Δt
    threshold: float | None = opt(None, min=0.0, max=1.0)  # overrides the preset's loss threshold C
    consecutive: int | None = opt(None, min=1)  # overrides the preset's n
    min_probes: int = opt(1, min=1)  # fewer packets sent in an interval -> UNKNOWN
    quorum: float = opt(0.5, min=0.0, max=1.0)  # share of measuring vantages that must see it down
    min_measured_share: float = opt(0.9, min=0.0, max=1.0)  # judged / (in service - maintenance) to be "met"
    timezone: str = "Asia/Shanghai"  # months are local calendar months
    maintenance: str = ""  # YAML file of announced maintenance windows
    contract: str = ""  # contract YAML (prices, targets, deductions)


@dataclass(frozen=True, slots=True)
class LogConfig:
    level: str = opt("info", choices=("debug", "info", "warning", "error"))
    format: str = opt("json", choices=("json", "text"))


@dataclass(frozen=True, slots=True)
class Config:
    vantage: str = "probe-1"  # this probe host's id, the `vantage` tag of every sample
    inventory: str = "/etc/slaprobe/terminals.csv"
    state_dir: str = "/var/lib/slaprobe"
    netns: str = ""  # probe from inside this network namespace (the lab); empty = current one
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    probes: ProbesConfig = field(default_factory=ProbesConfig)
    shard: ShardConfig = field(default_factory=ShardConfig)
    store: StoreConfig = field(default_factory=StoreConfig)
    influx: InfluxConfig = field(default_factory=InfluxConfig)
    shipper: ShipperConfig = field(default_factory=ShipperConfig)
    sla: SlaConfig = field(default_factory=SlaConfig)
    log: LogConfig = field(default_factory=LogConfig)
    source: str = field(default="", metadata={"key": "__source__"})  # where it was loaded from

    @property
    def journal_path(self) -> Path:
        return Path(self.state_dir) / self.store.journal

    @property
    def columnar_path(self) -> Path:
        return Path(self.state_dir) / self.store.columnar_dir

    def resolve(self, relative: str) -> Path:
        """Paths in the config are relative to the config file's folder."""
        p = Path(relative)
        if p.is_absolute() or not self.source:
            return p
        return Path(self.source).parent / p


def resolve_secret(inline: str, env: str, file: str) -> str:
    """Inline value, else the named environment variable, else the first line of the file."""
    if inline:
        return inline
    if env and os.environ.get(env):
        return os.environ[env]
    if file:
        try:
            return Path(file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(file, [f"cannot read secret file: {exc.strerror or exc}"]) from exc
    return ""


def load_config(path: str | Path | None = None, overrides: dict[str, Any] | None = None) -> Config:
    """Load and validate a config file (None = all defaults); every problem is reported at once."""
    data: Any = {}
    source = "(defaults)"
    if path is not None:
        source = str(path)
        data = read_yaml(path) or {}
        if not isinstance(data, dict):
            raise ConfigError(source, ["the file must be a YAML mapping of options"])
    data = dict(data)
    for key, value in (overrides or {}).items():
        data[key] = value
    problems: list[str] = []
    try:
        cfg = load_dataclass(Config, data, source)
    except ConfigError as exc:
        problems.extend(exc.problems)
        cfg = None
    if cfg is not None:
        if cfg.shard.index > cfg.shard.count:
            problems.append(f"shard.index: {cfg.shard.index} is larger than shard.count {cfg.shard.count}")
        problems.extend(_vantage_problems(cfg.vantage, "vantage"))
        problems.extend(_semantic_problems(cfg))
    if problems:
        raise ConfigError(source, problems)
    assert cfg is not None
    return replace(cfg, source=str(path) if path is not None else "")


def with_overrides(
    config: Config, *, vantage: str | None = None, shard: str | None = None, regions: Sequence[str] = ()
) -> Config:
    """Command-line overrides (``run --vantage --shard K/N --region``), validated like the file."""
    problems: list[str] = []
    if vantage is not None:
        config = replace(config, vantage=vantage)
        problems.extend(_vantage_problems(vantage, "--vantage"))
    if shard is not None:
        k, sep, n = shard.partition("/")
        if not (sep and k.isdigit() and n.isdigit() and 1 <= int(k) <= int(n)):
            problems.append(f"--shard: {shard!r} is not K/N with 1 <= K <= N (e.g. 2/3)")
        else:
            config = replace(config, shard=replace(config.shard, index=int(k), count=int(n)))
    if regions:
        config = replace(config, shard=replace(config.shard, regions=list(regions)))
    if problems:
        raise ConfigError("command line", problems)
    return config


def _semantic_problems(cfg: Config) -> list[str]:
    """Values whose type is right but whose meaning is not: caught at load, not at 3 a.m. in a report."""
    problems: list[str] = []
    for i, addr in enumerate(cfg.schedule.reference_targets):
        try:
            ipaddress.ip_address(addr)
        except ValueError:
            problems.append(f"schedule.reference_targets[{i}]: {addr!r} is not an IP address")
    try:
        ZoneInfo(cfg.sla.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        problems.append(f"sla.timezone: {cfg.sla.timezone!r} is not an IANA time zone (e.g. Asia/Shanghai)")
    url = urllib.parse.urlsplit(cfg.influx.url)
    try:
        port_ok = url.port is None or 0 < url.port < 65536
    except ValueError:
        port_ok = False
    if url.scheme not in ("http", "https") or not url.hostname or not port_ok:
        problems.append(f"influx.url: {cfg.influx.url!r} is not an http(s)://host[:port] URL")
    return problems


def _vantage_problems(vantage: str, where: str) -> list[str]:
    if vantage and not any(c in vantage for c in _BAD_VANTAGE_CHARS):
        return []
    return [f"{where}: {vantage!r} must be non-empty, without spaces, commas, quotes or '='"]

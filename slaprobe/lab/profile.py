"""The lab profile: which addresses the simulated network answers for and how badly each terminal behaves.

A profile is data (YAML or JSON, or built in memory with :meth:`LabProfile.build`), validated once into
frozen dataclasses so the responder's hot path never re-checks anything. Every error names the file, the
key path (``per_terminal.T0002.loss``) or row (``terminals[17]``) and what is wrong, because profiles for
thousands of terminals are generated and a vague error costs an afternoon.

Format (every key optional except where noted)::

    seed: 1                          # RNG seed; same seed + same traffic -> same fates
    block_v4: 198.18.0.0/16          # the lab answers for every address in these blocks
    block_v6: "2001:2:0:1::/64"
    terminals:                       # id -> address (mapping) or a list of {id, address}
      T0001: 198.18.0.1
    defaults: {delay_ms: 5}          # impairments for every address in the blocks
    ranges:                          # CIDR + impairments; more specific prefixes win, later rows win ties
      - {prefix: 198.18.1.0/24, loss: 0.2}
    per_terminal:                    # terminal id or address -> impairments (wins over ranges)
      T0002: {loss: 0.1}
    outages:                         # everything to these terminals is dropped during the window
      - {terminals: [T0001, 198.18.2.0/24], start_offset_s: 5, duration_s: 10}
      - {terminals: [T0003], start: "2024-05-01T00:00:00Z", duration_s: 60}
    udp: {862: "slaprobe.probes.reflector:stamp_stateless"}   # port -> module:function (port 7 = echo)
    icmp_unreachable: false          # answer UDP to a port without a handler with ICMP port unreachable

Impairment keys: ``loss`` and ``loss_rev`` (probabilities, forward/reverse path), ``delay_ms`` (round
trip; split half and half unless ``delay_fwd_ms``/``delay_rev_ms`` given; if only one direction is
given the other gets the rest of ``delay_ms``, floored at zero), ``jitter_ms`` (each direction
gets an independent uniform ±jitter_ms/2, never below zero), ``duplicate`` (probability the reply is
sent twice), ``reorder`` (probability the reply is held back ``reorder_ms``, default 10 ms).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from slaprobe.textio import TextEncodingError, read_text

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

DEFAULT_BLOCK_V4 = ipaddress.IPv4Network("198.18.0.0/16")
DEFAULT_BLOCK_V6 = ipaddress.IPv6Network("2001:2:0:1::/64")
SOURCE_V4 = ipaddress.IPv4Address("198.19.255.1")
SOURCE_V6 = ipaddress.IPv6Address("2001:2:ffff::1")
# Every lab address must stay inside the benchmarking ranges (RFC 2544 / RFC 5180): never real hosts.
ALLOWED_V4 = ipaddress.IPv4Network("198.18.0.0/15")
ALLOWED_V6 = ipaddress.IPv6Network("2001:2::/48")
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)

_PROBABILITIES = ("loss", "loss_rev", "duplicate", "reorder")
_DURATIONS = ("delay_ms", "delay_fwd_ms", "delay_rev_ms", "jitter_ms", "reorder_ms")
IMPAIRMENT_KEYS = frozenset(_PROBABILITIES + _DURATIONS)
_TOP_KEYS = frozenset(
    {"seed", "block_v4", "block_v6", "terminals", "defaults", "ranges", "per_terminal", "outages", "udp"}
    | {"icmp_unreachable"}
)


class ProfileError(ValueError):
    """A profile is invalid; the message names the source, the key path and the problem."""

    def __init__(self, source: str, where: str, problem: str) -> None:
        self.source, self.where, self.problem = source, where, problem
        super().__init__(f"{source}: {where}: {problem}" if where else f"{source}: {problem}")


@dataclass(frozen=True, slots=True)
class Impairment:
    """Fully resolved impairments of one terminal (all directions explicit, in milliseconds)."""

    loss: float = 0.0
    loss_rev: float = 0.0
    delay_fwd_ms: float = 0.0
    delay_rev_ms: float = 0.0
    jitter_ms: float = 0.0
    duplicate: float = 0.0
    reorder: float = 0.0
    reorder_ms: float = 10.0

    @classmethod
    def resolve(cls, merged: Mapping[str, float]) -> Impairment:
        """Turn merged (already validated) impairment keys into explicit per-direction values."""
        total = merged.get("delay_ms", 0.0)
        fwd = merged.get("delay_fwd_ms")
        rev = merged.get("delay_rev_ms")
        if fwd is None and rev is None:
            fwd = rev = total / 2
        elif fwd is None:
            fwd = max(0.0, total - rev)
        elif rev is None:
            rev = max(0.0, total - fwd)
        return cls(
            loss=merged.get("loss", 0.0),
            loss_rev=merged.get("loss_rev", 0.0),
            delay_fwd_ms=fwd,
            delay_rev_ms=rev,
            jitter_ms=merged.get("jitter_ms", 0.0),
            duplicate=merged.get("duplicate", 0.0),
            reorder=merged.get("reorder", 0.0),
            reorder_ms=merged.get("reorder_ms", 10.0),
        )


@dataclass(frozen=True, slots=True)
class RangeRule:
    prefix: IPNetwork
    impairments: Mapping[str, float]


@dataclass(frozen=True, slots=True)
class Outage:
    """A scripted blackout: ``targets`` are terminal ids, addresses or CIDR prefixes (as written)."""

    targets: tuple[str, ...]
    duration_s: float
    start: dt.datetime | None = None  # absolute, UTC
    start_offset_s: float | None = None  # relative to the lab's start

    def start_ns(self, t0_ns: int) -> int:
        if self.start is not None:  # integer arithmetic: a float timestamp could round a second away
            return (self.start - _EPOCH) // dt.timedelta(microseconds=1) * 1000
        return t0_ns + round((self.start_offset_s or 0.0) * 1e9)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"terminals": list(self.targets), "duration_s": self.duration_s}
        if self.start is not None:
            d["start"] = self.start.isoformat().replace("+00:00", "Z")
        else:
            d["start_offset_s"] = self.start_offset_s
        return d


@dataclass(frozen=True)
class LabProfile:
    """A validated lab profile. Build with :meth:`build`, :meth:`from_dict` or :func:`load_profile`."""

    seed: int = 0
    block_v4: ipaddress.IPv4Network = DEFAULT_BLOCK_V4
    block_v6: ipaddress.IPv6Network = DEFAULT_BLOCK_V6
    terminals: tuple[tuple[str, IPAddress], ...] = ()
    defaults: Mapping[str, float] = field(default_factory=dict)
    ranges: tuple[RangeRule, ...] = ()
    per_terminal: Mapping[IPAddress, Mapping[str, float]] = field(default_factory=dict)
    outages: tuple[Outage, ...] = ()
    udp: Mapping[int, str] = field(default_factory=dict)
    icmp_unreachable: bool = False

    @classmethod
    def build(
        cls,
        terminals: Iterable[tuple[str, str | IPAddress]] = (),
        defaults: Mapping[str, float] | None = None,
        per_terminal: Mapping[str, Mapping[str, float]] | None = None,
        ranges: Sequence[Mapping[str, Any]] = (),
        outages: Sequence[Mapping[str, Any]] = (),
        seed: int = 0,
        block_v4: str = str(DEFAULT_BLOCK_V4),
        block_v6: str = str(DEFAULT_BLOCK_V6),
        udp: Mapping[int, str] | None = None,
        icmp_unreachable: bool = False,
    ) -> LabProfile:
        """Validate an in-memory profile (same rules and errors as a file; source ``<profile>``)."""
        data = {
            "seed": seed,
            "block_v4": block_v4,
            "block_v6": block_v6,
            "terminals": [{"id": tid, "address": str(addr)} for tid, addr in terminals],
            "defaults": dict(defaults or {}),
            "ranges": [dict(r) for r in ranges],
            "per_terminal": {str(k): dict(v) for k, v in (per_terminal or {}).items()},
            "outages": [dict(o) for o in outages],
            "udp": dict(udp or {}),
            "icmp_unreachable": icmp_unreachable,
        }
        return cls.from_dict(data, source="<profile>")

    @classmethod
    def from_dict(cls, data: Any, source: str = "<profile>") -> LabProfile:
        return _Validator(source).profile(data)

    def to_dict(self) -> dict[str, Any]:
        """Plain data that :meth:`from_dict` turns back into an equal profile (used to hand it over)."""
        return {
            "seed": self.seed,
            "block_v4": str(self.block_v4),
            "block_v6": str(self.block_v6),
            "terminals": [{"id": tid, "address": str(a)} for tid, a in self.terminals],
            "defaults": dict(self.defaults),
            "ranges": [{"prefix": str(r.prefix), **r.impairments} for r in self.ranges],
            "per_terminal": {str(a): dict(v) for a, v in self.per_terminal.items()},
            "outages": [o.to_dict() for o in self.outages],
            "udp": {str(p): h for p, h in self.udp.items()},
            "icmp_unreachable": self.icmp_unreachable,
        }

    def address_of(self, terminal_id: str) -> IPAddress:
        for tid, addr in self.terminals:
            if tid == terminal_id:
                return addr
        raise KeyError(terminal_id)

    def merged_impairments(self, address: IPAddress | str) -> dict[str, float]:
        """The impairment keys that apply to one address: defaults < ranges (less specific first) <
        per-terminal, before the per-direction split."""
        addr = address if isinstance(address, IPAddress) else ipaddress.ip_address(address)
        merged = dict(self.defaults)
        for rule in self.ranges:  # sorted by prefix length at validation (stable: file order breaks ties)
            if addr.version == rule.prefix.version and addr in rule.prefix:
                merged.update(rule.impairments)
        merged.update(self.per_terminal.get(addr, {}))
        return merged

    def impairment_for(self, address: IPAddress | str) -> Impairment:
        """The resolved impairments of one address."""
        return Impairment.resolve(self.merged_impairments(address))


def profile_for_inventory(
    terminals: Iterable[tuple[str, str | IPAddress]],
    impairments: Mapping[str, Mapping[str, float]] | None = None,
    defaults: Mapping[str, float] | None = None,
    **kwargs: Any,
) -> LabProfile:
    """A profile for a list of (terminal id, address) pairs, with per-terminal impairments by id."""
    return LabProfile.build(terminals=terminals, defaults=defaults, per_terminal=impairments, **kwargs)


def load_profile(path: str | Path) -> LabProfile:
    """Read a YAML (``.yaml``/``.yml``) or JSON profile file and validate it."""
    p = Path(path)
    try:
        text = read_text(p)
    except OSError as exc:
        raise ProfileError(str(p), "", f"cannot read: {exc.strerror or exc}") from exc
    except TextEncodingError as exc:
        raise ProfileError(str(p), "", exc.problem) from None
    try:
        if p.suffix.lower() == ".json":
            data = json.loads(text)
        else:
            from slaprobe.configload import parse_yaml

            data = parse_yaml(text)
    except (ValueError, ImportError) as exc:  # json.JSONDecodeError and yaml.YAMLError
        raise ProfileError(str(p), "", f"not valid {p.suffix.lstrip('.') or 'YAML'}: {exc}") from exc
    except Exception as exc:  # yaml.YAMLError does not derive from ValueError
        raise ProfileError(str(p), "", f"not valid YAML: {exc}") from exc
    return LabProfile.from_dict(data if data is not None else {}, source=str(p))


class _Validator:
    """Turns plain data into a LabProfile, raising ProfileError with the exact key path on the first fault."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, where: str, problem: str) -> ProfileError:
        return ProfileError(self.source, where, problem)

    def profile(self, data: Any) -> LabProfile:
        if not isinstance(data, Mapping):
            raise self.fail("", f"the profile must be a mapping, got {type(data).__name__}")
        unknown = sorted(set(map(str, data)) - _TOP_KEYS)
        if unknown:
            raise self.fail(unknown[0], f"unknown key (known: {', '.join(sorted(_TOP_KEYS))})")
        seed = data.get("seed", 0)
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise self.fail("seed", f"must be an integer, got {seed!r}")
        block_v4 = self.network(data.get("block_v4", str(DEFAULT_BLOCK_V4)), "block_v4", 4)
        block_v6 = self.network(data.get("block_v6", str(DEFAULT_BLOCK_V6)), "block_v6", 6)
        if not block_v4.subnet_of(ALLOWED_V4) or SOURCE_V4 in block_v4:
            raise self.fail("block_v4", f"must lie inside {ALLOWED_V4} and not contain {SOURCE_V4}")
        if not block_v6.subnet_of(ALLOWED_V6) or SOURCE_V6 in block_v6:
            raise self.fail("block_v6", f"must lie inside {ALLOWED_V6} and not contain {SOURCE_V6}")
        blocks = (block_v4, block_v6)
        terminals = self.terminals(data.get("terminals", []), blocks)
        by_id = dict(terminals)
        defaults = self.impairments(data.get("defaults", {}), "defaults")
        ranges = self.ranges(data.get("ranges", []), blocks)
        per_terminal = self.per_terminal(data.get("per_terminal", {}), by_id, blocks)
        outages = self.outages(data.get("outages", []), by_id, blocks)
        udp = self.udp(data.get("udp", {}))
        unreach = data.get("icmp_unreachable", False)
        if not isinstance(unreach, bool):
            raise self.fail("icmp_unreachable", f"must be true or false, got {unreach!r}")
        profile = LabProfile(
            seed, block_v4, block_v6, terminals, defaults, ranges, per_terminal, outages, udp, unreach
        )
        return profile

    def network(self, value: Any, where: str, version: int) -> Any:
        try:
            net = ipaddress.ip_network(str(value), strict=True)
        except ValueError as exc:
            raise self.fail(where, f"not a valid network prefix: {exc}") from exc
        if net.version != version:
            raise self.fail(where, f"must be an IPv{version} prefix, got {value}")
        return net

    def address(self, value: Any, where: str, blocks: tuple[IPNetwork, ...]) -> IPAddress:
        try:
            addr = ipaddress.ip_address(str(value).strip())
        except ValueError as exc:
            raise self.fail(where, f"not a valid IP address: {value!r}") from exc
        if not any(addr.version == b.version and addr in b for b in blocks):
            raise self.fail(where, f"{addr} is outside the lab blocks {blocks[0]} and {blocks[1]}")
        return addr

    def terminals(self, value: Any, blocks: tuple[IPNetwork, ...]) -> tuple[tuple[str, IPAddress], ...]:
        rows: list[tuple[str, Any, str]] = []
        if isinstance(value, Mapping):
            rows = [(str(k), v, f"terminals.{k}") for k, v in value.items()]
        elif isinstance(value, list):
            for i, row in enumerate(value):
                if not isinstance(row, Mapping) or set(row) != {"id", "address"}:
                    raise self.fail(f"terminals[{i}]", "must be a mapping with exactly 'id' and 'address'")
                rows.append((str(row["id"]), row["address"], f"terminals[{i}]"))
        else:
            raise self.fail("terminals", "must be a mapping id -> address or a list of {id, address}")
        seen_ids: dict[str, str] = {}
        seen_addr: dict[IPAddress, str] = {}
        out = []
        for tid, addr_value, where in rows:
            if not tid.strip():
                raise self.fail(where, "terminal id is empty")
            addr = self.address(addr_value, where, blocks)
            if tid in seen_ids:
                raise self.fail(where, f"duplicate terminal id {tid!r} (first at {seen_ids[tid]})")
            if addr in seen_addr:
                raise self.fail(where, f"address {addr} already used by {seen_addr[addr]}")
            seen_ids[tid] = where
            seen_addr[addr] = tid
            out.append((tid, addr))
        return tuple(out)

    def impairments(self, value: Any, where: str) -> dict[str, float]:
        if not isinstance(value, Mapping):
            raise self.fail(where, f"impairments must be a mapping, got {type(value).__name__}")
        out: dict[str, float] = {}
        for key, v in value.items():
            path = f"{where}.{key}"
            if key not in IMPAIRMENT_KEYS:
                raise self.fail(path, f"unknown impairment (known: {', '.join(sorted(IMPAIRMENT_KEYS))})")
            if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
                raise self.fail(path, f"must be a number, got {v!r}")
            if key in _PROBABILITIES and not 0.0 <= v <= 1.0:
                raise self.fail(path, f"is a probability and must be within [0, 1], got {v}")
            if key in _DURATIONS and v < 0:
                raise self.fail(path, f"is a duration in ms and must not be negative, got {v}")
            out[str(key)] = float(v)
        return out

    def ranges(self, value: Any, blocks: tuple[IPNetwork, ...]) -> tuple[RangeRule, ...]:
        if not isinstance(value, list):
            raise self.fail("ranges", "must be a list of {prefix, <impairments>}")
        rules = []
        for i, row in enumerate(value):
            where = f"ranges[{i}]"
            if not isinstance(row, Mapping) or "prefix" not in row:
                raise self.fail(where, "must be a mapping with a 'prefix' and impairments")
            try:
                prefix = ipaddress.ip_network(str(row["prefix"]), strict=True)
            except ValueError as exc:
                raise self.fail(f"{where}.prefix", f"not a valid network prefix: {exc}") from exc
            if not any(prefix.version == b.version and prefix.subnet_of(b) for b in blocks):  # type: ignore[arg-type]
                raise self.fail(f"{where}.prefix", f"{prefix} is outside the lab blocks")
            imp = self.impairments({k: v for k, v in row.items() if k != "prefix"}, where)
            rules.append(RangeRule(prefix, imp))
        rules.sort(key=lambda r: r.prefix.prefixlen)  # stable: file order breaks ties, later wins
        return tuple(rules)

    def per_terminal(
        self, value: Any, by_id: Mapping[str, IPAddress], blocks: tuple[IPNetwork, ...]
    ) -> dict[IPAddress, dict[str, float]]:
        if not isinstance(value, Mapping):
            raise self.fail("per_terminal", "must be a mapping terminal id or address -> impairments")
        out: dict[IPAddress, dict[str, float]] = {}
        for key, imp in value.items():
            where = f"per_terminal.{key}"
            addr = by_id.get(str(key))
            if addr is None:
                try:
                    addr = self.address(key, where, blocks)
                except ProfileError:
                    raise self.fail(where, "neither a listed terminal id nor a lab address") from None
            if addr in out:
                raise self.fail(where, f"{addr} is given twice (by id and by address)")
            out[addr] = self.impairments(imp, where)
        return out

    def outages(
        self, value: Any, by_id: Mapping[str, IPAddress], blocks: tuple[IPNetwork, ...]
    ) -> tuple[Outage, ...]:
        if not isinstance(value, list):
            raise self.fail("outages", "must be a list of {terminals, start | start_offset_s, duration_s}")
        out = []
        for i, row in enumerate(value):
            where = f"outages[{i}]"
            if not isinstance(row, Mapping):
                raise self.fail(where, "must be a mapping")
            extra = set(row) - {"terminals", "start", "start_offset_s", "duration_s"}
            if extra:
                raise self.fail(f"{where}.{sorted(extra)[0]}", "unknown key")
            targets = row.get("terminals")
            if isinstance(targets, str):
                targets = [targets]
            if not isinstance(targets, list) or not targets:
                raise self.fail(f"{where}.terminals", "must be a non-empty list of ids, addresses or CIDRs")
            for j, t in enumerate(targets):
                self.target(str(t), f"{where}.terminals[{j}]", by_id, blocks)
            if ("start" in row) == ("start_offset_s" in row):
                raise self.fail(where, "give exactly one of 'start' (ISO-8601 UTC) or 'start_offset_s'")
            start = offset = None
            if "start" in row:
                start = self.timestamp(row["start"], f"{where}.start")
            else:
                offset = self.number(row["start_offset_s"], f"{where}.start_offset_s", allow_negative=True)
            duration = self.number(row.get("duration_s"), f"{where}.duration_s")
            if duration <= 0:
                raise self.fail(f"{where}.duration_s", "must be positive")
            out.append(Outage(tuple(str(t) for t in targets), duration, start, offset))
        return tuple(out)

    def target(
        self, t: str, where: str, by_id: Mapping[str, IPAddress], blocks: tuple[IPNetwork, ...]
    ) -> None:
        if t in by_id:
            return
        try:
            net = ipaddress.ip_network(t, strict=True)
        except ValueError:
            raise self.fail(where, f"{t!r} is neither a listed terminal id, an address nor a CIDR") from None
        if not any(net.version == b.version and net.subnet_of(b) for b in blocks):  # type: ignore[arg-type]
            raise self.fail(where, f"{t} is outside the lab blocks")

    def timestamp(self, value: Any, where: str) -> dt.datetime:
        if isinstance(value, dt.datetime):
            ts = value
        else:
            try:
                ts = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
            except ValueError as exc:
                raise self.fail(where, f"not an ISO-8601 timestamp: {value!r}") from exc
        if ts.tzinfo is None or ts.utcoffset() != dt.timedelta(0):
            raise self.fail(where, f"must be UTC (end with Z or +00:00), got {value!r}")
        return ts.astimezone(dt.UTC)

    def number(self, value: Any, where: str, allow_negative: bool = False) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise self.fail(where, f"must be a number, got {value!r}")
        if value < 0 and not allow_negative:
            raise self.fail(where, f"must not be negative, got {value}")
        return float(value)

    def udp(self, value: Any) -> dict[int, str]:
        if not isinstance(value, Mapping):
            raise self.fail("udp", "must be a mapping port -> 'module:function'")
        out = {}
        for port, spec in value.items():
            where = f"udp.{port}"
            try:
                p = int(port)
            except (TypeError, ValueError):
                raise self.fail(where, "port must be an integer") from None
            if not 0 < p < 65536:
                raise self.fail(where, "port must be within 1..65535")
            if not isinstance(spec, str) or spec.count(":") != 1 or not all(spec.split(":")):
                raise self.fail(where, f"handler must be 'module:function', got {spec!r}")
            out[p] = spec
        return out

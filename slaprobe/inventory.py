"""The inventory: which terminals exist, where they are, who carries them and since when.

Two formats, one validator: CSV (what a spreadsheet exports) and YAML (a ``terminals:`` list, optionally
with ``carriers:`` and ``tiers:`` declaring the allowed values). Loading is all-or-nothing: every bad row
is reported at once (file, row, column, problem) and nothing is half-loaded, because a silently dropped
terminal is a terminal the carrier is paid for and nobody measures.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import ipaddress
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from slaprobe.configload import ConfigError, read_yaml
from slaprobe.model import ProbeKind
from slaprobe.terminal import Level, Terminal
from slaprobe.textio import TextEncodingError, read_text

DEFAULT_CARRIERS: dict[str, str] = {"telecom": "China Telecom", "unicom": "China Unicom"}
DEFAULT_TIERS: tuple[str, ...] = ("premium", "standard", "basic")

CSV_COLUMNS: tuple[str, ...] = (
    "id",
    "name",
    "address",
    "carrier",
    "region",
    "level",
    "tier",
    "in_service_from",
    "in_service_to",
    "reflector",
    "probes",
    "group",
    "tags",
)
REQUIRED_COLUMNS = frozenset({"id", "address", "carrier", "region", "level", "tier", "in_service_from"})


class InventoryError(ConfigError):
    """Every problem of an inventory file, each naming its row (and column)."""


@dataclass(frozen=True)
class Inventory:
    terminals: tuple[Terminal, ...]
    carriers: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_CARRIERS))
    tiers: tuple[str, ...] = DEFAULT_TIERS
    source: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_id", {t.id: t for t in self.terminals})

    def __len__(self) -> int:
        return len(self.terminals)

    def __iter__(self) -> Iterator[Terminal]:
        return iter(self.terminals)

    def get(self, terminal_id: str) -> Terminal | None:
        return self._by_id.get(terminal_id)  # type: ignore[attr-defined]

    def open_on(self, day: dt.date) -> list[Terminal]:
        return [t for t in self.terminals if t.in_service_on(day)]

    def tags(self) -> dict[str, dict[str, str]]:
        """The low-cardinality tags stored with every sample of a terminal."""
        return {
            t.id: {"carrier": t.carrier, "region": t.region, "level": t.level.value, "tier": t.tier}
            for t in self.terminals
        }

    def select(self, shard_index: int = 1, shard_count: int = 1, regions: Iterable[str] = ()) -> Inventory:
        """This probe host's part: a stable K/N shard and/or a set of regions.

        Sharding is by a stable hash of the terminal id (not by row position), so adding a row to the
        file does not move every other terminal to another host.
        """
        wanted = set(regions)
        chosen = tuple(
            t
            for t in self.terminals
            if (not wanted or t.region in wanted) and shard_of(t.id, shard_count) == shard_index
        )
        return Inventory(chosen, self.carriers, self.tiers, self.source)


def shard_of(terminal_id: str, count: int) -> int:
    """1-based shard of a terminal id: FNV-1a, stable across Python runs and hosts."""
    if count <= 1:
        return 1
    h = 0xCBF29CE484222325
    for byte in terminal_id.encode():
        h = ((h ^ byte) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h % count + 1


def load_inventory(path: str | Path) -> Inventory:
    """Load a CSV or YAML inventory; raise InventoryError listing every bad row."""
    p = Path(path)
    if p.suffix.lower() in (".yaml", ".yml"):
        data = read_yaml(p)
        if not isinstance(data, dict) or not isinstance(data.get("terminals"), list):
            raise InventoryError(str(p), ["expected a mapping with a 'terminals:' list"])
        carriers = data.get("carriers") or DEFAULT_CARRIERS
        tiers = data.get("tiers") or DEFAULT_TIERS
        problems: list[str] = []
        if not isinstance(carriers, dict):
            problems.append("carriers: expected a mapping of id: display name")
            carriers = DEFAULT_CARRIERS
        if not isinstance(tiers, list | tuple):
            problems.append("tiers: expected a list of tier names")
            tiers = DEFAULT_TIERS
        unknown = set(data) - {"terminals", "carriers", "tiers"}
        problems.extend(f"{k}: unknown key (allowed: carriers, tiers, terminals)" for k in sorted(unknown))
        rows = [(f"terminals[{i}]", r) for i, r in enumerate(data["terminals"])]
        return _validate(str(p), rows, dict(carriers), tuple(str(t) for t in tiers), problems)
    try:
        text = read_text(p)  # UTF-8 (BOM or not), UTF-16 with BOM, or GB18030 (Chinese Excel)
    except TextEncodingError as exc:
        raise InventoryError(str(p), [exc.problem]) from None
    except OSError as exc:
        raise InventoryError(str(p), [f"cannot read: {exc.strerror or exc}"]) from exc
    try:
        with io.StringIO(text, newline="") as fh:
            reader = csv.DictReader(fh)
            header = reader.fieldnames or []
            problems = []
            missing = REQUIRED_COLUMNS - set(header)
            if missing:
                raise InventoryError(str(p), [f"header: missing column(s) {', '.join(sorted(missing))}"])
            unknown_cols = [c for c in header if c not in CSV_COLUMNS]
            if unknown_cols:
                problems.append(f"header: unknown column(s) {', '.join(unknown_cols)}")
            rows = [(f"row {n}", dict(r)) for n, r in enumerate(reader, start=2)]
    except OSError as exc:
        raise InventoryError(str(p), [f"cannot read: {exc.strerror or exc}"]) from exc
    return _validate(str(p), rows, DEFAULT_CARRIERS, DEFAULT_TIERS, problems, csv_header=header)


def _validate(
    source: str,
    rows: Sequence[tuple[str, Any]],
    carriers: Mapping[str, str],
    tiers: tuple[str, ...],
    problems: list[str],
    csv_header: Sequence[str] | None = None,
) -> Inventory:
    terminals: list[Terminal] = []
    seen_ids: dict[str, str] = {}
    seen_addr: dict[str, str] = {}
    for where, raw in rows:
        row_problems: list[str] = []
        if not isinstance(raw, dict):
            problems.append(f"{where}: expected a mapping of terminal fields")
            continue
        term = _parse_row(raw, carriers, tiers, row_problems, check_keys=csv_header is None)
        tid = _text(raw, "id")
        if tid and tid in seen_ids:
            row_problems.append(f"id: duplicate id {tid!r} (first at {seen_ids[tid]})")
        elif tid:
            seen_ids[tid] = where
        addr = str(term.address) if term else _text(raw, "address")
        if addr and addr in seen_addr:
            row_problems.append(f"address: duplicate address {addr} (first at {seen_addr[addr]})")
        elif addr:
            seen_addr[addr] = where
        if term is not None:
            terminals.append(term)
        problems.extend(f"{where}: {p}" for p in row_problems)
    if problems:
        raise InventoryError(source, problems)
    return Inventory(tuple(terminals), dict(carriers), tiers, source)


def _text(raw: Mapping[str, Any], key: str) -> str:
    value = raw.get(key)
    return "" if value is None else str(value).strip()


def _parse_row(
    raw: Mapping[str, Any],
    carriers: Mapping[str, str],
    tiers: tuple[str, ...],
    problems: list[str],
    *,
    check_keys: bool,
) -> Terminal | None:
    if check_keys:  # CSV reports unknown columns once, in the header
        problems.extend(f"{key}: unknown field" for key in raw if key not in CSV_COLUMNS)
    for key in sorted(REQUIRED_COLUMNS):
        if not _text(raw, key):
            problems.append(f"{key}: required, empty")
    tid = _text(raw, "id")
    for key in ("id", "region", "carrier", "tier", "group"):
        value = _text(raw, key)
        if "\\" in value or any(ord(c) < 32 for c in value):
            # these become InfluxDB tags: a backslash or control character has no portable encoding
            problems.append(f"{key}: {value!r} must not contain a backslash or control characters")
    address = None
    if _text(raw, "address"):
        try:
            address = ipaddress.ip_address(_text(raw, "address"))
        except ValueError:
            problems.append(f"address: {_text(raw, 'address')!r} is not an IPv4 or IPv6 address")
    carrier = _text(raw, "carrier")
    if carrier and carrier not in carriers:
        problems.append(f"carrier: unknown carrier {carrier!r} (known: {', '.join(carriers)})")
    tier = _text(raw, "tier")
    if tier and tier not in tiers:
        problems.append(f"tier: unknown tier {tier!r} (known: {', '.join(tiers)})")
    level = None
    if _text(raw, "level"):
        try:
            level = Level(_text(raw, "level"))
        except ValueError:
            problems.append(
                f"level: unknown level {_text(raw, 'level')!r} (known: {', '.join(v.value for v in Level)})"
            )
    start = _date(raw, "in_service_from", problems)
    end = _date(raw, "in_service_to", problems)
    if start and end and end < start:
        problems.append(f"in_service_to: {end} is before in_service_from {start}")
    reflector = None
    if _text(raw, "reflector"):
        reflector = _reflector(_text(raw, "reflector"), problems)
    probes: list[ProbeKind] = []
    raw_probes = raw.get("probes")
    names = raw_probes if isinstance(raw_probes, list) else _text(raw, "probes").replace(";", " ").split()
    for name in names:
        try:
            probes.append(ProbeKind(str(name).strip()))
        except ValueError:
            problems.append(
                f"probes: unknown probe kind {name!r} (known: {', '.join(k.value for k in ProbeKind)})"
            )
    tags = _tags(raw.get("tags"), problems)
    if problems or address is None or level is None or start is None:
        return None
    return Terminal(
        id=tid,
        name=_text(raw, "name") or tid,
        address=address,
        carrier=carrier,
        region=_text(raw, "region"),
        level=level,
        tier=tier,
        in_service_from=start,
        in_service_to=end,
        reflector=reflector,
        probes=tuple(probes),
        group=_text(raw, "group") or "default",
        tags=tags,
    )


def _date(raw: Mapping[str, Any], key: str, problems: list[str]) -> dt.date | None:
    value = raw.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError:
        problems.append(f"{key}: {value!r} is not a date YYYY-MM-DD")
        return None


def _reflector(text: str, problems: list[str]) -> tuple[str, int | None] | None:
    """``addr``, ``addr:port``, ``[v6]`` or ``[v6]:port``; no port = each probe kind's configured port."""
    host, port = text, None
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else (None if not rest else "bad")
    elif text.count(":") == 1:
        host, _, port = text.partition(":")
    try:
        ipaddress.ip_address(host)
        number = None if port is None else int(port)
        if number is not None and not 0 < number < 65536:
            raise ValueError
    except ValueError:
        problems.append(f"reflector: {text!r} is not address[:port] (IPv6 as [addr]:port)")
        return None
    return host, number


def _tags(value: Any, problems: list[str]) -> dict[str, str]:
    if value is None or value == "":
        return {}
    if isinstance(value, dict):
        return {str(k): str(v) for k, v in value.items()}
    out: dict[str, str] = {}
    for part in str(value).split(";"):
        if not part.strip():
            continue
        key, sep, val = part.partition("=")
        if not sep or not key.strip():
            problems.append(f"tags: {part!r} is not key=value (separate tags with ';')")
            continue
        out[key.strip()] = val.strip()
    return out


def write_csv(terminals: Iterable[Terminal], path: str | Path) -> None:
    """Write an inventory in the CSV format ``load_inventory`` reads."""
    with Path(path).open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(CSV_COLUMNS)
        for t in terminals:
            w.writerow(
                [
                    t.id,
                    t.name,
                    str(t.address),
                    t.carrier,
                    t.region,
                    t.level.value,
                    t.tier,
                    t.in_service_from.isoformat(),
                    t.in_service_to.isoformat() if t.in_service_to else "",
                    _format_reflector(t.reflector),
                    " ".join(k.value for k in t.probes),
                    "" if t.group == "default" else t.group,
                    ";".join(f"{k}={v}" for k, v in t.tags.items()),
                ]
            )


def _format_reflector(reflector: tuple[str, int | None] | None) -> str:
    if reflector is None:
        return ""
    host, port = reflector
    if port is None:
        return host
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


@dataclass(frozen=True)
class InventorySummary:
    total: int
    open: int
    not_yet_open: int
    retired: int
    by: dict[str, Counter[str]]


def summarize(inventory: Inventory, day: dt.date) -> InventorySummary:
    """Counts by carrier, region, level, tier and open/not-yet-open/retired on ``day``."""
    by: dict[str, Counter[str]] = {k: Counter() for k in ("carrier", "region", "level", "tier")}
    open_n = not_yet = retired = 0
    for t in inventory:
        if t.in_service_on(day):
            open_n += 1
        elif day < t.in_service_from:
            not_yet += 1
        else:
            retired += 1
        by["carrier"][t.carrier] += 1
        by["region"][t.region] += 1
        by["level"][t.level.value] += 1
        by["tier"][t.tier] += 1
    return InventorySummary(len(inventory), open_n, not_yet, retired, by)

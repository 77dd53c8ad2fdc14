"""InfluxDB line protocol for slaprobe's schema: which tag and field each value becomes, and the escaping.

The field types are fixed by name here, not guessed from the Python value: InfluxDB fixes a field's type
per shard on its first write and rejects later points with another type ("field type conflict"), so an
``rtt_avg_ms`` that happened to be the int ``5`` must still go out as the float ``5.0``.

Escaping follows the line-protocol rules all InfluxDB generations share:

* measurement: ``,`` and space are escaped;
* tag keys, tag values, field keys: ``,``, ``=`` and space are escaped;
* string field values: ``"`` and ``\\`` are escaped, the value is double-quoted.

Three things have no portable encoding and are refused with :class:`LineProtocolError` (naming the tag
and the value) instead of being written differently by different servers: a backslash in a tag value
(1.x keeps ``\\\\`` as two characters, 2.x unescapes it to one, so a terminal id would differ between
generations and a trailing one swallows the next delimiter), a newline or carriage return anywhere, and
non-finite floats. Empty tag values are left out of the point (InfluxDB rejects ``tag=``); ``None`` fields
are left out (absent, not zero). The inventory loader should refuse such ids up front so this never
fires in the shipper.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence

from slaprobe.model import NS_PER_MS, Heartbeat, Sample

PRECISION = "ms"  # written as ?precision=ms; see influx.py for why milliseconds
SAMPLE_TAGS: tuple[str, ...] = ("terminal", "vantage", "carrier", "region", "level", "tier")
HEARTBEAT_TAGS: tuple[str, ...] = ("vantage", "group")
HEARTBEAT_MEASUREMENT = "heartbeat"

# field name -> line-protocol type ("i" integer, "f" float, "s" string)
SAMPLE_FIELDS: dict[str, str] = {
    "sent": "i",
    "received": "i",
    "lost": "i",  # sent - received, precomputed so InfluxQL can filter WHERE lost > 0
    "duplicates": "i",
    "reordered": "i",
    "late": "i",
    "max_loss_burst": "i",
    "malformed": "i",  # replies that did not parse; absent in older points = 0
    "rtt_min_ms": "f",
    "rtt_avg_ms": "f",
    "rtt_max_ms": "f",
    "rtt_p50_ms": "f",
    "jitter_ms": "f",
    "jitter_rfc3550_ms": "f",
    "pdv_ms": "f",
    "loss_fwd": "f",
    "loss_rev": "f",
    "jitter_fwd_ms": "f",
    "jitter_rev_ms": "f",
    "r_factor": "f",
    "mos": "f",
    "error": "s",
    "malformed_reason": "s",  # absent unless a reply did not parse
}
HEARTBEAT_FIELDS: dict[str, str] = {
    "interval_s": "f",
    "due": "i",
    "probed": "i",
    "late": "i",
    "skipped": "i",
    "duration_s": "f",
    "reference_ok": "i",
    "reference_total": "i",
    "unstored": "i",  # samples of the cycle the store refused; absent in older points = 0
}

_MEAS_ESC = str.maketrans({",": "\\,", " ": "\\ "})
_KEY_ESC = str.maketrans({",": "\\,", "=": "\\=", " ": "\\ "})
_STR_ESC = str.maketrans({"\\": "\\\\", '"': '\\"'})


class LineProtocolError(ValueError):
    """A value that cannot be written portably; the message names the key and the value."""


def _check_text(what: str, value: str) -> None:
    if "\n" in value or "\r" in value:
        raise LineProtocolError(f"{what} {value!r}: newlines cannot be written in line protocol")


def escape_measurement(name: str) -> str:
    _check_text("measurement", name)
    if not name:
        raise LineProtocolError("measurement name is empty")
    return name.translate(_MEAS_ESC)


def escape_tag(key: str, value: str) -> str:
    """``key=value`` with both escaped; refuses what different InfluxDB generations would read differently."""
    _check_text(f"tag {key}", value)
    if "\\" in value or "\\" in key:
        raise LineProtocolError(
            f"tag {key}={value!r}: a backslash in a tag is read differently by InfluxDB 1.x and 2.x"
        )
    return f"{key.translate(_KEY_ESC)}={value.translate(_KEY_ESC)}"


def series_key(measurement: str, tags: Iterable[tuple[str, str | None]]) -> str:
    """Measurement plus sorted tag set, the part of a line shared by every point of one series.

    Tags with an empty or ``None`` value are left out. Sorted keys are what InfluxDB stores anyway and
    make the same series encode to the same bytes (cacheable per journal series).
    """
    parts = [escape_measurement(measurement)]
    for key, value in sorted(tags):
        if value is None or value == "":
            continue
        parts.append(escape_tag(key, str(value)))
    return ",".join(parts)


def _field(name: str, kind: str, value: object) -> str:
    """One ``name=value`` of the given line-protocol type."""
    if kind == "i":
        return f"{name}={int(value)}i"  # type: ignore[call-overload]
    if kind == "f":
        f = float(value)  # type: ignore[arg-type]
        if not math.isfinite(f):
            raise LineProtocolError(f"field {name}={f!r}: InfluxDB cannot store NaN or infinity")
        return f"{name}={f!r}"
    text = str(value)
    _check_text(f"field {name}", text)
    return f'{name}="{text.translate(_STR_ESC)}"'


def _field_set(fields: list[str]) -> str:
    if not fields:
        raise LineProtocolError("a point needs at least one field; all were None")
    return ",".join(fields)


def encode_fields(values: Mapping[str, object], types: Mapping[str, str]) -> str:
    """The field set in ``types`` order; ``None`` and unknown names skipped; at least one field required."""
    return _field_set([_field(n, k, v) for n, k in types.items() if (v := values.get(n)) is not None])


def stored_fields_encoder(
    columns: Sequence[str], zero_if_null: Iterable[str] = ()
) -> Callable[[Sequence[object]], str]:
    """A fast field-set encoder for sample rows as a store keeps them (one value per name in ``columns``).

    Why: the shipper replays backlogs of millions of rows; building a :class:`Sample` and a dict per row
    cost more than InfluxDB's own parsing. The result is byte-identical to
    ``encode_fields(sample_fields(sample), SAMPLE_FIELDS)`` for the sample the row stores (a test holds
    the two to that), so a point re-sent after a crash still overwrites itself. ``lost`` and ``error``
    must be among ``columns``; names in ``zero_if_null`` read ``NULL`` as 0 (what the store's reader
    does for counters that older rows lack).
    """
    index = {name: i for i, name in enumerate(columns)}
    missing = [name for name in SAMPLE_FIELDS if name not in index]
    if missing:
        raise ValueError(f"stored columns lack sample field(s) {', '.join(missing)}")
    zero = frozenset(zero_if_null)
    plan = [(index[name], name, kind, name in zero) for name, kind in SAMPLE_FIELDS.items()]

    def encode(row: Sequence[object]) -> str:
        return _field_set(
            [
                _field(name, kind, 0 if v is None else v)
                for i, name, kind, zero_null in plan
                if (v := row[i]) is not None or zero_null
            ]
        )

    return encode


def sample_fields(sample: Sample) -> dict[str, object]:
    """The field values of one sample (``lost`` derived, enums as their values)."""
    values: dict[str, object] = {name: getattr(sample, name, None) for name in SAMPLE_FIELDS}
    values["lost"] = max(sample.sent - sample.received, 0)
    values["error"] = sample.error.value
    return values


def sample_tags(sample: Sample, extra: Mapping[str, str | None]) -> list[tuple[str, str | None]]:
    """terminal and vantage from the sample, carrier/region/level/tier from the inventory row."""
    tags: list[tuple[str, str | None]] = [("terminal", sample.terminal), ("vantage", sample.vantage)]
    tags.extend((k, extra.get(k)) for k in SAMPLE_TAGS[2:])
    return tags


def time_ms(time_ns: int) -> int:
    """Nanoseconds to the written millisecond (floor; sample times are after 1970)."""
    return time_ns // NS_PER_MS


def sample_line(sample: Sample, tags: Mapping[str, str | None], key: str | None = None) -> str:
    """One sample as a line; ``key`` is a precomputed :func:`series_key` (the shipper caches it)."""
    if key is None:
        key = series_key(sample.kind.measurement, sample_tags(sample, tags))
    return f"{key} {encode_fields(sample_fields(sample), SAMPLE_FIELDS)} {time_ms(sample.time_ns)}"


def heartbeat_line(hb: Heartbeat) -> str:
    key = series_key(HEARTBEAT_MEASUREMENT, [("vantage", hb.vantage), ("group", hb.group)])
    values = {name: getattr(hb, name) for name in HEARTBEAT_FIELDS}
    return f"{key} {encode_fields(values, HEARTBEAT_FIELDS)} {time_ms(hb.time_ns)}"

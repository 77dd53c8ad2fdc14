"""Time parsing for the CLI and reports: ISO instants, relative ages, calendar months in a timezone."""

from __future__ import annotations

import datetime as dt
import re

from slaprobe.model import NS_PER_S

_AGE = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhd])$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_time(text: str, now_ns: int) -> int:
    """``30m`` / ``6h`` / ``2d`` (age before now) or an ISO date/date-time (UTC unless it says) → ns."""
    text = text.strip()
    m = _AGE.match(text)
    if m:
        return now_ns - int(float(m.group(1)) * _UNIT_S[m.group(2)] * NS_PER_S)
    try:
        when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{text!r} is neither an age (30m, 6h, 2d) nor an ISO date/time") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return to_ns(when)


def to_ns(when: dt.datetime) -> int:
    """Exact integer ns of an aware datetime (no float rounding)."""
    delta = when - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    return (delta.days * 86400 + delta.seconds) * NS_PER_S + delta.microseconds * 1000

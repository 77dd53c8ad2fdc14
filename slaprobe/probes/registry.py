"""Which engine measures which probe kind: two explicit dicts, no registration by import side effect.

``SETTINGS[kind]`` is the frozen settings dataclass (its defaults are the documented defaults, which
``config.py`` maps YAML onto); ``ENGINES[kind](settings)`` builds the engine. A module adding a probe kind
adds one line to each dict here. Kept apart from ``base.py`` so that the interface module imports no
engine (engines import the interface).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slaprobe.model import ProbeKind
from slaprobe.probes.base import ProbeEngine
from slaprobe.probes.icmp import IcmpEngine, IcmpJitterSettings, IcmpSettings
from slaprobe.probes.rtp import RtpEngine, RtpSettings
from slaprobe.probes.stamp import StampEngine, StampSettings

SETTINGS: dict[ProbeKind, type[Any]] = {
    ProbeKind.ICMP: IcmpSettings,
    ProbeKind.ICMP_JITTER: IcmpJitterSettings,
    ProbeKind.RTP: RtpSettings,
    ProbeKind.STAMP: StampSettings,
}

ENGINES: dict[ProbeKind, Callable[[Any], ProbeEngine]] = {
    ProbeKind.ICMP: IcmpEngine,
    ProbeKind.ICMP_JITTER: IcmpEngine,
    ProbeKind.RTP: RtpEngine,
    ProbeKind.STAMP: StampEngine,
}


def make_engine(kind: ProbeKind, settings: Any = None) -> ProbeEngine:
    """Build the engine for ``kind`` with ``settings`` (default: that kind's default settings)."""
    try:
        factory = ENGINES[kind]
    except KeyError:
        known = ", ".join(k.value for k in ENGINES)
        raise ValueError(f"no probe engine for kind {kind!r} (known: {known})") from None
    return factory(settings if settings is not None else SETTINGS[kind]())

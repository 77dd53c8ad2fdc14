"""slaprobe: measures whether a carrier delivered the link availability it is paid for."""

from __future__ import annotations

from slaprobe.model import Heartbeat, Outcome, ProbeKind, Sample
from slaprobe.terminal import Level, Terminal

__version__ = "0.1.0"

__all__ = ["Heartbeat", "Level", "Outcome", "ProbeKind", "Sample", "Terminal", "__version__"]

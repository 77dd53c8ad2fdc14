"""Sample stores: the embedded SQLite journal (default, and the durable spool) and InfluxDB."""

from __future__ import annotations

from slaprobe.store.base import Store

__all__ = ["Store"]

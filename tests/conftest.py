"""Shared fixtures. Each real part the tests start (the TUN lab, influxd) lives in its own plugin module
under tests/fixtures so the fixtures stay findable and independent."""

from __future__ import annotations

pytest_plugins = [
    "tests.fixtures.lab",
    "tests.fixtures.influx",
    "tests.fixtures.stores",
]

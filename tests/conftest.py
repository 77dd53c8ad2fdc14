"""Shared fixtures. Each real part the tests start (the TUN lab, influxd) lives in its own plugin module
under tests/fixtures so the fixtures stay findable and independent."""

from __future__ import annotations

import os

# No config search in tests (slaprobe/configpath.py): a demo-state/slaprobe.yaml left in the checkout by
# `make demo` must not change what CLI tests compute. Tests of the search set it back explicitly.
os.environ["SLAPROBE_CONFIG_SEARCH"] = "0"

pytest_plugins = [
    "tests.fixtures.lab",
    "tests.fixtures.influx",
    "tests.fixtures.stores",
    "tests.fixtures.prom",
    "tests.fixtures.receivers",
]

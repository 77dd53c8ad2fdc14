"""Where a command finds its config when none is named: the search path.

``--config FILE`` or ``$SLAPROBE_CONFIG`` always win. Otherwise the first existing file of
:data:`SEARCH_PATH` is used: ``./slaprobe.yaml`` (a working directory set up for one network),
``./demo-state/slaprobe.yaml`` (what ``slaprobe demo`` leaves behind, so the README's follow-up commands
work as written) and ``/etc/slaprobe/slaprobe.yaml`` (the service's). None found: the built-in defaults.

The command says on stderr which file it found, so a figure is never computed from a config the user did
not know about. ``SLAPROBE_CONFIG_SEARCH=0`` turns the search off (the test suite does, so a demo run in
the checkout cannot change what the tests compute).
"""

from __future__ import annotations

import os
from pathlib import Path

SEARCH_PATH: tuple[Path, ...] = (
    Path("slaprobe.yaml"),
    Path("demo-state") / "slaprobe.yaml",
    Path("/etc/slaprobe/slaprobe.yaml"),
)
SEARCH_ENV = "SLAPROBE_CONFIG_SEARCH"


def find_config(search: tuple[Path, ...] = SEARCH_PATH) -> Path | None:
    """The first config file on the search path, or None (also when the search is turned off)."""
    if os.environ.get(SEARCH_ENV, "1").strip().lower() in ("0", "no", "off", "false"):
        return None
    for path in search:
        if path.is_file():
            return path
    return None

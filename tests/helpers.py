"""Small helpers shared by tests (fixtures live in tests/fixtures/)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_cli(*args: str, timeout: float = 120, **kwargs: object) -> subprocess.CompletedProcess[str]:
    """Run ``python -m slaprobe ARGS`` from the repo root, capturing text output."""
    return subprocess.run(  # type: ignore[call-overload]
        [sys.executable, "-m", "slaprobe", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        **kwargs,
    )

"""Small helpers shared by tests (fixtures live in tests/fixtures/)."""

from __future__ import annotations

import sqlite3
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


def write_lock_free(path: Path) -> bool:
    """Whether another connection takes SQLite's write lock on ``path`` at once, with no busy wait: what
    the daemon's writer needs while a bulk delete of the journal pauses between its transactions."""
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError:
        return False
    finally:
        other.close()

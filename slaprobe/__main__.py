"""``python -m slaprobe`` runs the CLI, so tests and systemd need no console-script shim."""

from __future__ import annotations

from slaprobe.cli import main

if __name__ == "__main__":
    main()

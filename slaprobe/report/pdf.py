"""PDF export of an HTML report through headless Chromium (Debian's ``chromium`` package).

Why Chromium and not a Python PDF library: the page already prints to A4 (``@page``, print CSS); the
browser that shows it is the one engine that lays it out identically on paper, embeds the font subset
and keeps the SVG charts as vectors. It is needed only where PDFs are made (a reporting host), not on
probe hosts; without it the command says what to install.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path


class PdfError(RuntimeError):
    pass


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    raise PdfError("--format pdf needs a headless Chromium: install Debian's chromium package")


def html_to_pdf(html: str, out: str | Path, timeout_s: float = 120.0) -> None:
    """Print ``html`` to ``out`` (A4, as the page's print CSS states; no browser header or footer)."""
    with tempfile.TemporaryDirectory(prefix="slaprobe-pdf-") as tmp:
        page = Path(tmp) / "report.html"
        page.write_text(html, encoding="utf-8")
        target = Path(out).resolve()
        cmd = [
            chromium(),
            "--headless",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={Path(tmp) / 'profile'}",
            "--no-pdf-header-footer",
            f"--print-to-pdf={target}",
            page.as_uri(),
        ]
        if os.geteuid() == 0:  # Chromium refuses to run its sandbox as root
            cmd.insert(2, "--no-sandbox")
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, check=False)
        except subprocess.TimeoutExpired:
            raise PdfError(f"chromium did not finish printing {target} within {timeout_s:.0f} s") from None
        if proc.returncode != 0 or not target.is_file() or target.stat().st_size == 0:
            tail = (proc.stderr or "").strip().splitlines()[-3:]
            raise PdfError(f"chromium could not print {target} (exit {proc.returncode}): {' / '.join(tail)}")

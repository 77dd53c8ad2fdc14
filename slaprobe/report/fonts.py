"""The report's font: Noto Sans CJK SC, found on this machine, embedded in the HTML as a subset.

Why embed: the report is opened on finance officers' PCs and pasted into documents offline; a font
named but not shipped renders Chinese as whatever the viewer has, or as empty boxes ("tofu") on a
machine with no CJK font. Why a subset: the whole face is ~16 MB; a month report uses a few hundred
distinct characters (~300 bytes of outline each), so the subset of exactly the page's characters is
~100–200 kB as WOFF. Noto Sans CJK also carries Latin, digits and punctuation, so one face renders the
whole page, tables and charts alike (the charts keep their text as ``<text>``; see ``charts``).

The font comes from Debian's ``fonts-noto-cjk`` (``/usr/share/fonts/opentype/noto/``), else from
fontconfig (``fc-match``), else from ``SLAPROBE_CJK_FONT`` (a .ttc/.otf/.ttf path). WOFF (zlib) rather
than WOFF2: it needs no Brotli module and every browser since 2012 reads it.
"""

from __future__ import annotations

import base64
import functools
import io
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

FAMILY = "Noto Sans CJK SC"
EMBEDDED_FAMILY = "SlaprobeCJK"  # the @font-face name: distinct, so a test can tell it from a system font
_DEBIAN_DIR = Path("/usr/share/fonts/opentype/noto")
_FILE = "NotoSansCJK-Regular.ttc"


class FontError(RuntimeError):
    """No usable CJK font on this machine (the message says what to install)."""


@dataclass(frozen=True, slots=True)
class FontFile:
    path: Path
    index: int  # face index inside a .ttc collection (0 for a single-face file)
    family: str


def _face_index(path: Path, family: str) -> int | None:
    from fontTools.ttLib import TTCollection, TTFont

    if path.suffix.lower() in (".ttc", ".otc"):
        coll = TTCollection(str(path), lazy=True)
        for i, font in enumerate(coll.fonts):
            if font["name"].getDebugName(1) == family:
                return i
        return None
    font = TTFont(str(path), lazy=True)
    return 0 if font["name"].getDebugName(1) in (family, None) else None


def _candidates() -> list[Path]:
    paths = []
    env = os.environ.get("SLAPROBE_CJK_FONT")
    if env:
        paths.append(Path(env))
    paths.append(_DEBIAN_DIR / _FILE)
    if shutil.which("fc-match"):
        try:
            out = subprocess.run(
                ["fc-match", "-f", "%{file}", f"{FAMILY}:style=Regular"],
                capture_output=True,
                text=True,
                timeout=10,
                check=False,
            ).stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            out = ""
        if out:
            paths.append(Path(out))
    return paths


@functools.cache
def font_file() -> FontFile | None:
    """The regular Noto Sans CJK SC face, or None if this machine has none."""
    for path in _candidates():
        if path.is_file():
            index = _face_index(path, FAMILY)
            if index is not None:
                return FontFile(path, index, FAMILY)
    return None


@functools.cache
def cjk_font() -> FontFile:
    """The regular face, registered with matplotlib's font manager so charts lay text out with it."""
    found = font_file()
    if found is None:
        raise FontError(
            f"no {FAMILY} font found (looked in {_DEBIAN_DIR}, fontconfig, $SLAPROBE_CJK_FONT); "
            "install Debian's fonts-noto-cjk package"
        )
    from matplotlib import font_manager

    known = {(f.fname, getattr(f, "index", 0)) for f in font_manager.fontManager.ttflist}
    if (str(found.path), found.index) not in known:
        font_manager.fontManager.addfont(str(found.path))
    return found


def subset_woff(font: FontFile, text: str) -> bytes:
    """WOFF of ``font`` holding exactly the glyphs ``text`` needs (plus .notdef)."""
    from fontTools import subset
    from fontTools.ttLib import TTFont

    # No bounding-box recalculation on save: the subset keeps the face's own metrics (and it is most
    # of the time a subset takes).
    face = TTFont(str(font.path), fontNumber=font.index, recalcBBoxes=False, recalcTimestamp=False)
    opts = subset.Options()
    opts.flavor = "woff"
    # fontTools' default feature list (kern, liga, locl, mark, ... ): '*' would pull in every alternate
    # form (aalt, vert, fwid, ...) of every glyph, ten times the glyphs and the time, none of it shown.
    opts.notdef_outline = True
    opts.hinting = False
    opts.recalc_bounds = False
    opts.name_IDs = [0, 1, 2, 3, 4, 5, 6, 13, 14]  # names, copyright and the OFL licence text/URL
    subsetter = subset.Subsetter(opts)
    subsetter.populate(text=text)
    subsetter.subset(face)
    buf = io.BytesIO()
    face.flavor = "woff"
    face.save(buf)
    return buf.getvalue()


def font_face_css(text: str) -> str:
    """An ``@font-face`` rule embedding the regular face's subset for ``text``.

    The characters of ``text`` are what the page will show; printable ASCII and a few typographic
    marks are always included so a figure never falls back to another font. Only the regular face is
    embedded: bold text (headings, the headline figures) is synthesised by the browser, which costs
    nothing, where a bold subset would double the file's font weight and the time to make it.
    """
    chars = "".join(sorted(set(text) | {chr(c) for c in range(0x20, 0x7F)} | set("…–—·×−≥≤%")))
    data = base64.b64encode(subset_woff(cjk_font(), chars)).decode("ascii")
    return (
        "@font-face{"
        f"font-family:'{EMBEDDED_FAMILY}';font-style:normal;font-weight:400;font-display:block;"
        f"src:url(data:font/woff;base64,{data}) format('woff')"
        "}"
    )

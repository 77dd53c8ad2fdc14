"""The embedded font: a WOFF subset holding exactly the page's characters, from Debian's Noto CJK."""

from __future__ import annotations

import base64
import io
import re

from fontTools.ttLib import TTFont

from slaprobe.report.fonts import EMBEDDED_FAMILY, FAMILY, cjk_font, font_face_css, subset_woff


def test_subset_holds_the_text_and_nothing_else() -> None:
    font = cjk_font()
    assert font.family == FAMILY and font.path.is_file()
    data = subset_woff(font, "可用性 99.9%")
    assert data[:4] == b"wOFF"
    face = TTFont(io.BytesIO(data))
    cmap = face.getBestCmap()
    assert set(cmap) == {ord(c) for c in "可用性 99.9%"}
    # 7 distinct characters + .notdef, plus the few alternates the kept layout features reach
    assert face["maxp"].numGlyphs <= 16
    assert face["name"].getDebugName(1) == FAMILY
    assert len(data) < 20_000


def test_font_face_rule_embeds_the_page_characters_and_ascii() -> None:
    css = font_face_css("海南省 2022")
    assert css.startswith("@font-face{") and f"font-family:'{EMBEDDED_FAMILY}'" in css
    b64 = re.search(r"base64,([A-Za-z0-9+/=]+)\)", css).group(1)
    cmap = TTFont(io.BytesIO(base64.b64decode(b64))).getBestCmap()
    assert {ord(c) for c in "海南省"} <= set(cmap)
    assert all(c in cmap for c in range(0x20, 0x7F))  # digits and Latin always there
    assert ord("东") not in cmap

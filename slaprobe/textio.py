"""Reading the text files people hand us (config, inventory, contract, invoice, maintenance) whatever
their editor saved them as.

Chinese Windows Excel saves CSV as GB18030/GBK ("ANSI") or UTF-16 ("Unicode text"); Notepad adds a BOM.
A file is read as UTF-8 (with or without BOM), else UTF-16 with its BOM, else GB18030; anything else is
rejected with a message that names the file and what was found, never a UnicodeDecodeError traceback.
Why GB18030 and not a detector: it is the national superset of GBK/GB2312, and every byte string that
is not valid UTF-8 but came from a Chinese spreadsheet decodes with it; a detector would guess among
dozens of code pages and could guess wrong silently. (A very short GBK text can happen to be valid
UTF-8 too, e.g. the four bytes of "状态"; it is then read as UTF-8. Real files are long enough not to.)
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass
from pathlib import Path


class TextEncodingError(ValueError):
    """The file is not in an encoding slaprobe reads; the message names the file and the encoding."""

    def __init__(self, path: str, problem: str) -> None:
        self.path = path
        self.problem = problem
        super().__init__(f"{path}: {problem}")


@dataclass(frozen=True, slots=True)
class DecodedText:
    text: str
    encoding: str  # utf-8, utf-8-sig, utf-16, gb18030


def decode(data: bytes, source: str = "<text>") -> DecodedText:
    """Decode bytes by the rules of the module docstring."""
    if data.startswith(codecs.BOM_UTF8):
        try:
            return DecodedText(data[len(codecs.BOM_UTF8) :].decode("utf-8"), "utf-8-sig")
        except UnicodeDecodeError as exc:
            raise TextEncodingError(
                source, f"starts with a UTF-8 BOM but byte {exc.start} is not UTF-8"
            ) from None
    if data.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        raise TextEncodingError(source, "is UTF-32; save it as UTF-8")
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return DecodedText(data.decode("utf-16"), "utf-16")
        except UnicodeDecodeError:
            raise TextEncodingError(source, "starts with a UTF-16 BOM but is not valid UTF-16") from None
    try:
        return DecodedText(data.decode("utf-8"), "utf-8")
    except UnicodeDecodeError:
        pass
    if b"\x00" in data:
        raise TextEncodingError(
            source,
            "contains NUL bytes: UTF-16 without a byte-order mark? save it as UTF-8 (or UTF-16 with BOM)",
        )
    try:
        return DecodedText(data.decode("gb18030"), "gb18030")
    except UnicodeDecodeError as exc:
        raise TextEncodingError(
            source, f"is neither UTF-8, UTF-16 with BOM nor GB18030 (byte {exc.start}); save it as UTF-8"
        ) from None


def read_text(path: str | Path) -> str:
    """The text of ``path``; OSError for a missing/unreadable file, TextEncodingError for a bad encoding."""
    p = Path(path)
    return decode(p.read_bytes(), str(p)).text

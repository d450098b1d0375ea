"""Reading a user's plain text files: UTF-8, or GB18030 detected; binary refused."""
from __future__ import annotations

import unicodedata
from pathlib import Path

from .errors import InputFileError

# A text file has almost no control characters besides newlines and tabs; decoded binary
# data (which GB18030 can sometimes decode) is full of them.
MAX_CONTROL_FRACTION = 0.01


def decode_text(data: bytes, name: str) -> tuple[str, str]:
    """(text, encoding) of file bytes: utf-8 (strict, BOM allowed), else gb18030 (strict).
    Raises InputFileError naming the file if it looks binary or is neither."""
    if b"\x00" in data:
        raise InputFileError(f"{name}: contains NUL bytes, looks like a binary file, not plain text")
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if _control_fraction(text) > MAX_CONTROL_FRACTION:
            break
        return text, "utf-8" if encoding == "utf-8-sig" else encoding
    raise InputFileError(f"{name}: not a plain text file (neither UTF-8 nor GB18030 text; binary data?)")


def _control_fraction(text: str) -> float:
    if not text:
        return 0.0
    bad = sum(1 for c in text if c not in "\n\r\t\f" and unicodedata.category(c) in ("Cc", "Cs", "Co", "Cn"))
    return bad / len(text)


def read_text_file(path: Path) -> tuple[str, str]:
    """(text, encoding) of a user text file; InputFileError if missing, binary or empty."""
    path = Path(path)
    if not path.is_file():
        raise InputFileError(f"{path}: no such file")
    try:
        data = path.read_bytes()
    except OSError as e:
        raise InputFileError(f"{path}: cannot read ({e.strerror})") from None
    text, encoding = decode_text(data, str(path))
    if not any("\u4e00" <= c <= "\u9fff" for c in text):
        raise InputFileError(f"{path}: contains no Chinese characters to learn from")
    return text, encoding

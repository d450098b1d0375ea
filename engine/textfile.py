"""Reading a user's plain text files (fine-tuning text, word lists): UTF-8, UTF-16 with a
BOM and GB18030 are detected; binary, empty and undecodable files are refused with a reason.

Toolkit-free and torch-free: the window checks files with it before a fine-tune starts, the
trainer reads them with it, and the user dictionary imports word lists with it.
"""
from __future__ import annotations

import codecs
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from .errors import ShuruError
from .text import han_count

# A text file has almost no control characters besides newlines and tabs; decoded binary
# data (which GB18030 can sometimes decode) is full of them.
MAX_CONTROL_FRACTION = 0.01
TEXT_SUFFIXES = (".txt", ".md")
# Largest file read, checked before reading: a file is read and decoded whole (bytes plus text,
# up to about 3x its size in memory), so 100 MiB stays far under 500 MB; 100 MiB is some 35
# million Chinese characters, more than a CPU fine-tune gets through. Split bigger files.
MAX_FILE_BYTES = 100 * 1024 * 1024
BOMS = ((codecs.BOM_UTF8, "utf-8-sig", "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le", "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16-be", "utf-16"))


class TextFileError(ShuruError, ValueError):
    """A user text file is missing, unreadable, binary, empty or in an unsupported encoding."""


@dataclass(frozen=True)
class TextFileInfo:
    """What a file offers before any work starts: its characters, or why it is refused."""

    path: Path
    encoding: str = ""
    chars: int = 0
    han_chars: int = 0
    reason: str = ""  # empty: usable

    @property
    def ok(self) -> bool:
        return not self.reason


def decode_text(data: bytes, name: str) -> tuple[str, str]:
    """(text, encoding) of file bytes: a BOM decides (UTF-8, UTF-16), else UTF-8, else GB18030.
    Raises TextFileError naming the file if it looks binary or is none of them."""
    for bom, codec, label in BOMS:
        if data.startswith(bom):
            try:
                text = data[len(bom):].decode(codec)
            except UnicodeDecodeError:
                raise TextFileError(f"{name}: starts like {label} text but is damaged "
                                    "(invalid byte sequence)") from None
            if _control_fraction(text) > MAX_CONTROL_FRACTION:
                break
            return text, label
    else:
        if b"\x00" in data:
            raise TextFileError(f"{name}: contains NUL bytes, looks like a binary file, not plain text "
                                "(UTF-16 text needs a byte-order mark; or save it as UTF-8)")
        for codec, label in (("utf-8", "utf-8"), ("gb18030", "gb18030")):
            try:
                text = data.decode(codec)
            except UnicodeDecodeError:
                continue
            if _control_fraction(text) > MAX_CONTROL_FRACTION:
                break
            return text, label
    raise TextFileError(f"{name}: not a plain text file (not UTF-8, UTF-16 or GB18030 text: binary data, Big5 "
                        "or mixed encodings?); save it as UTF-8")


def _control_fraction(text: str) -> float:
    if not text:
        return 0.0
    bad = sum(1 for c in text if c not in "\n\r\t\f" and unicodedata.category(c) in ("Cc", "Cs", "Co", "Cn"))
    return bad / len(text)


def read_text_file(path: Path, need_han: bool = True) -> tuple[str, str]:
    """(text, encoding) of a user text file; TextFileError if missing, a folder, unreadable,
    binary, empty, or (``need_han``) without a single Chinese character."""
    path = Path(path)
    _check_readable(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise TextFileError(f"{path}: cannot read ({e.strerror})") from None
    if not data.strip():
        raise TextFileError(f"{path}: is empty")
    text, encoding = decode_text(data, str(path))
    if need_han and not han_count(text):
        raise TextFileError(f"{path}: contains no Chinese characters to learn from")
    return text, encoding


def _check_readable(path: Path) -> None:
    """Refuse what is not a regular file of at most MAX_FILE_BYTES, before reading a byte."""
    if path.is_dir():
        raise TextFileError(f"{path}: is a folder, not a text file")
    if path.is_symlink() and not path.exists():
        raise TextFileError(f"{path}: is a broken link or a link loop")
    if not path.is_file():
        raise TextFileError(f"{path}: no such file" if not path.exists() else f"{path}: is not a regular file")
    try:
        size = path.stat().st_size
    except OSError as e:
        raise TextFileError(f"{path}: cannot read ({e.strerror})") from None
    if size > MAX_FILE_BYTES:
        raise TextFileError(f"{path}: is too big ({size / 2**20:.0f} MiB; at most {MAX_FILE_BYTES // 2**20} MiB "
                            "per file): split it into smaller files")


def inspect_text_file(path: Path) -> TextFileInfo:
    """A file's encoding and character counts, or the reason it cannot be used (never raises)."""
    try:
        text, encoding = read_text_file(path)
    except TextFileError as e:
        return TextFileInfo(Path(path), reason=str(e).removeprefix(f"{path}: "))
    return TextFileInfo(Path(path), encoding, len(text), han_count(text))


def text_files_in(folder: Path) -> list[Path]:
    """The .txt and .md files under a folder, recursively, in path order (symlink loops skipped)."""
    seen, out = set(), []
    for p in sorted(Path(folder).rglob("*")):
        if p.suffix.lower() in TEXT_SUFFIXES and p.is_file():
            real = p.resolve()
            if real not in seen:
                seen.add(real)
                out.append(p)
    return out

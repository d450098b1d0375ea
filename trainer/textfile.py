"""Reading a user's text files: engine.textfile's rules, with the trainer's error class."""
from __future__ import annotations

from pathlib import Path

from engine.textfile import TextFileError
from engine.textfile import decode_text as _decode
from engine.textfile import read_text_file as _read

from .errors import InputFileError


def decode_text(data: bytes, name: str) -> tuple[str, str]:
    """(text, encoding) of file bytes; InputFileError if binary or undecodable."""
    try:
        return _decode(data, name)
    except TextFileError as e:
        raise InputFileError(str(e)) from None


def read_text_file(path: Path) -> tuple[str, str]:
    """(text, encoding) of a user text file; InputFileError if missing, binary or empty."""
    try:
        return _read(path)
    except TextFileError as e:
        raise InputFileError(str(e)) from None

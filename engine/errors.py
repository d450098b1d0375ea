"""Shuru's exceptions: one root class, specific subclasses with a message that says what to do."""
from __future__ import annotations

from pathlib import Path

ENGLISH_STILL_WORKS = "Chinese input is unavailable; typing in English still works."
STATISTICAL_INSTEAD = "Chinese input goes on with the simpler statistical model."
REPAIR_ASSETS = "To fix it, reinstall Shuru, or repair the checkout with `git checkout assets/`."


def asset_problem(what: str, path: Path, problem: str, consequence: str = ENGLISH_STILL_WORKS,
                  remedy: str = REPAIR_ASSETS) -> str:
    """A message a user can act on: which file is broken and how, what still works, what to do.

    ``what`` names the file in plain words ("n-gram model"); technical details (the
    exception text) belong in the log, not here.
    """
    return f"The {what} file {path} {problem}. {consequence} {remedy}"


class ShuruError(Exception):
    """Root of every error Shuru raises on purpose."""


class AssetError(ShuruError):
    """A compiled asset (lexicon, n-gram model, neural model) is missing, corrupt or mismatched."""


class FormatVersionError(AssetError):
    """An asset was written by another format version than this code reads."""


class UserDataError(ShuruError):
    """The user's data (learned words, user dictionary) cannot be read or written."""


class PinyinModelError(AssetError):
    """A pinyin model dir (engine.pinyin.pinyin_format) is missing a file or is malformed."""


class PinyinModelMismatchError(PinyinModelError):
    """A pinyin model dir's files do not belong together, or not with this Shuru (another
    format, vocabulary or syllable table)."""


class PinyinFormatVersionError(PinyinModelMismatchError, FormatVersionError):
    """A pinyin model dir was written by another format version than this code reads."""

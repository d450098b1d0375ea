"""Shuru's exceptions: one root class, specific subclasses with a message that says what to do."""


class ShuruError(Exception):
    """Root of every error Shuru raises on purpose."""


class AssetError(ShuruError):
    """A compiled asset (lexicon, n-gram model, neural model) is missing, corrupt or mismatched."""


class FormatVersionError(AssetError):
    """An asset was written by another format version than this code reads."""


class HistoryError(ShuruError):
    """The user history file cannot be read or written."""


class UserDataError(ShuruError):
    """The user's data (learned words, user dictionary) cannot be read or written."""

"""Errors raised by the trainer. Everything derives from TrainerError so callers (the CLI,
the GUI running `finetune` as a subprocess) can catch one class and show its message."""
from __future__ import annotations


class TrainerError(Exception):
    """Root of every error the trainer raises on purpose."""


class ManifestError(TrainerError):
    """A model directory or checkpoint is missing a file or is malformed."""


class ManifestMismatchError(ManifestError):
    """A checkpoint, weights file or manifest does not match the config or vocabulary
    it is being loaded with (different model shape or different vocab sha1)."""


class ConfigError(TrainerError):
    """An unknown `--key=value` override, or a value of the wrong type."""


class InputFileError(TrainerError):
    """A user text file is unreadable, binary, or in an unsupported encoding."""


class DataError(TrainerError):
    """Training data (shards, vocabulary) is missing or unusable."""

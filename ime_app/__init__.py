"""Shuru's desktop window: an editor whose keystrokes go through the pinyin engine.

``ime_app`` imports ``engine``; ``engine`` never imports Qt. All decoding runs on one
worker thread (:mod:`ime_app.worker`); the GUI thread only routes keys and draws.
"""
from importlib import metadata


def _version() -> str:
    try:
        return metadata.version("shuru")
    except metadata.PackageNotFoundError:
        return "0.1.0"


__version__ = _version()

# Before any window exists: see pyside_compat (PySide6 6.12.0 on CPython 3.11).
from .pyside_compat import protect_singletons  # noqa: E402

protect_singletons()

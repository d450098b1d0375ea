"""Shuru's desktop window: an editor whose keystrokes go through the pinyin engine.

``ime_app`` imports ``engine``; ``engine`` never imports Qt. All decoding runs on one
worker thread (:mod:`ime_app.worker`); the GUI thread only routes keys and draws.
"""
from importlib import metadata


def _version() -> str:
    try:
        return metadata.version("shuru")
    except metadata.PackageNotFoundError:
        return "0.3.8"


__version__ = _version()

"""Shuru's desktop window: an editor whose keystrokes go through the pinyin engine.

A thin Qt front end over :mod:`frontend` (the key table, the input controller, the settings);
``ime_app`` imports ``engine`` and ``frontend``; neither imports Qt. All decoding runs on one
worker thread (:mod:`ime_app.worker`); the GUI thread only routes keys and draws.
"""
from frontend import __version__

__all__ = ["__version__"]

"""Where Shuru's files live (a leaf: imports nothing of the engine).

The shipped assets are package data; the user's data, models, cache and settings are in the
platform's folders (platformdirs: ``~/.local/share/shuru``, ``~/.cache/shuru``,
``~/.config/shuru`` on Linux), the settings folder overridable with ``$SHURU_CONFIG_DIR``.
"""
from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

APP = "shuru"
# The shipped assets (lexicon.npz, ngram.npz, model/, replay/) are package data of `engine`: engine/assets
# links to the checkout's assets/, and a wheel or a frozen app carries the files themselves.
ASSETS_DIR = Path(str(resources.files("engine"))) / "assets"
BASE_MODEL_DIR = ASSETS_DIR / "model"
PINYIN_MODEL_NAME = "pinyin-model"  # the pinyin-reading model's folder: in the assets, and in a personal model's
CONFIG_ENV = "SHURU_CONFIG_DIR"


def user_data_dir() -> Path:
    """The user's data folder (user.db, models/)."""
    import platformdirs

    return Path(platformdirs.user_data_dir(APP, appauthor=False))


def user_cache_dir() -> Path:
    """The user's cache folder (the merged n-gram, logs)."""
    import platformdirs

    return Path(platformdirs.user_cache_dir(APP, appauthor=False))


def config_dir() -> Path:
    """Where settings live: ``$SHURU_CONFIG_DIR`` or the platform's user config folder."""
    import platformdirs

    env = os.environ.get(CONFIG_ENV)
    return Path(env) if env else Path(platformdirs.user_config_dir(APP))

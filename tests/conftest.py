"""Shared fixtures: one real Engine per test run (the shipped assets), never touching user dirs."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

import tempfile

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Never read or write the real user's data, config or personal model during tests.
_HOME = tempfile.mkdtemp(prefix="shuru-test-home-")
os.environ["XDG_DATA_HOME"] = os.path.join(_HOME, "data")
os.environ["XDG_CONFIG_HOME"] = os.path.join(_HOME, "config")


@pytest.fixture(scope="session")
def engine(tmp_path_factory):
    """The shipped lexicon + n-gram (no neural model, no learning): deterministic answers."""
    from engine import Engine, EngineOptions

    return Engine.load(EngineOptions(use_neural=False, learning=False,
                                     history_path=tmp_path_factory.mktemp("hist") / "history.json"))


@pytest.fixture
def learning_engine(tmp_path):
    """An engine that learns into a temporary history file."""
    from engine import Engine, EngineOptions

    return Engine.load(EngineOptions(use_neural=False, learning=True, history_path=tmp_path / "history.json"))


@pytest.fixture
def assets_copy(tmp_path) -> Path:
    """A private copy of assets/ (symlinks) that a test may break."""
    src = Path(__file__).resolve().parents[1] / "assets"
    dst = tmp_path / "assets"
    dst.mkdir()
    for name in ("lexicon.npz", "ngram.npz"):
        (dst / name).symlink_to(src / name)
    return dst

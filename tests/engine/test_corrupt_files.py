"""Every shipped or user file, damaged every way: a specific message, a fallback, no crash.

One table per file: truncated, random bytes, empty, a directory in its place, no read
permission (simulated: the tests run as root, who reads anything), and a wrong format
version or vocabulary/token hash where the file has one. The shipped lexicon and n-gram are
required: the engine refuses with a message naming the file (the window then types English).
Everything else falls back and says why in ``Engine.status`` (the window's status bar):
the neural model to the statistical scorers, the user text layer to none, a damaged history
or settings file to an empty one, kept aside as ``*.corrupt-<time>``.
"""
from __future__ import annotations

import builtins
import io
import json
import os
import shutil
import sqlite3
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from engine import AssetError, Engine, EngineOptions
from engine.user.userlm import save_user_lm
from frontend.config import Settings, SettingsStore

KINDS = ("truncated", "random bytes", "empty", "a directory", "unreadable")


# -- ways to damage a file --------------------------------------------------------------------
def replace_with(path: Path, data: bytes) -> None:
    """Write ``data`` in place of ``path`` (a symlink into assets/ is replaced, never written through)."""
    path.unlink()
    path.write_bytes(data)


def damage(path: Path, kind: str, monkeypatch) -> None:
    real = path.read_bytes()
    if kind == "truncated":
        replace_with(path, real[: len(real) // 2])
    elif kind == "random bytes":
        replace_with(path, np.random.default_rng(len(real)).bytes(4096))
    elif kind == "empty":
        replace_with(path, b"")
    elif kind == "a directory":
        path.unlink()
        path.mkdir()
    elif kind == "unreadable":
        deny_reading(monkeypatch, path)
    else:
        raise ValueError(kind)


def deny_reading(monkeypatch, path: Path) -> None:
    """Opening ``path`` fails as without read permission (Python's open, ONNX Runtime and SQLite)."""
    target = os.path.abspath(path)
    real_open = io.open

    def guarded_open(file, *a, **k):
        if isinstance(file, (str, os.PathLike)) and os.path.abspath(file) == target:
            raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, *a, **k)

    monkeypatch.setattr(builtins, "open", guarded_open)
    monkeypatch.setattr(io, "open", guarded_open)
    import onnxruntime

    real_session = onnxruntime.InferenceSession

    def guarded_session(file, *a, **k):
        if os.path.abspath(file) == target:
            raise RuntimeError(f"[ONNXRuntimeError] : 1 : FAIL : Load model from {file} failed: Permission denied")
        return real_session(file, *a, **k)

    monkeypatch.setattr(onnxruntime, "InferenceSession", guarded_session)
    real_connect = sqlite3.connect

    def guarded_connect(file, *a, **k):
        if target in str(file):  # a path, or a file: URI naming it
            raise sqlite3.OperationalError("unable to open database file")
        return real_connect(file, *a, **k)

    monkeypatch.setattr(sqlite3, "connect", guarded_connect)


def rewrite_npz_meta(path: Path, **changes) -> None:
    """Replace an .npz by a copy whose JSON ``meta`` has ``changes``."""
    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["meta"] = np.array(json.dumps({**json.loads(str(arrays["meta"])), **changes}))
    path.unlink()
    np.savez(path, **arrays)


def damage_npz(path: Path, kind: str, monkeypatch) -> None:
    """One of KINDS, or an npz whose meta says another format version or another lexicon."""
    if kind == "wrong version":
        rewrite_npz_meta(path, version=999)
    elif kind == "wrong token hash":
        rewrite_npz_meta(path, token_hash="0" * 16)
    else:
        damage(path, kind, monkeypatch)


def rewrite_json(path: Path, **changes) -> None:
    data = json.loads(path.read_text(encoding="utf-8"))
    path.unlink()
    path.write_text(json.dumps({**data, **changes}), encoding="utf-8")


def typing_works(engine: Engine) -> bool:
    s = engine.new_session()
    s.insert("nihao")
    return s.view().candidates[0].text == "你好"


# -- the shipped lexicon and n-gram model: required, refused with a message ------------------
REQUIRED = [(name, kind) for name in ("lexicon.npz", "ngram.npz") for kind in KINDS] + [
    ("lexicon.npz", "wrong version"), ("ngram.npz", "wrong version"), ("ngram.npz", "wrong token hash")]


@pytest.mark.parametrize("name,kind", REQUIRED, ids=[f"{n}-{k}" for n, k in REQUIRED])
def test_a_damaged_required_asset_is_refused_naming_the_file(assets_copy, monkeypatch, name, kind):
    path = assets_copy / name
    damage_npz(path, kind, monkeypatch)
    with pytest.raises(AssetError) as raised:
        Engine.load(EngineOptions(assets_dir=assets_copy, learning=False, use_neural=False))
    message = str(raised.value)
    assert str(path) in message and "typing in English still works" in message


# -- the neural model's files: the statistical scorers take over ------------------------------
SHIPPED_MODEL = Path(__file__).resolve().parents[2] / "assets" / "model"
RUN_TIME_FILES = ("manifest.json", "model.onnx", "vocab.txt")  # what the engine reads of a model dir


@pytest.fixture
def model_copy(tmp_path) -> Path:
    """A copy of the shipped model's run-time files, to damage."""
    folder = tmp_path / "shipped-model"
    folder.mkdir()
    for name in RUN_TIME_FILES:
        shutil.copy2(SHIPPED_MODEL / name, folder / name)
    return folder


MODEL = [(name, kind) for name in ("model.onnx", "vocab.txt", "manifest.json") for kind in KINDS] + [
    ("manifest.json", "wrong version"), ("vocab.txt", "wrong vocabulary"), ("manifest.json", "wrong vocabulary hash")]


def damage_model(folder: Path, name: str, kind: str, monkeypatch) -> None:
    path = folder / name
    if kind == "wrong version":
        rewrite_json(path, format_version=999)
    elif kind == "wrong vocabulary":
        replace_with(path, path.read_bytes().replace(b"\n", b"\nx", 1))
    elif kind == "wrong vocabulary hash":
        rewrite_json(path, vocab_sha1="0" * 40)
    else:
        damage(path, kind, monkeypatch)


@pytest.mark.parametrize("name,kind", MODEL, ids=[f"{n}-{k}" for n, k in MODEL])
def test_a_damaged_model_file_falls_back_to_the_statistical_scorers(model_copy, tmp_path, monkeypatch,
                                                                  name, kind):
    folder = tmp_path / "model"
    shutil.copytree(model_copy, folder)
    damage_model(folder, name, kind, monkeypatch)
    e = Engine.load(EngineOptions(model_dir=folder, learning=False, personal=False))
    assert e.neural is None and e.status.startswith("statistical scorers only")
    assert ("vocab.txt" if "vocabulary" in kind else name) in e.status  # the file to blame
    assert typing_works(e)


@pytest.mark.parametrize("kind", ["truncated", "a directory", "wrong vocabulary hash"])
def test_a_damaged_personal_model_falls_back_too(model_copy, tmp_path, monkeypatch, kind):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    from engine.models import personal_model_dir

    personal = personal_model_dir()
    shutil.copytree(model_copy, personal)
    damage_model(personal, "manifest.json" if kind != "a directory" else "model.onnx", kind, monkeypatch)
    e = Engine.load(EngineOptions(learning=False))
    assert e.neural is None and str(personal) in e.status
    assert typing_works(e)


# -- the user text layer (user_lm.npz beside the model): ignored, the model stays ------------
LAYER = [*KINDS, "wrong version", "wrong token hash"]


@pytest.mark.parametrize("kind", LAYER)
def test_a_damaged_user_text_layer_is_ignored(engine, model_copy, tmp_path, monkeypatch, kind):
    folder = tmp_path / "model"
    shutil.copytree(model_copy, folder)
    path = folder / "user_lm.npz"
    tok = engine.lexicon.token_id("你好")
    save_user_lm(path, Counter({tok: 3}), Counter({(tok, tok): 1}), engine.lexicon, ["mine.txt"])
    damage_npz(path, kind, monkeypatch)
    e = Engine.load(EngineOptions(model_dir=folder, learning=False, personal=False))
    assert e.neural is not None and "your-text layer ignored" in e.status and "user_lm.npz" in e.status
    assert typing_works(e)


# -- the history store user.db: kept aside, learning starts afresh ----------------------------
def sqlite_with(path: Path, pragma: str) -> None:
    path.unlink()
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE t(x)")
        db.execute(pragma)
    db.close()


HISTORY = [*KINDS, "wrong version", "another program's database"]


@pytest.mark.parametrize("kind", HISTORY)
def test_a_damaged_history_is_kept_aside_and_typing_learns_afresh(assets_copy, tmp_path, monkeypatch, kind):
    db = tmp_path / "user.db"
    Engine.load(EngineOptions(assets_dir=assets_copy, history_path=db, use_neural=False)).history.store.close()
    if kind == "wrong version":
        with sqlite3.connect(db) as con:
            con.execute("PRAGMA user_version=99")
        con.close()
    elif kind == "another program's database":
        sqlite_with(db, "PRAGMA application_id=1234")
    elif kind == "empty":
        replace_with(db, b"")
    else:
        for side in ("user.db-wal", "user.db-shm"):
            (tmp_path / side).unlink(missing_ok=True)
        db.write_bytes(b"SQLite format 3\x00" + os.urandom(2000)) if kind == "truncated" else damage(db, kind, monkeypatch)
    e = Engine.load(EngineOptions(assets_dir=assets_copy, history_path=db, use_neural=False))
    assert typing_works(e)
    if kind == "empty":  # SQLite treats an empty file as a new database: nothing to report
        assert e.history.error == "" and e.history.path == db
        return
    if kind in ("unreadable", "a directory"):  # not damage: left exactly where it is
        assert "learned words unusable (unable to open database file" in e.status
        assert db.exists() and not list(tmp_path.glob("user.db.corrupt-*"))
        return
    assert "learned words unreadable" in e.status
    assert list(tmp_path.glob("user.db.corrupt-*")), "the damaged file is kept"


# -- settings.json: kept aside, the defaults used ---------------------------------------------
SETTINGS = [  # (kind, content or None for a damage(), kept aside)
    ("truncated", b'{"page_size": 7, "orien', True),
    ("random bytes", bytes(range(256)), True),
    ("empty", b"", True),
    ("a directory", None, False),
    ("unreadable", None, False),
    ("not an object", b"[1, 2, 3]", True),
    ("invalid values", b'{"page_size": "many"}', True),
]


@pytest.mark.parametrize("kind,content,kept", SETTINGS, ids=[s[0] for s in SETTINGS])
def test_damaged_settings_are_kept_aside_and_the_defaults_used(tmp_path, monkeypatch, kind, content, kept):
    store = SettingsStore(tmp_path)
    store.save(Settings(page_size=7))
    if content is not None:
        replace_with(store.path, content)
    else:
        damage(store.path, kind, monkeypatch)
    assert store.load() == Settings()
    assert "settings file" in store.error and str(store.path) in store.error
    aside = list(tmp_path.glob("settings.json.corrupt-*"))
    assert bool(aside) == kept
    if kept:
        assert aside[0].read_bytes() == content and not store.path.exists()

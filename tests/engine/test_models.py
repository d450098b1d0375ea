"""The model registry (engine.models): which model is active, listing, switching, deleting."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.models import ModelError, ModelRegistry

BASE = Path(__file__).resolve().parents[2] / "assets" / "model"


def make_model(root: Path, name: str, exported_at: str = "2026-12-01T15:30:00", texts=("notes.txt",)) -> Path:
    """A model folder as the trainer writes it (manifest + files; the weights are stand-ins)."""
    folder = root / name
    folder.mkdir(parents=True)
    manifest = {"format": "shuru-neural-lm", "exported_at": exported_at,
                "training": {"texts": [f"/home/me/{t}" for t in texts], "steps": 12},
                "metrics": {"before": {"user_loss": 4.0}, "after": {"user_loss": 3.1}}}
    (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    (folder / "model.onnx").write_bytes(b"x" * 1000)
    return folder


@pytest.fixture
def registry(tmp_path) -> ModelRegistry:
    return ModelRegistry(tmp_path / "models", BASE)


# (folders present, active.json content or None for no file, expected active id)
ACTIVE_CASES = [
    ((), None, None),                                                   # nothing personal: base
    (("personal",), None, "personal"),                                  # 0.3 layout: its one model is active
    (("personal", "personal-20261201-1530"), None, "personal"),         # no choice made yet: still the old one
    (("personal-20261201-1530",), None, None),                          # a new fine-tune is not active by itself
    (("personal-20261201-1530",), {"active": "personal-20261201-1530"}, "personal-20261201-1530"),
    (("personal",), {"active": None}, None),                            # reverted to base: the old one stays off
    ((), {"active": "personal-20260101-0000"}, None),                   # names a deleted model: base
]


@pytest.mark.parametrize("folders, active, expected", ACTIVE_CASES)
def test_active_model(registry, folders, active, expected):
    for name in folders:
        make_model(registry.root, name)
    if active is not None:
        registry.root.mkdir(parents=True, exist_ok=True)
        (registry.root / "active.json").write_text(json.dumps(active))
    assert registry.active_id() == expected
    info = registry.active_model()
    assert (info.id, info.kind) == ((expected, "personal") if expected else ("base", "base"))


@pytest.mark.parametrize("content", ["{not json", '{"active": 5}', "[]", ""])
def test_corrupt_active_file_is_set_aside_and_base_used(registry, content):
    make_model(registry.root, "personal")
    (registry.root / "active.json").write_text(content)
    assert registry.active_id() is None
    assert not (registry.root / "active.json").exists()
    assert len(list(registry.root.glob("active.json.corrupt-*"))) == 1


def test_list_models_describes_each_model(registry):
    make_model(registry.root, "personal-20261201-1530", "2026-12-01T15:30:00", ("law.txt", "notes.md"))
    make_model(registry.root, "personal-20261202-0900", "2026-12-02T09:00:00")
    (registry.root / ".personal-20261203-1000-finetune").mkdir()  # a checkpoint folder is no model
    models = registry.list_models()
    assert [(m.id, m.kind) for m in models] == [("base", "base"), ("personal-20261202-0900", "personal"),
                                                ("personal-20261201-1530", "personal")]
    old = models[2]
    assert old.created == "2026-12-01 15:30"
    assert old.source_files == ("law.txt", "notes.md")
    assert old.size_bytes > 1000
    assert old.metrics["after"] == {"user_loss": 3.1}
    assert models[0].size_bytes > 0 and models[0].metrics  # the shipped model's manifest has metrics


def test_set_active_and_revert(registry):
    make_model(registry.root, "personal-20261201-1530")
    registry.set_active("personal-20261201-1530")
    assert registry.active_id() == "personal-20261201-1530"
    assert json.loads((registry.root / "active.json").read_text()) == {"active": "personal-20261201-1530"}
    registry.set_active(None)
    assert registry.active_id() is None
    registry.set_active("base")
    assert registry.active_id() is None
    assert not list(registry.root.glob(".active.json*"))  # no temporary file left behind


@pytest.mark.parametrize("bad", ["personal-19990101-0000", "../escape", "other"])
def test_set_active_refuses_unknown_models(registry, bad):
    with pytest.raises(ModelError):
        registry.set_active(bad)


def test_discard_deletes_a_model_but_not_the_active_one(registry):
    keep = make_model(registry.root, "personal-20261201-1530")
    drop = make_model(registry.root, "personal-20261202-0900")
    (registry.root / ".personal-20261202-0900-finetune").mkdir()
    registry.set_active(keep.name)
    with pytest.raises(ModelError, match="in use"):
        registry.discard(keep.name)
    with pytest.raises(ModelError):
        registry.discard("base")
    registry.discard(drop.name)
    assert not drop.exists() and not (registry.root / ".personal-20261202-0900-finetune").exists()
    assert keep.exists()


def test_new_model_dir_is_fresh_and_not_active(registry):
    first = registry.new_model_dir()
    assert first.name.startswith("personal-") and not first.exists()
    make_model(registry.root, first.name)
    second = registry.new_model_dir()
    assert second != first and second.name.startswith(first.name)
    assert registry.active_id() is None


def test_same_files_reuse_the_unfinished_folder(registry, tmp_path):
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    first = registry.dir_for_files([a, b])
    assert registry.dir_for_files([b, a]) == first  # same set: resume into the same folder
    other = registry.dir_for_files([a])
    assert other != first  # another set of files starts a new folder
    make_model(registry.root, other.name)  # that run finished
    assert registry.dir_for_files([a]) != other
    registry.clear_pending()
    assert registry.pending() is None


def test_engine_loads_the_active_model(tmp_path):
    from engine import Engine, EngineOptions

    root = tmp_path / "models"
    opts = EngineOptions(learning=False, models_dir=root)
    assert Engine.load(opts).model_name == "base"
    folder = root / "personal-20261201-1530"
    folder.mkdir(parents=True)
    for name in ("manifest.json", "model.onnx", "vocab.txt"):
        (folder / name).write_bytes((BASE / name).read_bytes())
    ModelRegistry(root, BASE).set_active(folder.name)
    engine = Engine.load(opts)
    assert engine.model_name == "personal-20261201-1530" and engine.model_dir == folder
    assert Engine.load(EngineOptions(learning=False, models_dir=root, personal=False)).model_name == "base"


def test_the_ibus_reload_stamp_follows_the_choice(tmp_path):
    """The IBus engine reloads when its stamp changes: choosing another model must change it."""
    from engine import EngineOptions
    from frontend.loader import model_stamp

    root = tmp_path / "models"
    opts = EngineOptions(models_dir=root)
    registry = ModelRegistry(root, BASE)
    base = model_stamp(opts)
    registry.set_active(make_model(root, "personal-20261201-1530").name)
    chosen = model_stamp(opts)
    registry.set_active(None)
    assert len({base, chosen, model_stamp(opts)}) == 3
    assert model_stamp(EngineOptions(models_dir=root, personal=False)) == ()


def test_the_ibus_reload_stamp_follows_the_merged_ngram(tmp_path, monkeypatch):
    """Once the background merge with libime's model wrote its file, the IBus engine reloads to use it."""
    from pathlib import Path

    from engine import EngineOptions
    from frontend.loader import model_stamp

    lm = Path(__file__).parents[1] / "fixtures" / "kenlm" / "tiny.quant_array_trie.bin"
    opts = EngineOptions(models_dir=tmp_path / "models", personal=False, cache_dir=tmp_path / "cache")
    assert model_stamp(opts) == ()  # SHURU_LIBIME_LM=off (conftest)
    monkeypatch.setenv("SHURU_LIBIME_LM", str(lm))
    before = model_stamp(opts)
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "ngram-libime.npz").write_bytes(b"made")
    assert before == (None,) and model_stamp(opts) != before
    assert model_stamp(EngineOptions(personal=False, libime="off", cache_dir=tmp_path / "cache")) == ()


def test_a_models_size_counts_its_own_pinyin_reading_model(registry):
    make_model(registry.root, "personal-20261201-1530")
    alone = registry.get("personal-20261201-1530").size_bytes
    reader = registry.root / "personal-20261201-1530" / "pinyin-model"
    reader.mkdir()
    (reader / "decoder.onnx").write_bytes(b"x" * 5000)
    assert registry.get("personal-20261201-1530").size_bytes == alone + 5000

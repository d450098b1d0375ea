"""A fine-tune asked to (``--reader-minutes``) adapts the pinyin-reading model beside the base
model too: its decoder learns the user's text, its encoder stays, the result is a model dir inside
the personal model's folder that the engine prefers to the shipped one; a reader that cannot be
fine-tuned is said so before the first step."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from tests.trainer.test_pinyin_model import TABLE, tiny_model
from tests.trainer.test_trainer_support import TINY_TEXT, dir_snapshot, tiny_model_dir  # noqa: F401 (fixture)
from trainer import finetune as ft
from trainer.__main__ import main
from trainer.errors import ManifestError, ManifestMismatchError
from trainer.export import file_sha1
from trainer.pinyin_export import load_model_dir_weights, write_pinyin_model_dir
from trainer.pinyin_train import save_pinyin_weights
from trainer.vocab import Vocab, build_small_vocab

FAST = ["--max_steps=4", "--batch_size=4", "--seq_len=32", "--eval_windows=4", "--warmup_steps=2",
        "--eval_every=2", "--report-clauses", "2", "--reader-minutes", "0.02"]


def write_reader(folder: Path, vocab: Vocab) -> Path:
    """A tiny pinyin-reading model dir with the fp16 weights.pt it was exported from (as shipped:
    the graphs hold the fp16 weights)."""
    model = tiny_model(vocab, trained_proj=True).half().float()
    weights = folder.parent / "reader-weights.pt"
    save_pinyin_weights(model, vocab, TABLE, weights)
    write_pinyin_model_dir(model, vocab, TABLE, folder, {"weights_sha1": file_sha1(weights)})
    shutil.move(weights, folder / "weights.pt")
    return folder


@pytest.fixture
def job(tiny_model_dir, tmp_path, monkeypatch):
    """(installed model with a reader beside it, the user's text, output dir); the reader reads
    little text so that the test stays quick."""
    monkeypatch.setattr(ft, "READER_USER_CHARS", 4000)
    monkeypatch.setattr(ft, "READER_REPLAY_CHARS", 4000)
    installed = tmp_path / "assets" / "model"
    shutil.copytree(tiny_model_dir, installed)
    write_reader(tmp_path / "assets" / ft.READER_DIR, Vocab.load(installed / "vocab.txt"))
    text = tmp_path / "mine.txt"
    text.write_text(TINY_TEXT.read_text(encoding="utf-8"), encoding="utf-8")
    return installed, text, tmp_path / "models" / "new"


def _encoder_rows(folder: Path) -> np.ndarray:
    syllables = np.array([[1, 5, 9, 30, 120, 3]], dtype=np.int64)
    return ort.InferenceSession(str(folder / "encoder.onnx")).run(None, {"syllables": syllables})[0]


def test_the_reader_adapts_its_decoder_and_keeps_its_encoder(job, capsys):
    installed, text, out = job
    shipped = installed.parent / ft.READER_DIR
    before = dir_snapshot(installed.parent)
    code = main(["finetune", "--text", str(text), "--base", str(installed), "--out", str(out), "--events", *FAST])
    lines = [json.loads(line) for line in capsys.readouterr().out.strip().splitlines()]
    assert code == 0, lines[-1]
    assert [e["phase"] for e in lines if e.get("event") == "phase"] == ["baseline", "training", "reader", "export",
                                                                         "report"]
    plan, result = lines[0], lines[-1]
    assert plan["reader_minutes"] == 0.02 and result["reader"]["steps"] > 0
    personal = out / ft.READER_DIR
    manifest = json.loads((personal / "manifest.json").read_text())
    assert manifest["metrics"]["finetune"]["adapt"] == "decoder" and not (personal / "weights.pt").exists()
    np.testing.assert_allclose(_encoder_rows(personal), _encoder_rows(shipped), atol=1e-6)  # the encoder stayed
    assert (personal / "decoder.onnx").read_bytes() != (shipped / "decoder.onnx").read_bytes()
    assert dir_snapshot(installed.parent) == before  # the installed models are untouched


def test_the_engine_prefers_the_personal_reader_and_falls_back_to_the_shipped_one(job, tmp_path, capsys):
    from engine import Engine, EngineOptions

    installed, text, out = job
    assert main(["finetune", "--text", str(text), "--base", str(installed), "--out", str(out), *FAST]) == 0
    capsys.readouterr()

    def status() -> str:
        return Engine.load(EngineOptions(model_dir=out, learning=False, personal=False, libime="off")).status

    assert "your pinyin-reading model" in status()
    (out / ft.READER_DIR / "decoder.onnx").write_bytes(b"not a model")
    fallback = status()
    assert "your pinyin-reading model failed to load" in fallback or "your pinyin-reading model not used" in fallback
    assert " + pinyin-reading model" in fallback  # the shipped one stands in
    shutil.rmtree(out / ft.READER_DIR)  # a personal model made without one (as before 0.4.1)
    older = status()
    assert " + pinyin-reading model" in older and "your pinyin-reading model" not in older


@pytest.mark.parametrize("minutes", [[], ["--reader-minutes", "0"]], ids=["by default", "zero minutes"])
def test_only_the_character_model_adapts_unless_asked(job, capsys, minutes):
    installed, text, out = job
    args = [a for a in FAST if a not in ("--reader-minutes", "0.02")]
    assert main(["finetune", "--text", str(text), "--base", str(installed), "--out", str(out), *args,
                 *minutes]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["reader"] is None
    assert not (out / ft.READER_DIR).exists()


@pytest.mark.parametrize("what, breaks, raises, message", [
    ("no weights.pt", lambda r: (r / "weights.pt").unlink(), None, "only the character model adapts"),
    ("other weights", lambda r: (r / "weights.pt").write_bytes(b"x" * 100), ManifestMismatchError,
     "not the weights that"),
    ("another vocabulary", lambda r: write_reader(r, build_small_vocab("一二三四五六七八九十")), ManifestMismatchError,
     "vocab"),
    ("a damaged manifest", lambda r: (r / "manifest.json").write_text("{"), ManifestError, "not valid JSON"),
])
def test_a_reader_that_cannot_adapt_is_found_before_the_first_step(job, what, breaks, raises, message):
    installed, text, out = job
    breaks(installed.parent / ft.READER_DIR)
    logs, steps = [], []
    if raises is None:
        job_ = ft.plan_finetune([text], out, installed, log=logs.append, overrides=FAST[:6], check_only=True,
                                reader_minutes=1)
        assert job_.reader is None and any(message in line for line in logs)
        return
    with pytest.raises(raises, match=message):
        ft.finetune([text], out=out, base=installed, overrides=FAST[:6], log=logs.append, on_step=steps.append,
                    reader_minutes=1)
    assert steps == [] and not out.exists()
    if what == "other weights":  # and where the weights are loaded
        with pytest.raises(raises, match=message):
            load_model_dir_weights(installed.parent / ft.READER_DIR)


def test_the_estimate_counts_the_readers_minutes():
    assert ft.reader_seconds(0) == 0
    assert ft.reader_seconds(2) == 120 + ft.READER_SETUP_S + ft.READER_EXPORT_S


def test_the_shipped_reader_carries_the_weights_its_graphs_were_exported_from():
    from engine.paths import ASSETS_DIR

    model, vocab, table, manifest = load_model_dir_weights(ASSETS_DIR / ft.READER_DIR)
    assert vocab.sha1 == manifest["vocab_sha1"] and table.sha1 == manifest["syllable_sha1"]
    assert sum(p.numel() for p in model.parameters()) > 7e6


def test_an_interrupt_while_the_reader_adapts_keeps_the_old_model_and_resumes(job, monkeypatch):
    import trainer.pinyin_finetune as pf

    installed, text, out = job
    work = out.parent / "work"
    before = dir_snapshot(installed.parent)
    real = pf.adapt_reader

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    kwargs = dict(out=out, base=installed, work=work, overrides=FAST[:6], report_clauses=2, reader_minutes=0.02,
                  log=lambda m: None)
    monkeypatch.setattr(pf, "adapt_reader", interrupted)
    with pytest.raises(KeyboardInterrupt):
        ft.finetune([text], **kwargs)
    assert not out.exists() and (work / "ckpt.pt").is_file()  # the character model's training is kept
    monkeypatch.setattr(pf, "adapt_reader", real)
    result = ft.finetune([text], **kwargs)
    assert result["steps"] == 4 and result["reader"]["steps"] > 0 and (out / ft.READER_DIR / "manifest.json").is_file()
    assert dir_snapshot(installed.parent) == before

"""The training loop on the tiny preset: loss falls, interrupt + resume, mismatches."""
from __future__ import annotations

import math
import os
import signal
import time

import pytest
import torch

from tests.trainer.test_trainer_support import tiny_cfg, tiny_data, tiny_vocab, train_tiny
from trainer.errors import ManifestMismatchError
from trainer.model import MODEL_PRESETS, CharLM
from trainer.train import _sigterm_as_interrupt, lr_at, load_weights, train
from trainer.vocab import build_small_vocab
from trainer.export import save_weights


def test_tiny_model_loss_falls(tmp_path):
    result, vocab = train_tiny(tmp_path / "run", max_steps=40)
    history = torch.load(tmp_path / "run" / "ckpt.pt", weights_only=False)["state"]["history"]
    assert result["steps"] == 40 and result["tokens"] == 40 * 8 * 32
    assert history[0]["step"] == 10 and history[-1]["step"] == 40
    # starts near uniform (ln V) and learns: the held-out loss falls well below it
    assert history[-1]["heldout_loss"] < history[0]["heldout_loss"] < math.log(len(vocab)) + 0.5
    assert history[-1]["heldout_loss"] < math.log(len(vocab)) - 0.5


def test_interrupt_then_resume_matches_uninterrupted(tmp_path):
    def stop_at_7(step):
        if step == 7:
            raise KeyboardInterrupt

    vocab = tiny_vocab()
    cfg = tiny_cfg(tmp_path / "a", max_steps=12)
    with pytest.raises(KeyboardInterrupt):
        train(cfg, tiny_data(cfg, vocab), vocab, log=lambda m: None, on_step=stop_at_7)
    assert torch.load(tmp_path / "a" / "ckpt.pt", weights_only=False)["state"]["step"] == 7
    resumed = train(cfg, tiny_data(cfg, vocab), vocab, log=lambda m: None)
    straight, _ = train_tiny(tmp_path / "b", max_steps=12)
    assert resumed["steps"] == 12
    # same seeds, RNG states restored: resuming gives the same model as never stopping
    a = torch.load(tmp_path / "a" / "ckpt.pt", weights_only=False)["model"]
    b = torch.load(tmp_path / "b" / "ckpt.pt", weights_only=False)["model"]
    assert all(torch.allclose(a[k], b[k], atol=1e-5) for k in a)


def test_resume_with_other_model_shape_is_rejected(tmp_path):
    train_tiny(tmp_path / "run", max_steps=3)
    vocab = tiny_vocab()
    cfg = tiny_cfg(tmp_path / "run", max_steps=6, d_model=48)
    with pytest.raises(ManifestMismatchError, match="d_model: expected 48, found 32"):
        train(cfg, tiny_data(cfg, vocab), vocab, log=lambda m: None)


def test_weights_with_other_vocab_are_rejected(tmp_path):
    vocab = tiny_vocab()
    model = CharLM(MODEL_PRESETS["tiny"].__class__(**{**MODEL_PRESETS["tiny"].to_dict(), "vocab_size": len(vocab)}))
    save_weights(model, vocab, tmp_path / "weights.pt")
    assert load_weights(tmp_path / "weights.pt", vocab).cfg == model.cfg
    with pytest.raises(ManifestMismatchError, match="vocab sha1"):
        load_weights(tmp_path / "weights.pt", build_small_vocab("我去银行"))


def test_sigterm_becomes_keyboard_interrupt():
    with pytest.raises(KeyboardInterrupt):
        with _sigterm_as_interrupt():
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(1)  # the handler raises before this ends
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL


def test_lr_schedule():
    cfg = tiny_cfg("unused", lr=1.0, min_lr=0.1, warmup_steps=10)
    assert lr_at(cfg, 0, 0.0) == pytest.approx(0.1)
    assert lr_at(cfg, 10, 0.0) == pytest.approx(1.0)
    assert lr_at(cfg, 50, 0.5) == pytest.approx(0.55)
    assert lr_at(cfg, 99, 1.0) == pytest.approx(0.1)

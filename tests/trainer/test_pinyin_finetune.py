"""Fine-tuning the pinyin-reading model: what is frozen, what is written, what is refused."""
from __future__ import annotations

import json

import pytest
import torch

from tests.trainer.test_pinyin_model import FIXTURE, TABLE, tiny_model
from trainer.errors import ConfigError
from trainer.pinyin_export import load_trained
from trainer.pinyin_finetune import PinyinFinetuneConfig, _write, pinyin_finetune
from trainer.vocab import build_small_vocab

TEXT = FIXTURE.read_text(encoding="utf-8")


def write_base(out, text: str):
    """A tiny base export (pinyin-train's export dir) over the characters of ``text``."""
    vocab = build_small_vocab(text)
    _write(out, tiny_model(vocab, trained_proj=True), vocab, TABLE, {}, PinyinFinetuneConfig(), {})
    return out


@pytest.fixture(scope="module")
def base_dir(tmp_path_factory):
    return write_base(tmp_path_factory.mktemp("pinyin-base") / "export", TEXT)


def _params(model):
    return {name: p.detach().clone() for name, p in model.named_parameters()}


@pytest.mark.parametrize("adapt, encoder_changes", [("decoder", False), ("all", True)])
def test_adapt_decides_what_changes(base_dir, tmp_path, adapt, encoder_changes):
    user = tmp_path / "mine.txt"
    user.write_text(TEXT, encoding="utf-8")
    cfg = PinyinFinetuneConfig(adapt=adapt, max_steps=3, minutes=0, batch_size=4, seq_len=32, eval_windows=4,
                               replay_chars=3000, threads=1)
    result = pinyin_finetune([user], base_dir, tmp_path / "out", cfg, log=lambda _: None)
    before, _, _, _ = load_trained(base_dir)
    after, _, _, manifest = load_trained(tmp_path / "out")
    a, b = _params(before), _params(after)
    new = {n for n, _ in after.named_parameters() if n.startswith(("encoder.", "proj."))}
    assert any(not torch.equal(a[n], b[n]) for n in a if n not in new)  # the decoder learned
    assert any(not torch.equal(a[n], b[n]) for n in new) == encoder_changes
    assert result["steps"] == 3 and result["adapt"] == adapt
    assert set(result["before"]) == set(result["after"]) == {"user", "general"}
    assert manifest["metrics"]["finetune"]["after"] == json.loads(json.dumps(result["after"]))


def test_an_unknown_adapt_is_refused_before_training(base_dir, tmp_path):
    with pytest.raises(ConfigError, match="adapt must be one of decoder, all"):
        pinyin_finetune([FIXTURE], base_dir, tmp_path / "out", PinyinFinetuneConfig(adapt="encoder"),
                        log=lambda _: None)
    assert not (tmp_path / "out").exists()


def test_text_without_chinese_is_refused_before_training(base_dir, tmp_path):
    from trainer.errors import InputFileError

    english = tmp_path / "english.txt"
    english.write_text("Only English here.\nAnd more of it.\n", encoding="utf-8")
    with pytest.raises(InputFileError, match="no Chinese characters"):
        pinyin_finetune([english], base_dir, tmp_path / "out", PinyinFinetuneConfig(max_steps=1, replay_chars=100),
                        log=lambda _: None)
    assert not (tmp_path / "out").exists()

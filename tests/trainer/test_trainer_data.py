"""Pinyin annotation, vocabulary, encoding, shards, sampling, clause sets, config overrides."""
from __future__ import annotations

import json
import lzma

import numpy as np
import pytest

from trainer.config import apply_overrides
from trainer.data import (PrepareConfig, WindowSampler, annotate, load_shards, make_clause_set, prepare,
                          thin_shards)
from trainer.errors import ConfigError, TrainerError
from trainer.train import TrainConfig
from trainer.vocab import BOS, PUNCT, UNK, Vocab, build_small_vocab, gb2312_chars, has_pinyin


@pytest.mark.parametrize("text, syllables", [
    ("银行", ["yin", "hang"]),
    ("行走", ["xing", "zou"]),
    ("绿色", ["lv", "se"]),
    ("女人", ["nv", "ren"]),
    ("我去银行。然后行走", ["wo", "qu", "yin", "hang", "ran", "hou", "xing", "zou"]),  # punctuation skipped
    ("abc123", []),
])
def test_annotate(text, syllables):
    assert annotate(text) == syllables


def test_gb2312_chars_all_have_pinyin():
    chars = gb2312_chars()
    assert len(chars) == 6763 and len(set(chars)) == 6763
    assert chars[0] == "啊" and all(has_pinyin(c) for c in chars)


def test_vocab_round_trip(tmp_path):
    vocab = build_small_vocab("我去银行取钱")
    vocab.save(tmp_path / "vocab.txt")
    again = Vocab.load(tmp_path / "vocab.txt")
    assert again == vocab and again.sha1 == vocab.sha1
    assert again.tokens[:4] == ("<pad>", "<unk>", "<bos>", "<p>")


@pytest.mark.parametrize("text, expected", [
    ("我去银行", "\n我去银行"),
    ("我去，， 银行abc取钱", "\n我去_银行_取钱"),  # a run of non-Han chars -> one <p>
    ("我去\n\n\n银行", "\n我去\n银行"),  # empty lines dropped, each line starts with <bos>
])
def test_encode_decode(text, expected):
    vocab = build_small_vocab("我去银行取钱")
    assert vocab.decode(vocab.encode(text)) == expected


def test_encode_unknown_han_and_no_bos():
    vocab = build_small_vocab("我去")
    ids = vocab.encode("，我龘", bos=False)
    assert ids.tolist() == [PUNCT, vocab.tokens.index("我"), UNK]
    assert vocab.encode("我")[0] == BOS and vocab.encode("我").dtype == np.uint16


def _fake_corpus(root, files: dict[str, str]):
    (root / "corpus").mkdir(parents=True)
    for name, text in files.items():
        with lzma.open(root / "corpus" / f"{name}.txt.xz", "wt", encoding="utf-8") as fh:
            fh.write(text)


def test_prepare_shards_round_trip(tmp_path):
    lines = [f"第{i}行：我们去银行取钱。" for i in range(40)]
    _fake_corpus(tmp_path / "data", {"news_a": "\n".join(lines) + "\n", "reviews": "绿色ＡＢＣ很好\n"})
    cfg = PrepareConfig(out_dir=str(tmp_path / "shards"), data_dir=str(tmp_path / "data"), shard_tokens=50,
                        heldout_every=10)
    meta = prepare(cfg, log=lambda m: None)
    vocab = Vocab.load(tmp_path / "shards" / "vocab.txt")
    assert len(vocab) > 6763 - 10 and meta["vocab_sha1"] == vocab.sha1  # all of GB2312 (+ specials)
    train, held = load_shards(tmp_path / "shards"), load_shards(tmp_path / "shards", "heldout")
    assert meta["shards"] == len(list((tmp_path / "shards").glob("train-*.npy"))) > 1
    assert len(train) == meta["train_tokens"] and len(held) == meta["heldout_tokens"]
    text = vocab.decode(train)
    assert "\n第_行_我们去银行取钱_" in text and "\n绿色_很好" in text  # NFKC, <p> runs, <bos>
    assert vocab.decode(held).count("\n") == 4  # lines 9, 19, 29, 39 of news_a
    saved = json.loads((tmp_path / "shards" / "meta.json").read_text())
    assert saved["tokens_per_source"]["reviews"]["train"] == 6  # <bos> 绿 色 <p> 很 好


def test_window_sampler_shapes_and_alignment():
    tokens = np.array(([BOS] + list(range(4, 20))) * 20, dtype=np.uint16)
    for align, first in [(1.0, False), (0.0, True)]:  # <bos>-aligned, or a random cut after <bos>
        s = WindowSampler(tokens, seq_len=8, seed=0, bos_align=align, bos_first=first)
        x, y = s.batch(5)
        assert x.shape == y.shape == (5, 8) and x.dtype == np.int64
        assert (x[:, 0] == BOS).all() and (x[:, 1:] == y[:, :-1]).all()
    x, _ = WindowSampler(tokens, seq_len=8, seed=0, bos_align=0.0, bos_first=False).batch(20)
    assert (x[:, 0] != BOS).any()


def test_clause_set(tmp_path):
    src = tmp_path / "law.txt"
    src.write_text("第一条 为了规范银行行为，制定本条例。\n第二条 本条例适用于全省。\n", encoding="utf-8")
    records = make_clause_set(src, n=10)
    assert [r["hanzi"] for r in records] == ["第一条", "为了规范银行行为", "制定本条例", "第二条", "本条例适用于全省"]
    r = records[1]
    assert r["pinyin"] == "weileguifanyinhangxingwei" and r["context"] == "第一条 "
    assert records[2]["context"] == "第一条 为了规范银行行为," and r["src"] == "law.txt"


@pytest.mark.parametrize("args, error", [
    (["--lr=0.5", "--batch-size=4", "--autocast_bf16=false"], None),
    (["--nope=1"], "unknown config key --nope"),
    (["--batch_size=1.5"], "expected int"),
    (["--autocast_bf16=maybe"], "expected bool"),
    (["lr=1"], "expected --key=value"),
])
def test_config_overrides(args, error):
    if error is None:
        cfg = apply_overrides(TrainConfig(), args)
        assert (cfg.lr, cfg.batch_size, cfg.autocast_bf16) == (0.5, 4, False)
    else:
        with pytest.raises(ConfigError, match=error) as info:
            apply_overrides(TrainConfig(), args)
        assert isinstance(info.value, TrainerError)


def test_thin_shards_keeps_evenly_spread_runs_from_bos(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    line = np.array([BOS, 10, 11, 12, 13, 14, 15], np.uint16)  # 7-token texts
    np.save(src / "train-000.npy", np.tile(line, 50))
    np.save(src / "train-001.npy", np.tile(line + np.array([0, 10, 10, 10, 10, 10, 10], np.uint16), 50))
    np.save(src / "heldout.npy", line)
    (src / "vocab.txt").write_text("x\n", encoding="utf-8")
    meta = thin_shards(src, tmp_path / "dst", max_tokens=140, pieces=4, files=2)
    kept = load_shards(tmp_path / "dst", "train")
    assert len(sorted((tmp_path / "dst").glob("train-*.npy"))) == 2
    assert meta["train_tokens"] == len(kept) <= 140 and kept[0] == BOS
    assert {10, 20} <= set(kept.tolist())  # both halves (both "sources") are kept
    assert (tmp_path / "dst" / "heldout.npy").read_bytes() == (src / "heldout.npy").read_bytes()


@pytest.mark.parametrize("line, clauses_wanted", [
    ("今天好开心[哈哈]明天见[泪][泪]", ["今天好开心", "明天见"]),  # Weibo's emoticon codes
    ("挖[挖鼻屎]了", ["挖", "了"]),
    ("见［偷笑］了", ["见", "了"]),  # full-width brackets
    ("如图[图片]所示[1]。", ["如图", "所示"]),  # placeholders and references
    ("[这是一段很长的方括号里的文字不是表情]", ["这是一段很长的方括号里的文字不是表情"]),  # longer: text
    ("【新闻】今天", ["新闻", "今天"]),  # 【】 titles are typed
])
def test_the_corpus_is_read_without_bracketed_tags(tmp_path, line, clauses_wanted):
    from engine.text import clauses
    from trainer.corpus import CorpusFile, read_lines

    path = tmp_path / "social_weibo_posts.txt.xz"
    with lzma.open(path, "wt", encoding="utf-8") as fh:
        fh.write(line + "\n")
    lines = list(read_lines(CorpusFile(path, 1.0)))
    assert len(lines) == 1 and [c for ln in lines for c in clauses(ln)] == clauses_wanted

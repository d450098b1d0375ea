"""The pinyin-reading model: CharLM at init, the look-ahead contract, candidate rows, the
aligned data, augmentation rates, and a tiny resumable training run."""
from __future__ import annotations

import dataclasses
import json
import lzma
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from trainer.model import MODEL_PRESETS, CharLM
from trainer.pinyin_data import (Augment, Encoder, PinyinWindowSampler, augment, data_tables, encode_lines,
                                 load_rounds, prepare_pinyin)
from trainer.pinyin_model import PinyinConfig, PinyinLM, restricted_logprobs, restricted_loss
from trainer.errors import ManifestMismatchError
from trainer.pinyin_train import (PRESETS, build_model, continued_state, load_pinyin_weights, pinyin_train,
                                  rewarm)
from trainer.pinyin_vocab import SYL_NONE, SYL_PAD, candidate_matrix, syllable_vocab
from trainer.vocab import Vocab, build_small_vocab

torch.set_num_threads(1)
FIXTURE = Path(__file__).parents[1] / "fixtures" / "trainer" / "tiny.txt"
SHIPPED_VOCAB = Path(__file__).parents[2] / "engine" / "assets" / "model" / "vocab.txt"
TABLE = syllable_vocab()


@pytest.fixture(scope="module")
def vocab() -> Vocab:
    return build_small_vocab(FIXTURE.read_text(encoding="utf-8") + "你好吗银行走绿略")


def tiny_model(vocab: Vocab, lookahead: int = 2, trained_proj: bool = False, bidirectional: bool = False) -> PinyinLM:
    torch.manual_seed(0)
    lm = CharLM(dataclasses.replace(MODEL_PRESETS["tiny"], vocab_size=len(vocab)))
    pcfg = PinyinConfig(n_syllable=len(TABLE), n_layer=2, d_model=32, n_head=2, d_ff=64, lookahead=lookahead,
                        max_len=64, bidirectional=bidirectional)
    model = PinyinLM(lm, pcfg, torch.from_numpy(candidate_matrix(vocab, TABLE))).eval()
    if trained_proj:  # as if trained: pinyin reaches the decoder
        torch.nn.init.normal_(model.proj.weight, std=0.5)
    return model


def random_inputs(vocab: Vocab, T: int = 24, B: int = 2, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    idx = torch.randint(4, len(vocab), (B, T), generator=g)
    syl = torch.randint(2, len(TABLE), (B, T), generator=g)
    return idx, syl


# --- the model -----------------------------------------------------------------------


def test_at_init_pinyin_lm_is_its_charlm(vocab):
    model = tiny_model(vocab)
    idx, syl = random_inputs(vocab)
    assert torch.equal(model(idx, syl)[0], model.lm(idx)[0])


@pytest.mark.parametrize("lookahead, changed", [(2, 3), (2, 10), (2, 23), (1, 7), (0, 7)])
def test_lookahead_contract(vocab, lookahead, changed):
    """Changing syl[j] leaves logits[t] alone for t < j - lookahead and changes logits[j - lookahead]
    (the char at t + 1 = j - lookahead + 1 is read lookahead syllables ahead) and logits[j]
    (the syllable of the char position j predicts)."""
    model = tiny_model(vocab, lookahead, trained_proj=True)
    idx, syl = random_inputs(vocab)
    other = syl.clone()
    other[:, changed] = (syl[:, changed] + 7 - 2) % (len(TABLE) - 2) + 2
    with torch.no_grad():
        a, b = model(idx, syl)[0], model(idx, other)[0]
    first = changed - lookahead
    assert torch.equal(a[:, :first], b[:, :first])
    assert not torch.allclose(a[:, first], b[:, first])
    assert not torch.allclose(a[:, changed], b[:, changed])


def test_a_bidirectional_encoder_reads_every_syllable(vocab):
    """Every position's logits move with the last syllable; its reach is max_len."""
    model = tiny_model(vocab, trained_proj=True, bidirectional=True)
    idx, syl = random_inputs(vocab)
    other = syl.clone()
    other[:, -1] = (syl[:, -1] + 5 - 2) % (len(TABLE) - 2) + 2
    with torch.no_grad():
        a, b = model(idx, syl)[0], model(idx, other)[0]
    assert not torch.allclose(a[:, 0], b[:, 0])
    assert model.cfg.reach == model.cfg.max_len and tiny_model(vocab).cfg.reach == 2


@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("cut", [1, 5, 17])
def test_pad_means_not_typed_yet(vocab, cut, bidirectional):
    """<pad> from position k on = the sequence cut at k (what an incremental engine feeds)."""
    model = tiny_model(vocab, trained_proj=True, bidirectional=bidirectional)
    idx, syl = random_inputs(vocab)
    padded = syl.clone()
    padded[:, cut:] = SYL_PAD
    with torch.no_grad():
        full, short = model(idx, padded)[0][:, :cut], model(idx[:, :cut], syl[:, :cut])[0]
    assert torch.allclose(full, short, atol=1e-5)


def test_learns_a_choice_only_the_next_syllable_decides():
    """视频 and 是吧 in random order: whether shi is 视 or 是 is known only from the syllable after
    it (pin or ba). A model that reads ahead learns it; one that does not stays at a coin toss."""
    vocab = build_small_vocab("视频是吧")
    model = tiny_model(vocab)
    model.train()
    ids = {ch: vocab.tokens.index(ch) for ch in "视频是吧"}
    syl_of = {ch: TABLE.id_of(s) for ch, s in zip("视频是吧", ("shi", "pin", "shi", "ba"))}
    g = np.random.default_rng(0)

    def batch(n=16, pairs=12):
        text = ["".join("视频" if g.random() < 0.5 else "是吧" for _ in range(pairs)) for _ in range(n)]
        x = torch.tensor([[2] + [ids[c] for c in t[:-1]] for t in text])  # <bos> first
        y = torch.tensor([[ids[c] for c in t] for t in text])
        syl = torch.tensor([[syl_of[c] for c in t] for t in text])
        return x, syl, y

    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    for _ in range(150):
        x, syl, y = batch()
        _, loss = model(x, syl, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    x, syl, y = batch(64)
    with torch.no_grad():
        lp = restricted_logprobs(model(x, syl)[0], syl, model.candidates)
    first = torch.arange(0, y.shape[1], 2)  # the shi of each pair
    right = lp[:, first].argmax(-1) == y[:, first]
    assert right.float().mean() > 0.95


# --- candidates ----------------------------------------------------------------------


@pytest.mark.parametrize("char, syllable, expected", [
    ("好", "hao", True), ("好", "ma", False), ("行", "xing", True), ("行", "hang", True),
    ("绿", "lv", True), ("略", "lve", True), ("略", "lue", True), ("好", "h", True), ("好", "m", False),
])
def test_candidate_rows(vocab, char, syllable, expected):
    cand = candidate_matrix(vocab, TABLE)
    assert cand[TABLE.id_of(syllable), vocab.tokens.index(char)] == expected


@pytest.mark.parametrize("initial", ["h", "zh", "y", "w"])
def test_initial_row_is_union_of_its_syllables(vocab, initial):
    cand = candidate_matrix(vocab, TABLE)
    i = TABLE.id_of(initial)
    members = [s for s in range(2, 2 + TABLE.n_full) if TABLE.initial_map[s] == i]
    assert len(members) > 5 and np.array_equal(cand[i], np.logical_or.reduce(cand[members]))


def test_zero_initial_syllables_have_no_initial_token():
    assert len(TABLE) - 2 - TABLE.n_full == 23
    for s in ("an", "ou", "e", "a"):
        assert TABLE.initial_map[TABLE.id_of(s)] == TABLE.id_of(s)
    assert TABLE.id_of("ng") == SYL_NONE and TABLE.id_of("?") == SYL_NONE


@pytest.mark.parametrize("syllable", ["hao", "h", "<none>"])
def test_restricted_logprobs_sum_to_one(vocab, syllable):
    cand = torch.from_numpy(candidate_matrix(vocab, TABLE))
    logits = torch.randn(1, 3, len(vocab))
    syl = torch.full((1, 3), TABLE.id_of(syllable) if syllable != "<none>" else SYL_NONE)
    lp = restricted_logprobs(logits, syl, cand)
    assert torch.allclose(lp.exp().sum(-1), torch.ones(1, 3), atol=1e-5)
    assert torch.isinf(lp[~cand[syl]]).all()


def test_restricted_loss_ignores_pad_and_tolerates_a_non_candidate(vocab):
    cand = torch.from_numpy(candidate_matrix(vocab, TABLE))
    logits = torch.randn(1, 3, len(vocab), requires_grad=True)
    hao, ma = TABLE.id_of("hao"), TABLE.id_of("ma")
    targets = torch.tensor([[vocab.tokens.index("好"), vocab.tokens.index("好"), 0]])
    loss = restricted_loss(logits, torch.tensor([[hao, ma, hao]]), targets, cand)  # 好 is no "ma": whole vocab
    loss.backward()
    assert math.isfinite(float(loss.detach())) and torch.isfinite(logits.grad).all()


# --- data ----------------------------------------------------------------------------


@pytest.mark.parametrize("line, tokens, syllables", [
    ("你好", "<bos> 你 好", "<none> ni hao"),
    ("银行行走", "<bos> 银 行 行 走", "<none> yin hang xing zou"),
    ("你好，绿", "<bos> 你 好 <p> 绿", "<none> ni hao <none> lv"),
    ("A略!", "<bos> <p> 略 <p>", "<none> <none> lve <none>"),
])
def test_tokens_and_syllables_are_aligned(vocab, line, tokens, syllables):
    tok, syl, wrong = encode_lines([line], Encoder.of(vocab))
    assert [vocab.tokens[t] for t in tok] == tokens.split()
    assert [TABLE.tokens[s] for s in syl] == syllables.split() and wrong == 0


def _write_corpus(root: Path, sources: dict[str, list[str]]) -> Path:
    (root / "corpus").mkdir(parents=True)
    for name, lines in sources.items():
        with lzma.open(root / "corpus" / f"{name}.txt.xz", "wt", encoding="utf-8") as fh:
            fh.write("".join(line + "\n" for line in lines))
    return root


CHARS = "你好银行走绿略一二三四五六七八九十百千万"


def _numbered(i: int) -> str:
    """A distinct Han line per index (base-20 digits of i)."""
    return CHARS[i // 400 % 20] + CHARS[i // 20 % 20] + CHARS[i % 20] + "。"


def test_heldout_rule_and_interleaved_rounds(tmp_path):
    lines = [_numbered(i) for i in range(250)]
    corpus = _write_corpus(tmp_path / "data", {"alpha": lines, "beta": ["好的好的"] * 300})
    out = tmp_path / "pinyin"
    meta = prepare_pinyin(out, corpus, 10**9, vocab_path=SHIPPED_VOCAB, round_chars=400, log=lambda m: None)
    vocab, table = data_tables(out)
    held, _ = load_rounds(out, "heldout", meta["rounds"])
    held_text = vocab.decode(held)
    assert sorted(held_text.split()) == sorted([lines[99].replace("。", "_"), lines[199].replace("。", "_")]
                                               + ["好的好的"] * 3)
    first, _ = load_rounds(out, "train", 1)  # round 0 already mixes both sources
    assert "好的好的" in vocab.decode(first) and lines[0][:3] in vocab.decode(first)
    assert meta["sources"]["alpha"]["done"] and meta["sources"]["beta"]["done"]


def test_prepare_appends_and_matches_one_pass(tmp_path):
    corpus = _write_corpus(tmp_path / "data", {"alpha": [_numbered(i) for i in range(300)],
                                               "beta": [_numbered(i)[::-1] for i in range(200)]})
    kw = dict(vocab_path=SHIPPED_VOCAB, round_chars=300, log=lambda m: None)
    prepare_pinyin(tmp_path / "a", corpus, 10**9, **kw)
    first = prepare_pinyin(tmp_path / "b", corpus, 600, **kw)
    second = prepare_pinyin(tmp_path / "b", corpus, 10**9, **kw)
    assert 0 < first["rounds"] < second["rounds"]
    for split in ("train", "heldout"):
        for a, b in zip(load_rounds(tmp_path / "a", split, second["rounds"]),
                        load_rounds(tmp_path / "b", split, second["rounds"])):
            assert np.array_equal(a, b)


def test_augmentation_rates():
    hao, an = TABLE.id_of("hao"), TABLE.id_of("an")
    syl = np.full((4000, 64), hao)
    syl[:, ::8] = an  # zero-initial: never typed as an initial
    out = augment(syl, np.random.default_rng(0), TABLE.initial_map, Augment(p_context=0.0, p_cut=0.0))
    h = TABLE.id_of("h")
    assert not (out[syl == an] == TABLE.initial_map[hao]).any()
    assert abs((out[syl == hao] == h).mean() - (0.05 + 0.95 * 0.08) * 0.95) < 0.005
    assert abs((out == SYL_NONE).mean() - 0.05) < 0.005
    whole = ((out == h) | (out == SYL_NONE) | (syl == an)).all(axis=1).mean()
    assert abs(whole - 0.05) < 0.01


def test_cut_and_context_augmentation():
    syl = np.full((4000, 64), TABLE.id_of("hao"))
    out = augment(syl, np.random.default_rng(1), TABLE.initial_map,
                  Augment(p_initial=0.0, p_all_initials=0.0, p_none=0.0, p_context=0.1, p_cut=0.2))
    pad = out == SYL_PAD
    assert abs(pad.any(axis=1).mean() - 0.2) < 0.02
    assert (np.diff(pad.astype(int), axis=1) >= 0).all()  # <pad> only as a suffix
    assert not pad[:, 0].any()
    assert abs((out[:, 0] == SYL_NONE).mean() - 0.1) < 0.015


def test_sampler_windows_are_aligned_shifts():
    tokens = np.arange(4, 504, dtype=np.uint16)
    syllables = (np.arange(500) % 400 + 2).astype(np.uint16)
    s = PinyinWindowSampler(tokens, syllables, 16, 0, TABLE, Augment(0, 0, 0, 0, 0), bos_align=0.0)
    x, syl, y = s.batch(8)
    assert np.array_equal(x[:, 1:], y[:, :-1])
    assert np.array_equal(syl, syllables[y - 4])  # the syllable of each target


# --- a tiny training run -------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_data_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("pinyin")
    lines = FIXTURE.read_text(encoding="utf-8").splitlines()
    corpus = _write_corpus(root / "data", {"one": lines[::2], "two": lines[1::2]})
    prepare_pinyin(root / "pinyin", corpus, 10**9, vocab_path=SHIPPED_VOCAB, round_chars=3000, heldout_every=5,
                   log=lambda m: None)
    return root / "pinyin"


def test_tiny_run_stops_resumes_and_exports(tmp_path, tiny_data_dir):
    def cfg(run):
        return dataclasses.replace(PRESETS["tiny"](), run_dir=str(run), data_dir=str(tiny_data_dir), max_steps=8,
                                   eval_every=4)

    def stop_at_5(step):
        if step == 5:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        pinyin_train(cfg(tmp_path / "a"), log=lambda m: None, on_step=stop_at_5)
    ck = torch.load(tmp_path / "a" / "ckpt.pt", weights_only=False)
    assert ck["state"]["step"] == 5 and ck["state"]["baseline"]["syl_acc"] > 0
    resumed = pinyin_train(cfg(tmp_path / "a"), log=lambda m: None)
    straight = pinyin_train(cfg(tmp_path / "b"), log=lambda m: None)
    assert resumed["steps"] == straight["steps"] == 8 and resumed["done"]
    assert [h["step"] for h in torch.load(tmp_path / "a" / "ckpt.pt", weights_only=False)["state"]["history"]] == [4, 8]
    assert all(math.isfinite(v) for k, v in resumed["eval"].items() if k.endswith("_loss"))
    a = torch.load(tmp_path / "a" / "ckpt.pt", weights_only=False)["model"]
    b = torch.load(tmp_path / "b" / "ckpt.pt", weights_only=False)["model"]
    assert all(torch.allclose(a[k], b[k], atol=1e-5) for k in a)  # RNG and data position restored
    manifest = json.loads((tmp_path / "a" / "export" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["training"]["steps"] == 8 and manifest["syllable_sha1"] == TABLE.sha1
    vocab, table = data_tables(tiny_data_dir)
    model = load_pinyin_weights(tmp_path / "a" / "export" / "weights.pt", vocab, table)
    assert "optimizer" not in torch.load(tmp_path / "a" / "export" / "weights.pt", weights_only=True)
    assert model.cfg.lookahead == 2 and model.proj.weight.abs().sum() > 0


def test_a_run_continues_another_runs_export_as_a_bidirectional_encoder(tmp_path, tiny_data_dir):
    base = dataclasses.replace(PRESETS["tiny"](), run_dir=str(tmp_path / "a"), data_dir=str(tiny_data_dir),
                               max_steps=4, eval_every=4)
    pinyin_train(base, log=lambda m: None)
    ck = torch.load(tmp_path / "a" / "ckpt.pt", weights_only=False)
    del ck["pinyin_config"]["bidirectional"]  # a checkpoint written before the field existed
    torch.save(ck, tmp_path / "a" / "ckpt.pt")
    assert pinyin_train(dataclasses.replace(base, max_steps=5), log=lambda m: None)["steps"] == 5  # resumes
    vocab, table = data_tables(tiny_data_dir)
    before = load_pinyin_weights(tmp_path / "a" / "export" / "weights.pt", vocab, table)
    both = dataclasses.replace(base, run_dir=str(tmp_path / "b"), bidirectional=True,
                               init_pinyin_from=str(tmp_path / "a" / "export"), max_steps=0)
    start = build_model(both, vocab, table)
    assert start.cfg.bidirectional and all(torch.equal(v, before.state_dict()[k]) for k, v in start.state_dict().items())
    with pytest.raises(ManifestMismatchError, match="built for a different encoder"):  # not resumed as the other
        pinyin_train(dataclasses.replace(base, bidirectional=True, max_steps=6), log=lambda m: None)
    pinyin_train(dataclasses.replace(both, max_steps=2), log=lambda m: None)
    manifest = json.loads((tmp_path / "b" / "export" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["pinyin_config"]["bidirectional"] and manifest["training"]["steps"] == 2


def test_a_run_goes_on_from_its_export_alone(tmp_path, tiny_data_dir):
    """An export (weights, no optimizer) carries a run across machines: the run goes on at its step,
    with the learning rate warmed up again, and refuses an export of another kind of encoder."""
    base = dataclasses.replace(PRESETS["tiny"](), run_dir=str(tmp_path / "a"), data_dir=str(tiny_data_dir),
                               max_steps=6, eval_every=3, warmup_steps=4)
    pinyin_train(base, log=lambda m: None)
    lrs = []
    on = dataclasses.replace(base, run_dir=str(tmp_path / "b"), continue_from=str(tmp_path / "a" / "export"),
                             max_steps=10)
    vocab, table = data_tables(tiny_data_dir)
    model = build_model(on, vocab, table)
    exported = load_pinyin_weights(tmp_path / "a" / "export" / "weights.pt", vocab, table)
    assert all(torch.equal(v, exported.state_dict()[k]) for k, v in model.state_dict().items())
    state = continued_state(on, model)
    assert (state.step, state.rewarm_from) == (6, 6) and state.tokens == 6 * base.batch_size * base.seq_len
    assert [rewarm(on, dataclasses.replace(state, step=k)) for k in (6, 7, 9, 10)] == [0.25, 0.5, 1.0, 1.0]
    out = pinyin_train(on, log=lrs.append)
    assert out["steps"] == 10 and out["done"]
    assert any("resuming at step 6" in m for m in lrs)
    manifest = json.loads((tmp_path / "b" / "export" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["training"]["steps"] == 10
    other = dataclasses.replace(on, run_dir=str(tmp_path / "c"), bidirectional=True)
    with pytest.raises(ManifestMismatchError, match="another kind of encoder"):
        pinyin_train(other, log=lambda m: None)

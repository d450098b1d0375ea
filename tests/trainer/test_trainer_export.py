"""ONNX export: torch vs onnxruntime parity, cached vs uncached decoding, masked caches,
manifest checks.

Tolerance: the graph computes in fp32 and agrees with torch to max abs diff 1e-4 (observed
~2e-6) plus float16's rounding of what it returns (format version 2: float16 caches and
log-probabilities, 2^-11 relative; version 3 returns the new positions' caches only); int8 to 0.5 (dynamic quantisation of a tiny random-ish
model; observed ~1e-2).
"""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

from tests.trainer.test_trainer_support import checkpoint_model, random_batch, tiny_model_dir  # noqa: F401 (fixture)
from engine.core.model_format import FLOAT16_IO
from trainer.errors import ManifestError, ManifestMismatchError
from trainer.export import (INT8_MEAN_DRIFT, INT8_TOP1_AGREEMENT, check_feeds, convert_float16_io, export_onnx,
                            load_manifest, ort_session, run_session, upgrade_model_dir, write_model_dir)
from trainer.model import CharLM, ModelConfig
from trainer.train import load_weights
from trainer.vocab import Vocab

FP32_TOL = 1e-4
HALF = 2.0 ** -11  # float16's relative rounding
CACHE_TOL = 2e-3  # after caches stored in float16 and read again (observed ~4e-4)


def close(got, want, tol: float = FP32_TOL) -> bool:
    """Equal up to ``tol`` plus float16's rounding of the returned values."""
    return bool(np.all(np.abs(got - want) <= tol + HALF * np.abs(want)))


def _model(model_dir) -> CharLM:
    return checkpoint_model(model_dir.parent / "run")


def _empty(cfg: ModelConfig, batch: int):
    kv = np.zeros((cfg.n_layer, batch, cfg.n_head, 0, cfg.head_dim), np.float32)
    return kv, kv.copy(), np.zeros((batch, 0), np.float32)


def _run(sess, tokens, positions, pk, pv, mask):
    """logprobs and the caches after the run, past and new positions (a format-3 graph returns the new ones)."""
    lp, k, v = run_session(sess, None, {"tokens": tokens, "positions": positions, "past_k": pk, "past_v": pv,
                                        "past_mask": mask})
    assert k.shape[3] == v.shape[3] == tokens.shape[1]
    return lp, np.concatenate([pk, k], 3), np.concatenate([pv, v], 3)


def test_manifest(tiny_model_dir):
    m = load_manifest(tiny_model_dir)
    assert m["format"] == "shuru-neural-lm" and m["format_version"] == 3 and m["quantized"] is False
    assert m["vocab_size"] == len(Vocab.load(tiny_model_dir / "vocab.txt")) == m["config"]["vocab_size"]
    assert list(m["io"]["inputs"]) == ["tokens", "positions", "past_k", "past_v", "past_mask"]
    assert list(m["io"]["outputs"]) == ["logprobs", "present_k", "present_v"]
    assert m["special_tokens"] == {"<pad>": 0, "<unk>": 1, "<bos>": 2, "<p>": 3}
    # weights.pt is the same model in fp16
    fp16 = load_weights(tiny_model_dir / "weights.pt", Vocab.load(tiny_model_dir / "vocab.txt"))
    assert all(torch.allclose(a, b, atol=1e-3) for a, b in zip(fp16.state_dict().values(),
                                                               _model(tiny_model_dir).state_dict().values()))
    assert m["opset"] >= 17 and m["metrics"]["onnx_parity"]["fp32"]["first_call"] < FP32_TOL
    assert m["metrics"]["onnx_parity"]["float16_io"]["beyond_rounding"] < FP32_TOL
    assert m["metrics"]["onnx_parity"]["new_positions_only"]["max_diff"] < FP32_TOL
    assert m["io"]["outputs"]["present_k"]["shape"] == ["L", "B", "H", "T", "Dh"]


def test_the_graph_takes_and_returns_float16_caches_and_logprobs(tiny_model_dir):
    sess = ort_session(tiny_model_dir / "model.onnx")
    types = {**{i.name: i.type for i in sess.get_inputs()}, **{o.name: o.type for o in sess.get_outputs()}}
    m = load_manifest(tiny_model_dir)
    for name in ("past_k", "past_v", "logprobs", "present_k", "present_v"):
        assert types[name] == "tensor(float16)"
        assert {**m["io"]["inputs"], **m["io"]["outputs"]}[name]["dtype"] == "float16"
    assert types["past_mask"] == "tensor(float)" and types["tokens"] == "tensor(int64)"


def test_torch_vs_onnxruntime_full_forward(tiny_model_dir):
    model, sess = _model(tiny_model_dir), ort_session(tiny_model_dir / "model.onnx")
    c = model.cfg
    tokens = random_batch(c.vocab_size, (3, 9))
    positions = np.tile(np.arange(9), (3, 1))
    lp, pk, pv = _run(sess, tokens, positions, *_empty(c, 3))
    with torch.no_grad():
        logits, _ = model(torch.from_numpy(tokens))
    want = torch.log_softmax(logits.float(), -1).numpy()
    assert lp.shape == (3, 9, c.vocab_size) and pk.shape == pv.shape == (c.n_layer, 3, c.n_head, 9, c.head_dim)
    assert close(lp, want)
    assert np.allclose(np.exp(lp).sum(-1), 1.0, atol=1e-3)  # normalised over the whole vocabulary


def test_cached_token_by_token_equals_full_forward(tiny_model_dir):
    model, sess = _model(tiny_model_dir), ort_session(tiny_model_dir / "model.onnx")
    c, T = model.cfg, 7
    tokens = random_batch(c.vocab_size, (2, T), seed=1)
    full = _run(sess, tokens, np.tile(np.arange(T), (2, 1)), *_empty(c, 2))[0]
    pk, pv, mask = _empty(c, 2)
    steps = []
    for t in range(T):
        lp, pk, pv = _run(sess, tokens[:, t : t + 1], np.full((2, 1), t), pk, pv, mask)
        mask = np.ones((2, t + 1), np.float32)
        steps.append(lp[:, 0])
    assert close(np.stack(steps, 1), full, CACHE_TOL)
    # torch's own cached path agrees too
    with torch.no_grad():
        kv = model.empty_cache(2)
        lp_t, k, v = model.forward_cached(torch.from_numpy(tokens[:, :3]), torch.arange(3).repeat(2, 1), *kv)
        lp_t2, _, _ = model.forward_cached(torch.from_numpy(tokens[:, 3:]), torch.arange(3, T).repeat(2, 1), k, v,
                                           torch.ones(2, 3))
    assert close(full, torch.cat([lp_t, lp_t2], 1).numpy())


def test_mixed_past_mask_rows_equal_each_row_alone(tiny_model_dir):
    """Row 0 has 5 cached tokens; row 1 has 2, left-padded to 5 with masked slots (and
    garbage in them). Each row of the batched step must equal that row run alone."""
    sess = ort_session(tiny_model_dir / "model.onnx")
    c = _model(tiny_model_dir).cfg
    a, b = random_batch(c.vocab_size, (1, 5), seed=2), random_batch(c.vocab_size, (1, 2), seed=3)
    nxt = random_batch(c.vocab_size, (2, 2), seed=4)
    _, ka, va = _run(sess, a, np.arange(5)[None], *_empty(c, 1))
    _, kb, vb = _run(sess, b, np.arange(2)[None], *_empty(c, 1))
    alone_a = _run(sess, nxt[:1], np.array([[5, 6]]), ka, va, np.ones((1, 5), np.float32))[0]
    alone_b = _run(sess, nxt[1:], np.array([[2, 3]]), kb, vb, np.ones((1, 2), np.float32))[0]
    pad = np.random.default_rng(0).normal(size=(c.n_layer, 1, c.n_head, 3, c.head_dim)).astype(np.float32)
    pk = np.concatenate([ka, np.concatenate([pad, kb], 3)], 1)  # (L, 2, H, 5, Dh)
    pv = np.concatenate([va, np.concatenate([pad, vb], 3)], 1)
    mask = np.array([[1, 1, 1, 1, 1], [0, 0, 0, 1, 1]], np.float32)
    lp, present_k, _ = _run(sess, nxt, np.array([[5, 6], [2, 3]]), pk, pv, mask)
    assert present_k.shape[3] == 7
    assert close(lp[0], alone_a[0]) and close(lp[1], alone_b[0])
    # right-padding (valid slots first) works the same way
    pk_r = np.concatenate([ka, np.concatenate([kb, pad], 3)], 1)
    pv_r = np.concatenate([va, np.concatenate([vb, pad], 3)], 1)
    lp_r = _run(sess, nxt, np.array([[5, 6], [2, 3]]), pk_r, pv_r, np.array([[1] * 5, [1, 1, 0, 0, 0]], np.float32))[0]
    assert close(lp_r[1], alone_b[0])


def version_1_copy(model_dir, model, dest):
    """``model_dir`` as Shuru 0.4.1 and earlier exported it: float32 caches and log-probabilities,
    the past's keys and values returned with the new ones."""
    shutil.copytree(model_dir, dest)
    export_onnx(model, dest / "model.onnx")
    m = json.loads((dest / "manifest.json").read_text())
    m["format_version"] = 1
    for part in ("inputs", "outputs"):
        for name in FLOAT16_IO:
            if name in m["io"][part]:
                m["io"][part][name]["dtype"] = "float32"
    for name in ("present_k", "present_v"):
        m["io"]["outputs"][name]["shape"] = ["L", "B", "H", "P+T", "Dh"]
    (dest / "manifest.json").write_text(json.dumps(m))
    return dest


def version_2_copy(model_dir, model, dest):
    """``model_dir`` as Shuru 0.4.2 and 0.4.3 exported it: float16 I/O, the past's keys and values returned too."""
    version_1_copy(model_dir, model, dest)
    convert_float16_io(dest / "model.onnx", check_feeds(model.cfg))
    m = json.loads((dest / "manifest.json").read_text())
    m["format_version"] = 2
    for part in ("inputs", "outputs"):
        for name in FLOAT16_IO:
            if name in m["io"][part]:
                m["io"][part][name]["dtype"] = "float16"
    (dest / "manifest.json").write_text(json.dumps(m))
    return dest


@pytest.mark.parametrize("version, copy", [(1, version_1_copy), (2, version_2_copy)])
def test_an_earlier_model_dir_loads_and_upgrades_to_the_same_scores(tiny_model_dir, tmp_path, version, copy):
    """A personal model from an earlier format version still loads and scores as the current one;
    tools.upgrade_models rewrites it to return float16 caches of the new positions only."""
    from engine.core.neural import NeuralScorer

    old = copy(tiny_model_dir, _model(tiny_model_dir), tmp_path / f"v{version}")
    texts = Vocab.load(old / "vocab.txt").tokens[4:10]
    pairs = [texts[0] + texts[1], texts[2], texts[3] + texts[4] + texts[5]]
    before = NeuralScorer.load(old)
    assert before.cache_dtype == (np.float32 if version == 1 else np.float16)
    want, states = before.extend([before.start(texts[1])] * 3, pairs)
    assert [s.k.shape[2] for s in states] == [2, 1, 3]  # each state keeps its own new positions
    assert upgrade_model_dir(old) is True and upgrade_model_dir(old) is False
    m = load_manifest(old)
    assert m["format_version"] == 3 and m["io"]["outputs"]["logprobs"]["dtype"] == "float16"
    sess = ort_session(old / "model.onnx")
    c = _model(tiny_model_dir).cfg
    assert run_session(sess, None, check_feeds(c, T=3, P=4))[1].shape == (c.n_layer, 2, c.n_head, 3, c.head_dim)
    after = NeuralScorer.load(old)
    assert after.cache_dtype == np.float16
    got, states = after.extend([after.start(texts[1])] * 3, pairs)
    assert [s.k.shape[2] for s in states] == [2, 1, 3]
    assert np.allclose(got, want, atol=CACHE_TOL, rtol=4 * HALF)


def test_int8_export(tiny_model_dir, tmp_path):
    model = _model(tiny_model_dir)
    vocab = Vocab.load(tiny_model_dir / "vocab.txt")
    m = write_model_dir(model, vocab, tmp_path / "q", {}, {}, int8=True)
    assert m["quantized"] is True and load_manifest(tmp_path / "q")["quantized"] is True
    drift = m["metrics"]["onnx_parity"]["int8"]
    assert drift["mean_abs_drift"] <= INT8_MEAN_DRIFT and drift["top1_agreement"] >= INT8_TOP1_AGREEMENT
    assert (tmp_path / "q" / "model.onnx").stat().st_size < (tiny_model_dir / "model.onnx").stat().st_size


def test_manifest_mismatch_is_rejected(tiny_model_dir, tmp_path):
    bad = tmp_path / "bad"
    shutil.copytree(tiny_model_dir, bad)
    with open(bad / "vocab.txt", "a", encoding="utf-8") as fh:
        fh.write("龘\n")
    with pytest.raises(ManifestMismatchError, match="vocab.txt sha1"):
        load_manifest(bad)
    with pytest.raises(ManifestMismatchError, match="vocab sha1"):
        load_weights(bad / "weights.pt", Vocab.load(bad / "vocab.txt"))
    shutil.copy(tiny_model_dir / "vocab.txt", bad / "vocab.txt")
    manifest = json.loads((bad / "manifest.json").read_text())
    (bad / "manifest.json").write_text(json.dumps({**manifest, "format_version": 99}))
    with pytest.raises(ManifestMismatchError, match="format"):
        load_manifest(bad)
    (bad / "manifest.json").unlink()
    with pytest.raises(ManifestError, match="no manifest.json"):
        load_manifest(bad)


def test_an_export_removes_what_a_killed_export_left(tiny_model_dir, tmp_path):
    """A fine-tune killed while exporting leaves its temp dir beside the output; the next export deletes it."""
    model = _model(tiny_model_dir)
    vocab = Vocab.load(tiny_model_dir / "vocab.txt")
    left = tmp_path / ".q.tmpkilled"
    left.mkdir()
    (left / "model.onnx").write_bytes(b"half")
    write_model_dir(model, vocab, tmp_path / "q", {}, {})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["q"] and load_manifest(tmp_path / "q")


@pytest.mark.parametrize("lengths, cap, runs", [
    ([2, 2, 2], 64, [(2, [0, 1, 2])]),
    ([1, 3, 1, 3], 64, [(1, [0, 2]), (3, [1, 3])]),
    ([32] * 8, 64, [(32, [0, 1]), (32, [2, 3]), (32, [4, 5]), (32, [6, 7])]),
    ([100, 2], 64, [(100, [0]), (2, [1])]),  # a row longer than the cap runs alone
    ([2] * 5, 4, [(2, [0, 1]), (2, [2, 3]), (2, [4])]),
    ([32] * 8 + [1], None, [(32, list(range(8))), (1, [8])]),  # no limit
])
def test_model_runs_group_rows_of_one_length_up_to_a_number_of_positions(lengths, cap, runs):
    from engine.core.neural import runs_by_length

    assert list(runs_by_length([[7] * n for n in lengths], cap)) == runs


def test_rows_split_across_runs_score_as_in_one_run(tiny_model_dir, monkeypatch):
    """The cap on a run's positions bounds its largest tensors; it changes no score or state."""
    from engine.core import neural

    scorer = neural.NeuralScorer.load(tiny_model_dir)
    texts = Vocab.load(tiny_model_dir / "vocab.txt").tokens[4:12]
    pairs = [texts[i] + texts[i + 1] for i in range(6)] + [texts[6]]
    want, want_states = scorer.extend([scorer.start(texts[7])] * 7, pairs)
    monkeypatch.setattr(neural, "MAX_RUN_POSITIONS", 4)  # runs of 2 two-char rows
    got, states = scorer.extend([scorer.start(texts[7])] * 7, pairs)
    assert np.allclose(got, want, atol=1e-6)
    for s, w in zip(states, want_states):
        assert s.length == w.length and s.k.shape == w.k.shape
        assert close(s.k.astype(np.float32), w.k.astype(np.float32))
        assert close(s.next_logprobs.astype(np.float32), w.next_logprobs.astype(np.float32))

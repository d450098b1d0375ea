"""ONNX export of the pinyin model (trainer.pinyin_export): encoder and decoder graphs
against PyTorch, the look-ahead contract on the exported encoder, incremental decoding
with a KV cache (masked slots too), restricted scores from candidates.npz, manifest checks,
int8 and the CLI. Tiny random models; fp32 tolerance 1e-4 (observed ~1e-6), plus float16's
rounding of the decoder's returned caches and log-probabilities (format version 2)."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

from tests.trainer.test_pinyin_model import FIXTURE, TABLE, tiny_model
from trainer.__main__ import main
from trainer.errors import ManifestError, ManifestMismatchError
from tests.trainer.test_trainer_export import CACHE_TOL, close
from trainer.export import INT8_MEAN_DRIFT, INT8_TOP1_AGREEMENT, ort_session, run_session
from trainer.pinyin_export import (DECODER_INPUTS, EncoderStep, PinyinCachedStep, decoder_feeds, load_candidates,
                                   load_pinyin_manifest, restrict, run_full, write_pinyin_model_dir)
from trainer.pinyin_model import PinyinLM, restricted_logprobs
from trainer.pinyin_vocab import SYL_NONE, SYL_PAD
from trainer.vocab import BOS, Vocab, build_small_vocab

FP32_TOL = 1e-4
LA = 2  # the tiny model's look-ahead


@pytest.fixture(scope="module")
def vocab() -> Vocab:
    return build_small_vocab(FIXTURE.read_text(encoding="utf-8") + "你好吗银行走绿略")


@pytest.fixture(scope="module")
def model(vocab) -> PinyinLM:
    return tiny_model(vocab, lookahead=LA, trained_proj=True)


@pytest.fixture(scope="module")
def model_dir(model, vocab, tmp_path_factory):
    out = tmp_path_factory.mktemp("pinyin") / "model"
    write_pinyin_model_dir(model, vocab, TABLE, out)
    return out


@pytest.fixture(scope="module")
def sessions(model_dir):
    return ort_session(model_dir / "encoder.onnx", threads=1), ort_session(model_dir / "decoder.onnx", threads=1)


def readable(model: PinyinLM) -> np.ndarray:
    """Syllable tokens with at least one candidate in the tiny vocabulary (others score nothing)."""
    return np.nonzero(model.candidates.numpy().any(1))[0]


def syllables(model: PinyinLM, shape, seed: int = 0) -> np.ndarray:
    """Random syllable tokens with full syllables, initials and <none> all present."""
    rng = np.random.default_rng(seed)
    syl = rng.choice(readable(model), size=shape).astype(np.int64)
    first_initial = 2 + TABLE.n_full
    syl.flat[::3] = rng.integers(first_initial, len(TABLE), size=syl.flat[::3].shape)  # initials
    syl.flat[1::5] = SYL_NONE
    return syl


def tokens(vocab: Vocab, shape, seed: int = 0) -> np.ndarray:
    t = np.random.default_rng(seed).integers(4, len(vocab), size=shape).astype(np.int64)
    t[:, 0] = BOS
    return t


def torch_enc(model, syl: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return EncoderStep(model)(torch.from_numpy(syl)).numpy()


def empty(model, batch: int):
    c = model.lm.cfg
    kv = np.zeros((c.n_layer, batch, c.n_head, 0, c.head_dim), np.float32)
    return kv, kv.copy(), np.zeros((batch, 0), np.float32)


def full_logprobs(model, x: np.ndarray, syl: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return torch.log_softmax(model(torch.from_numpy(x), torch.from_numpy(syl))[0], -1).numpy()


# --- encoder -------------------------------------------------------------------------


@pytest.mark.parametrize("S", [1, 5, 17])
def test_encoder_matches_torch(model, sessions, S):
    syl = syllables(model, (3, S), seed=S)
    if S > 4:
        syl[2, S - 3:] = SYL_PAD  # a row typed only so far
    enc = sessions[0].run(["enc"], {"syllables": syl})[0]
    assert enc.shape == (3, S, model.lm.cfg.d_model)
    assert np.abs(enc - torch_enc(model, syl)).max() < FP32_TOL
    assert np.abs(enc).max() > 0.1  # proj is not zero: pinyin reaches the decoder


@pytest.mark.parametrize("n", [1, 3, 6, 10])
def test_lookahead_contract_on_the_onnx_encoder(model, sessions, n):
    """With n syllable positions typed, rows < n - lookahead are final: appending syllables
    (or padding) leaves them; the rows the new syllable can see change."""
    enc = sessions[0]
    syl = syllables(model, (2, 16), seed=n)
    now = enc.run(["enc"], {"syllables": syl[:, :n]})[0]
    later = enc.run(["enc"], {"syllables": syl})[0]
    padded = syl.copy()
    padded[:, n:] = SYL_PAD
    as_typed = enc.run(["enc"], {"syllables": padded})[0]
    final = max(n - LA, 0)
    assert np.abs(now[:, :final] - later[:, :final]).max(initial=0.0) < 1e-5
    assert np.abs(now - as_typed[:, :n]).max() < 1e-5  # <pad> = not typed yet
    assert not np.allclose(now[:, final:], later[:, final:n], atol=1e-3)  # the look-ahead is real


# --- decoder -------------------------------------------------------------------------


def _run_decoder(dec, x, pos, pk, pv, mask, pin):
    """logprobs and the caches after the run, past and new positions (the graph returns the new ones)."""
    lp, k, v = run_session(dec, None, decoder_feeds(x, pos, pk, pv, mask, pin))
    assert k.shape[3] == v.shape[3] == x.shape[1]
    return lp, np.concatenate([pk, k], 3), np.concatenate([pv, v], 3)


@pytest.mark.parametrize("context", ["none_rows", "zeros"])
def test_decoder_incremental_equals_full_forward(model, vocab, sessions, context):
    """<bos> + 3 context chars, then the clause one or two chars at a time with their enc rows
    and the KV cache carried, give the logprobs of one pass over the whole sequence: with the
    context's `<none>` rows (as trained) that is PinyinLM.forward; with zero rows it is the
    decoder with nothing added there (and differs from the trained input)."""
    enc_s, dec = sessions
    B, k, T = 2, 4, 15
    x = tokens(vocab, (B, T), seed=5)
    syl = syllables(model, (B, T), seed=6)
    syl[:, : k - 1] = SYL_NONE  # positions 0..k-2 predict context chars
    enc = enc_s.run(["enc"], {"syllables": syl})[0]
    if context == "zeros":
        enc[:, : k - 1] = 0.0
        with torch.no_grad():
            want = PinyinCachedStep(model)(torch.from_numpy(x), torch.arange(T).repeat(B, 1),
                                           *(torch.from_numpy(a) for a in empty(model, B)),
                                           torch.from_numpy(enc))[0].numpy()
        assert np.abs(want - full_logprobs(model, x, syl)).max() > 1e-3
    else:
        want = full_logprobs(model, x, syl)
    pk, pv, mask = empty(model, B)
    got, t = [], 0
    for size in (k, 1, 2, 1, 2, 2, 1, 2):
        lp, pk, pv = _run_decoder(dec, x[:, t : t + size], np.tile(np.arange(t, t + size), (B, 1)), pk, pv, mask,
                                  enc[:, t : t + size])
        got.append(lp)
        t += size
        mask = np.ones((B, t), np.float32)
    assert t == T and pk.shape[3] == T
    assert close(np.concatenate(got, 1), want, CACHE_TOL)


def test_keystrokes_recompute_only_the_lookahead(model, vocab, sessions):
    """What an engine does per keystroke: syllables typed one by one, the encoder rerun over
    the row (<pad> after what is typed), the decoder's KV cache kept for positions < N -
    lookahead and the rest recomputed; the end state equals one full pass."""
    enc_s, dec = sessions
    T = 12
    x = tokens(vocab, (1, T), seed=7)
    syl = syllables(model, (1, T), seed=8)
    pk, pv, _ = empty(model, 1)
    for n in range(1, T + 1):
        row = syl.copy()
        row[:, n:] = SYL_PAD
        enc = enc_s.run(["enc"], {"syllables": row})[0]
        keep = min(max(n - 1 - LA, 0), pk.shape[3])  # rows < (n - 1) - LA did not change with syllable n
        pk, pv = pk[:, :, :, :keep], pv[:, :, :, :keep]
        lp, pk, pv = _run_decoder(dec, x[:, keep:n], np.arange(keep, n)[None], pk, pv, np.ones((1, keep), np.float32),
                                  enc[:, keep:n])
    with torch.no_grad():
        want = PinyinCachedStep(model)(torch.from_numpy(x), torch.arange(T)[None],
                                       *(torch.from_numpy(a) for a in empty(model, 1)),
                                       torch.from_numpy(torch_enc(model, syl)))
    assert close(pk, want[1].numpy(), CACHE_TOL)
    assert close(lp[:, -1], want[0].numpy()[:, -1], CACHE_TOL)


def test_masked_slots_are_ignored(model, vocab, sessions):
    """Row 0: a cache with a released slot (garbage, mask 0) in the middle; row 1: a shorter
    cache left-padded. Each equals its cache without those slots, run alone."""
    enc_s, dec = sessions
    x, syl = tokens(vocab, (2, 8), seed=9), syllables(model, (2, 8), seed=10)
    enc = enc_s.run(["enc"], {"syllables": syl})[0]
    _, ka, va = _run_decoder(dec, x[:1, :6], np.arange(6)[None], *empty(model, 1), enc[:1, :6])
    _, kb, vb = _run_decoder(dec, x[1:, :3], np.arange(3)[None], *empty(model, 1), enc[1:, :3])
    alone_a = _run_decoder(dec, x[:1, 6:8], np.array([[6, 7]]), ka, va, np.ones((1, 6), np.float32), enc[:1, 6:8])[0]
    alone_b = _run_decoder(dec, x[1:, 3:5], np.array([[3, 4]]), kb, vb, np.ones((1, 3), np.float32), enc[1:, 3:5])[0]
    c = model.lm.cfg
    junk = np.random.default_rng(0).normal(size=(c.n_layer, 1, c.n_head, 4, c.head_dim)).astype(np.float32)
    hole_k = np.concatenate([ka[:, :, :, :3], junk[:, :, :, :1], ka[:, :, :, 3:]], 3)  # (L, 1, H, 7, Dh)
    hole_v = np.concatenate([va[:, :, :, :3], junk[:, :, :, :1], va[:, :, :, 3:]], 3)
    pk = np.concatenate([hole_k, np.concatenate([junk, kb], 3)], 1)
    pv = np.concatenate([hole_v, np.concatenate([junk, vb], 3)], 1)
    mask = np.array([[1, 1, 1, 0, 1, 1, 1], [0, 0, 0, 0, 1, 1, 1]], np.float32)
    pin = np.concatenate([enc[:1, 6:8], enc[1:, 3:5]])
    lp = _run_decoder(dec, np.concatenate([x[:1, 6:8], x[1:, 3:5]]), np.array([[6, 7], [3, 4]]), pk, pv, mask, pin)[0]
    assert close(lp[0], alone_a[0]) and close(lp[1], alone_b[0])


# --- candidates and scores -----------------------------------------------------------


def test_candidates_npz_is_the_training_matrix(model, model_dir):
    with np.load(model_dir / "candidates.npz") as z:
        offsets, ids = z["offsets"], z["ids"]
    assert len(offsets) == len(TABLE) + 1 and offsets[-1] == len(ids) and ids.dtype == np.int32
    assert all(np.all(np.diff(ids[a:b]) > 0) for a, b in zip(offsets[:-1], offsets[1:]))  # sorted, unique
    assert np.array_equal(load_candidates(model_dir / "candidates.npz", model.lm.cfg.vocab_size),
                          model.candidates.numpy())
    assert 0 not in ids[offsets[SYL_NONE]:offsets[SYL_NONE + 1]]  # <pad> is never a candidate


def test_restricted_scores_from_onnx_equal_torch(model, vocab, model_dir, sessions):
    x, syl = tokens(vocab, (3, 11), seed=11), syllables(model, (3, 11), seed=12)
    c = model.lm.cfg
    got = restrict(run_full(*sessions, x, syl, c), syl, load_candidates(model_dir / "candidates.npz", c.vocab_size))
    with torch.no_grad():
        logits = model(torch.from_numpy(x), torch.from_numpy(syl))[0]
    want = restricted_logprobs(logits, torch.from_numpy(syl), model.candidates).numpy()
    assert np.array_equal(np.isinf(got), np.isinf(want))
    finite = np.isfinite(want)
    assert close(got[finite], want[finite], CACHE_TOL)  # float16 log-probabilities, renormalised
    assert np.allclose(np.exp(got).sum(-1), 1.0, atol=1e-3)


# --- manifest, int8, CLI -------------------------------------------------------------


def test_manifest(model_dir, vocab):
    m = load_pinyin_manifest(model_dir, vocab_sha1=vocab.sha1, syllable_sha1=TABLE.sha1)
    assert m["format"] == "shuru-pinyin-model" and m["format_version"] == 3
    assert m["metrics"]["onnx_parity"]["decoder"]["float16_io"]["beyond_rounding"] < FP32_TOL
    assert m["metrics"]["onnx_parity"]["decoder"]["new_positions_only"]["max_diff"] < FP32_TOL
    assert m["io"]["decoder"]["outputs"]["present_k"]["shape"] == ["L", "B", "H", "T", "Dh"]
    assert m["io"]["decoder"]["outputs"]["logprobs"]["dtype"] == "float16"
    assert m["quantized"] == {"encoder": False, "decoder": False} and m["lookahead"] == LA
    assert list(m["io"]["decoder"]["inputs"]) == DECODER_INPUTS
    assert list(m["io"]["encoder"]["inputs"]) == ["syllables"] and list(m["io"]["encoder"]["outputs"]) == ["enc"]
    assert m["sizes"] == {name: (model_dir / name).stat().st_size for name in m["files"].values()}
    assert max(m["metrics"]["onnx_parity"]["fp32"].values()) < FP32_TOL
    assert sorted(p.name for p in model_dir.iterdir()) == sorted([*m["files"].values(), "manifest.json"])


def test_a_wrong_manifest_is_refused(model_dir, tmp_path, vocab):
    bad = tmp_path / "bad"
    shutil.copytree(model_dir, bad)
    manifest = json.loads((bad / "manifest.json").read_text())
    (bad / "manifest.json").write_text(json.dumps({**manifest, "format_version": 99}))
    with pytest.raises(ManifestMismatchError, match="format 'shuru-pinyin-model' v99, expected 'shuru-pinyin-model' v3"):
        load_pinyin_manifest(bad)
    (bad / "manifest.json").write_text(json.dumps({**manifest, "vocab_sha1": "0" * 40}))
    with pytest.raises(ManifestMismatchError, match="vocab.txt sha1 .* does not match the manifest"):
        load_pinyin_manifest(bad)
    (bad / "manifest.json").write_text(json.dumps({**manifest, "syllable_sha1": "0" * 40}))
    with pytest.raises(ManifestMismatchError, match="syllables.txt sha1"):
        load_pinyin_manifest(bad)
    (bad / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ManifestMismatchError, match="vocab.txt sha1"):
        load_pinyin_manifest(bad, vocab_sha1="f" * 40)  # a model for another vocabulary than the caller's
    (bad / "decoder.onnx").unlink()
    with pytest.raises(ManifestError, match="missing decoder.onnx"):
        load_pinyin_manifest(bad)
    (bad / "manifest.json").unlink()
    with pytest.raises(ManifestError, match="no manifest.json"):
        load_pinyin_manifest(bad)


def test_int8_export(model, vocab, model_dir, tmp_path):
    m = write_pinyin_model_dir(model, vocab, TABLE, tmp_path / "q", int8=True)
    assert m["quantized"] == {"encoder": True, "decoder": True}
    for graph in ("encoder", "decoder"):
        drift = m["metrics"]["onnx_parity"][graph]["int8"]
        assert drift["mean_abs_drift"] <= INT8_MEAN_DRIFT and drift["top1_agreement"] >= INT8_TOP1_AGREEMENT
        assert (tmp_path / "q" / f"{graph}.onnx").stat().st_size < (model_dir / f"{graph}.onnx").stat().st_size
    assert not list((tmp_path / "q").glob("*fp32*"))


def test_cli(model, vocab, tmp_path, capsys):
    from trainer.pinyin_train import PRESETS, PinyinRunState, export

    export(model, vocab, TABLE, PinyinRunState(), PRESETS["tiny"](), tmp_path / "run" / "export")
    assert main(["pinyin-export", "--weights", str(tmp_path / "run" / "export"), "--out", str(tmp_path / "m")]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert set(result["files"]) == {"encoder.onnx", "decoder.onnx", "candidates.npz", "vocab.txt", "syllables.txt"}
    assert load_pinyin_manifest(tmp_path / "m")["source"]["weights_dir"] == str(tmp_path / "run" / "export")
    assert main(["pinyin-export", "--weights", str(tmp_path / "nothing"), "--out", str(tmp_path / "m2")]) == 1
    assert "no pinyin weights" in capsys.readouterr().err

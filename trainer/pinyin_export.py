"""Export the pinyin-reading model (trainer.pinyin_model.PinyinLM) for the engine: two
ONNX graphs, the candidate table, the id tables and a manifest, written to a temp dir,
verified with onnxruntime and atomically swapped in.

    python -m trainer pinyin-export --weights RUN/export --out DIR [--int8] [--data PINYIN_DATA]

Model dir layout:
    encoder.onnx    syllables -> proj(encoder(syllables)), fp32 or int8 (manifest "quantized")
    decoder.onnx    the CharLM's cached step (trainer.export) plus a `pinyin` input
    candidates.npz  per syllable token, the sorted vocabulary ids it may stand for (CSR)
    vocab.txt       the decoder's tokens (trainer.vocab); sha1 in the manifest
    syllables.txt   the syllable tokens (trainer.pinyin_vocab); sha1 in the manifest
    manifest.json   format "shuru-pinyin-model" v2, configs, sha1s, I/O, file sizes, parity

The run-time contract (one sequence; B rows are independent sequences):

  * Positions are absolute and shared by both graphs: the decoder reads tokens
    <bos> ctx_1 .. ctx_k c_1 .. c_m at positions 0 .. k + m; the encoder reads the row of
    syllable tokens aligned with them, where syllables[t] is the syllable typed for the
    char that position t *predicts*: `<none>` (1) at positions 0 .. k - 1 (the <bos> and
    context chars predict context chars: no pinyin), the n typed syllables s_1 .. s_n at
    positions k .. k + n - 1, `<pad>` (0) from k + n on (not typed yet). This is how
    PinyinLM was trained (trainer.pinyin_data.augment: a context prefix is `<none>`).
  * encoder.onnx: `syllables` int64 [B, S] -> `enc` float32 [B, S, d_model], already
    projected into the decoder's input space (proj(PinyinEncoder(syllables))). B and S are
    dynamic (S <= max_len). Look-ahead contract: enc[:, t] depends on syllables[:, :t +
    lookahead + 1] only and `<pad>` is never attended to, so with N syllable positions
    typed (N = k + n, `<none>` included), the rows at positions < N - lookahead do not
    change when more syllables are appended (or when the sequence is padded further).
  * decoder.onnx: the inputs and outputs of trainer.export's model.onnx (tokens,
    positions, past_k, past_v, past_mask -> logprobs, present_k, present_v, same names,
    shapes and masking) plus `pinyin` float32 [B, T, d_model]: added to the token +
    position embedding of each new position. Feed enc[:, positions] (the encoder row of
    the same absolute position). A zero row is "the decoder alone" (exactly the CharLM):
    it is *not* what training showed for context positions (enc of `<none>`), see
    trainer/README.md ("Export for the engine") for the measured difference. The KV
    entries of position t depend on pinyin[0 .. t]: they stay valid while those rows do
    (t < N - lookahead).
  * logprobs are log-softmax over the whole vocabulary; the model's score of a char is
    restricted to the candidates of the syllable its position predicts: logprobs[v] -
    logsumexp(logprobs[candidates of syllables[t]]) (restrict() below; `<none>` and
    `<pad>` rows hold every token but <pad>). candidates.npz: `offsets` int64 [n_syllable
    + 1], `ids` int32 (sorted vocabulary ids; row s is ids[offsets[s]:offsets[s + 1]]),
    `vocab_sha1`, `syllable_sha1`. Built from trainer.pinyin_vocab.candidate_matrix (the
    matrix PinyinLM trains with).
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

from engine.atomic import write_bytes_atomic
from engine.errors import PinyinModelError, PinyinModelMismatchError
from engine.pinyin.pinyin_format import (CANDIDATES_NAME, DECODER_INPUTS, DECODER_NAME, DECODER_OUTPUTS, ENCODER_INPUTS,
                                  ENCODER_NAME, ENCODER_OUTPUTS, FORMAT, FORMAT_VERSION, MANIFEST_NAME,
                                  SYLLABLES_NAME, VOCAB_NAME, candidates_dense, read_candidates, read_pinyin_manifest)

from .errors import ManifestError, ManifestMismatchError
from .export import (CACHED_STEP_AXES, INT8_RELEVANT, OPSET, WEIGHTS_NAME, _check_parity, _feeds,
                     _remove_unfinished_exports, _try_int8, cached_step_args, check_feeds, check_vocab_file,
                     convert_float16_io, convert_new_positions_only, file_sha1, io_contract, ort_session, read_manifest,
                     replace_dir, run_session, trace_onnx)
from .model import CachedStep, ModelConfig
from .pinyin_model import PinyinConfig, PinyinLM, restricted_logprobs
from .pinyin_vocab import SYL_NONE, SYL_PAD, SYL_SPECIALS, SyllableVocab, load_syllable_vocab
from .vocab import SPECIAL_TOKENS, Vocab

# The format (names, files, token layout, manifest checks) is defined in engine.pinyin_format.


# --- the two graphs ------------------------------------------------------------------


class EncoderStep(nn.Module):
    """encoder.onnx: syllables (B, S) -> proj(PinyinEncoder(syllables)) (B, S, d_model)."""

    def __init__(self, model: PinyinLM):
        super().__init__()
        self.encoder, self.proj = model.encoder, model.proj

    def forward(self, syllables: torch.Tensor) -> torch.Tensor:
        return self.proj(self.encoder(syllables))


class PinyinCachedStep(CachedStep):
    """decoder.onnx: trainer.model.CachedStep of the PinyinLM's decoder with the projected
    encoder rows (`pinyin`, B x T x d_model) added to the new positions' input."""

    def __init__(self, model: PinyinLM):
        super().__init__(model.lm)

    def forward(self, tokens, positions, past_k, past_v, past_mask, pinyin):
        return self.model.forward_cached(tokens, positions, past_k, past_v, past_mask, self.wte_t, pinyin)


def export_encoder(model: PinyinLM, path: Path) -> None:
    """Trace EncoderStep with dynamic B and S."""
    args = (torch.full((2, 5), SYL_NONE, dtype=torch.long),)
    dyn = {"syllables": {0: "B", 1: "S"}, "enc": {0: "B", 1: "S"}}
    trace_onnx(EncoderStep(model.float().eval()), args, path, ENCODER_INPUTS, ENCODER_OUTPUTS, dyn)


def export_decoder(model: PinyinLM, path: Path) -> None:
    """Trace PinyinCachedStep with dynamic B, T, P (trainer.export's axes + pinyin)."""
    model = model.float().eval()
    args = cached_step_args(model.lm.cfg)
    B, T = args[0].shape
    args = (*args, torch.zeros(B, T, model.lm.cfg.d_model))
    dyn = {**CACHED_STEP_AXES, "pinyin": {0: "B", 1: "T"}}
    trace_onnx(PinyinCachedStep(model), args, path, DECODER_INPUTS, DECODER_OUTPUTS, dyn)


# --- candidates ------------------------------------------------------------------------


def candidate_csr(candidates: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """bool [n_syllable, V] -> (offsets int64 [n_syllable + 1], ids int32, sorted per row)."""
    candidates = np.asarray(candidates, dtype=bool)
    rows, cols = np.nonzero(candidates)  # row-major: ids ascending within a row
    offsets = np.zeros(len(candidates) + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=len(candidates)), out=offsets[1:])
    return offsets, cols.astype(np.int32)


def save_candidates(candidates: np.ndarray, vocab: Vocab, table: SyllableVocab, path: Path) -> None:
    offsets, ids = candidate_csr(candidates)
    with open(path, "wb") as fh:  # a file object: np.savez would append .npz to a name
        np.savez_compressed(fh, offsets=offsets, ids=ids, vocab_sha1=np.array(vocab.sha1),
                            syllable_sha1=np.array(table.sha1))


def load_candidates(path: Path, vocab_size: int) -> np.ndarray:
    """candidates.npz -> the dense bool [n_syllable, vocab_size] matrix."""
    offsets, ids, _ = read_candidates(path)
    return candidates_dense(offsets, ids, vocab_size)


def restrict(logprobs: np.ndarray, syllables: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """Reference of the engine's scoring: decoder logprobs (..., V) renormalised over the
    candidate row of each position's syllable token (...,) (dense bool [n_syllable, V]);
    -inf outside the row (everywhere for a syllable without candidates in the vocabulary)."""
    rows = candidates[syllables]
    x = np.where(rows, logprobs.astype(np.float64), -np.inf)
    m = x.max(axis=-1, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        lse = m + np.log(np.exp(x - m).sum(axis=-1, keepdims=True))
        return np.where(rows, x - lse, -np.inf).astype(np.float32)


# --- verification ----------------------------------------------------------------------


def _empty_cache(c: ModelConfig, batch: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    kv = np.zeros((c.n_layer, batch, c.n_head, 0, c.head_dim), np.float32)
    return kv, kv.copy(), np.zeros((batch, 0), np.float32)


def decoder_feeds(tokens, positions, past_k, past_v, past_mask, pinyin) -> dict:
    return {**_feeds(tokens, positions, past_k, past_v, past_mask), "pinyin": np.asarray(pinyin, np.float32)}


def decoder_check_feeds(c: ModelConfig, seed: int = 0) -> dict:
    """check_feeds of the CharLM's cached step plus random `pinyin` rows (for the float16 I/O check)."""
    feeds = check_feeds(c, seed)
    B, T = feeds["tokens"].shape
    return {**feeds, "pinyin": np.random.default_rng(seed).normal(size=(B, T, c.d_model)).astype(np.float32)}


def upgrade_pinyin_model_dir(model_dir: Path) -> bool:
    """trainer.export.upgrade_model_dir for a pinyin-reading model dir: its decoder.onnx with float16
    I/O (from version 1) and returning the new positions' keys and values only (from versions 1 and 2),
    then the manifest (version, I/O, the decoder's size and sha1). False if already done."""
    model_dir = Path(model_dir)
    m = load_pinyin_manifest(model_dir)
    if m["format_version"] == FORMAT_VERSION:
        return False
    feeds = decoder_check_feeds(ModelConfig.from_dict(m["config"]))
    parity = m.setdefault("metrics", {}).setdefault("onnx_parity", {}).setdefault("decoder", {})
    if m["format_version"] < 2:
        parity["float16_io"] = convert_float16_io(model_dir / DECODER_NAME, feeds)
    parity["new_positions_only"] = convert_new_positions_only(model_dir / DECODER_NAME, feeds)
    m["format_version"] = FORMAT_VERSION
    m["io"]["decoder"] = decoder_contract()
    m["sizes"][DECODER_NAME] = (model_dir / DECODER_NAME).stat().st_size
    m["sha1"][DECODER_NAME] = file_sha1(model_dir / DECODER_NAME)
    write_bytes_atomic(model_dir / MANIFEST_NAME, json.dumps(m, ensure_ascii=False, indent=1).encode("utf-8"))
    load_pinyin_manifest(model_dir)
    return True


def random_syllables(rng: np.random.Generator, table_size: int, shape: tuple[int, int]) -> np.ndarray:
    """Syllable tokens for checks: full syllables, initials and `<none>` (no `<pad>`)."""
    syl = rng.integers(SYL_NONE, table_size, size=shape)
    return syl.astype(np.int64)


def _torch_enc(model: PinyinLM, syllables: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return EncoderStep(model)(torch.from_numpy(np.asarray(syllables, np.int64))).numpy()


def _torch_full(model: PinyinLM, tokens: np.ndarray, syllables: np.ndarray) -> np.ndarray:
    """PinyinLM.forward's full-vocabulary logits (B, T, V) as numpy float32."""
    with torch.no_grad():
        return model(torch.from_numpy(np.asarray(tokens, np.int64)),
                     torch.from_numpy(np.asarray(syllables, np.int64)))[0].float().numpy()


def verify_pinyin_onnx(encoder_path: Path, decoder_path: Path, model: PinyinLM, seed: int = 0) -> dict:
    """fp32 parity with torch: max abs diffs of the encoder rows (a batch with `<pad>`
    tails), of the decoder's logprobs on a first call with the encoder's rows against
    log_softmax(PinyinLM.forward), and of a call with a masked cache against torch's
    PinyinCachedStep."""
    model = model.float().eval()
    c, rng = model.lm.cfg, np.random.default_rng(seed)
    enc_sess, dec_sess = ort_session(encoder_path), ort_session(decoder_path)
    syl = random_syllables(rng, model.cfg.n_syllable, (2, 7))
    syl[1, 4:] = SYL_PAD
    enc = enc_sess.run(["enc"], {"syllables": syl})[0]
    out = {"encoder": float(np.abs(enc - _torch_enc(model, syl)).max())}
    tokens = rng.integers(len(SPECIAL_TOKENS), c.vocab_size, size=(2, 7))
    feeds = decoder_feeds(tokens, np.tile(np.arange(7), (2, 1)), *_empty_cache(c, 2), enc)
    lp, pk, pv = dec_sess.run(None, feeds)
    want = torch.log_softmax(torch.from_numpy(_torch_full(model, tokens, syl)), -1).numpy()
    out["decoder_first_call"] = float(np.abs(lp - want).max())
    mask = np.ones((2, 7), np.float32)
    mask[1, :2] = 0.0  # row 1: a left-padded cache
    feeds2 = decoder_feeds(tokens[:, :1], np.full((2, 1), 7), pk, pv, mask, enc[:, :1])
    with torch.no_grad():
        want2 = PinyinCachedStep(model)(*(torch.from_numpy(feeds2[n]) for n in DECODER_INPUTS))[0].numpy()
    out["decoder_cached_masked"] = float(np.abs(dec_sess.run(["logprobs"], feeds2)[0] - want2).max())
    return out


def verify_pinyin_int8(encoder_path: Path, decoder_path: Path, model: PinyinLM, windows=None, seed: int = 0,
                       rows: int = 16, length: int = 64) -> dict:
    """Drift of the exported pair (either graph int8) from the torch model on the scores
    the engine uses, restricted log-probs: mean and max abs difference over the candidates
    with fp32 restricted logprob > INT8_RELEVANT, and restricted top-1 agreement, over
    every position with a syllable (`<none>` = the whole vocabulary).

    ``windows`` = (tokens, syllables) int [N, length + 1] (trainer.pinyin_data.heldout_pairs:
    a char and its own syllable), else random tokens and syllables."""
    model = model.float().eval()
    c = model.lm.cfg
    length = min(length, c.max_len)
    if windows is not None and len(windows[0]):
        tok, syl = (np.asarray(a, np.int64)[:rows, : length + 1] for a in windows)
    else:
        rng = np.random.default_rng(seed)
        tok = rng.integers(len(SPECIAL_TOKENS), c.vocab_size, size=(rows, length + 1))
        syl = random_syllables(rng, model.cfg.n_syllable, (rows, length + 1))
    x, s = tok[:, :-1], syl[:, 1:]
    got = run_full(ort_session(encoder_path), ort_session(decoder_path), x, s, c)
    got = restrict(got, s, model.candidates.numpy())
    want = restricted_logprobs(torch.from_numpy(_torch_full(model, x, s)), torch.from_numpy(s),
                               model.candidates).numpy()
    keep = (s != SYL_PAD) & model.candidates.numpy()[s].any(-1)  # a syllable no vocabulary char reads: no score
    relevant = (want > INT8_RELEVANT) & keep[..., None]
    diff = np.abs(got[relevant] - want[relevant])
    agree = (got.argmax(-1) == want.argmax(-1))[keep]
    return {"mean_abs_drift": float(diff.mean()), "max_abs_drift": float(diff.max()),
            "top1_agreement": float(agree.mean()), "positions": int(keep.sum())}


def run_full(enc_sess, dec_sess, tokens: np.ndarray, syllables: np.ndarray, c: ModelConfig) -> np.ndarray:
    """One pass of both graphs over whole sequences (positions 0 .. T - 1, no cache):
    the decoder's logprobs (B, T, V)."""
    enc = enc_sess.run(["enc"], {"syllables": np.asarray(syllables, np.int64)})[0]
    B, T = tokens.shape
    feeds = decoder_feeds(tokens, np.tile(np.arange(T), (B, 1)), *_empty_cache(c, B), enc)
    return run_session(dec_sess, ["logprobs"], feeds)[0]


# --- model dirs ------------------------------------------------------------------------


def decoder_contract() -> dict:
    """The decoder's part of the manifest's "io": trainer.export's model.onnx plus `pinyin`."""
    decoder = io_contract()
    decoder["inputs"]["pinyin"] = {"dtype": "float32", "shape": ["B", "T", "D"]}
    decoder["notes"] += ("; pinyin: the encoder's enc rows of the new positions (same absolute positions), "
                         "added to the token + position embedding; zeros = the decoder alone")
    return decoder


def io_contracts(c: ModelConfig, p: PinyinConfig) -> dict:
    """The manifest's "io" section: both graphs and the candidate table."""
    return {
        "encoder": {"inputs": {"syllables": {"dtype": "int64", "shape": ["B", "S"]}},
                    "outputs": {"enc": {"dtype": "float32", "shape": ["B", "S", "D"]}},
                    "dynamic_axes": ["B", "S"],
                    "notes": f"syllables[t] = syllable token of the char position t predicts (0 <pad> = not typed "
                             f"yet, 1 <none> = no pinyin, e.g. <bos> and context chars); enc = proj(encoder), "
                             f"D = {c.d_model}; enc[:, t] depends on syllables[:, :t + {p.reach} + 1] only: rows "
                             f"at positions < N - {p.reach} (N syllable positions typed) do not change when "
                             f"more are appended"},
        "decoder": decoder_contract(),
        "candidates": {"offsets": {"dtype": "int64", "shape": ["n_syllable + 1"]},
                       "ids": {"dtype": "int32", "shape": ["offsets[-1]"]},
                       "notes": "row s = ids[offsets[s]:offsets[s + 1]], sorted vocabulary ids; score = logprobs[v] - "
                                "logsumexp(logprobs[row of syllables[t]])"},
    }


def build_pinyin_manifest(model: PinyinLM, vocab: Vocab, table: SyllableVocab, out: Path, quantized: dict,
                          parity: dict, source: dict) -> dict:
    c, p = model.lm.cfg, model.cfg
    files = {"encoder": ENCODER_NAME, "decoder": DECODER_NAME, "candidates": CANDIDATES_NAME,
             "vocab": VOCAB_NAME, "syllables": SYLLABLES_NAME}
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "config": c.to_dict(),
        "pinyin_config": p.to_dict(),
        "vocab_size": len(vocab),
        "vocab_sha1": vocab.sha1,
        "n_syllable": len(table),
        "syllable_sha1": table.sha1,
        "special_tokens": dict(SPECIAL_TOKENS),
        "syllable_specials": {name: i for i, name in enumerate(SYL_SPECIALS)},
        "lookahead": p.reach,
        "max_len": min(c.max_len, p.max_len),
        "d_model": c.d_model, "n_layer": c.n_layer, "n_head": c.n_head, "head_dim": c.head_dim,
        "files": files,
        "sizes": {name: (out / name).stat().st_size for name in files.values()},
        "sha1": {name: file_sha1(out / name) for name in files.values()},
        "opset": OPSET,
        "io": io_contracts(c, p),
        "quantized": quantized,
        "training": source.get("training"),
        "metrics": {**(source.get("metrics") or {}), "onnx_parity": parity},
        "source": {k: v for k, v in source.items() if k not in ("training", "metrics")},
        "exported_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }


def write_pinyin_model_dir(model: PinyinLM, vocab: Vocab, table: SyllableVocab, out: Path, source: dict | None = None,
                           int8: bool = False, parity_windows=None, log=None) -> dict:
    """Export into a temp dir beside `out`, verify it, then swap it into place; returns the
    manifest. With `int8`, each graph is quantised and kept int8 only if the pair stays
    within trainer.export's int8 bounds on restricted log-probs (decoder first, with the
    fp32 encoder; then the encoder, with the decoder as kept); else that graph ships fp32
    and the manifest says why (metrics.onnx_parity.<graph>.int8_rejected)."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    _remove_unfinished_exports(out)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp", dir=out.parent))
    try:
        model = model.float().eval()
        vocab.save(tmp / VOCAB_NAME)
        table.save(tmp / SYLLABLES_NAME)
        save_candidates(model.candidates.numpy(), vocab, table, tmp / CANDIDATES_NAME)
        enc_fp32 = tmp / ("encoder.fp32.onnx" if int8 else ENCODER_NAME)
        dec_fp32 = tmp / ("decoder.fp32.onnx" if int8 else DECODER_NAME)
        export_encoder(model, enc_fp32)
        export_decoder(model, dec_fp32)
        fp32 = verify_pinyin_onnx(enc_fp32, dec_fp32, model)
        _check_parity({"fp32": fp32})
        parity = {"fp32": fp32, "encoder": {}, "decoder": {}}
        quantized = {"encoder": False, "decoder": False}
        if int8:
            quantized["decoder"] = _try_int8(
                dec_fp32, tmp / DECODER_NAME, lambda d: verify_pinyin_int8(enc_fp32, d, model, parity_windows),
                parity["decoder"], log, "int8 decoder.onnx")
            quantized["encoder"] = _try_int8(
                enc_fp32, tmp / ENCODER_NAME,
                lambda e: verify_pinyin_int8(e, tmp / DECODER_NAME, model, parity_windows),
                parity["encoder"], log, "int8 encoder.onnx")
        feeds = decoder_check_feeds(model.lm.cfg)
        parity["decoder"]["float16_io"] = convert_float16_io(tmp / DECODER_NAME, feeds)
        parity["decoder"]["new_positions_only"] = convert_new_positions_only(tmp / DECODER_NAME, feeds)
        manifest = build_pinyin_manifest(model, vocab, table, tmp, quantized, parity, source or {})
        (tmp / MANIFEST_NAME).write_text(json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8")
        load_pinyin_manifest(tmp)  # what a reader will check
        os.chmod(tmp, 0o755)
        replace_dir(tmp, out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return manifest


def load_pinyin_manifest(model_dir: Path, vocab_sha1: str | None = None, syllable_sha1: str | None = None) -> dict:
    """engine.pinyin.pinyin_format.read_pinyin_manifest with the trainer's errors: raises
    ManifestError / ManifestMismatchError saying what is wrong."""
    try:
        return read_pinyin_manifest(model_dir, vocab_sha1, syllable_sha1)
    except PinyinModelMismatchError as e:
        raise ManifestMismatchError(str(e)) from None
    except PinyinModelError as e:
        raise ManifestError(str(e)) from None


# --- from pinyin-train's export dir ---------------------------------------------------


def load_trained(weights_dir: Path) -> tuple[PinyinLM, Vocab, SyllableVocab, dict]:
    """The PinyinLM of a pinyin-train export dir (weights.pt, vocab.txt, syllables.txt,
    manifest.json), checked, and that manifest."""
    from .pinyin_train import FORMAT as WEIGHTS_FORMAT, FORMAT_VERSION as WEIGHTS_VERSION, load_pinyin_weights

    weights_dir = Path(weights_dir)
    m = read_manifest(weights_dir, WEIGHTS_FORMAT, WEIGHTS_VERSION, (WEIGHTS_NAME, VOCAB_NAME, SYLLABLES_NAME))
    check_vocab_file(weights_dir, m)
    vocab, table = Vocab.load(weights_dir / VOCAB_NAME), load_syllable_vocab(weights_dir / SYLLABLES_NAME)
    if table.sha1 != m.get("syllable_sha1"):
        raise ManifestMismatchError(f"{weights_dir}: syllables.txt sha1 {table.sha1} does not match the manifest "
                                    f"({m.get('syllable_sha1')})")
    return load_pinyin_weights(weights_dir / WEIGHTS_NAME, vocab, table).eval(), vocab, table, m


def check_model_dir_weights(model_dir: Path, vocab_sha1: str | None = None) -> dict:
    """The manifest of an exported model dir (checked, for ``vocab_sha1`` if given) whose fp16
    ``weights.pt`` a fine-tune can start from: the file is there and is the one the graphs were
    exported from (the manifest's ``source.weights_sha1``). ManifestError / ManifestMismatchError
    otherwise."""
    model_dir = Path(model_dir)
    m = load_pinyin_manifest(model_dir, vocab_sha1)
    weights = model_dir / WEIGHTS_NAME
    if not weights.is_file():
        raise ManifestError(f"{model_dir} has no {WEIGHTS_NAME}: this pinyin-reading model cannot be fine-tuned")
    expected = (m.get("source") or {}).get("weights_sha1")
    if expected and file_sha1(weights) != expected:
        raise ManifestMismatchError(f"{weights} is not the weights that {model_dir}'s graphs were exported from: "
                                    f"reinstall Shuru's trainer")
    return m


def load_model_dir_weights(model_dir: Path) -> tuple[PinyinLM, Vocab, SyllableVocab, dict]:
    """The PinyinLM behind an exported model dir, from the fp16 ``weights.pt`` beside its graphs
    (what a personal fine-tune starts from; check_model_dir_weights), and its manifest."""
    from .pinyin_train import load_pinyin_weights

    model_dir = Path(model_dir)
    m = check_model_dir_weights(model_dir)
    vocab, table = Vocab.load(model_dir / VOCAB_NAME), load_syllable_vocab(model_dir / SYLLABLES_NAME)
    return load_pinyin_weights(model_dir / WEIGHTS_NAME, vocab, table).eval(), vocab, table, m


def heldout_windows(data_dir: Path, vocab: Vocab, table: SyllableVocab, n: int = 16, length: int = 64):
    """(tokens, syllables) [n, length + 1] from the first held-out round of a pinyin-prepare
    dir (for the int8 check)."""
    from .pinyin_data import data_tables, heldout_pairs, load_rounds

    dv, dt = data_tables(data_dir)
    if dv.sha1 != vocab.sha1 or dt.sha1 != table.sha1:
        raise ManifestMismatchError(f"{data_dir} was prepared with another vocab.txt / syllables.txt")
    return heldout_pairs(*load_rounds(data_dir, "heldout", 1), length, n)


def pinyin_export(weights_dir: Path, out: Path, int8: bool = False, data_dir: Path | None = None, log=None) -> dict:
    """`python -m trainer pinyin-export`: returns a summary (files and sizes, parity)."""
    if not Path(weights_dir).is_dir():
        raise ManifestError(f"no pinyin weights at {weights_dir} (a pinyin-train run's export/ dir)")
    torch.set_num_threads(1)
    model, vocab, table, src = load_trained(Path(weights_dir))
    windows = heldout_windows(Path(data_dir), vocab, table) if data_dir is not None else None
    source = {"weights_dir": str(weights_dir), "weights_sha1": file_sha1(Path(weights_dir) / WEIGHTS_NAME),
              "training": src.get("training"), "metrics": src.get("metrics")}
    manifest = write_pinyin_model_dir(model, vocab, table, Path(out), source, int8=int8, parity_windows=windows,
                                      log=log)
    return {"out": str(out), "files": manifest["sizes"], "total_bytes": sum(manifest["sizes"].values()),
            "quantized": manifest["quantized"], "onnx_parity": manifest["metrics"]["onnx_parity"],
            "steps": (src.get("training") or {}).get("steps")}

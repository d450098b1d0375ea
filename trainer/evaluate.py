"""Scoring an exported model on text (perplexity through onnxruntime, so an int8 model is
measured as shipped) and building the law dev clause set."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from engine.text import normalise_text

from .corpus import DEFAULT_DATA_DIR

from .data import make_clause_set, write_jsonl
from .export import ONNX_NAME, VOCAB_NAME, load_manifest, ort_session, run_session
from .textfile import read_text_file
from .vocab import BOS, PAD, PUNCT, Vocab

LAW_DEV_SOURCE = DEFAULT_DATA_DIR / "user_samples" / "law_dev.txt"


def score_tokens(model_dir: Path, tokens: np.ndarray, batch: int = 16) -> dict:
    """Next-token loss of `tokens` in consecutive windows of max_len, each decoded from an
    empty cache (P=0). Returns loss/perplexity over all targets and over Han targets."""
    manifest = load_manifest(model_dir)
    sess = ort_session(Path(model_dir) / ONNX_NAME)
    L, H, Dh, T = manifest["n_layer"], manifest["n_head"], manifest["head_dim"], manifest["max_len"]
    n_win = max(len(tokens) // T, 1)
    windows = np.zeros((n_win, T), np.int64)
    flat = tokens[: n_win * T]
    windows.reshape(-1)[: len(flat)] = flat
    nll_all, nll_han, n_all, n_han = 0.0, 0.0, 0, 0
    for i in range(0, n_win, batch):
        w = windows[i : i + batch]
        B = len(w)
        empty = np.zeros((L, B, H, 0, Dh), np.float32)
        lp = run_session(sess, ["logprobs"], {"tokens": w, "positions": np.tile(np.arange(T), (B, 1)),
                                              "past_k": empty, "past_v": empty,
                                              "past_mask": np.zeros((B, 0), np.float32)})[0]
        target = w[:, 1:]
        nll = -np.take_along_axis(lp[:, :-1], target[..., None], axis=-1)[..., 0]  # (B, T-1)
        valid = target != PAD
        han = valid & (target > PUNCT)
        nll_all, n_all = nll_all + float(nll[valid].sum()), n_all + int(valid.sum())
        nll_han, n_han = nll_han + float(nll[han].sum()), n_han + int(han.sum())
    loss, han_loss = nll_all / max(n_all, 1), nll_han / max(n_han, 1)
    return {"tokens": n_all, "loss": round(loss, 4), "ppl": round(math.exp(loss), 2),
            "han_tokens": n_han, "han_loss": round(han_loss, 4), "han_ppl": round(math.exp(han_loss), 2)}


def score_text(model_dir: Path, text: str, max_chars: int = 200_000) -> dict:
    """score_tokens of the first `max_chars` chars of `text` (each line starts with <bos>)."""
    load_manifest(model_dir)  # a clear error for a dir that is not a model
    vocab = Vocab.load(Path(model_dir) / VOCAB_NAME)
    lines = [normalise_text(line) for line in text[:max_chars].splitlines()]
    tokens = vocab.encode("\n".join(line for line in lines if line))
    if len(tokens) and tokens[0] != BOS:
        tokens = np.concatenate([[BOS], tokens]).astype(np.uint16)
    return score_tokens(model_dir, tokens.astype(np.int64))


def make_law_dev(source: Path | None, out: Path, n: int = 600) -> dict:
    """Write the law dev clause set (dev-set JSONL) from law_dev.txt."""
    records = make_clause_set(Path(source) if source else LAW_DEV_SOURCE, n=n)
    write_jsonl(records, out)
    return {"law_dev": str(out), "clauses": len(records)}


def evaluate_cli(args) -> dict:
    """`python -m trainer evaluate` (argparse namespace)."""
    if args.make_law_dev:
        return make_law_dev(args.law_source, args.law_out, args.n)
    results = {}
    for path in args.text:
        text, _ = read_text_file(path)
        results[str(path)] = score_text(args.model, text, args.max_chars)
    return {"model": str(args.model), "results": results}

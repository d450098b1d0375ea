"""User language layer: word n-grams counted from the user's own text, mixed into the shipped model.

Fine-tuning (``python -m trainer finetune --text ...``, or Tools -> Train on My Text in the app)
segments the user's text with the lexicon, counts token unigrams and bigrams, and saves them as
``user_lm.npz`` beside the personal neural model. At run time :class:`AdaptedNgram` mixes them
linearly into the shipped trigram (the classic cache/adaptation LM)::

    P(w | u v) = lam * P_shipped(w | u v) + (1 - lam) * P_user(w | v)

where ``P_user`` is an absolute-discounting bigram over the user's tokens backed off to their
unigram distribution. Words the user never wrote keep ``lam`` of their probability.
"""
from __future__ import annotations

import json
import zipfile
from collections import Counter
from pathlib import Path
from typing import Iterable

import numpy as np

from .errors import AssetError
from .lexicon import BOS, EOS, Lexicon
from .ngram import BITS, NgramModel

FORMAT = "shuru-user-lm"
FORMAT_VERSION = 1
FILE_NAME = "user_lm.npz"


def count_text(lines: Iterable[str], lexicon: Lexicon) -> tuple[Counter, Counter]:
    """Token unigram and bigram counts of ``lines`` segmented with the lexicon."""
    from .build.corpus import clauses
    from .build.counts import Segmenter

    logp: dict[str, float] = {}
    for e in np.argsort(-lexicon.entry_logp):  # best reading of each token first
        t = int(lexicon.entry_token[e])
        text = lexicon.text(t)
        if text not in logp:
            logp[text] = float(lexicon.entry_logp[e])
    seg = Segmenter(logp, min(logp.values()) - 2.0)
    uni: Counter = Counter()
    bi: Counter = Counter()
    for line in lines:
        for clause in clauses(line):
            toks = [BOS] + [lexicon.token_id(w) or 0 for w in seg.cut(clause)] + [EOS]
            uni.update(toks[1:])
            bi.update(zip(toks[:-1], toks[1:]))
    return uni, bi


def save_user_lm(path: Path, uni: Counter, bi: Counter, lexicon: Lexicon, sources: list[str]) -> dict:
    """Write the counts (atomically) for :meth:`UserLM.load`; returns the manifest."""
    keys = np.array(sorted((a << BITS) | b for a, b in bi), dtype=np.int64)
    counts = np.array([bi[(int(k) >> BITS, int(k) & ((1 << BITS) - 1))] for k in keys], dtype=np.int32)
    uni_arr = np.zeros(lexicon.n_tokens, dtype=np.int32)
    for t, c in uni.items():
        uni_arr[t] = c
    meta = {"format": FORMAT, "version": FORMAT_VERSION, "token_hash": lexicon.token_hash(),
            "tokens": int(uni_arr.sum()), "bigrams": int(len(keys)), "sources": sources}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez(tmp, meta=np.array(json.dumps(meta, ensure_ascii=False)), unigram=uni_arr, bigram_keys=keys,
             bigram_counts=counts)
    tmp.replace(path)
    return meta


class UserLM:
    """log P_user(w | v): absolute-discounting bigram over the user's tokens."""

    def __init__(self, unigram: np.ndarray, keys: np.ndarray, counts: np.ndarray, meta: dict,
                 discount: float = 0.7):
        self.meta = meta
        n = max(1, int(unigram.sum()))
        V = len(unigram)
        self.p_uni = ((unigram + 0.01) / (n + 0.01 * V)).astype(np.float64)
        self.keys = keys
        self.counts = counts.astype(np.float64)
        self.D = discount
        ctx = keys >> BITS
        self.ctx_total = np.bincount(ctx, weights=self.counts, minlength=V)
        self.ctx_types = np.bincount(ctx, minlength=V).astype(np.float64)

    @classmethod
    def load(cls, path: Path, lexicon: Lexicon) -> "UserLM":
        try:
            with np.load(path, allow_pickle=False) as z:
                meta = json.loads(str(z["meta"]))
                arrays = {k: z[k] for k in ("unigram", "bigram_keys", "bigram_counts")}
        except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError) as e:
            raise AssetError(f"user language layer {path} is unreadable ({e}); fine-tune again") from None
        if meta.get("format") != FORMAT or meta.get("version") != FORMAT_VERSION:
            raise AssetError(f"{path} is not a version-{FORMAT_VERSION} Shuru user language layer")
        if meta.get("token_hash") != lexicon.token_hash() or len(arrays["unigram"]) != lexicon.n_tokens:
            raise AssetError(f"{path} was built for another lexicon; fine-tune again")
        return cls(arrays["unigram"], arrays["bigram_keys"], arrays["bigram_counts"], meta)

    def counts_of(self, v: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """c(v w) and c(v .) in the user's text."""
        v = np.asarray(v, dtype=np.int64)
        key = (v << BITS) | np.asarray(w, dtype=np.int64)
        c = np.zeros(len(key))
        if len(self.keys):
            idx = np.minimum(np.searchsorted(self.keys, key), len(self.keys) - 1)
            c = np.where(self.keys[idx] == key, self.counts[idx], 0.0)
        return c, self.ctx_total[v]

    def prob(self, v: np.ndarray, w: np.ndarray) -> np.ndarray:
        """P_user(w | v) for arrays of token ids."""
        v = np.asarray(v, dtype=np.int64)
        w = np.asarray(w, dtype=np.int64)
        key = (v << BITS) | w
        c = np.zeros(len(key))
        if len(self.keys):
            idx = np.minimum(np.searchsorted(self.keys, key), len(self.keys) - 1)
            c = np.where(self.keys[idx] == key, self.counts[idx], 0.0)
        total, types = self.ctx_total[v], self.ctx_types[v]
        seen = total > 0
        safe = np.where(seen, total, 1.0)
        p_bi = (np.maximum(c - self.D, 0.0) + self.D * types * self.p_uni[w]) / safe
        return np.where(seen, p_bi, self.p_uni[w])


class AdaptedNgram:
    """The shipped n-gram mixed with the user's bigrams; same ``logprob`` interface.

    P(w | u v) = (1 - a) * P_shipped(w | u v) + a * c_user(v w) / c_user(v): only word pairs the
    user actually wrote gain probability, so text unlike the user's changes little."""

    def __init__(self, base: NgramModel, user: UserLM, weight: float = 0.1):
        self.base = base
        self.user = user
        self.weight = weight
        self.meta = base.meta

    def logprob(self, w1: np.ndarray, w2: np.ndarray, w3: np.ndarray) -> np.ndarray:
        base = np.exp(self.base.logprob(w1, w2, w3).astype(np.float64))
        c, total = self.user.counts_of(w2, w3)
        # Clause starts count too: how a user's clauses open is part of their style (law: 适用本条例,
        # 第三节). On 300 law clauses +1.0 top-1; the general sets (100 each) -0.4.
        p_user = c / np.maximum(total, 1.0)
        mixed = (1.0 - self.weight) * base + self.weight * p_user
        return np.log(np.maximum(mixed, 1e-30)).astype(np.float32)


def build_from_files(paths: list[Path], lexicon: Lexicon, out: Path, read_text=None) -> dict:
    """Count the user's text files (already checked as text) into ``out``; returns the manifest."""
    read = read_text or (lambda p: Path(p).read_text(encoding="utf-8"))
    uni: Counter = Counter()
    bi: Counter = Counter()
    for p in paths:
        u, b = count_text(read(p).splitlines(), lexicon)
        uni.update(u)
        bi.update(b)
    return save_user_lm(out, uni, bi, lexicon, [Path(p).name for p in paths])


__all__ = ["UserLM", "AdaptedNgram", "count_text", "save_user_lm", "build_from_files", "FILE_NAME"]

"""User language layer: word n-grams counted from the user's own text, mixed into the shipped model.

Fine-tuning (``python -m trainer finetune --text ...``, or Tools -> Personalise… in the app)
segments the user's text with the lexicon, counts token unigrams, bigrams and trigrams, and saves
them as ``user_lm.npz`` beside the personal neural model. At run time :class:`AdaptedNgram` mixes
them linearly into the shipped trigram (the classic cache/adaptation LM)::

    P(w | u v) = (1 - a) * P_shipped(w | u v) + a * P_user(w | u v)

where ``P_user`` is the user's trigram relative frequency smoothed towards their bigram one
(zero for word pairs the user never wrote, so those keep ``1 - a`` of their probability).

The mix only helps after word pairs the user wrote. Words the user writes far more often than
general text does (a lawyer's 责令, 征收, 邮寄) also gain a bonus in every context
(:func:`word_bonus`, unigram-ratio adaptation, unnormalised)::

    bonus(w) = min(cap, scale * log(P_user(w) / P_lexicon(w)))   where positive and c_user(w) >= 3
"""
from __future__ import annotations

import json
import zipfile
from collections import Counter
from pathlib import Path
from typing import Iterable

import numpy as np

from ..atomic import atomic_writer
from ..core.lexicon import BOS, EOS, OPEN_DOMAIN, Lexicon
from ..core.ngram import BITS, NgramModel
from ..core.segment import Segmenter
from ..errors import AssetError
from ..text import clauses, strip_tags

FORMAT = "shuru-user-lm"
FORMAT_VERSION = 2  # 2 adds trigrams; version-1 layers still load (bigrams only)
FILE_NAME = "user_lm.npz"
# Pseudo-count of the user's bigram estimate inside their trigram one (docs/TUNING.md#the-user-text-layer)
TRIGRAM_PRIOR = 2.0
# Fewer uses of a word are no evidence of the user's style (docs/TUNING.md#the-users-word-bonus)
WORD_BONUS_MIN_COUNT = 3
WORD_BONUS_CAP = 4.0  # nats


def count_text(lines: Iterable[str], lexicon: Lexicon) -> tuple[Counter, Counter, Counter]:
    """Token unigram, bigram and trigram counts of ``lines`` segmented with the lexicon
    (clauses start with <s> <s>, as the decoder queries them), bracketed tags left out
    (engine.text.strip_tags)."""

    # the corpus counts' words only: open-domain words (titles) would re-cut the text as they
    # would have re-cut the corpus
    tokens = np.asarray(lexicon.entry_token)
    best = np.full(lexicon.n_tokens, -np.inf)
    np.maximum.at(best, tokens, np.asarray(lexicon.entry_logp, dtype=np.float64))
    keep = np.flatnonzero(np.isfinite(best) & ((lexicon.token_flags & OPEN_DOMAIN) == 0))
    logp = {lexicon.text(int(t)): float(best[t]) for t in keep if t > EOS}
    seg = Segmenter.over(logp)
    uni: Counter = Counter()
    bi: Counter = Counter()
    tri: Counter = Counter()
    for line in lines:
        for clause in clauses(strip_tags(line)):
            toks = [BOS, BOS] + [lexicon.token_id(w) or 0 for w in seg.cut(clause)] + [EOS]
            uni.update(toks[2:])
            bi.update(zip(toks[1:-1], toks[2:]))
            tri.update(zip(toks[:-2], toks[1:-1], toks[2:]))
    return uni, bi, tri


def pack(ngrams: Counter) -> tuple[np.ndarray, np.ndarray]:
    """Sorted packed keys (BITS per token, first token highest) and their counts."""
    items = sorted((_pack_key(g), c) for g, c in ngrams.items())
    keys = np.array([k for k, _ in items], dtype=np.int64)
    return keys, np.array([c for _, c in items], dtype=np.int32)


def _pack_key(gram: tuple[int, ...]) -> int:
    key = 0
    for t in gram:
        key = (key << BITS) | int(t)
    return key


def save_user_lm(path: Path, uni: Counter, bi: Counter, lexicon: Lexicon, sources: list[str],
                 tri: Counter | None = None) -> dict:
    """Write the counts (atomically) for :meth:`UserLM.load`; returns the manifest."""
    keys, counts = pack(bi)
    tri_keys, tri_counts = pack(tri or Counter())
    uni_arr = np.zeros(lexicon.n_tokens, dtype=np.int32)
    for t, c in uni.items():
        uni_arr[t] = c
    meta = {"format": FORMAT, "version": FORMAT_VERSION, "token_hash": lexicon.token_hash(),
            "tokens": int(uni_arr.sum()), "bigrams": int(len(keys)), "trigrams": int(len(tri_keys)),
            "sources": sources}
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_writer(path) as fh:
        np.savez(fh, meta=np.array(json.dumps(meta, ensure_ascii=False)), unigram=uni_arr, bigram_keys=keys,
                 bigram_counts=counts, trigram_keys=tri_keys, trigram_counts=tri_counts)
    return meta


def _lookup(keys: np.ndarray, values: np.ndarray, query: np.ndarray) -> np.ndarray:
    """values[keys == query] for each query, 0 where absent (keys sorted)."""
    if not len(keys):
        return np.zeros(len(query))
    idx = np.minimum(np.searchsorted(keys, query), len(keys) - 1)
    return np.where(keys[idx] == query, values[idx], 0.0)


class UserLM:
    """The user's bigram and trigram counts, with their context totals for lookups."""

    def __init__(self, unigram: np.ndarray, keys: np.ndarray, counts: np.ndarray, meta: dict,
                 tri_keys: np.ndarray | None = None, tri_counts: np.ndarray | None = None):
        self.meta = meta
        self.unigram = unigram
        self.keys = keys
        self.counts = counts.astype(np.float64)
        self.ctx_total = np.bincount(keys >> BITS, weights=self.counts, minlength=len(unigram))
        # trigrams: counts, and c(u v .) per distinct (u v) context (keys are sorted, so each
        # context's trigrams are one run)
        self.tri_keys = tri_keys if tri_keys is not None else np.zeros(0, dtype=np.int64)
        self.tri_counts = (tri_counts if tri_counts is not None else np.zeros(0)).astype(np.float64)
        self.tri_ctx_keys, starts = np.unique(self.tri_keys >> BITS, return_index=True)
        self.tri_ctx_total = np.add.reduceat(self.tri_counts, starts) if len(starts) else np.zeros(0)

    @classmethod
    def load(cls, path: Path, lexicon: Lexicon) -> "UserLM":
        try:
            with np.load(path, allow_pickle=False) as z:
                meta = json.loads(str(z["meta"]))
                arrays = {k: z[k] for k in ("unigram", "bigram_keys", "bigram_counts")}
                if meta.get("version") == FORMAT_VERSION:
                    arrays.update(tri_keys=z["trigram_keys"], tri_counts=z["trigram_counts"])
        except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError) as e:
            raise AssetError(f"user language layer {path} is unreadable ({e}); fine-tune again") from None
        if meta.get("format") != FORMAT or meta.get("version") not in (1, FORMAT_VERSION):
            raise AssetError(f"{path} is not a version-{FORMAT_VERSION} Shuru user language layer")
        if meta.get("token_hash") != lexicon.token_hash() or len(arrays["unigram"]) != lexicon.n_tokens:
            raise AssetError(f"{path} was built for another lexicon; fine-tune again")
        return cls(arrays.pop("unigram"), arrays.pop("bigram_keys"), arrays.pop("bigram_counts"), meta, **arrays)

    def counts_of(self, v: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """c(v w) and c(v .) in the user's text."""
        v = np.asarray(v, dtype=np.int64)
        key = (v << BITS) | np.asarray(w, dtype=np.int64)
        return _lookup(self.keys, self.counts, key), self.ctx_total[v]

    def trigram_counts_of(self, u: np.ndarray, v: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """c(u v w) and c(u v .) in the user's text (zeros for a version-1 layer)."""
        ctx = (np.asarray(u, dtype=np.int64) << BITS) | np.asarray(v, dtype=np.int64)
        key = (ctx << BITS) | np.asarray(w, dtype=np.int64)
        return _lookup(self.tri_keys, self.tri_counts, key), _lookup(self.tri_ctx_keys, self.tri_ctx_total, ctx)

    def adapt_prob(self, u: np.ndarray, v: np.ndarray, w: np.ndarray, prior: float = TRIGRAM_PRIOR) -> np.ndarray:
        """P_user(w | u v): trigram relative frequency with the bigram one as a prior of
        ``prior`` pseudo-counts; 0 where the user never wrote ``v w``."""
        c2, t2 = self.counts_of(v, w)
        p_bi = c2 / np.maximum(t2, 1.0)
        c3, t3 = self.trigram_counts_of(u, v, w)
        return (c3 + prior * p_bi) / (t3 + prior)


def word_bonus(user: UserLM, lexicon: Lexicon, scale: float, cap: float = WORD_BONUS_CAP,
               min_count: int = WORD_BONUS_MIN_COUNT) -> np.ndarray:
    """Per-token log bonus (float32, >= 0): ``scale`` times how much more often the user writes a
    word than the lexicon's prior says general text does, capped, for words written ``min_count``
    times or more; never a penalty, so words the user avoids keep their score."""
    counts = np.asarray(user.unigram, dtype=np.float64)
    prior = np.bincount(np.asarray(lexicon.entry_token),
                        weights=np.exp(np.asarray(lexicon.entry_logp, dtype=np.float64)), minlength=len(counts))
    seen = counts >= max(min_count, 1)
    ratio = np.log(counts[seen] / counts.sum()) - np.log(np.maximum(prior[seen], 1e-12))
    bonus = np.zeros(len(counts))
    bonus[seen] = np.clip(scale * ratio, 0.0, cap)
    bonus[: EOS + 1] = 0.0  # <unk>, <s>, </s> are structure, not words
    return bonus.astype(np.float32)


class AdaptedNgram:
    """The shipped n-gram mixed with the user's n-grams; same ``logprob`` interface.

    P(w | u v) = (1 - a) * P_shipped(w | u v) + a * P_user(w | u v): only word pairs the user
    actually wrote gain probability, so text unlike the user's changes little. ``word_bonus``
    (:func:`word_bonus`, or None) is not part of ``logprob``: the decoder grants it per hypothesis."""

    def __init__(self, base: NgramModel, user: UserLM, weight: float = 0.1, word_bonus: np.ndarray | None = None):
        self.base = base
        self.user = user
        self.weight = weight
        self.word_bonus = word_bonus
        self.meta = base.meta
        self._user_words = max(1.0, float(user.unigram.sum()))  # the user's token count, for unigram()

    def unigram(self, w: np.ndarray) -> np.ndarray:
        """log P(w) with no context: the shipped unigram mixed with the user's word frequencies."""
        return self._with_user(self.base.unigram(w), w)

    def alone(self, w: np.ndarray) -> np.ndarray:
        """log P(w) for a word typed with no text around it (NgramModel.alone), mixed like unigram()."""
        return self._with_user(self.base.alone(w), w)

    def word_start(self, c: np.ndarray) -> np.ndarray:
        """log P that a word begins with character c (NgramModel.word_start): the shipped model's."""
        return self.base.word_start(c)

    def _with_user(self, base_logp: np.ndarray, w: np.ndarray) -> np.ndarray:
        w = np.asarray(w, dtype=np.int64)
        base = np.exp(base_logp)
        p_user = self.user.unigram[w] / self._user_words
        mixed = (1.0 - self.weight) * base + self.weight * p_user
        return np.log(np.maximum(mixed, 1e-30))

    def logprob(self, w1: np.ndarray, w2: np.ndarray, w3: np.ndarray) -> np.ndarray:
        base = np.exp(self.base.logprob(w1, w2, w3).astype(np.float64))
        # Clause starts count too: how a user's clauses open is part of their style (适用本条例, 第三节)
        # (docs/TUNING.md#the-user-text-layer)
        p_user = self.user.adapt_prob(w1, w2, w3)
        mixed = (1.0 - self.weight) * base + self.weight * p_user
        return np.log(np.maximum(mixed, 1e-30)).astype(np.float32)


def build_from_files(paths: list[Path], lexicon: Lexicon, out: Path, read_text=None) -> dict:
    """Count the user's text files (already checked as text) into ``out``; returns the manifest."""
    read = read_text or (lambda p: Path(p).read_text(encoding="utf-8"))
    uni: Counter = Counter()
    bi: Counter = Counter()
    tri: Counter = Counter()
    for p in paths:
        u, b, t = count_text(read(p).splitlines(), lexicon)
        uni.update(u)
        bi.update(b)
        tri.update(t)
    return save_user_lm(out, uni, bi, lexicon, [Path(p).name for p in paths], tri)


__all__ = ["UserLM", "AdaptedNgram", "word_bonus", "count_text", "save_user_lm", "build_from_files", "FILE_NAME"]

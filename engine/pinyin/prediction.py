"""Next-word prediction: the likely words after the committed text, from the word trigram model.

Candidates are the words the model has seen after the last two words of the context
(trigram, then bigram continuations) plus the most frequent words; each is scored with the
engine's n-gram ``logprob`` (the shipped model, mixed with the user's own text layer when
one is active) and the best Chinese words are offered. No decoding is involved: a
prediction costs a few ``searchsorted`` calls and one batched score.
"""
from __future__ import annotations

import numpy as np

from ..core.lexicon import EOS, Lexicon
from ..core.lm import context_tokens
from ..core.ngram import BITS
from ..text import all_han

FREQUENT_WORDS = 200  # the most frequent words are always candidates (a context the model never saw)
MAX_CONTINUATIONS = 20000  # bound on the continuations scored for a very common context word


class Predictor:
    """``predict(context, k)`` -> up to ``k`` likely next words after ``context``."""

    def __init__(self, lexicon: Lexicon, ngram):
        self.lex = lexicon
        self.ngram = ngram  # what scores (NgramModel or AdaptedNgram)
        self.base = getattr(ngram, "base", ngram)  # whose n-gram tables list the continuations
        self._frequent: np.ndarray | None = None

    def predict(self, context: str, k: int = 5) -> list[str]:
        """The ``k`` most likely next words (Chinese words only), best first."""
        w1, w2 = context_tokens(self.lex, context)
        cands = self._candidates(w1, w2)
        if len(cands) == 0:
            return []
        n = len(cands)
        scores = self.ngram.logprob(np.full(n, w1), np.full(n, w2), cands)
        out: list[str] = []
        for i in np.argsort(-scores, kind="stable"):
            text = self.lex.text(int(cands[i]))
            if all_han(text) and text not in out and not self.lex.open_domain(int(cands[i])):
                out.append(text)
                if len(out) == k:
                    break
        return out

    def _candidates(self, w1: int, w2: int) -> np.ndarray:
        tri = _continuations(self.base.tri_keys, (w1 << (2 * BITS)) | (w2 << BITS))
        bi = _continuations(self.base.bi_keys, w2 << BITS)
        return np.unique(np.concatenate([tri, bi, self._frequent_words()]))

    def _frequent_words(self) -> np.ndarray:
        if self._frequent is None:
            logp = np.asarray(self.base.uni_logp, dtype=np.float32)
            top = np.argsort(-np.where(np.isfinite(logp), logp, -np.inf))[: FREQUENT_WORDS * 4]
            self._frequent = top[top > EOS][:FREQUENT_WORDS].astype(np.int64)
        return self._frequent


def _continuations(keys: np.ndarray, prefix: int) -> np.ndarray:
    """Last token ids of the packed keys that start with ``prefix`` (the higher bits)."""
    lo = int(np.searchsorted(keys, prefix))
    hi = int(np.searchsorted(keys, prefix + (1 << BITS)))
    return (keys[lo:min(hi, lo + MAX_CONTINUATIONS)] & ((1 << BITS) - 1)).astype(np.int64)


__all__ = ["Predictor"]

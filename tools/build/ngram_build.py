"""Word n-gram counts -> interpolated Kneser-Ney trigram model, pruned, in backoff form.

The model is estimated on all counts, then n-grams under the count cut-offs are
dropped and backoff weights renormalised so every distribution still sums to one
(as SRILM/KenLM pruning does). Output ``assets/ngram.npz`` (assets/FORMATS.md).
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from engine.core.lexicon import Lexicon
from engine.core.ngram import BITS, FORMAT, FORMAT_VERSION, groups, lookup
from engine.core.ngram import backoff_weights as _backoff
from engine.core.ngram import context_backoff_weights as _backoff_keys
from .counts import SPECIALS

MASK = (1 << BITS) - 1
MIN_BIGRAM_COUNT = 3
MIN_TRIGRAM_COUNT = 6  # trigrams seen fewer times are pruned (docs/TUNING.md#n-gram-pruning-and-score-codebooks)
# Tokens the counts lack get at most this share of the continuation mass (the unigram distribution)
MAX_UNSEEN_SHARE = 0.05


def token_hash(lexicon: Lexicon) -> str:
    return lexicon.token_hash()


def remap(keys: np.ndarray, counts: np.ndarray, old_to_new: np.ndarray, order: int):
    """Re-express packed n-gram keys in the lexicon's token ids, merging collisions."""
    parts = [(keys >> (BITS * (order - 1 - k))) & MASK for k in range(order)]
    new = np.zeros_like(keys)
    for k, p in enumerate(parts):
        new |= old_to_new[p] << (BITS * (order - 1 - k))
    order_ = np.argsort(new, kind="stable")
    new, counts = new[order_], counts[order_].astype(np.int64)
    starts = np.flatnonzero(np.r_[True, new[1:] != new[:-1]])
    return new[starts], np.add.reduceat(counts, starts)


def discount(counts: np.ndarray) -> float:
    n1, n2 = (counts == 1).sum(), (counts == 2).sum()
    return float(n1 / (n1 + 2 * n2)) if n1 + n2 else 0.5


def build_ngram(counts_path: Path, assets: Path, min_bigram: int = MIN_BIGRAM_COUNT,
                min_trigram: int = MIN_TRIGRAM_COUNT, log=print) -> None:
    t0 = time.time()
    lex = Lexicon.load(assets / "lexicon.npz")
    d = np.load(counts_path)
    old_vocab = [str(x) for x in d["vocab"]]
    V = lex.n_tokens
    old_to_new = np.array([lex.token_id(w) or 0 for w in old_vocab], dtype=np.int64)
    for i, s in enumerate(SPECIALS):
        old_to_new[i] = i
    k2, c2 = remap(d["bigram_keys"], d["bigram_counts"], old_to_new, 2)
    k3, c3 = remap(d["trigram_keys"], d["trigram_counts"], old_to_new, 3)
    log(f"remapped: {len(k2) / 1e6:.1f}M bigrams, {len(k3) / 1e6:.1f}M trigrams ({time.time() - t0:.0f}s)")

    # Unigram: continuation counts (distinct left neighbours), lightly smoothed. Tokens the counts
    # never show (open-domain words, unseen characters) get their lexicon prior instead, so a name
    # the corpus lacks still has the unigram mass its lists give it.
    cc1 = np.bincount(k2 & MASK, minlength=V).astype(np.float64)
    counts1 = np.bincount(old_to_new, weights=d["unigram"].astype(np.float64), minlength=V)
    cc1 += unseen_continuation(cc1, counts1, _prior_counts(lex, V), log)
    cc1[1] = 0  # <s> is never predicted
    p1 = (cc1 + 0.1) / (cc1.sum() + 0.1 * V)
    p1[1] = 0.0

    # Bigram: continuation counts N1+(. v w), raw counts after <s>.
    vw, ncc = np.unique(k3 & ((1 << 2 * BITS) - 1), return_counts=True)
    idx, hit = lookup(vw, k2)
    cc2 = np.where(hit, ncc[idx], c2).astype(np.float64)
    cc2 = np.where((k2 >> BITS) == 1, c2, cc2)
    D2 = discount(cc2)
    starts2, gid2 = groups(k2 >> BITS)
    S2 = np.add.reduceat(cc2, starts2)[gid2]
    T2 = np.diff(np.r_[starts2, len(k2)])[gid2]
    w2 = k2 & MASK
    p2 = np.maximum(cc2 - D2, 0) / S2 + D2 * T2 / S2 * p1[w2]

    keep2 = c2 >= min_bigram
    # Trigram (highest order, raw counts).
    D3 = discount(c3.astype(np.float64))
    starts3, gid3 = groups(k3 >> BITS)
    S3 = np.add.reduceat(c3.astype(np.float64), starts3)[gid3]
    T3 = np.diff(np.r_[starts3, len(k3)])[gid3]
    bi_idx, bi_hit = lookup(k2, k3 & ((1 << 2 * BITS) - 1))
    assert bi_hit.all()
    p3 = np.maximum(c3 - D3, 0) / S3 + D3 * T3 / S3 * p2[bi_idx]
    keep3 = c3 >= min_trigram
    # Every kept trigram's context and suffix must be a kept bigram.
    ctx_idx, ctx_hit = lookup(k2, k3[keep3] >> BITS)
    keep2[ctx_idx[ctx_hit]] = True
    keep2[bi_idx[keep3]] = True
    log(f"D2={D2:.3f} D3={D3:.3f}; keeping {keep2.sum() / 1e6:.2f}M bigrams, {keep3.sum() / 1e6:.2f}M trigrams")

    # Backoff weights of the pruned model.
    bo1 = _backoff(k2 >> BITS, keep2, p2, p1[w2], V)
    p2_pruned = np.where(keep2, p2, np.exp(bo1[k2 >> BITS]) * p1[w2])
    K2, P2 = k2[keep2], p2[keep2]
    bo2_all = _backoff_keys(k3 >> BITS, keep3, p3, p2_pruned[bi_idx])
    ctx_keys, ctx_bo = bo2_all
    bo2 = np.zeros(len(K2), dtype=np.float64)
    i, hit = lookup(K2, ctx_keys)
    bo2[i[hit]] = ctx_bo[hit]
    K3, P3 = k3[keep3], p3[keep3]

    # How often present-day typed text uses each token (counts.TYPED_SOURCES): NgramModel.alone
    typed = np.bincount(old_to_new, weights=d["typed_unigram"].astype(np.float64), minlength=V)
    typed[: len(SPECIALS)] = 0
    with np.errstate(divide="ignore"):
        typed_logp = np.log(typed / max(typed.sum(), 1.0))  # -inf: never seen there
    typed_arrays = {"typed_logp": typed_logp.astype(np.float16)} if typed.sum() > 0 else {}

    meta = {"format": FORMAT, "version": FORMAT_VERSION, "order": 3, "tokens": V,
            "token_hash": token_hash(lex), "discounts": [D2, D3],
            "cutoffs": {"bigram": min_bigram, "trigram": min_trigram},
            "counts": {"bigrams": int(len(K2)), "trigrams": int(len(K3))}}
    out = assets / "ngram.npz"
    tmp = out.with_suffix(".tmp.npz")
    with np.errstate(divide="ignore"):
        np.savez(tmp, meta=np.array(json.dumps(meta)),
                 uni_logp=np.log(p1).astype(np.float32), uni_backoff=bo1.astype(np.float32),
                 bi_keys=K2, bi_logp=np.log(P2).astype(np.float16), bi_backoff=bo2.astype(np.float16),
                 tri_keys=K3, tri_logp=np.log(P3).astype(np.float16), **typed_arrays)
    tmp.replace(out)
    log(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB) in {time.time() - t0:.0f}s")


def unseen_continuation(cc1: np.ndarray, counts: np.ndarray, prior: np.ndarray, log=print) -> np.ndarray:
    """Continuation pseudo-counts for tokens the corpus counts lack, from their prior pseudo-counts.

    A prior counts occurrences, a continuation count distinct left neighbours: the corpus's own
    words give the relation (log cc = a + b log count, least squares over words seen 1-1000 times),
    and the total is capped at MAX_UNSEEN_SHARE of the mass so common words keep theirs."""
    seen = (counts >= 1) & (counts <= 1000) & (cc1 > 0)
    b, a = np.polyfit(np.log(counts[seen]), np.log(cc1[seen]), 1) if seen.sum() > 10 else (1.0, 0.0)
    unseen = (cc1 == 0) & (prior > 0)
    extra = np.zeros_like(cc1)
    extra[unseen] = np.exp(a) * prior[unseen] ** b
    cap = MAX_UNSEEN_SHARE * cc1.sum()
    if extra.sum() > cap:
        extra *= cap / extra.sum()
    log(f"unseen tokens: {unseen.sum()}, continuation ~ {np.exp(a):.2f} * count^{b:.2f}, "
        f"{extra.sum() / (cc1.sum() + extra.sum()):.1%} of the unigram mass")
    return extra


def _prior_counts(lex: Lexicon, V: int) -> np.ndarray:
    """Each token's prior pseudo-count in the lexicon (summed over its readings)."""
    prior = np.zeros(V, dtype=np.float64)
    np.add.at(prior, lex.entry_token, np.exp(lex.entry_logp.astype(np.float64)) * float(lex.meta["total_count"]))
    return prior

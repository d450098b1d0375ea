"""Word trigram language model in backoff form, queried in batches with numpy.

Loaded from ``assets/ngram.npz`` (built by ``python -m tools.build ngram``; layout in
assets/FORMATS.md). N-grams are packed int64 keys (20 bits per token id) in sorted
arrays, so a batch of queries is a few ``searchsorted`` calls. Scores are natural-log
probabilities.
"""
from __future__ import annotations

import json
import logging
import zipfile
import zlib
from pathlib import Path

import numpy as np

from ..errors import AssetError, FormatVersionError, asset_problem
from .lexicon import EOS

log = logging.getLogger(__name__)

FORMAT = "shuru-ngram"
FORMAT_VERSION = 1
BITS = 20
# A word typed with no text around it: this share of its probability is how often present-day typed
# text uses it, the rest the unigram (docs/TUNING.md#a-word-typed-alone)
TYPED_SHARE = 0.5


class NgramModel:
    """``logprob(w1, w2, w3)`` = log P(w3 | w1 w2) for arrays of token ids."""

    def __init__(self, arrays: dict[str, np.ndarray], meta: dict):
        self.meta = meta
        self.uni_logp = arrays["uni_logp"].astype(np.float16)  # keeps -inf (never predicted: <s>)
        self.uni_backoff = Codebook.of(arrays["uni_backoff"])
        self.bi_keys = arrays["bi_keys"]
        # Scores live in memory as 8-bit codes into 256-value codebooks, as KenLM's -q 8
        # (docs/TUNING.md#n-gram-pruning-and-score-codebooks)
        self.bi_logp = Codebook.of(arrays["bi_logp"])
        self.bi_backoff = Codebook.of(arrays["bi_backoff"])
        self.tri_keys = arrays["tri_keys"]
        self.tri_logp = Codebook.of(arrays["tri_logp"])
        typed = arrays.get("typed_logp")  # absent from models built before 2026-12 (alone() is the unigram)
        self.typed_logp = None if typed is None else typed.astype(np.float16)
        # only a model with libime's merged in has it (docs/TUNING.md#a-word-typed-alone); without, word_start() is the unigram
        start = arrays.get("start_logp")
        self.start_logp = None if start is None else start.astype(np.float16)

    @classmethod
    def load(cls, path: Path, token_hash: str | None = None) -> "NgramModel":
        """Load and check a compiled model; ``token_hash`` must match the lexicon's."""
        what = "n-gram model"
        try:
            with np.load(path, allow_pickle=False) as z:
                arrays = {k: z[k] for k in z.files}
            meta = json.loads(str(arrays["meta"]))
        except FileNotFoundError:
            log.warning("n-gram model not found at %s (developers: `python -m tools.build ngram`)", path)
            raise AssetError(asset_problem(what, path, "is missing")) from None
        except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError, zlib.error) as e:
            log.warning("n-gram model %s unreadable: %s: %s", path, type(e).__name__, e)
            raise AssetError(asset_problem(what, path, "is damaged or unreadable")) from None
        if meta.get("format") != FORMAT:
            log.warning("%s has format %r, not %r", path, meta.get("format"), FORMAT)
            raise AssetError(asset_problem(what, path, "is not a Shuru n-gram model"))
        if meta.get("version") != FORMAT_VERSION:
            raise FormatVersionError(asset_problem(
                what, path, f"is from another version of Shuru: format version {meta.get('version')}, "
                            f"this Shuru reads version {FORMAT_VERSION}"))
        if token_hash is not None and meta.get("token_hash") != token_hash:
            log.warning("%s: token hash %s != the lexicon's %s", path, meta.get("token_hash"), token_hash)
            raise AssetError(asset_problem(
                what, path, "was built for another lexicon: the two files come from different versions of Shuru"))
        return cls(arrays, meta)

    def unigram(self, w: np.ndarray) -> np.ndarray:
        """log P(w) with no context at all, for an array of token ids."""
        return self.uni_logp[np.asarray(w, dtype=np.int64)].astype(np.float64)

    def alone(self, w: np.ndarray) -> np.ndarray:
        """log P(w) for a word typed with no text around it: the unigram mixed with how often
        present-day typed text uses it (TYPED_SHARE)."""
        typed = None if self.typed_logp is None else self.typed_logp[np.asarray(w, dtype=np.int64)]
        return alone_logp(self.unigram(w), typed)

    def word_start(self, c: np.ndarray) -> np.ndarray:
        """log P that a word begins with character c (character token ids), with no context: the
        context model's stand-in for the first character of a word of two or more characters
        typed alone (word_start_logp); the character's unigram where the model has no such table."""
        c = np.asarray(c, dtype=np.int64)
        if self.start_logp is None:
            return self.unigram(c)
        known = c < len(self.start_logp)
        return np.where(known, self.start_logp[np.where(known, c, 0)].astype(np.float64), self.unigram(c))

    def logprob(self, w1: np.ndarray, w2: np.ndarray, w3: np.ndarray) -> np.ndarray:
        """log P(w3 | w1 w2), vectorised over equal-length int64 arrays."""
        w1, w2, w3 = (np.asarray(x, dtype=np.int64) for x in (w1, w2, w3))
        k3 = (w1 << (2 * BITS)) | (w2 << BITS) | w3
        lp3, hit3 = _find(self.tri_keys, k3, self.tri_logp)
        k2 = (w2 << BITS) | w3
        lp2, hit2 = _find(self.bi_keys, k2, self.bi_logp)
        ctx_bo, _ = _find(self.bi_keys, (w1 << BITS) | w2, self.bi_backoff)
        lower = np.where(hit2, lp2, self.uni_backoff[w2] + self.uni_logp[w3])
        return np.where(hit3, lp3, ctx_bo + lower)


def alone_logp(uni_logp: np.ndarray, typed_logp: np.ndarray | None) -> np.ndarray:
    """log P(w) for a word typed with no text around it, from the unigram and typed text's shares
    (TYPED_SHARE; the unigram alone where there are no typed counts)."""
    uni = np.asarray(uni_logp, dtype=np.float64)
    if typed_logp is None:
        return uni
    typed = np.asarray(typed_logp, dtype=np.float64)
    return np.logaddexp(np.log1p(-TYPED_SHARE) + uni, np.log(TYPED_SHARE) + typed)


def word_start_logp(first_char: np.ndarray, alone: np.ndarray, uni_logp: np.ndarray, n_lead: int) -> np.ndarray:
    """log P(a word typed alone begins with c) for the tokens before ``n_lead`` (the specials and
    characters; the words follow): the mass of ``alone`` (alone_logp) of the tokens whose first
    character is c, shifted so that its mean over the words, weighted by that mass, is their first
    characters' unigram, the stand-in it replaces (the level the clause-start mixture was tuned at).
    ``first_char``: each token's first character as a token id, -1 for none (Lexicon.first_chars).
    docs/TUNING.md#a-word-typed-alone."""
    uni = np.asarray(uni_logp, dtype=np.float64)
    p = np.exp(np.asarray(alone, dtype=np.float64))
    p[: EOS + 1] = 0.0  # <unk>, <s>, </s> begin no word
    has = first_char >= 0
    mass = np.bincount(first_char[has], weights=p[has], minlength=n_lead)[:n_lead]
    with np.errstate(divide="ignore"):
        start = np.log(mass)
    words = np.flatnonzero(has[n_lead:]) + n_lead
    c = first_char[words]
    shift = np.sum(p[words] * (start[c] - uni[c])) / max(np.sum(p[words]), 1e-300)
    out = start - shift
    out[: EOS + 1] = uni[: EOS + 1]
    return out


class Codebook:
    """An array of scores stored as uint8 codes; ``book[idx]`` decodes entries."""

    LEVELS = 256

    def __init__(self, codes: np.ndarray, centers: np.ndarray):
        self.codes, self.centers = codes, centers

    @classmethod
    def of(cls, values: np.ndarray) -> "Codebook":
        """Half the levels at equal-mass quantiles, half evenly spaced over the range (bounding
        the error of rare extreme scores), then one Lloyd step (centers = bin means).

        Works on the float16 bit patterns (65536 possible values), so building the codes
        for millions of scores is a histogram and a table lookup (~20 ms), not a search."""
        bits = np.asarray(values, dtype=np.float16).view(np.uint16)
        if len(bits) == 0:
            return cls(np.zeros(0, np.uint8), np.zeros(1, np.float32))
        value_of = np.arange(1 << 16, dtype=np.uint16).view(np.float16).astype(np.float32)
        count = np.zeros(1 << 16, dtype=np.int64)
        for i in range(0, len(bits), 1 << 18):  # bincount and indexing copy to int64: go in chunks
            count += np.bincount(bits[i: i + (1 << 18)], minlength=1 << 16)
        present = np.flatnonzero(count)
        present = present[np.argsort(value_of[present], kind="stable")]
        cum = np.cumsum(count[present])
        half = cls.LEVELS // 2
        targets = (np.arange(half) + 0.5) / half * cum[-1]
        picks = present[np.minimum(np.searchsorted(cum, targets), len(present) - 1)]
        lo, hi = value_of[present[0]], value_of[present[-1]]
        centers = np.unique(np.concatenate([value_of[picks], np.linspace(lo, hi, cls.LEVELS - half)]))
        table = np.searchsorted((centers[1:] + centers[:-1]) / 2, value_of).astype(np.uint8)
        table[~np.isfinite(value_of)] = 0
        codes = np.concatenate([table[bits[i: i + (1 << 18)]] for i in range(0, len(bits), 1 << 18)])
        sums = np.bincount(table[present], weights=value_of[present] * count[present], minlength=len(centers))
        counts = np.bincount(table[present], weights=count[present], minlength=len(centers))
        centers = np.where(counts > 0, sums / np.maximum(counts, 1), centers).astype(np.float32)
        return cls(codes, centers)

    def __getitem__(self, idx) -> np.ndarray:
        return self.centers[self.codes[idx]]

    def __len__(self) -> int:
        return len(self.codes)


def _find(keys: np.ndarray, query: np.ndarray, values: Codebook):
    """Values at ``query`` keys (0 where absent) and a hit mask."""
    if len(keys) == 0:
        return np.zeros(len(query), dtype=np.float32), np.zeros(len(query), dtype=bool)
    idx = np.searchsorted(keys, query)
    idx = np.minimum(idx, len(keys) - 1)
    hit = keys[idx] == query
    return np.where(hit, values[idx], np.float32(0.0)), hit


# --- building a backoff model (the asset build and the merge with libime's model) -----------


def groups(ctx: np.ndarray):
    """Start index of each run of equal (sorted) context keys, and each element's group."""
    starts = np.flatnonzero(np.r_[True, ctx[1:] != ctx[:-1]])
    gid = np.cumsum(np.r_[False, ctx[1:] != ctx[:-1]])
    return starts, gid


def lookup(keys: np.ndarray, query: np.ndarray):
    """Index of each query in sorted ``keys`` (clipped) and whether it is there."""
    idx = np.minimum(np.searchsorted(keys, query), len(keys) - 1)
    return idx, keys[idx] == query


def backoff_weights(ctx: np.ndarray, keep: np.ndarray, p_hi: np.ndarray, p_lo: np.ndarray, V: int) -> np.ndarray:
    """log backoff per unigram context: (1 - kept high mass) / (1 - kept low mass)."""
    num = 1.0 - np.bincount(ctx[keep], weights=p_hi[keep], minlength=V)
    den = 1.0 - np.bincount(ctx[keep], weights=p_lo[keep], minlength=V)
    return np.log(np.clip(num, 1e-12, None) / np.clip(den, 1e-12, None))


def context_backoff_weights(ctx: np.ndarray, keep: np.ndarray, p_hi: np.ndarray, p_lo: np.ndarray):
    """Same as :func:`backoff_weights` for packed bigram contexts; returns (context keys, log backoff)."""
    c = ctx[keep]
    starts, _ = groups(c)
    num = 1.0 - np.add.reduceat(p_hi[keep], starts)
    den = 1.0 - np.add.reduceat(p_lo[keep], starts)
    return c[starts], np.log(np.clip(num, 1e-12, None) / np.clip(den, 1e-12, None))

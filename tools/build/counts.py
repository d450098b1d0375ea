"""Segment the corpus into words and count word n-grams (numpy, 2 processes).

Segmentation is the maximum-probability path over a prefix dictionary (as jieba does,
without its HMM): words from :func:`words.candidate_words`, every character as a
fallback. Counts are kept as packed int64 keys (20 bits per token id).
"""
from __future__ import annotations

import math
import multiprocessing as mp
import time
from pathlib import Path

import numpy as np

from engine.core.segment import Segmenter
from engine.text import clauses
from trainer.corpus import DEFAULT_DATA_DIR, CorpusFile, corpus_files, line_chunks

BITS = 20
UNK, BOS, EOS = 0, 1, 2
SPECIALS = ("<unk>", "<s>", "</s>")
# Each Wikipedia title adds its inner word bigrams and trigrams this many times (肾小球|肾炎,
# 伊利诺伊|大学): encyclopedic compounds the corpus rarely writes. No sentence boundaries (a title is
# a phrase inside text) and no unigram counts (the lexicon and its priors stay the corpus's).
# docs/TUNING.md#word-n-grams-inside-wikipedia-titles
TITLE_NGRAM_COUNT = 2
# Present-day text people type (chat, posts, reviews, question titles, web news and pages): their word
# frequencies price a word typed with no text around it (docs/TUNING.md#a-word-typed-alone).
TYPED_SOURCES = ("chat_lccc_sample", "social_weibo_posts", "reviews", "social_zhihu_titles", "news_inews",
                 "web_mixed")


HASH_BASE = np.uint64(0x9E3779B97F4A7C15)  # odd 64-bit multiplier of the rolling hash
U64 = (1 << 64) - 1


class Occurrences:
    """Counts how often each of many words occurs as a substring of the corpus clauses.

    For words the segmenter does not know (Wikipedia titles, list words): their occurrences
    give a prior without letting them re-cut the corpus. Vectorised: a rolling 64-bit hash of
    every window of 2-7 characters, looked up in the sorted hashes of the words of that length."""

    def __init__(self, words: list[str]):
        self.words = words
        self.by_len: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        hashes = np.array([_text_hash(w) for w in words], dtype=np.uint64)
        lengths = np.array([len(w) for w in words])
        for n in np.unique(lengths):
            idx = np.flatnonzero(lengths == n)
            order = np.argsort(hashes[idx], kind="stable")
            self.by_len[int(n)] = (hashes[idx][order], idx[order])

    def count(self, clauses_: list[str]) -> np.ndarray:
        """Occurrences of each word in these clauses (an int64 array over ``words``)."""
        out = np.zeros(len(self.words), dtype=np.int64)
        if not clauses_ or not self.words:
            return out
        c = np.frombuffer("\0".join(clauses_).encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
        zeros = np.r_[0, np.cumsum(c == 0)]
        h = c.copy()
        with np.errstate(over="ignore"):
            for n in range(2, max(self.by_len) + 1):
                h = h[:-1] * HASH_BASE + c[n - 1:]
                if n not in self.by_len:
                    continue
                ok = zeros[n: n + len(h)] - zeros[: len(h)] == 0
                keys, ids = self.by_len[n]
                q = h[ok]
                i = np.minimum(np.searchsorted(keys, q), len(keys) - 1)
                hit = keys[i] == q
                out += np.bincount(ids[i[hit]], minlength=len(self.words))
        return out


def _text_hash(word: str) -> int:
    h = 0
    for ch in word:
        h = (h * int(HASH_BASE) + ord(ch)) & U64
    return h


_worker: dict = {}


def _init(segmenter: Segmenter, ids: dict[str, int], occurrences: "Occurrences | None" = None):
    _worker["seg"] = segmenter
    _worker["ids"] = ids
    _worker["occ"] = occurrences


def _count_chunk(lines: list[str]):
    seg, ids, occ = _worker["seg"], _worker["ids"], _worker.get("occ")
    toks: list[int] = []
    chunk_clauses: list[str] = []
    for line in lines:
        for cl in clauses(line):
            chunk_clauses.append(cl)
            toks.append(BOS)
            toks.extend(_token_ids(seg, ids, cl))
            toks.append(EOS)
    a = np.asarray(toks, dtype=np.int64)
    uni = np.bincount(a, minlength=len(ids))
    k2, k3 = ngram_keys(a, a == EOS)
    u2, c2 = np.unique(k2, return_counts=True)
    u3, c3 = np.unique(k3, return_counts=True)
    extra = occ.count(chunk_clauses) if occ is not None else None
    return uni, u2, c2.astype(np.int32), u3, c3.astype(np.int32), extra


def _token_ids(seg: Segmenter, ids: dict[str, int], clause: str) -> list[int]:
    return [ids.get(w, UNK) for w in seg.cut(clause)]


def _unigram_chunk(lines: list[str]) -> np.ndarray:
    seg, ids = _worker["seg"], _worker["ids"]
    toks = [t for line in lines for cl in clauses(line) for t in _token_ids(seg, ids, cl)]
    return np.bincount(np.asarray(toks, dtype=np.int64), minlength=len(ids))


def ngram_keys(a: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Packed bigram and trigram keys of the token ids ``a``; none runs on past a token where ``ends``."""
    k2 = (a[:-1] << BITS | a[1:])[~ends[:-1]]
    k3 = (a[:-2] << (2 * BITS) | a[1:-1] << BITS | a[2:])[~ends[:-2] & ~ends[1:-1]]
    return k2, k3


def title_ngrams(seg: Segmenter, ids: dict[str, int], titles) -> tuple[np.ndarray, np.ndarray]:
    """Packed bigram and trigram keys inside each title, cut as the corpus is (one per occurrence)."""
    toks: list[int] = []
    ends: list[bool] = []
    for t in titles:
        words = seg.cut(t)
        toks.extend(ids.get(w, UNK) for w in words)
        ends.extend([False] * (len(words) - 1) + [True])
    return ngram_keys(np.asarray(toks, dtype=np.int64), np.asarray(ends, dtype=bool))


def merge(keys: list[np.ndarray], counts: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Sum counts of equal keys across several (sorted or not) key/count arrays."""
    k = np.concatenate(keys)
    c = np.concatenate(counts).astype(np.int64)
    order = np.argsort(k, kind="stable")
    k, c = k[order], c[order]
    starts = np.flatnonzero(np.r_[True, k[1:] != k[:-1]])
    return k[starts], np.add.reduceat(c, starts).astype(np.int32)


def build_vocab(words: dict[str, float], chars: list[str]) -> tuple[list[str], dict[str, float]]:
    """Token list (specials, chars, words) and the segmenter's unigram log-probabilities."""
    char_set = set(chars)
    vocab = list(SPECIALS) + chars + sorted(w for w in words if w not in char_set)
    total = sum(words.values()) + len(chars)
    logp = {w: math.log(f / total) for w, f in words.items()}
    for c in chars:
        logp.setdefault(c, math.log(1.0 / total))
    return vocab, logp


def count_corpus(words: dict[str, float], chars: list[str], out: Path, procs: int = 2,
                 char_logp: dict[str, float] | None = None, log=print, data_dir: Path = DEFAULT_DATA_DIR,
                 extra_words: set[str] | None = None, titles=()) -> None:
    """Segment every corpus file and write ``out`` (npz: vocab, unigram, bigram, trigram counts; and
    ``extra_words``/``extra_counts``: substring occurrences of the words the segmenter does not use).
    ``titles``: phrases whose inner n-grams are added TITLE_NGRAM_COUNT times each."""
    vocab, logp = build_vocab(words, chars)
    if char_logp:
        logp.update({c: v for c, v in char_logp.items() if c in logp})
    ids = {w: i for i, w in enumerate(vocab)}
    seg = Segmenter.over(logp)
    extra = sorted(w for w in (extra_words or ()) if w not in ids)
    occ = Occurrences(extra) if extra else None
    extra_counts = np.zeros(len(extra), dtype=np.int64)
    uni = np.zeros(len(vocab), dtype=np.int64)
    k2s, c2s, k3s, c3s = [], [], [], []
    t0, n = time.time(), 0
    ctx = mp.get_context("fork")
    files = corpus_files(data_dir)
    with ctx.Pool(procs, initializer=_init, initargs=(seg, ids, occ)) as pool:
        for u, k2, c2, k3, c3, ex in pool.imap_unordered(_count_chunk, line_chunks(files), chunksize=1):
            uni += u
            if ex is not None:
                extra_counts += ex
            k2s.append(k2); c2s.append(c2); k3s.append(k3); c3s.append(c3)
            n += 1
            if len(k2s) >= 40:
                k2s, c2s = map(list, zip(merge(k2s, c2s)))
                k3s, c3s = map(list, zip(merge(k3s, c3s)))
            if n % 20 == 0:
                log(f"chunks {n} tokens {uni.sum() / 1e6:.1f}M {time.time() - t0:.0f}s")
        typed = np.zeros(len(vocab), dtype=np.int64)  # every line of TYPED_SOURCES, whatever its weight
        typed_files = [CorpusFile(cf.path, 1.0) for cf in files if cf.name in TYPED_SOURCES]
        for u in pool.imap_unordered(_unigram_chunk, line_chunks(typed_files), chunksize=1):
            typed += u
        log(f"typed text: {typed.sum() / 1e6:.1f}M tokens of {len(typed_files)} sources")
    if TITLE_NGRAM_COUNT:
        t2, t3 = title_ngrams(seg, ids, titles)
        k2s.append(t2); c2s.append(np.full(len(t2), TITLE_NGRAM_COUNT, dtype=np.int32))
        k3s.append(t3); c3s.append(np.full(len(t3), TITLE_NGRAM_COUNT, dtype=np.int32))
        log(f"titles: {len(t2) / 1e6:.1f}M bigrams, {len(t3) / 1e6:.1f}M trigrams inside them")
    k2, c2 = merge(k2s, c2s)
    k3, c3 = merge(k3s, c3s)
    tmp = out.with_suffix(".tmp.npz")
    np.savez(tmp, vocab=np.array(vocab), unigram=uni, bigram_keys=k2, bigram_counts=c2,
             trigram_keys=k3, trigram_counts=c3, extra_words=np.array(extra, dtype=str),
             extra_counts=extra_counts, typed_unigram=typed)
    tmp.replace(out)
    log(f"done: {uni.sum() / 1e6:.1f}M tokens, {len(k2) / 1e6:.1f}M bigrams, {len(k3) / 1e6:.1f}M trigrams "
        f"in {time.time() - t0:.0f}s")

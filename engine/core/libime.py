"""libime's language model (a KenLM trigram from the system's libime-data-language-model package,
LGPL-2.1+) merged into Shuru's n-gram on the user's machine, once, and cached.

The merged model is the linear interpolation of the two, P = a P_shuru + (1 - a) P_libime, written
in Shuru's backoff form (assets/FORMATS.md), as SRILM's static mixing does:

- Every n-gram explicit in either model is explicit in the result. libime's n-grams are added
  where all their words are Shuru tokens; its other words (multi-character words Shuru lacks)
  only reach the result through the probabilities libime gives Shuru's own tokens.
- libime's probability of a Shuru token that is not one of its words is the chain of the libime
  words the token cuts into (longest match first), so both models score the same text.
- Backoff weights are computed again so each context's distribution keeps its mass.

Shuru does not ship libime's model or anything made from it: the merge reads the system's file and
writes ``ngram-libime.npz`` to the user's cache folder, in a background process the first time
(about a minute, 0.7 GB at its peak), and the engine loads it from then on. The file records what it
was made from; when either model changes it is made again. ``SHURU_LIBIME_LM`` names another file,
or ``off``. docs/TUNING.md#libimes-language-model-mixed-in has the measurements and the choice of the weight.
"""
from __future__ import annotations

import glob
import io
import json
import logging
import math
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..atomic import write_bytes_atomic
from ..paths import user_cache_dir
from .lexicon import BOS, EOS, UNK, Lexicon
from .ngram import BITS, NgramModel, _find
from .ngram import alone_logp, backoff_weights, context_backoff_weights, lookup, word_start_logp

log = logging.getLogger(__name__)

ENV = "SHURU_LIBIME_LM"  # a path to the model, or "off"
# Where distributions install it (Debian/Ubuntu: /usr/lib/<triplet>/libime/zh_CN.lm)
SEARCH = ("/usr/lib/*/libime/zh_CN.lm", "/usr/lib/libime/zh_CN.lm", "/usr/lib64/libime/zh_CN.lm",
          "/usr/share/libime/zh_CN.lm")
WEIGHT = 0.5  # libime's share of the merged model (docs/TUNING.md#libimes-language-model-mixed-in)
# of this module's merge (2: carries typed_logp; 3: and start_logp, word starts): a cached file
# from another version is made again
MERGE_VERSION = 3
MERGED_NAME = "ngram-libime.npz"
# The frozen app's executables run the merge when given this first (packaging/*_main.py)
MERGE_FLAG = "--engine-libime-merge"
STALE_LOCK_S = 3600  # a merge's lock older than this is from a merge that died
LN10 = math.log(10.0)
MAX_PIECES = 8  # libime words per Shuru token at most (longer tokens keep their first 8)
LIB_BITS = 20  # libime word ids in packed keys
LIB_MASK = (1 << LIB_BITS) - 1
NO_WORD = -1  # no context word (the unigram level)
MIN_LOGP = -99.0  # floor of every merged log-probability


@dataclass
class LibimeTables:
    """libime's model as sorted packed keys over its own word ids, natural-log scores."""

    uni: np.ndarray
    uni_bo: np.ndarray
    bi_keys: np.ndarray
    bi: np.ndarray
    bi_bo: np.ndarray
    tri_keys: np.ndarray
    tri: np.ndarray
    vocab: list[str]

    @classmethod
    def of(cls, trie) -> "LibimeTables":
        """From a :class:`engine.core.kenlm_trie.KenlmTrie` of order 3."""
        if trie.order != 3:
            raise ValueError(f"libime's model has order {trie.order}; this merge reads trigram models")
        bw, tw = trie.ngrams[0]["words"].astype(np.int64), trie.ngrams[1]["words"].astype(np.int64)
        bk = (bw[:, 0] << LIB_BITS) | bw[:, 1]
        tk = (tw[:, 0] << (2 * LIB_BITS)) | (tw[:, 1] << LIB_BITS) | tw[:, 2]
        bo, to = np.argsort(bk, kind="stable"), np.argsort(tk, kind="stable")
        return cls(trie.unigram_prob.astype(np.float64) * LN10, trie.unigram_backoff.astype(np.float64) * LN10,
                   bk[bo], trie.ngrams[0]["prob"][bo].astype(np.float64) * LN10,
                   trie.ngrams[0]["backoff"][bo].astype(np.float64) * LN10,
                   tk[to], trie.ngrams[1]["prob"][to].astype(np.float64) * LN10, list(trie.vocab))

    def logprob(self, w1: np.ndarray, w2: np.ndarray, w3: np.ndarray) -> np.ndarray:
        """ln P(w3 | w1 w2) with KenLM's backoff; NO_WORD context words are absent."""
        lp = self.uni[w3].copy()
        has2 = w2 != NO_WORD
        bi, hit2 = _get(self.bi_keys, (np.maximum(w2, 0) << LIB_BITS) | w3, self.bi)
        lp = np.where(has2, np.where(hit2, bi, self.uni_bo[np.maximum(w2, 0)] + lp), lp)
        has3 = has2 & (w1 != NO_WORD)
        ctx = (np.maximum(w1, 0) << LIB_BITS) | np.maximum(w2, 0)
        tri, hit3 = _get(self.tri_keys, (ctx << LIB_BITS) | w3, self.tri)
        ctx_bo, _ = _get(self.bi_keys, ctx, self.bi_bo)
        return np.where(has3, np.where(hit3, tri, ctx_bo + lp), lp)


def _get(keys: np.ndarray, query: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Values at ``query`` keys (0 where absent) and a hit mask."""
    if len(keys) == 0:
        return np.zeros(len(query)), np.zeros(len(query), dtype=bool)
    idx = np.minimum(np.searchsorted(keys, query), len(keys) - 1)
    hit = keys[idx] == query
    return np.where(hit, values[idx], 0.0), hit


def token_pieces(lex: Lexicon, vocab: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Each Shuru token as libime word ids: (V, MAX_PIECES) padded with NO_WORD, and a mask of the
    tokens that are one libime word (their n-grams can be added)."""
    index = {w: i for i, w in enumerate(vocab)}
    longest = max(len(w) for w in vocab)
    specials = {UNK: index.get("<unk>", 0), BOS: index.get("<s>", 0), EOS: index.get("</s>", 0)}
    unk = index.get("<unk>", 0)
    pieces = np.full((lex.n_tokens, MAX_PIECES), NO_WORD, dtype=np.int32)
    whole = np.zeros(lex.n_tokens, dtype=bool)
    for t in range(lex.n_tokens):
        if t in specials:
            pieces[t, 0], whole[t] = specials[t], True
            continue
        text = lex.text(t)
        if text in index:
            pieces[t, 0], whole[t] = index[text], True
            continue
        out, i = [], 0
        while i < len(text) and len(out) < MAX_PIECES:
            for n in range(min(longest, len(text) - i), 0, -1):
                if text[i: i + n] in index:
                    out.append(index[text[i: i + n]])
                    i += n
                    break
            else:
                out.append(unk)
                i += 1
        pieces[t, : len(out)] = out
    return pieces, whole


def chain_logprob(lib: LibimeTables, pieces: np.ndarray, u: np.ndarray | None, v: np.ndarray | None,
                  w: np.ndarray) -> np.ndarray:
    """libime's ln P(token w | tokens u v) over each token's pieces (u, v None: no context)."""
    n = len(w)
    c1 = np.full(n, NO_WORD, dtype=np.int64)
    c2 = np.full(n, NO_WORD, dtype=np.int64)
    for ctx in (u, v):
        if ctx is None:
            continue
        for k in range(MAX_PIECES):  # slide the context over the context token's pieces
            p = pieces[ctx, k].astype(np.int64)
            on = p != NO_WORD
            c1, c2 = np.where(on, c2, c1), np.where(on, p, c2)
    lp = np.zeros(n)
    for k in range(MAX_PIECES):
        p = pieces[w, k].astype(np.int64)
        on = p != NO_WORD
        if not on.any():
            break
        lp += np.where(on, lib.logprob(c1, c2, np.maximum(p, 0)), 0.0)
        c1, c2 = np.where(on, c2, c1), np.where(on, p, c2)
    return lp


def _bigram(ours: NgramModel, u: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Shuru's ln P(w | u) in its backoff form."""
    lp, hit = _find(ours.bi_keys, (u << BITS) | w, ours.bi_logp)
    return np.where(hit, lp, ours.uni_backoff[u] + ours.uni_logp[w].astype(np.float64)).astype(np.float64)


def _mix(a: float, ours: np.ndarray, theirs: np.ndarray) -> np.ndarray:
    return np.maximum(np.logaddexp(math.log(a) + ours, math.log1p(-a) + theirs), MIN_LOGP)


def _chunked(fn, n: int, size: int = 1 << 20) -> np.ndarray:
    return np.concatenate([fn(slice(i, min(n, i + size))) for i in range(0, n, size)]) if n else np.zeros(0)


def merge(lex: Lexicon, ours: NgramModel, lib: LibimeTables, alpha: float, log=print) -> dict[str, np.ndarray]:
    """The arrays of the merged model (ngram.npz's, unquantised float64 scores)."""
    t0 = time.time()
    V = lex.n_tokens
    mask = (1 << BITS) - 1
    pieces, whole = token_pieces(lex, lib.vocab)
    log(f"pieces: {whole.sum()} of {V} tokens are libime words ({time.time() - t0:.0f}s)")
    lib_of = np.full(len(lib.vocab), -1, dtype=np.int64)  # libime word -> Shuru token
    lib_of[pieces[whole, 0]] = np.flatnonzero(whole)

    # Unigrams: every token.
    uni_ours = ours.unigram(np.arange(V))
    uni_lib = _chunked(lambda s: chain_logprob(lib, pieces, None, None, np.arange(V)[s]), V)
    uni = _mix(alpha, uni_ours, uni_lib)
    uni[BOS] = -np.inf  # <s> is never predicted

    # Bigrams: ours and libime's whose words are both tokens.
    lb = np.stack([lib_of[lib.bi_keys >> LIB_BITS], lib_of[lib.bi_keys & LIB_MASK]], 1)
    lb = lb[(lb >= 0).all(1)]
    k2 = np.union1d(ours.bi_keys, (lb[:, 0] << BITS) | lb[:, 1])
    u2, w2 = k2 >> BITS, k2 & mask
    bi_ours = _chunked(lambda s: _bigram(ours, u2[s], w2[s]), len(k2))
    bi_lib = _chunked(lambda s: chain_logprob(lib, pieces, None, u2[s], w2[s]), len(k2))
    bi = _mix(alpha, bi_ours, bi_lib)
    log(f"bigrams: {len(ours.bi_keys)} ours + {len(k2) - len(ours.bi_keys)} from libime ({time.time() - t0:.0f}s)")

    # Trigrams: the same; a trigram's context must be an explicit bigram (its backoff weight lives there).
    tk = lib.tri_keys
    lt = np.stack([lib_of[tk >> (2 * LIB_BITS)], lib_of[(tk >> LIB_BITS) & LIB_MASK], lib_of[tk & LIB_MASK]], 1)
    lt = lt[(lt >= 0).all(1)]
    k3 = np.union1d(ours.tri_keys, (lt[:, 0] << (2 * BITS)) | (lt[:, 1] << BITS) | lt[:, 2])
    k3 = k3[lookup(k2, k3 >> BITS)[1]]
    a3, b3, c3 = k3 >> (2 * BITS), (k3 >> BITS) & mask, k3 & mask
    tri_ours = _chunked(lambda s: ours.logprob(a3[s], b3[s], c3[s]), len(k3))
    tri_lib = _chunked(lambda s: chain_logprob(lib, pieces, a3[s], b3[s], c3[s]), len(k3))
    tri = _mix(alpha, tri_ours, tri_lib)
    log(f"trigrams: {len(ours.tri_keys)} ours + {len(k3) - len(ours.tri_keys)} from libime ({time.time() - t0:.0f}s)")

    # Backoff weights of the merged model.
    uni_p = np.exp(uni)
    uni_bo = backoff_weights(u2, np.ones(len(k2), bool), np.exp(bi), uni_p[w2], V)
    bi_idx, bi_hit = lookup(k2, k3 & ((1 << 2 * BITS) - 1))
    lower = np.where(bi_hit, bi[bi_idx], uni_bo[b3] + uni[c3])
    ctx_keys, ctx_bo = context_backoff_weights(k3 >> BITS, np.ones(len(k3), bool), np.exp(tri), np.exp(lower))
    bi_bo = np.zeros(len(k2))
    i, hit = lookup(k2, ctx_keys)
    bi_bo[i[hit]] = ctx_bo[hit]
    log(f"merged in {time.time() - t0:.0f}s")
    out = {"uni_logp": uni, "uni_backoff": uni_bo, "bi_keys": k2, "bi_logp": bi, "bi_backoff": bi_bo,
           "tri_keys": k3, "tri_logp": tri}
    if ours.typed_logp is not None:  # how typed text uses our tokens: unchanged (NgramModel.alone)
        out["typed_logp"] = ours.typed_logp
    # How often a word typed alone begins with each character, by the merged unigram (NgramModel.word_start)
    out["start_logp"] = word_start_logp(lex.first_chars(), alone_logp(uni, ours.typed_logp), uni, EOS + 1 + lex.n_chars)
    return out


def write_merged(arrays: dict[str, np.ndarray], meta: dict, out: Path, source: dict) -> None:
    """Write the merged model atomically (engine.atomic), its manifest recording its sources."""
    meta = dict(meta, counts={"bigrams": int(len(arrays["bi_keys"])), "trigrams": int(len(arrays["tri_keys"]))},
                merged=source)
    buf = io.BytesIO()
    with np.errstate(divide="ignore"):
        np.savez(buf, meta=np.array(json.dumps(meta)),
                 uni_logp=arrays["uni_logp"].astype(np.float32), uni_backoff=arrays["uni_backoff"].astype(np.float32),
                 bi_keys=arrays["bi_keys"], bi_logp=arrays["bi_logp"].astype(np.float16),
                 bi_backoff=arrays["bi_backoff"].astype(np.float16), tri_keys=arrays["tri_keys"],
                 tri_logp=arrays["tri_logp"].astype(np.float16),
                 start_logp=arrays["start_logp"].astype(np.float16),
                 **({"typed_logp": arrays["typed_logp"].astype(np.float16)} if "typed_logp" in arrays else {}))
    write_bytes_atomic(out, buf.getvalue())


# --- finding, loading and making the merged model -------------------------------------------------


def find_lm() -> Path | None:
    """libime's model on this system (or the file ``SHURU_LIBIME_LM`` names), None if absent or off."""
    named = os.environ.get(ENV, "")
    if named:
        return None if named.lower() == "off" or not Path(named).is_file() else Path(named)
    for pattern in SEARCH:
        for path in sorted(glob.glob(pattern)):
            return Path(path)
    return None


def default_cache_dir() -> Path:
    """The user cache folder (engine.paths)."""
    return user_cache_dir()


def ngram_meta(path: Path) -> dict:
    """The manifest of an n-gram file without its tables ({} if unreadable: NgramModel.load says why)."""
    try:
        with np.load(path, allow_pickle=False) as z:
            return json.loads(str(z["meta"]))
    except Exception:  # noqa: BLE001 - only a shortcut; the full load reports the problem
        return {}


def source_of(lm: Path, base_meta: dict, weight: float = WEIGHT) -> dict:
    """What a merged model is made from (``base_meta``: the shipped n-gram's manifest): it is valid
    while all of this is unchanged."""
    st = lm.stat()
    return {"model": str(lm), "size": st.st_size, "mtime_ns": st.st_mtime_ns, "weight": weight,
            "package": "libime-data-language-model", "licence": "LGPL-2.1+", "merge_version": MERGE_VERSION,
            "base": {"token_hash": base_meta.get("token_hash"), "counts": base_meta.get("counts")}}


def load_merged(path: Path, lex: Lexicon, base_meta: dict, lm: Path) -> NgramModel | None:
    """The cached merged model if it was made from the shipped n-gram (its manifest ``base_meta``)
    and ``lm`` as they are now, else None."""
    if not path.is_file() or not base_meta:
        return None
    try:
        merged = NgramModel.load(path, token_hash=lex.token_hash())
    except Exception as e:  # noqa: BLE001 - a damaged cache is made again, never fatal
        log.warning("merged model %s unusable (%s): it will be made again", path, e)
        return None
    if merged.meta.get("merged") != source_of(lm, base_meta):
        log.info("merged model %s is out of date: it will be made again", path)
        return None
    return merged


def merge_files(lm: Path, assets_dir: Path, out: Path, weight: float = WEIGHT) -> None:
    """Merge ``lm`` into the n-gram of ``assets_dir`` and write the result to ``out``."""
    from .kenlm_trie import read_kenlm_trie

    lex = Lexicon.load(assets_dir / "lexicon.npz")
    base = NgramModel.load(assets_dir / "ngram.npz", token_hash=lex.token_hash())
    lib = LibimeTables.of(read_kenlm_trie(lm))
    out.parent.mkdir(parents=True, exist_ok=True)
    write_merged(merge(lex, base, lib, 1.0 - weight, log=log.info), base.meta, out, source_of(lm, base.meta, weight))


def start_merge(lm: Path, assets_dir: Path, out: Path) -> bool:
    """Make the merged model in a background process (niced, detached) unless one is already at it;
    True if one is running now."""
    lock = out.with_name(out.name + ".lock")
    out.parent.mkdir(parents=True, exist_ok=True)
    if _merging(lock):
        return True
    lock.unlink(missing_ok=True)  # left by a merge that died
    here = [sys.executable, MERGE_FLAG] if getattr(sys, "frozen", False) else [sys.executable, "-m", "engine.core.libime"]
    cmd = here + ["--lm", str(lm), "--assets", str(assets_dir), "--out", str(out), "--lock", str(lock)]
    try:
        fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        return True  # another engine started one just now
    except OSError as e:
        log.warning("cannot merge libime's model into %s: %s", out.parent, e)
        return False
    try:
        with open(out.with_name(out.name + ".log"), "ab") as logfile:
            proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=logfile, stderr=logfile,
                                    start_new_session=True, preexec_fn=lambda: os.nice(10),
                                    env=dict(os.environ, OMP_NUM_THREADS="1"))
        os.write(fd, str(proc.pid).encode())
    except OSError as e:
        log.warning("cannot start the merge of libime's model: %s", e)
        lock.unlink(missing_ok=True)
        return False
    finally:
        os.close(fd)
    return True


def _merging(lock: Path) -> bool:
    """Whether the merge that holds ``lock`` is still running (its process id is in the file)."""
    try:
        text = lock.read_text().strip()
        age = time.time() - lock.stat().st_mtime
    except OSError:
        return False
    if not text:  # being written this instant, or never: trust a fresh one
        return age < 5
    try:
        os.kill(int(text), 0)
    except (ValueError, ProcessLookupError):
        return False
    except PermissionError:  # alive, another user's
        return age < STALE_LOCK_S
    return age < STALE_LOCK_S


def main(argv: list[str] | None = None) -> int:
    """The background merge: python -m engine.core.libime --lm F --assets D --out F [--lock F]."""
    import argparse

    ap = argparse.ArgumentParser(prog="python -m engine.libime", description=main.__doc__)
    ap.add_argument("--lm", type=Path, required=True)
    ap.add_argument("--assets", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--lock", type=Path)
    ap.add_argument("--weight", type=float, default=WEIGHT)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    try:
        merge_files(args.lm, args.assets, args.out, args.weight)
        log.info("wrote %s", args.out)
        return 0
    except Exception as e:  # noqa: BLE001 - reported in the log; the engine goes on without it
        log.error("merging %s failed: %s: %s", args.lm, type(e).__name__, e)
        return 1
    finally:
        if args.lock is not None:
            args.lock.unlink(missing_ok=True)


if __name__ == "__main__":
    sys.exit(main())

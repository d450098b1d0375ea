"""The user layer: what the user commits, as a small decaying language model mixed into the shipped one.

After libime's history bigram (``UserLanguageModel`` = static model + history), the user's
committed words give a word-bigram model of their own,

    P_user(w | v) = B * c(v, w) / (c(v) + K_B)  +  (1 - B) * c(w) / (N + K_U)

where ``c`` are weights that decay by half every :data:`HALF_LIFE` committed words, ``c(v)``
sums the pairs starting with ``v`` and ``N`` all word weights. The decoder mixes it into
the shipped n-gram linearly,

    P(w | u v) = (1 - L) * P_ngram(w | u v)  +  L * P_user(w | v)

so a learned word gains at most log(1 + L * P_user / ((1 - L) * P_ngram)): a lot where the
n-gram model is unsure (a name, a word the user prefers among homophones, in its context),
little where it is sure, and never more than its share ``L``. Hasty or junk commits spread a
bounded mass over many words and decay, so they cannot take over decoding.

Weights live in the SQLite store (:mod:`engine.user.userdb`); this module keeps them as numpy
arrays over the lexicon's tokens for scoring. Version-1 ``history.json`` files (log-count
boosts) are migrated once into the store and kept as ``history.json.v1-backup``.
"""
from __future__ import annotations

import json
import logging
import os
import sqlite3
from pathlib import Path

import numpy as np

from ..atomic import set_aside
from ..core.lexicon import BOS, EOS, Lexicon
from ..core.lm import WordStates, interpolate, word_start
from ..core.ngram import BITS
from ..errors import UserDataError
from ..paths import user_data_dir
from .userdb import MEMORY, UserStore

log = logging.getLogger(__name__)

DB_NAME = "user.db"
LEGACY_NAME = "history.json"
LEGACY_FORMAT, LEGACY_VERSION = "shuru-history", 1
HALF_LIFE = 2000.0  # committed words after which a weight counts half
USER_WEIGHT = 0.12  # L: share of the user layer in the mixed model
BIGRAM_SHARE = 0.7  # B: the user's word pairs against their word frequencies
K_BIGRAM = 0.5  # smoothing of c(w | v): one use after v is not certainty
K_UNIGRAM = 20.0  # smoothing of c(w) / N: a handful of commits is not the whole picture
PRUNE_EVERY = 256  # commits between prunes of the store
MIN_WEIGHT = 0.02  # a single use, ~5.6 half-lives ago
MAX_UNIGRAMS, MAX_BIGRAMS = 50_000, 200_000


def default_history_path() -> Path:
    """The learned-words database in the user data folder."""
    return user_data_dir() / DB_NAME


def steady_mass() -> float:
    """Total weight of a history that has been learning for ever (one word per clock tick)."""
    return 1.0 / (1.0 - 0.5 ** (1.0 / HALF_LIFE))


class UserHistory:
    """The user layer over one lexicon: a :class:`engine.core.lm.Layer`, interpolated into the
    n-gram by the search's :class:`engine.core.lm.MixedLM` (``mix`` does the same for one array).

    ``path``: the SQLite file (``":memory:"`` keeps nothing on disk). A ``history.json``
    beside it (or ``path`` itself if it ends in ``.json``) is migrated on first use.
    ``enabled=False``: nothing is learned (what was learned is still read)."""

    def __init__(self, lexicon: Lexicon, path: Path | str | None, *, enabled: bool = True):
        self.lex = lexicon
        self.enabled = enabled
        self.error = ""  # why the store could not be used (learning then stays in memory)
        self.path, legacy = _paths(path)
        self.store = self._open_store(self.path)
        if legacy is not None and self.path != MEMORY:
            self._migrate(legacy)
        self._commits = 0
        self._reload()

    # -- opening ------------------------------------------------------------------------
    def close(self) -> None:
        """Close the store, its write-ahead log folded into ``user.db``."""
        self.store.close()

    def _open_store(self, path) -> UserStore:
        try:
            return UserStore(path, HALF_LIFE)
        except sqlite3.OperationalError as e:  # full disk, no permission, locked: not damage, keep the file
            return self._read_only_copy(path, e)
        except (UserDataError, sqlite3.Error, OSError) as e:
            aside = _set_aside(Path(path)) if path != MEMORY else None
            self.error = f"learned words unreadable ({e})" + (f"; kept as {aside.name}" if aside else "")
            log.warning("user data %s: %s", path, self.error)
            try:
                return UserStore(path, HALF_LIFE) if aside else UserStore(MEMORY, HALF_LIFE)
            except (UserDataError, sqlite3.Error, OSError) as e2:
                log.warning("user data %s unusable (%s); learning in memory only", path, e2)
                self.path = MEMORY
                return UserStore(MEMORY, HALF_LIFE)

    def _read_only_copy(self, path, problem: Exception) -> UserStore:
        """A store in memory holding what ``path`` has (if it can be read): learned words keep
        working, new ones are not saved, and the file is left exactly as it is."""
        store = UserStore(MEMORY, HALF_LIFE)
        self.path = MEMORY
        try:
            source = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
            try:
                source.backup(store._db)
            finally:
                source.close()
            self.error = f"learned words read-only ({problem}): new words are not saved until this is fixed"
        except sqlite3.Error as e:
            self.error = f"learned words unusable ({problem}; {e}); the file is left as it is, learning in memory"
        log.warning("user data %s: %s", path, self.error)
        return store

    def _migrate(self, legacy: Path) -> None:
        """Import a version-1 history.json once, then keep it as a backup beside the store."""
        try:
            self.import_legacy(legacy)
        except (OSError, ValueError) as e:
            log.warning("history %s not migrated: %s", legacy, e)
            _set_aside(legacy)
            return
        backup = legacy.with_name(legacy.name + ".v1-backup")
        try:
            os.replace(legacy, backup)
            log.info("migrated %s into %s (backup: %s)", legacy, self.path, backup)
        except OSError as e:
            log.warning("could not keep %s as %s: %s", legacy, backup, e)

    def import_file(self, path: Path) -> None:
        """Add the learned words of another history: a user.db, or a version-1 history.json."""
        if Path(path).suffix == ".json":
            self.import_legacy(path)
            return
        if not Path(path).is_file():
            raise FileNotFoundError(path)
        other = UserStore(path, HALF_LIFE)
        try:
            snap = other.snapshot()
        finally:
            other.close()
        self.store.add_counts(snap.unigrams, snap.bigrams)
        self._reload()

    def import_legacy(self, path: Path) -> None:
        """Add a version-1 history.json (counts), scaled to at most a full history's weight."""
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        if not isinstance(data, dict) or data.get("format") != LEGACY_FORMAT or data.get("version") != LEGACY_VERSION:
            raise ValueError(f"not a version-{LEGACY_VERSION} Shuru history")
        uni = {str(k): float(v) for k, v in dict(data.get("unigrams", {})).items() if float(v) > 0}
        bi = {}
        for k, v in dict(data.get("bigrams", {})).items():
            a, sep, b = str(k).partition("\t")
            if sep and float(v) > 0:
                bi[(a, b)] = float(v)
        scale = min(1.0, steady_mass() / max(1.0, sum(uni.values())))
        self.store.add_counts({w: c * scale for w, c in uni.items()}, {p: c * scale for p, c in bi.items()})
        self._reload()

    # -- scoring ------------------------------------------------------------------------
    @property
    def empty(self) -> bool:
        return self._total <= 0

    def mix(self, lm: np.ndarray, prev: np.ndarray, tok: np.ndarray) -> np.ndarray:
        """log((1 - L) P_ngram + L P_user(tok | prev)) for n-gram log-probabilities ``lm``."""
        return interpolate(lm, USER_WEIGHT, self.prob(prev, tok))

    def prob(self, prev: np.ndarray, tok: np.ndarray) -> np.ndarray:
        """P_user(tok | prev) for arrays of token ids."""
        tok = np.asarray(tok, dtype=np.int64)
        prev = np.asarray(prev, dtype=np.int64)
        p = self._p_uni[tok].astype(np.float64)
        if len(self._bi_keys):
            key = (prev << BITS) | tok
            idx = np.minimum(np.searchsorted(self._bi_keys, key), len(self._bi_keys) - 1)
            hit = self._bi_keys[idx] == key
            pair = np.where(hit, self._bi_w[idx], 0.0)
            p = p + BIGRAM_SHARE * pair / (self._ctx_w[prev] + K_BIGRAM)
        return p

    # -- as a language model (engine.core.lm.Layer: P_user(w | v), the state's last word v) ------
    @property
    def share(self) -> float:
        """L, the layer's share of the mixed model."""
        return USER_WEIGHT

    @property
    def active(self) -> bool:
        return not self.empty

    def start(self, context: str) -> WordStates:
        return word_start(self.lex, context)

    def extend(self, states: WordStates, tokens: np.ndarray) -> tuple[np.ndarray, WordStates]:
        with np.errstate(divide="ignore"):
            return np.log(self.prob(states.w2, tokens)), WordStates(states.w2, tokens)

    def linear_prob(self, states: WordStates, tokens: np.ndarray) -> np.ndarray:
        return self.prob(states.w2, tokens)

    # -- learning -----------------------------------------------------------------------
    def learn(self, tokens: list[int], prev: int = BOS) -> None:
        """Record one committed conversion (its tokens; ``prev`` is the token before it)."""
        if not self.enabled:
            return
        toks = [int(t) for t in tokens if int(t) > EOS]
        if not toks:
            return
        words = [self.lex.text(t) for t in toks]
        seq = [int(prev)] + toks  # prev: <s> or the word before (Engine.learn)
        pairs = [(self.lex.text(a), self.lex.text(b)) for a, b in zip(seq, seq[1:])]
        try:
            elsewhere = self.store.changed_elsewhere()
            clock = self.store.learn(words, pairs)
            self._commits += 1
            if self._commits % PRUNE_EVERY == 0:
                self.store.prune(MIN_WEIGHT, MAX_UNIGRAMS, MAX_BIGRAMS)
                elsewhere = True
        except sqlite3.Error as e:  # a full disk or a locked file must not lose the session
            log.warning("could not save learned words to %s: %s", self.path, e)
            self.error = f"learned words not saved ({e})"
            elsewhere, clock = False, self._clock + len(words)
        if elsewhere:
            self._reload()
        else:
            self._add(toks, list(zip(seq, seq[1:])), clock)

    def refresh(self) -> None:
        """Read the store again if another process learned since (cheap when nothing changed)."""
        try:
            if self.store.changed_elsewhere():
                self._reload()
        except sqlite3.Error as e:
            log.warning("could not read learned words from %s: %s", self.path, e)

    def forget(self, texts: list[str]) -> int:
        """Forget these words (and the pairs they are in); returns how many were learned."""
        n = self.store.remove(list(texts))
        self._reload()
        return n

    def clear(self) -> None:
        """Forget everything learned."""
        self.store.clear()
        self._reload()

    def words(self) -> list[tuple[str, float, float]]:
        """Learned words as (text, weight, last used as a Unix time), most weight first."""
        snap = self.store.snapshot()
        return sorted(((w, c, snap.used_at.get(w, 0.0)) for w, c in snap.unigrams.items()), key=lambda r: -r[1])

    @property
    def word_count(self) -> int:
        return int(np.count_nonzero(self._uni_w))

    # -- in-memory index ------------------------------------------------------------------
    def _reload(self) -> None:
        """Index the store's weights by token id (words the lexicon lacks are kept but unused)."""
        snap = self.store.snapshot()
        self._clock = snap.clock
        self._uni_w = np.zeros(self.lex.n_tokens if snap.unigrams else 0, dtype=np.float32)
        for text, c in snap.unigrams.items():
            t = self.lex.token_id(text)
            if t is not None:
                self._uni_w[t] += c
        keys, vals = [], []
        for (a, b), c in snap.bigrams.items():
            ta = self.lex.token_id(a)  # "<s>" included
            tb = self.lex.token_id(b)
            if ta is not None and tb is not None:
                keys.append((ta << BITS) | tb)
                vals.append(c)
        order = np.argsort(keys, kind="stable") if keys else np.zeros(0, dtype=np.int64)
        self._bi_keys = np.asarray(keys, dtype=np.int64)[order]
        self._bi_w = np.asarray(vals, dtype=np.float32)[order]
        self._reindex()

    def _add(self, toks: list[int], pairs: list[tuple[int, int]], clock: float) -> None:
        """Apply our own commit to the index (decay everything to ``clock``, add the new words)."""
        f = np.float32(0.5 ** ((clock - self._clock) / HALF_LIFE))
        self._clock = clock
        if not len(self._uni_w):  # the first word learned: the arrays are made on demand
            self._uni_w = np.zeros(self.lex.n_tokens, dtype=np.float32)
        self._uni_w *= f
        self._bi_w *= f
        np.add.at(self._uni_w, np.asarray(toks, dtype=np.int64), np.float32(1.0))
        for a, b in pairs:
            key = (a << BITS) | b
            i = int(np.searchsorted(self._bi_keys, key))
            if i < len(self._bi_keys) and self._bi_keys[i] == key:
                self._bi_w[i] += 1.0
            else:
                self._bi_keys = np.insert(self._bi_keys, i, key)
                self._bi_w = np.insert(self._bi_w, i, np.float32(1.0))
        self._reindex()

    def _reindex(self) -> None:
        """Derived arrays: each word's unigram term and each context's pair total (none while empty)."""
        self._total = float(self._uni_w.sum(dtype=np.float64))
        self._p_uni = ((1 - BIGRAM_SHARE) * self._uni_w / np.float32(self._total + K_UNIGRAM)).astype(np.float32)
        self._ctx_w = np.zeros(len(self._uni_w), dtype=np.float32)
        if len(self._bi_keys) and len(self._ctx_w):
            np.add.at(self._ctx_w, self._bi_keys >> BITS, self._bi_w)


def _paths(path: Path | str | None) -> tuple[Path | str, Path | None]:
    """(store path, legacy history.json to migrate or None)."""
    if path is None:
        path = default_history_path()
    if str(path) == MEMORY:
        return MEMORY, None
    path = Path(path)
    if path.suffix == ".json":
        db, legacy = path.with_suffix(".db"), path
    else:
        db, legacy = path, path.with_name(LEGACY_NAME)
    return db, (legacy if legacy.exists() and not db.exists() else None)


def _set_aside(path: Path) -> Path | None:
    """Move an unreadable store out of the way as ``<name>.corrupt-<time>`` (never deleted),
    with its SQLite side files."""
    aside = set_aside(path)
    if aside is None:
        return None
    try:
        for suffix in ("-wal", "-shm"):
            side = path.with_name(path.name + suffix)
            if side.exists():
                os.replace(side, aside.with_name(aside.name + suffix))
        return aside
    except OSError:
        return None

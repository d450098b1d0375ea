"""User history: words the user commits are boosted next time.

Kept as counts of tokens and of token pairs, stored by their text (so a rebuilt
lexicon keeps the history) in a small JSON file under the platformdirs user data
dir. Writes are atomic (temp file + rename); a corrupt file is set aside and
learning starts afresh, never blocking typing.
"""
from __future__ import annotations

import json
import logging
import os
import tempfile
from pathlib import Path

import numpy as np

from .lexicon import EOS, Lexicon
from .ngram import BITS

log = logging.getLogger(__name__)

HISTORY_FORMAT = "shuru-history"
HISTORY_VERSION = 1


def default_history_path() -> Path:
    from platformdirs import user_data_dir

    return Path(user_data_dir("shuru", appauthor=False)) / "history.json"


class UserHistory:
    """Counts of committed tokens and token pairs; ``boost`` turns them into log-scores."""

    def __init__(self, lexicon: Lexicon, path: Path | None, *, max_entries: int = 20000, enabled: bool = True):
        self.lex = lexicon
        self.path = path
        self.max_entries = max_entries
        self.enabled = enabled
        self.unigrams: dict[str, int] = {}
        self.bigrams: dict[str, int] = {}
        self._uni = np.zeros(lexicon.n_tokens, dtype=np.float32)
        self._bi_keys = np.zeros(0, dtype=np.int64)
        self._bi_vals = np.zeros(0, dtype=np.float32)
        if path is not None:
            self._load()

    # -- scoring ------------------------------------------------------------------------
    def boost(self, prev: np.ndarray, tok: np.ndarray) -> np.ndarray:
        """log(1 + count(tok)) + log(1 + count(prev tok)) for arrays of token ids."""
        out = self._uni[tok]
        if len(self._bi_keys):
            key = (np.asarray(prev, dtype=np.int64) << BITS) | tok
            idx = np.minimum(np.searchsorted(self._bi_keys, key), len(self._bi_keys) - 1)
            out = out + np.where(self._bi_keys[idx] == key, self._bi_vals[idx], 0.0)
        return out

    # -- learning -----------------------------------------------------------------------
    def learn(self, tokens: list[int]) -> None:
        """Record one committed conversion (a token sequence) and save."""
        if not self.enabled:
            return
        texts = [self.lex.text(t) for t in tokens if t > EOS]
        for t in texts:
            self.unigrams[t] = self.unigrams.get(t, 0) + 1
        for a, b in zip(texts, texts[1:]):
            k = f"{a}\t{b}"
            self.bigrams[k] = self.bigrams.get(k, 0) + 1
        self._cap()
        self._index()
        self.save()

    def clear(self) -> None:
        """Forget everything learned (and the file)."""
        self.unigrams.clear()
        self.bigrams.clear()
        self._index()
        self.save()

    # -- persistence --------------------------------------------------------------------
    def save(self) -> None:
        if self.path is None:
            return
        data = {"format": HISTORY_FORMAT, "version": HISTORY_VERSION,
                "unigrams": self.unigrams, "bigrams": self.bigrams}
        try:
            atomic_write_text(self.path, json.dumps(data, ensure_ascii=False))
        except OSError as e:  # never lose the session over a full disk
            log.warning("could not save history to %s: %s", self.path, e)

    def _load(self) -> None:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            if data.get("format") != HISTORY_FORMAT or data.get("version") != HISTORY_VERSION:
                raise ValueError(f"not a version-{HISTORY_VERSION} Shuru history")
            self.unigrams = {str(k): int(v) for k, v in data["unigrams"].items()}
            self.bigrams = {str(k): int(v) for k, v in data["bigrams"].items()}
        except FileNotFoundError:
            return
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
            aside = self.path.with_suffix(".corrupt")
            log.warning("history %s unreadable (%s); moved to %s, starting afresh", self.path, e, aside)
            try:
                os.replace(self.path, aside)
            except OSError:
                pass
            self.unigrams, self.bigrams = {}, {}
        self._index()

    def _cap(self) -> None:
        """Keep the most used entries so the file stays small."""
        for table in (self.unigrams, self.bigrams):
            if len(table) > self.max_entries:
                keep = sorted(table.items(), key=lambda kv: -kv[1])[: self.max_entries]
                table.clear()
                table.update(keep)

    def _index(self) -> None:
        self._uni[:] = 0
        for text, c in self.unigrams.items():
            t = self.lex.token_id(text)
            if t is not None:
                self._uni[t] = np.log1p(c)
        keys, vals = [], []
        for pair, c in self.bigrams.items():
            a, _, b = pair.partition("\t")
            ta, tb = self.lex.token_id(a), self.lex.token_id(b)
            if ta is not None and tb is not None:
                keys.append((ta << BITS) | tb)
                vals.append(np.log1p(c))
        order = np.argsort(keys) if keys else np.zeros(0, dtype=np.int64)
        self._bi_keys = np.asarray(keys, dtype=np.int64)[order]
        self._bi_vals = np.asarray(vals, dtype=np.float32)[order]


def atomic_write_text(path: Path, text: str) -> None:
    """Write a file so that readers see the old or the new content, never a torn one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise

"""The Engine: shared read-only things (lexicon, n-gram, neural model, options, history)."""
from __future__ import annotations

import logging
import sqlite3
from dataclasses import replace
from pathlib import Path

from .core.lexicon import Lexicon
from .core.lm import context_tokens
from .core.ngram import NgramModel
from .errors import UserDataError
from .loader import load_parts, load_phrases, open_history
from .options import (ABBREV_BEAM, NEURAL_BEAM, NEURAL_LIBIME_WEIGHTS, NEURAL_WEIGHTS, READER_WEIGHT,
                      STATISTICAL_BEAM, STATISTICAL_WEIGHTS, EngineOptions)
from .pinyin.decoder import Decoder, DecoderOptions, ScoreWeights
from .pinyin.lattice import LatticeOptions
from .pinyin.session import Session
from .user.history import HALF_LIFE, UserHistory
from .user.userdb import MEMORY, UserStore
from .user.userdict import UserDict, UserWord

log = logging.getLogger(__name__)


class Engine:
    """Holds what all sessions share; make one with :meth:`load`."""

    def __init__(self, options: EngineOptions, lexicon: Lexicon, ngram: NgramModel, history: UserHistory,
                 neural=None, status: str = "", model_name: str = "none", load_ms: float = 0.0,
                 dict_path: Path | str | None = None, reader=None):
        self.options = options
        self.lexicon = lexicon
        self.ngram = ngram
        self.history = history
        self.neural = neural
        self.reader = reader  # the pinyin-reading model (engine.pinyin.pinyin_scorer.PinyinScorer), or None
        self.status = status
        self.libime_merged = False  # the n-gram holds libime's model (engine.core.libime); set by load
        self.model_name = model_name
        self.load_ms = load_ms
        self.dict_path = dict_path  # where the user dictionary is kept (None: personal data off)
        self.dict_store = _open_dict_store(dict_path)
        self.user_dict = UserDict(lexicon=lexicon)
        self._read_user_dict()
        self.phrases = load_phrases(options)
        self._predictor = None  # made on first use (engine.pinyin.prediction)

    @classmethod
    def load(cls, options: EngineOptions = EngineOptions()) -> "Engine":
        """Load the assets (engine.loader: a missing or broken neural model falls back to the
        statistical scorers, ``status`` saying why; a missing or broken lexicon or n-gram raises AssetError)."""
        p = load_parts(options)
        engine = cls(options, p.lexicon, p.ngram, p.history, p.neural, p.status, p.model_name, p.load_ms, p.dict_path,
                     p.reader)
        engine.libime_merged = p.libime_merged
        return engine

    @property
    def weights(self) -> ScoreWeights:
        if self.options.weights is not None:
            return self.options.weights
        if self.neural is None:
            w = STATISTICAL_WEIGHTS
        else:
            w = NEURAL_LIBIME_WEIGHTS if self.libime_merged else NEURAL_WEIGHTS
        if self.reader is not None:
            o = self.options.reader_weight
            w = replace(w, reader=READER_WEIGHT if o is None else o)
        return w

    @property
    def model_dir(self):
        """Folder of the neural model in use, or None."""
        return self.neural.model_dir if self.neural is not None else None

    def model_card(self) -> str:
        """The neural model's card (its README.md), or a line saying none is loaded."""
        folder = self.model_dir
        if folder is None:
            return self.status
        try:
            return (folder / "README.md").read_text(encoding="utf-8")
        except OSError:
            return f"{self.status}: {folder}"

    def configure(self, **changes) -> None:
        """Change options that need no reload (fuzzy_pairs, layout, script, prediction, quick phrases, learning,
        beam_width, per_state, nbest, weights)."""
        was_learning = self.options.learning
        self.options = replace(self.options, **changes)
        if "phrases_path" in changes or "quick_phrases" in changes:
            self.phrases = load_phrases(self.options)  # small: read again, the user may have edited it
        if self.options.learning and not was_learning:
            self.history = open_history(self.options, self.lexicon)
        self.history.enabled = self.options.learning

    @property
    def beam_width(self) -> int:
        """The beam width in use (the option, or the default for the loaded scorers)."""
        if self.options.beam_width is not None:
            return self.options.beam_width
        return NEURAL_BEAM if self.neural is not None else STATISTICAL_BEAM

    @property
    def per_state(self) -> int:
        """Hypotheses kept per n-gram state (the option, or the decoder's tuned default)."""
        return self.options.per_state if self.options.per_state is not None else DecoderOptions.per_state

    def new_session(self, page_size: int = 9, context: str = "", budget_ms: float | None = None) -> Session:
        """A Session that reads keys in the configured layout (full pinyin or a shuangpin layout) and
        shows and commits text in the configured script; ``budget_ms`` bounds each view's search
        (front ends pass :data:`engine.pinyin.session.DECODE_BUDGET_MS`)."""
        return Session(self, page_size=page_size, context=context, layout=self.options.layout,
                       script=self.options.script, budget_ms=budget_ms, prediction=self.options.prediction)

    def decoder(self, context: str = "", whole_syllables: bool = False) -> Decoder:
        """A fresh incremental decoder conditioned on ``context``; ``whole_syllables``: the text is
        shuangpin read as pinyin, one syllable between separators (see LatticeOptions)."""
        o = self.options
        if o.learning:
            self.history.refresh()  # another process (window / IBus engine) may have learned
        self._refresh_user_dict()
        return Decoder(
            self.lexicon, self.ngram, weights=self.weights,
            options=DecoderOptions(beam_width=self.beam_width, nbest=o.nbest, entries_per_edge=o.entries_per_edge,
                                   abbrev_beam_width=o.beam_width or ABBREV_BEAM, per_state=self.per_state),
            lattice_options=LatticeOptions(fuzzy_pairs=frozenset(o.fuzzy_pairs), whole_syllables=whole_syllables),
            history=self.history if o.learning else None, context=context, scorer=self.neural, reader=self.reader)

    def predict(self, context: str, k: int = 5) -> list[str]:
        """Up to ``k`` likely next words after ``context`` (simplified), best first."""
        if self._predictor is None:
            from .pinyin.prediction import Predictor

            self._predictor = Predictor(self.lexicon, self.ngram)
        return self._predictor.predict(context, k)

    def learn(self, tokens: list[int], context: str = "") -> None:
        """Learn one committed conversion (its tokens), typed after ``context``."""
        if self.options.learning:
            self.history.learn(tokens, context_tokens(self.lexicon, context)[1])

    def forget(self, text: str) -> int:
        """Forget a learned word, or the words of a learned phrase; returns how many were learned."""
        return self.forget_words(self.learned_parts(text))

    def forget_words(self, words: list[str]) -> int:
        """Forget these learned words (and the pairs they are in)."""
        return self.history.forget(list(words)) if words else 0

    def learned_words(self) -> list[tuple[str, float, float]]:
        """(word, weight, last used as a Unix time), most weight first."""
        return self.history.words()

    def learned_parts(self, text: str) -> list[str]:
        """The learned words ``text`` consists of (itself if learned, else a longest-match split)."""
        learned = {w for w, _, _ in self.history.words()}
        if text in learned:
            return [text]
        parts, i = [], 0
        while i < len(text):
            for k in range(min(len(text) - i, 16), 0, -1):
                if text[i:i + k] in learned:
                    parts.append(text[i:i + k])
                    i += k
                    break
            else:
                i += 1
        return parts

    # -- the user dictionary ----------------------------------------------------------------
    def user_words(self) -> list[UserWord]:
        """The user dictionary, in the order the words were added."""
        return list(self.user_dict.words)

    def add_user_words(self, words: list[UserWord]) -> None:
        """Add (or re-weight) user dictionary words; they are candidates from the next keystroke."""
        if self.dict_store is None:
            self.dict_store = _open_dict_store(self.dict_path, create=True)
        if self.dict_store is None:
            raise UserDataError("the user dictionary cannot be written (personal data off, or user.db unusable)")
        self.dict_store.dict_add([(w.word, w.pinyin, w.weight) for w in words])
        self._read_user_dict()

    def remove_user_words(self, words: list[str]) -> int:
        """Remove words from the user dictionary; returns how many entries went."""
        n = self.dict_store.dict_remove(list(words)) if self.dict_store is not None else 0
        self._read_user_dict()
        return n

    def _read_user_dict(self) -> None:
        if self.dict_store is None:
            return
        try:
            rows = self.dict_store.dict_entries()
        except sqlite3.Error as e:
            log.warning("user dictionary unreadable: %s", e)
            return
        self.user_dict.set_words([UserWord(w, tuple(p.split("'")), x) for w, p, x in rows])

    def _refresh_user_dict(self) -> None:
        """Read the dictionary again if another process (window / IBus engine) changed the store."""
        try:
            if self.dict_store is None and self.dict_path is not None and Path(self.dict_path).exists():
                self.dict_store = _open_dict_store(self.dict_path)  # another process made the file
                self._read_user_dict()
            elif self.dict_store is not None and self.dict_store.changed_elsewhere():
                self._read_user_dict()
        except sqlite3.Error as e:
            log.warning("user dictionary not refreshed: %s", e)

    def clear_history(self) -> None:
        self.history.clear()

    def export_user_data(self, dest: Path, files: dict[str, bytes] | None = None) -> dict:
        """Learned words, user dictionary, quick phrases and the front end's ``files`` in one
        backup file (engine.user.backup); its manifest."""
        from .user.backup import export_user_data

        return export_user_data(self, dest, files)

    def import_user_data(self, src: Path):
        """Add a backup's user data to this user's (engine.user.backup.ImportSummary; BackupError)."""
        from .user.backup import import_user_data

        return import_user_data(self, src)

    def close(self) -> None:
        """Close the user's data: ``user.db`` is then a complete file (no write-ahead log to
        copy with it). Front ends call it when they quit; interpreter exit does it as well."""
        self.history.close()
        if self.dict_store is not None:
            self.dict_store.close()

    def use_history(self, history: UserHistory) -> None:
        """Decode with ``history`` and learn into it (evaluation with a given history)."""
        self.history = history
        self.options = replace(self.options, learning=True)


def _open_dict_store(path: Path | str | None, create: bool = False) -> UserStore | None:
    """The dictionary's store; None when there is no path, no file yet (and not ``create``: an
    engine that learns nothing writes nothing), or it cannot be opened (logged)."""
    if path is None or (not create and path != MEMORY and not Path(path).exists()):
        return None
    try:
        return UserStore(path, HALF_LIFE)
    except (UserDataError, sqlite3.Error, OSError) as e:
        log.warning("user dictionary unavailable: %s", e)
        return None



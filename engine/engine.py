"""The Engine: shared read-only things (lexicon, n-gram, neural model, options, history)."""
from __future__ import annotations

import logging
import sqlite3
import time
from dataclasses import dataclass, replace
from pathlib import Path

from .core.lexicon import Lexicon
from .core.ngram import NgramModel
from .errors import UserDataError
from .paths import ASSETS_DIR
from .pinyin.decoder import Decoder, DecoderOptions, ScoreWeights, context_tokens
from .pinyin.lattice import LatticeOptions
from .pinyin.phrases import QuickPhrases
from .pinyin.session import Session
from .user.history import UserHistory, default_history_path
from .user.userdb import MEMORY, UserStore
from .user.userdict import UserDict, UserWord

log = logging.getLogger(__name__)

# The shipped assets: package data of `engine` (engine/assets is a link to the checkout's assets/, and a
# wheel or a frozen app carries the files themselves), so they are found wherever Shuru is installed.

# Log-linear weights without and with the neural LM, the same for a personal model (docs/TUNING.md#neural-weights)
STATISTICAL_WEIGHTS = ScoreWeights()
NEURAL_WEIGHTS = ScoreWeights(neural=0.35, neural_abbrev=0.3, neural_initials=0.3)
# with libime's model mixed into the n-gram (engine.core.libime), words typed wholly as initials lean less on the LM
NEURAL_LIBIME_WEIGHTS = replace(NEURAL_WEIGHTS, neural_initials=0.1)
# Beam widths without and with the neural LM; abbreviated input keeps 16 (docs/TUNING.md#beam-widths)
STATISTICAL_BEAM, NEURAL_BEAM = 16, 8


@dataclass(frozen=True)
class EngineOptions:
    """Everything configurable about an Engine; defaults are what Shuru ships with."""

    assets_dir: Path = ASSETS_DIR
    model_dir: Path | None = None  # None: the personal model if present (and `personal`), else assets/model
    personal: bool = True  # use the user's fine-tuned model, its text layer and the user dictionary
    models_dir: Path | None = None  # None: the model registry under the user data dir (engine.models)
    beam_width: int | None = None  # None: NEURAL_BEAM with the neural scorer (abbreviations: 16), else STATISTICAL_BEAM
    per_state: int | None = None  # hypotheses kept per n-gram state; None: DecoderOptions' tuned default
    nbest: int = 5
    use_neural: bool = True
    fuzzy_pairs: frozenset[str] = frozenset()
    layout: str = "full"  # "full" pinyin or a shuangpin layout (engine.pinyin.shuangpin.LAYOUT_NAMES)
    script: str = "simplified"  # output script: simplified or traditional / tw / hk (engine.pinyin.script)
    learning: bool = True
    # libime's language model from the system, merged into the n-gram (engine.core.libime): "auto" loads the
    # merged model made earlier and starts making it in the background when it is missing or out of
    # date; "wait" makes it first (benchmarks, evaluation); "off" uses the shipped n-gram alone.
    libime: str = "auto"
    cache_dir: Path | None = None  # None: platformdirs user cache dir (the merged model)
    prediction: bool = False  # after a commit, offer the likely next words (engine.pinyin.prediction)
    quick_phrases: bool = True  # offer the user's quick phrases and the built-in dates (rq, sj, xq)
    phrases_path: Path | None = None  # the user's quick-phrases file (engine.pinyin.phrases); None: built-ins only
    history_path: Path | None = None  # None: platformdirs user data dir / user.db (SQLite)
    weights: ScoreWeights | None = None  # None: the tuned defaults for the loaded scorers
    entries_per_edge: int = 32
    # share of the user's own word n-grams (written by fine-tuning), 0 = off (docs/TUNING.md#the-user-text-layer)
    user_layer_weight: float = 0.08
    # scale of the user's word bonus (engine.user.userlm.word_bonus; 0: none) (docs/TUNING.md#the-users-word-bonus)
    user_word_bonus: float = 1.0


class Engine:
    """Holds what all sessions share; make one with :meth:`load`."""

    def __init__(self, options: EngineOptions, lexicon: Lexicon, ngram: NgramModel, history: UserHistory,
                 neural=None, status: str = "", model_name: str = "none", load_ms: float = 0.0,
                 dict_path: Path | str | None = None):
        self.options = options
        self.lexicon = lexicon
        self.ngram = ngram
        self.history = history
        self.neural = neural
        self.status = status
        self.libime_merged = False  # the n-gram holds libime's model (engine.core.libime); set by load
        self.model_name = model_name
        self.load_ms = load_ms
        self.dict_path = dict_path  # where the user dictionary is kept (None: personal data off)
        self.dict_store = _open_dict_store(dict_path)
        self.user_dict = UserDict(lexicon=lexicon)
        self._read_user_dict()
        self.phrases = _load_phrases(options)
        self._predictor = None  # made on first use (engine.pinyin.prediction)

    @classmethod
    def load(cls, options: EngineOptions = EngineOptions()) -> "Engine":
        """Load the assets. A missing or broken neural model falls back to the statistical scorers
        (``status`` says why); a missing or broken lexicon or n-gram model raises AssetError."""
        t0 = time.perf_counter()
        lexicon = Lexicon.load(options.assets_dir / "lexicon.npz")
        ngram, lm_status = _load_ngram(options, lexicon)
        merged = "merged" in ngram.meta
        history = _open_history(options, lexicon)
        neural, name, status = None, "none", "statistical scorers only (neural model disabled)"
        if options.use_neural:
            neural, name, status = _load_neural(options, lexicon)
        status += lm_status
        ngram, status = _with_user_layer(options, lexicon, ngram, status)
        if history.error:  # the window shows the status: say why learned words start afresh
            status = f"{status}; {history.error}"
        _release_freed_memory()
        engine = cls(options, lexicon, ngram, history, neural, status, name, (time.perf_counter() - t0) * 1000,
                     _dict_store_path(options))
        engine.libime_merged = merged
        return engine

    @property
    def weights(self) -> ScoreWeights:
        if self.options.weights is not None:
            return self.options.weights
        if self.neural is None:
            return STATISTICAL_WEIGHTS
        return NEURAL_LIBIME_WEIGHTS if self.libime_merged else NEURAL_WEIGHTS

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
            self.phrases = _load_phrases(self.options)  # small: read again, the user may have edited it
        if self.options.learning and not was_learning:
            self.history = _open_history(self.options, self.lexicon)
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
                                   abbrev_beam_width=o.beam_width or STATISTICAL_BEAM, per_state=self.per_state),
            lattice_options=LatticeOptions(fuzzy_pairs=frozenset(o.fuzzy_pairs), whole_syllables=whole_syllables),
            history=self.history if o.learning else None, context=context, scorer=self.neural)

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


def _load_phrases(options: EngineOptions) -> QuickPhrases:
    """The quick phrases the options ask for (a bad line is skipped and logged, never raised)."""
    if not options.quick_phrases:
        return QuickPhrases(builtins=False)
    return QuickPhrases.load(options.phrases_path)


def _open_history(options: EngineOptions, lexicon: Lexicon) -> UserHistory:
    """The user's learned words; without learning nothing is read or written (benchmarks, CLI)."""
    if not options.learning:
        return UserHistory(lexicon, MEMORY, enabled=False)
    return UserHistory(lexicon, options.history_path or default_history_path())


def _dict_store_path(options: EngineOptions) -> Path | str | None:
    """Where the user dictionary is kept (the history's user.db), None when personal data is off."""
    from .user.history import _paths

    return _paths(options.history_path)[0] if options.personal else None


def _open_dict_store(path: Path | str | None, create: bool = False) -> UserStore | None:
    """The dictionary's store; None when there is no path, no file yet (and not ``create``: an
    engine that learns nothing writes nothing), or it cannot be opened (logged)."""
    from .user.history import HALF_LIFE

    if path is None or (not create and path != MEMORY and not Path(path).exists()):
        return None
    try:
        return UserStore(path, HALF_LIFE)
    except (UserDataError, sqlite3.Error, OSError) as e:
        log.warning("user dictionary unavailable: %s", e)
        return None


def _release_freed_memory() -> None:
    """Hand heap pages freed while loading (file buffers, ONNX protobuf) back to the OS, and keep
    large buffers (the model's per-keystroke caches) in their own mappings so that freeing them
    returns the memory instead of fragmenting the heap (glibc only; elsewhere a no-op)."""
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-3, 256 * 1024)  # M_MMAP_THRESHOLD: fixed, not raised by each free
        libc.mallopt(-1, 1024 * 1024)  # M_TRIM_THRESHOLD
        libc.malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _load_ngram(options: EngineOptions, lexicon: Lexicon) -> tuple[NgramModel, str]:
    """The n-gram merged with the system's libime model where there is one (EngineOptions.libime),
    else the shipped one; and what the status line says about it. A valid merged model is loaded
    alone: the shipped one is read only to check it (its manifest) or to make it."""
    from .core import libime

    path = options.assets_dir / "ngram.npz"
    lm = libime.find_lm() if options.libime != "off" else None
    out = (options.cache_dir or libime.default_cache_dir()) / libime.MERGED_NAME
    merged = libime.load_merged(out, lexicon, libime.ngram_meta(path), lm) if lm is not None else None
    if merged is not None:
        return merged, f" + libime's {lm.name}"
    ngram = NgramModel.load(path, token_hash=lexicon.token_hash())
    if lm is None:
        return ngram, ""
    if options.libime == "wait":
        try:
            libime.merge_files(lm, options.assets_dir, out)
        except Exception as e:  # noqa: BLE001 - the shipped n-gram still works
            log.warning("merging %s failed: %s", lm, e)
            return ngram, f"; libime's model not used ({type(e).__name__}: {e})"
        merged = libime.load_merged(out, lexicon, ngram.meta, lm)
        if merged is not None:
            return merged, f" + libime's {lm.name}"
    if libime.start_merge(lm, options.assets_dir, out):
        return ngram, f"; merging libime's {lm.name} in the background (used from the next start)"
    return ngram, ""


def _with_user_layer(options: EngineOptions, lexicon: Lexicon, ngram: NgramModel, status: str):
    """Mix in the n-grams of the user's own text (``user_lm.npz`` beside the personal model)."""
    from .errors import ShuruError
    from .models import active_model_dir
    from .user.userlm import FILE_NAME, AdaptedNgram, UserLM, word_bonus

    if options.user_layer_weight <= 0:
        return ngram, status
    folder, _ = active_model_dir(options)
    path = folder / FILE_NAME if folder is not None else None
    if path is None or not path.exists():
        return ngram, status
    try:
        user = UserLM.load(path, lexicon)
    except ShuruError as e:
        log.warning("user language layer ignored: %s", e)
        return ngram, f"{status}; your-text layer ignored ({e})"
    bonus = word_bonus(user, lexicon, options.user_word_bonus) if options.user_word_bonus > 0 else None
    return AdaptedNgram(ngram, user, options.user_layer_weight, bonus), f"{status} + your text"


def _load_neural(options: EngineOptions, lexicon: Lexicon):
    """(scorer, model name, status) or a fallback with the reason; never raises."""
    from .errors import ShuruError

    try:
        from .models import active_model_dir
        from .core.neural import NeuralScorer
    except ImportError as e:  # onnxruntime missing
        return None, "none", f"statistical scorers only (neural model: {e})"
    model_dir, name = active_model_dir(options)
    if model_dir is None:
        return None, "none", "statistical scorers only (no neural model installed)"
    try:
        scorer = NeuralScorer.load(model_dir)
    except ShuruError as e:
        log.warning("neural model unusable, falling back to statistical scorers: %s", e)
        return None, "none", f"statistical scorers only (neural model: {e})"
    except Exception as e:  # onnxruntime raises many kinds of errors on corrupt files
        log.warning("neural model failed to load, falling back to statistical scorers: %s", e)
        return None, "none", f"statistical scorers only (neural model failed to load: {e})"
    return scorer, name, f"neural ({name}) + n-gram"

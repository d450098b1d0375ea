"""Loading an Engine's parts, with every fallback in one place: a missing or broken neural model
falls back to the statistical scorers, libime's model is merged in where it is installed, the
user's text layer and learned words are added where they are usable (the status line says what
is in use and why); a missing or broken lexicon or n-gram raises AssetError."""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

from .core.lexicon import Lexicon
from .core.ngram import NgramModel
from .options import EngineOptions
from .paths import PINYIN_MODEL_NAME
from .pinyin.phrases import QuickPhrases
from .user.history import UserHistory, default_history_path
from .user.userdb import MEMORY

log = logging.getLogger(__name__)


@dataclass
class LoadedParts:
    """What Engine.load puts together."""

    lexicon: Lexicon
    ngram: NgramModel
    history: UserHistory
    neural: object  # engine.core.neural.NeuralScorer, or None
    status: str
    model_name: str
    load_ms: float
    dict_path: Path | str | None
    libime_merged: bool
    reader: object = None  # engine.pinyin.pinyin_scorer.PinyinScorer, or None


def load_parts(options: EngineOptions) -> LoadedParts:
    """Load the assets the options ask for, with the fallbacks of the module doc."""
    from .models import active_model_dir

    t0 = time.perf_counter()
    active = active_model_dir(options)  # (its folder, its name): read once, for every part below
    lexicon = Lexicon.load(options.assets_dir / "lexicon.npz")
    ngram, lm_status = _load_ngram(options, lexicon)
    merged = "merged" in ngram.meta
    history = open_history(options, lexicon)
    neural, name, status = None, "none", "statistical scorers only (neural model disabled)"
    if options.use_neural:
        neural, name, status = _load_neural(active)
    reader = None
    if neural is not None:  # the statistical fallback stays "statistical scorers only"
        reader, reader_status = _load_reader(options, active)
        status += reader_status
    status += lm_status
    ngram, status = _with_user_layer(options, active[0], lexicon, ngram, status)
    if history.error:  # the window shows the status: say why learned words start afresh
        status = f"{status}; {history.error}"
    _release_freed_memory()
    return LoadedParts(lexicon, ngram, history, neural, status, name, (time.perf_counter() - t0) * 1000,
                       dict_store_path(options), merged, reader)


def load_phrases(options: EngineOptions) -> QuickPhrases:
    """The quick phrases the options ask for (a bad line is skipped and logged, never raised)."""
    if not options.quick_phrases:
        return QuickPhrases(builtins=False)
    return QuickPhrases.load(options.phrases_path)


def open_history(options: EngineOptions, lexicon: Lexicon) -> UserHistory:
    """The user's learned words; without learning nothing is read or written (benchmarks, CLI)."""
    if not options.learning:
        return UserHistory(lexicon, MEMORY, enabled=False)
    return UserHistory(lexicon, options.history_path or default_history_path())


def dict_store_path(options: EngineOptions) -> Path | str | None:
    """Where the user dictionary is kept (the history's user.db), None when personal data is off."""
    from .user.history import _paths

    return _paths(options.history_path)[0] if options.personal else None


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


def _with_user_layer(options: EngineOptions, folder: Path | None, lexicon: Lexicon, ngram: NgramModel, status: str):
    """Mix in the n-grams of the user's own text (``user_lm.npz`` in the active model's ``folder``)."""
    from .errors import ShuruError
    from .user.userlm import FILE_NAME, AdaptedNgram, UserLM, word_bonus

    if options.user_layer_weight <= 0:
        return ngram, status
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


def _load_reader(options: EngineOptions, active: tuple[Path | None, str]):
    """(the pinyin-reading model or None, what the status line adds); never raises. The ``active``
    personal model's own reader (its ``pinyin-model/``) comes first, then the shipped one."""
    if options.pinyin_model is not None:
        return _try_reader(options.pinyin_model, "pinyin-reading model")
    folder, name = active
    personal = folder / PINYIN_MODEL_NAME if folder is not None and name != "base" else None
    notes = ""
    if personal is not None and personal.is_dir():
        reader, status = _try_reader(personal, "your pinyin-reading model")
        if reader is not None:
            return reader, status
        notes = status  # the shipped reader stands in; the status says why
    shipped = options.assets_dir / PINYIN_MODEL_NAME
    if not shipped.exists():
        return None, notes
    reader, status = _try_reader(shipped, "pinyin-reading model")
    return reader, status + notes


def _try_reader(model_dir: Path, what: str):
    """(PinyinScorer of ``model_dir`` or None, the status line's part naming it ``what``)."""
    from .errors import ShuruError

    try:
        from .pinyin.pinyin_scorer import PinyinScorer

        return PinyinScorer.load(model_dir), f" + {what}"
    except ShuruError as e:
        log.warning("%s unusable: %s", what, e)
        return None, f" ({what} not used: {e})"
    except Exception as e:  # onnxruntime raises many kinds of errors on corrupt files
        log.warning("%s failed to load: %s", what, e)
        return None, f" ({what} failed to load: {e})"


def _load_neural(active: tuple[Path | None, str]):
    """(scorer, model name, status) of the ``active`` model (folder, name) or a fallback with the
    reason; never raises."""
    from .errors import ShuruError

    try:
        from .core.neural import NeuralScorer
    except ImportError as e:  # onnxruntime missing
        return None, "none", f"statistical scorers only (neural model: {e})"
    model_dir, name = active
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

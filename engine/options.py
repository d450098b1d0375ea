"""Everything configurable about an Engine, and the tuned defaults it ships with."""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from .paths import ASSETS_DIR
from .pinyin.decoder import DecoderOptions, ScoreWeights

# Log-linear weights without and with the neural LM, the same for a personal model (docs/TUNING.md#neural-weights)
STATISTICAL_WEIGHTS = ScoreWeights()
NEURAL_WEIGHTS = ScoreWeights(neural=0.35, neural_abbrev=0.3, neural_initials=0.3)
# with libime's model mixed into the n-gram (engine.core.libime), words typed wholly as initials lean less on the LM
NEURAL_LIBIME_WEIGHTS = replace(NEURAL_WEIGHTS, neural_initials=0.1)
# the pinyin-reading model's weight after the search, when one is loaded
# (docs/TUNING.md#the-pinyin-reading-model-after-the-search)
READER_WEIGHT = 0.3
# Beam widths without and with the neural LM, and for abbreviated input (bjdx) with either (docs/TUNING.md#beam-widths)
STATISTICAL_BEAM, NEURAL_BEAM, ABBREV_BEAM = 16, 8, DecoderOptions.abbrev_beam_width


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
    # the pinyin-reading model's folder (engine.pinyin.pinyin_scorer); None: the active personal
    # model's pinyin-model/, else assets/pinyin-model if present; off with use_neural=False
    pinyin_model: Path | None = None
    reader_weight: float | None = None  # None: READER_WEIGHT when the pinyin-reading model is loaded
    entries_per_edge: int = 32
    # share of the user's own word n-grams (written by fine-tuning), 0 = off (docs/TUNING.md#the-user-text-layer)
    user_layer_weight: float = 0.08
    # scale of the user's word bonus (engine.user.userlm.word_bonus; 0: none) (docs/TUNING.md#the-users-word-bonus)
    user_word_bonus: float = 1.0

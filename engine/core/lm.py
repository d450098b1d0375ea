"""One language-model interface, and the one place the search's language models are mixed.

Every language model the decoder reads implements :class:`LanguageModel`: ``start(context)`` is
the state after the text before the input, ``extend(states, units)`` scores a batch of
hypotheses, each with its own state, and returns log P(unit | state) with the states after the
units. A state is the model's own business:

* word models (:class:`WordModel`: the word trigram, :class:`NgramLM` over
  :class:`engine.core.ngram.NgramModel` or the n-gram with the user's text mixed in,
  ``engine.user.userlm.AdaptedNgram``) read lexicon tokens; their state is the last two tokens
  (:class:`WordStates`), which the search also uses to recombine hypotheses;
* layers (:class:`Layer`: the user's learned words, ``engine.user.history.UserHistory``) are
  word models interpolated into the word model, log((1 - share) P + share P_layer);
* the context model (:class:`ContextModel`: the neural character LM,
  :class:`engine.core.neural.NeuralScorer`) reads the characters of words, in stages the
  search prunes between.

* the reading model (:class:`ReadingModel`: the pinyin-reading model,
  ``engine.pinyin.pinyin_scorer.PinyinScorer``) scores whole readings of the input given what was
  typed for each character, after the search, once the syllables ahead of each character are known.

:class:`MixedLM` holds them and answers every language-model query of the search: the word
models with their layers interpolated, which model answers which query, and the context
model's stages. The search weighs its answers log-linearly against the pinyin match
(``engine.pinyin.decoder.ScoreWeights``: ``ngram``, ``neural``...). Scores are natural-log.
"""
from __future__ import annotations

import math
from typing import Any, Callable, NamedTuple, Protocol, Sequence

import numpy as np

from .lexicon import BOS, EOS, MAX_WORD_SYLLABLES, Lexicon
from .ngram import BITS

# the stand-in log P of a character the lexicon lacks, where the context model has no context
UNSEEN_CHAR_LOGP = -20.0


class LanguageModel(Protocol):
    """log P(unit | state) for batches of hypotheses, each with an opaque state."""

    def start(self, context: str) -> Any:
        """The state after ``context``, the text before the input."""
        ...

    def extend(self, states: Any, units: Any) -> tuple[np.ndarray, Any]:
        """log P(unit | state) for each (state, unit) pair, and the states after the units."""
        ...


class WordStates(NamedTuple):
    """A batch of word-model states: each hypothesis' last two tokens (<s> before the first)."""

    w1: np.ndarray  # the token before last
    w2: np.ndarray  # the last token

    def key(self) -> np.ndarray:
        """One int64 per state: equal keys, equal states (hypotheses to recombine)."""
        return (self.w1 << BITS) | self.w2


class WordModel(LanguageModel, Protocol):
    """A language model over lexicon tokens: states are :class:`WordStates`, units token-id arrays."""

    def unigram(self, tokens: np.ndarray) -> np.ndarray:
        """log P(token) with no context at all."""
        ...

    def alone(self, tokens: np.ndarray) -> np.ndarray:
        """log P(token) for a word typed with no text around it (engine.core.ngram.NgramModel.alone)."""
        ...

    def word_start(self, chars: np.ndarray) -> np.ndarray:
        """log P that a word begins with each character token (engine.core.ngram.NgramModel.word_start)."""
        ...

    def end_logprob(self, states: WordStates) -> np.ndarray:
        """log P(</s> | state): the clause ends there."""
        ...


class Layer(LanguageModel, Protocol):
    """A word model interpolated into the word model with a fixed ``share``."""

    share: float

    @property
    def active(self) -> bool:
        """False while the layer knows nothing (the mix then leaves the word model as it is)."""
        ...

    def linear_prob(self, states: WordStates, tokens: np.ndarray) -> np.ndarray:
        """P_layer(token | state), linear (0 where the layer never saw the token there)."""
        ...


class ContextModel(LanguageModel, Protocol):
    """A character model over the text of words (units: strings), read in stages: the search ranks
    hypotheses by the cheap first character, prunes, then reads the survivors' rest."""

    def first_logprob(self, states: list, texts: list[str]) -> np.ndarray:
        """log P(first character of text | state), cheap."""
        ...

    def advance_scored(self, states: list, texts: list[str]) -> tuple[list, np.ndarray]:
        """States after each text and log P(rest of text | state, its first character)."""
        ...

    def rest_logprob(self, states: list, texts: list[str]) -> np.ndarray:
        """log P(rest of text | state, its first character), keeping no states (no run for 1-char texts)."""
        ...

    def release(self, states: list) -> None:
        """Free what can be recomputed on demand (states far behind the end of the input)."""
        ...

    def settle(self, states: list) -> bool:
        """Do the work put off for ``states`` (idle time); True if there was any."""
        ...


class ReadingModel(Protocol):
    """log P(text | context, the syllables typed for its characters) of whole readings of one input."""

    def score_readings(self, context: str, texts: list[str], typed: list[list[str]]) -> np.ndarray:
        """One score per reading; typed[i] holds a syllable or an initial per character of texts[i]."""
        ...

    def fits(self, context: str, n_chars: int) -> bool:
        """Whether a reading of ``n_chars`` characters after ``context`` is within the model's reach."""
        ...


def context_tokens(lex: Lexicon, context: str) -> tuple[int, int]:
    """The last two lexicon tokens of ``context`` (backward longest match over the corpus counts'
    words, whose n-grams the model has), padded with <s>."""
    toks: list[int] = []
    ctx = context[-12:]
    while ctx and len(toks) < 2:
        for k in range(min(MAX_WORD_SYLLABLES, len(ctx)), 0, -1):
            t = lex.token_id(ctx[-k:])
            if t is not None and t > EOS and not lex.open_domain(t):
                toks.insert(0, t)
                ctx = ctx[:-k]
                break
        else:
            break
    toks = [BOS] * (2 - len(toks)) + toks
    return toks[0], toks[1]


def word_start(lex: Lexicon, context: str) -> WordStates:
    """The word-model state after ``context`` (a batch of one)."""
    w1, w2 = context_tokens(lex, context)
    return WordStates(np.array([w1]), np.array([w2]))


def interpolate(logprobs: np.ndarray, share: float, p: np.ndarray) -> np.ndarray:
    """log((1 - share) e^logprobs + share p), elementwise; ``p`` linear, 0 where the layer has nothing."""
    lm = np.asarray(logprobs, dtype=np.float64)
    with np.errstate(divide="ignore"):
        mixed = np.logaddexp(lm + math.log1p(-share), np.log(share * p))
    return np.where(p > 0, mixed, lm + math.log1p(-share))


class NgramLM:
    """A word n-gram as a :class:`WordModel`: anything with ``logprob(w1, w2, w3)``, ``unigram(w)`` and ``alone(w)``
    (:class:`engine.core.ngram.NgramModel`, or ``AdaptedNgram``: the user's text mixed in, with its
    per-token ``word_bonus``)."""

    def __init__(self, model, lexicon: Lexicon):
        self.model = model
        self.lexicon = lexicon
        self.word_bonus: np.ndarray | None = getattr(model, "word_bonus", None)

    def start(self, context: str) -> WordStates:
        return word_start(self.lexicon, context)

    def extend(self, states: WordStates, tokens: np.ndarray) -> tuple[np.ndarray, WordStates]:
        return self.model.logprob(states.w1, states.w2, tokens), WordStates(states.w2, tokens)

    def unigram(self, tokens: np.ndarray) -> np.ndarray:
        return self.model.unigram(tokens)

    def alone(self, tokens: np.ndarray) -> np.ndarray:
        return self.model.alone(tokens)

    def word_start(self, chars: np.ndarray) -> np.ndarray:
        return self.model.word_start(chars)

    def end_logprob(self, states: WordStates) -> np.ndarray:
        return self.model.logprob(states.w1, states.w2, np.full(len(states.w1), EOS))


class MixedLM:
    """The search's language models, mixed in one place.

    ``words``: the word model; ``layers``: word models interpolated into it (the user's learned
    words), each with its share, in log P(word | words before) and log P(word) alone; log P(</s>)
    and a character's log P alone (docs/TUNING.md#a-word-typed-alone) are the word model's without
    the layers; ``context``: the context model, or None. A hypothesis' state is its word state
    (:class:`WordStates`) and its context model's state. Which model answers which query, and how
    the word models are interpolated, is decided here and nowhere else; the search weighs the
    answers (``ScoreWeights``). ``reader``: the reading model, or None."""

    def __init__(self, lexicon: Lexicon, words: WordModel, layers: Sequence[Layer] = (),
                 context: ContextModel | None = None, reader: ReadingModel | None = None):
        self.lexicon = lexicon
        self.words = words
        self.layers = tuple(layers)
        self.context = context
        self.reader = reader
        # per-token log bonus of the words the user writes (engine.user.userlm.word_bonus), or None
        self.word_bonus: np.ndarray | None = getattr(words, "word_bonus", None)

    # -- the word models ---------------------------------------------------------------------
    def start_words(self, context: str) -> WordStates:
        """The word state after ``context`` (a batch of one)."""
        return self.words.start(context)

    def extend(self, states: WordStates, tokens: np.ndarray) -> tuple[np.ndarray, WordStates]:
        """log P(token | state): the word model with the layers interpolated; and the states after."""
        lm, after = self.words.extend(states, tokens)
        for layer in self.layers:
            if layer.active:
                lm = interpolate(lm, layer.share, layer.linear_prob(states, tokens))
        return lm, after

    def alone(self, tokens: np.ndarray) -> np.ndarray:
        """log P(token) for a word typed with no text around it: the word model's, the layers
        interpolated as after <s>."""
        uni = self.words.alone(tokens)
        if any(layer.active for layer in self.layers):
            bos = np.full(len(tokens), BOS)
            for layer in self.layers:
                if layer.active:
                    uni = interpolate(uni, layer.share, layer.linear_prob(WordStates(bos, bos), tokens))
        return uni

    def end_logprob(self, states: WordStates) -> np.ndarray:
        """log P(</s> | state): the word model alone."""
        return self.words.end_logprob(states)

    def char_logprob(self, ch: str) -> float:
        """log P of a character with no context at all, the context model's stand-in where a clause may
        begin: the word model's unigram (UNSEEN_CHAR_LOGP for a character the lexicon lacks)."""
        return self._char_score(ch, self.words.unigram)

    def word_start_logprob(self, ch: str) -> float:
        """log P that a word begins with ``ch``, with no context: the context model's stand-in for the
        first character of a word of two or more characters where a clause may begin (a one-character
        word's is char_logprob: its unigram is its start and its end). The word model's, without the
        layers (docs/TUNING.md#a-word-typed-alone)."""
        return self._char_score(ch, self.words.word_start)

    def _char_score(self, ch: str, score: Callable[[np.ndarray], np.ndarray]) -> float:
        """One character's ``score`` (a word-model table read by token id); UNSEEN_CHAR_LOGP where the
        lexicon has no such character."""
        t = self.lexicon.token_id(ch)
        return float(score(np.array([t]))[0]) if t is not None and t > EOS else UNSEEN_CHAR_LOGP

    # -- the context model, in the stages the search prunes between ----------------------------
    def start_context(self, context: str) -> Any:
        """The context model's state after ``context``."""
        return self.context.start(context)

    def first_logprob(self, states: list, texts: list[str]) -> np.ndarray:
        """The context model's log P(first character of text | state), cheap."""
        return self.context.first_logprob(states, texts)

    def read_rest(self, states: list, texts: list[str], keep_states: bool = True) -> tuple[list, np.ndarray]:
        """The context model's states after each text (None each unless ``keep_states``) and
        log P(rest of text | state, its first character)."""
        if keep_states:
            return self.context.advance_scored(states, texts)
        return [None] * len(texts), self.context.rest_logprob(states, texts)

    def release(self, states: list) -> None:
        """Free the context model's states' recomputable parts."""
        self.context.release(states)

    def settle(self, states: list) -> bool:
        """The context model's work put off for ``states``, done now (idle time); True if there was any."""
        return self.context is not None and self.context.settle(states)

    # -- the reading model, after the search ----------------------------------------------
    def reading_logprob(self, context: str, texts: list[str], typed: list[list[str]]) -> np.ndarray | None:
        """The reading model's log P(text | context, typed syllables) per reading, or None where it
        cannot say (no reading model, or a reading too long for it)."""
        if self.reader is None or not texts or not all(self.reader.fits(context, len(t)) for t in texts):
            return None
        return self.reader.score_readings(context, texts, typed)

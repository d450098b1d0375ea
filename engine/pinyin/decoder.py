"""Syllable lattice -> ranked candidates: an incremental beam search.

For every position ``j`` of the typed letters the decoder keeps a :class:`PositionState`:

* *frontiers*: open word prefixes (sequences of lattice segments) ending at ``j`` that
  some lexicon word still continues;
* *edges*: lexicon entries whose syllables exactly match a segment sequence ending at ``j``;
* *beam*: the best partial conversions of ``text[:j]``.

A state depends only on ``text[:j]`` (the still-being-typed last syllable is handled at
the end, uncached), so typing a letter computes one new state and reuses the rest;
Backspace just forgets the last state.

Every conversion is scored log-linearly (see :class:`ScoreWeights`): the n-gram model's
log P(word | two previous words), the pinyin match (reading prior, abbreviation and
fuzzy penalties), a per-word constant and, when present, the neural character LM. Every
language-model probability comes from one object, :class:`engine.core.lm.MixedLM` (the n-gram
with the user's history interpolated, :mod:`engine.user.history`, and the neural LM). With a personal
model, a hypothesis also earns the user's word bonus (:func:`engine.user.userlm.word_bonus`) once its
words, taken together, read like the user's text (:attr:`ScoreWeights.user_word_cost`). Scores are
natural-log.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import numpy as np

from ..core.lexicon import EOS, INITIAL_BITS, MAX_WORD_SYLLABLES, SYLLABLE_BITS, UNK, Lexicon, key_step
from ..core.lm import ContextModel, MixedLM, NgramLM, ReadingModel, WordStates
from ..core.ngram import NgramModel
from .lattice import SEPARATOR, LatticeOptions, Segment, SegmentKind, SyllableLattice, parse
from .syllables import SYLLABLE_INITIAL, SYLLABLES, initial_of

log = logging.getLogger(__name__)

LITERAL_ENTRY = -1
# Scorer states this many letters behind the end are released (recomputed on demand): few
# words that can still grow start further back.
RELEASE_AFTER = 16
# Whole-input conversions listed before the prefix words (我想 for wo'xiang'hui'jia): more of them
# are mostly near-copies of the first, differing in one character.
WHOLE_INPUT_FIRST = 3
# Whole-input readings listed besides the best ones, one per other cut into whole syllables
# (西安 for xi'an when xian reads best as one syllable).
ALTERNATIVE_CUTS = 2
# An input that is one whole syllable (hen, de) lists this many readings of it as that syllable before
# any that cuts it into an initial or a completion (河南 for he'n, 第二 for d'e): the window's first page
# (docs/TUNING.md#a-one-syllable-inputs-first-page).
SYLLABLE_FIRST = 5
REBUILD_CHARS = 32  # characters re-read to rebuild a released scorer state
# whole-input readings the reading model re-orders: the best READ_TOP within READ_MARGIN nats of the
# best one, for an input typed after text (docs/TUNING.md#the-pinyin-reading-model-as-a-tie-breaker)
READ_TOP, READ_MARGIN = 3, 0.5
# Particles that lean on the word before them: with it they are typed as one word (是的, 有啊, 听过),
# so a word typed alone pays no extra_word cost for them (docs/TUNING.md#a-word-typed-alone).
CLITICS = frozenset("的了过着啊吗呢吧呀哦嘛哈啦喔哇嘞咯噢呗")
MAX_PREFIXES = 8  # prefixes of the best conversion offered (a long input has one per word)
MAX_WORD_LETTERS = MAX_WORD_SYLLABLES * 7  # the longest a lexicon word can be typed (zhuang'... with apostrophes)
# Reuse after a partial pick (docs/TUNING.md#reusing-the-search-after-a-partial-pick):
MIN_ADOPT_SHARE = 8  # old states are kept where they hold >= 1/8 of a beam of continuations of the choice
MAX_RECOMPUTED = 4  # positions with fewer searched again, before the rest is decoded afresh


@dataclass(frozen=True)
class ScoreWeights:
    """Log-linear weights of the scorers (tuned on the dev sets: docs/TUNING.md)."""

    ngram: float = 1.0  # word trigram log P(w | u v)
    channel: float = 1.0  # pinyin match: reading prior + abbreviation/fuzzy/completion penalties
    word: float = 0.0  # added per word; > 0 favours more, shorter words
    literal: float = -14.0  # cost of keeping letters as Latin text
    uncommon: float = -4.0  # words with characters outside GB2312 (traditional or rare forms)
    open_domain: float = 0.0  # open-domain words (titles, list words) the corpus counts never saw
    neural: float = 0.0  # neural char LM log P(chars | history); set when a model is loaded
    neural_abbrev: float = 0.0  # the same for words typed as abbreviations (the LM has less to go on)
    # the same for words typed wholly as initials in an input that reads as abbreviations (bjdx);
    # an abbreviated word inside full pinyin keeps neural_abbrev, as its rivals are full readings
    neural_initials: float = 0.0
    # cost per word against the user's word bonus (docs/TUNING.md#the-users-word-bonus)
    user_word_cost: float = 0.6
    # P(an input with no text before it begins a clause), by syllables 1, 2, 3, 4+ (docs/TUNING.md#a-word-typed-alone)
    clause_start: tuple[float, ...] = (0.2, 0.2, 0.5, 1.0)
    # P(an input ends a clause), by syllables as clause_start (docs/TUNING.md#a-word-typed-alone)
    clause_end: tuple[float, ...] = (0.5, 0.5, 0.5, 1.0)
    # share of the neural LM's log P of the first word's later characters (read after <s>) in that
    # word's score when it begins no clause, for inputs of 2 syllables or more (docs/TUNING.md#a-word-typed-alone)
    free_rest: float = 0.5
    # added per word after the first (clitics aside) of a whole-input reading of up to
    # extra_word_syllables syllables with no text before it: a word typed alone is one word
    # (酒吧 before 就把), 0 for none (docs/TUNING.md#a-word-typed-alone)
    extra_word: float = -2.0
    extra_word_syllables: int = 2
    # the pinyin-reading model's log P(text | typed syllables), re-ordering the best whole-input
    # readings after the search; set when the model is loaded
    reader: float = 0.0


@dataclass(frozen=True)
class DecoderOptions:
    """Search breadth. Wider is slower and (up to a point) more accurate."""

    beam_width: int = 16  # hypotheses kept per position (docs/TUNING.md#beam-widths)
    abbrev_beam_width: int = 24  # the same for abbreviated input (bjdx)
    nbest: int = 5  # whole-input conversions listed first
    entries_per_edge: int = 32  # lexicon entries proposed per matched span, best prior first
    scan_limit: int = 4000  # entries examined per abbreviated span before filtering
    per_state: int = 3  # hypotheses kept per n-gram state (docs/TUNING.md#hypotheses-kept-per-n-gram-state)


@dataclass
class Edge:
    """Lexicon entries matching the segments ``segs`` (from ``start`` to ``end``)."""

    start: int
    end: int
    segs: tuple[Segment, ...]
    entries: np.ndarray  # (E,) entry ids, or [LITERAL_ENTRY]
    tokens: np.ndarray  # (E,) token ids
    channel: np.ndarray  # (E,) pinyin-match logprob
    # (clause-start share, the entries as words typed from the input's start), once scored (_prefix_words)
    words: tuple | None = field(default=None, compare=False, repr=False)

    @property
    def abbreviated(self) -> bool:
        """Some syllable of this span was typed as an initial."""
        return any(s.kind == SegmentKind.INITIAL for s in self.segs)


@dataclass
class Beam:
    """Hypotheses ending at one position, as parallel arrays of length K."""

    score: np.ndarray
    w1: np.ndarray  # token before last
    w2: np.ndarray  # last token (w1, w2: the hypothesis' word-model state, engine.core.lm.WordStates)
    prev_pos: np.ndarray
    prev_idx: np.ndarray
    edge: np.ndarray  # index into the ending position's edges (-1 for the start)
    entry: np.ndarray
    extra: list = field(default_factory=list)  # context-model states (MixedLM.context), aligned with the arrays
    # sum over the words of (user word bonus - cost); score holds max(0, dom) of it
    dom: np.ndarray = field(default_factory=lambda: np.zeros(0))
    # the first word's weighted scores after <s> (in score) and with no context at all (unigram), for
    # an input with no text before it; 0 for hypotheses of other inputs
    lead_bos: np.ndarray = field(default_factory=lambda: np.zeros(0))
    lead_free: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def __len__(self) -> int:
        return len(self.score)


BEAM_ARRAYS = ("score", "w1", "w2", "prev_pos", "prev_idx", "edge", "entry", "dom", "lead_bos", "lead_free")


@dataclass
class PositionState:
    frontiers: list[tuple]  # (start, depth, full_key, initial_key, segs, multi)
    edges: list[Edge]
    beam: Beam
    paths: dict = field(default_factory=dict)  # hypothesis index -> its _Path, once traced back


@dataclass(frozen=True)
class Conversion:
    """One decoded reading of (a prefix of) the input."""

    text: str
    consumed: int  # letters of the input it covers
    score: float
    kind: str  # "sentence" | "word" | "char" | "literal"
    segments: tuple[Segment, ...] = ()
    tokens: tuple[int, ...] = ()
    word_ends: tuple[int, ...] = ()  # where each token ends in the input (sentences only)
    pieces: tuple[str, ...] = ()  # the text of each token (sentences only)
    uncommon: bool | None = None  # some word has characters outside GB2312 (None: not yet known)


class Decoder:
    """Incremental decoder for one context; call :meth:`decode` after every edit."""

    def __init__(self, lexicon: Lexicon, ngram: NgramModel | None = None, *, weights: ScoreWeights = ScoreWeights(),
                 options: DecoderOptions = DecoderOptions(), lattice_options: LatticeOptions = LatticeOptions(),
                 history=None, context: str = "", scorer: ContextModel | None = None,
                 start: tuple[int, int, object] | None = None, lm: MixedLM | None = None,
                 reader: ReadingModel | None = None):
        """The language models: ``lm``, or else the one mixed from ``ngram`` (an n-gram, or one with the
        user's text mixed in), ``history`` (the user's learned words, an engine.core.lm.Layer, or None)
        and ``scorer`` (the neural LM, used when ``weights.neural`` is set) and ``reader`` (the
        pinyin-reading model, used when ``weights.reader`` is set).
        ``start``: (w1, w2, context-model state) to start from instead of those of ``context``
        (the words of a partial selection)."""
        self.lex = lexicon
        self.w = weights
        # a word's cost by its token_flags (UNCOMMON 1, OPEN_DOMAIN 2)
        self._flag_cost = np.array([0.0, weights.uncommon, weights.open_domain, weights.uncommon + weights.open_domain])
        self.opt = options
        self.lattice_options = lattice_options
        if lm is None:
            lm = MixedLM(lexicon, NgramLM(ngram, lexicon), [history] if history is not None else [],
                         scorer if weights.neural else None, reader if weights.reader else None)
        self.lm = lm
        self._bonus = lm.word_bonus  # per-token user word bonus, or None
        self.context = context
        # no text before the input: its first word may or may not begin a clause (ScoreWeights.clause_start)
        self._free_start = start is None and not context
        self.text = ""
        self.lattice: SyllableLattice = parse("", lattice_options)
        self._width = options.beam_width  # this input's beam (wider when it reads as abbreviations)
        self._abbreviated = False
        self.states: list[PositionState] = [self._start_state(context, start)]
        self._allowed: dict[frozenset, np.ndarray] = {}
        self._memo: tuple[str | None, list[Conversion]] = (None, [])
        self._final_memo: tuple[str | None, PositionState | None] = (None, None)
        self._released = 1  # positions below this had their scorer states released (0 = start: kept)

    # -- public -------------------------------------------------------------------------
    def search(self, text: str, deadline: float | None = None) -> None:
        """Search ``text``, going on from what was searched before (a shared prefix is kept).

        ``deadline`` (a ``time.perf_counter()`` value): the search stops at the first letter
        decoded past it, and :attr:`text` is then a prefix of ``text``; the next call goes on
        from there. A paste or an edit at the start of a long input so costs a bounded time per
        call, not one per letter. The candidate list is engine.pinyin.candidates'."""
        self._advance(text, deadline)

    @property
    def abbreviated(self) -> bool:
        """The searched input reads as abbreviations (bjdx)."""
        return self._abbreviated

    def sentences(self) -> list[Conversion]:
        """The best whole-input conversions of the searched text (nbest, then other cuts)."""
        return self._sentences() if self.text else []

    def syllable_first(self, convs: list[Conversion]) -> list[Conversion]:
        """``convs`` (a list for the searched input) with, for an input that is one whole syllable,
        the readings that cut it into initials or completions after its first SYLLABLE_FIRST
        readings as the syllable, and those that keep some of its letters as Latin text (e'i ->
        而i) after all of them; unchanged for any other input."""
        whole = self._one_syllable((SegmentKind.FULL,))
        if whole is None:
            return convs
        literal = [c for c in convs if c.kind == "literal"]
        convs = [c for c in convs if c.kind != "literal"]
        split = [_cuts(c.segments, whole) > 0 for c in convs]
        kept = [c for c, x in zip(convs, split) if not x]
        return kept[:SYLLABLE_FIRST] + [c for c, x in zip(convs, split) if x] + kept[SYLLABLE_FIRST:] + literal

    def prefix_words(self, sentences: list[Conversion]) -> list[Conversion]:
        """Words starting at the first letter along the best sentence's syllables, longest span
        first, then by score; words before single characters."""
        return self._prefix_words(sentences) if self.text else []

    def prepare(self, text: str) -> bool:
        """Idle work toward ``search(text)``, at most one new letter's positions per call;
        True once ``search(text)`` needs no work (its states and sentences are ready)."""
        if self.text == text:
            if self._memo[0] != text:
                self._sentences()
            return True
        common = next((i for i, (a, b) in enumerate(zip(self.text, text)) if a != b), min(len(self.text), len(text)))
        self._advance(text[: common + 1])
        return False

    def settle(self) -> bool:
        """Idle work: the context model's reads the search put off (engine.core.neural: one-character
        words), done before the next letter needs them; True if there were any."""
        return self.lm.settle([s for st in self.states[self._released:] for s in st.beam.extra])

    def uncommon(self, conv: Conversion) -> bool:
        """Some word of ``conv`` has characters outside GB2312 (traditional or rare forms)."""
        if conv.uncommon is not None:
            return conv.uncommon
        return any(t > EOS and self.lex.uncommon(t) for t in conv.tokens)

    def best_segments(self) -> list[Segment]:
        """Segments of the best whole-input conversion (for the preedit display)."""
        sentences = self._sentences() if self.text else []
        return list(sentences[0].segments) if sentences else self.lattice.best_cut()

    def after_selection(self, conv: "Conversion", rest_start: int, context: str) -> "Decoder":
        """A decoder for ``text[rest_start:]`` after ``conv`` (a prefix of the input) was chosen.

        The letters after the choice were already decoded: the hypotheses that continue the
        chosen words are kept (shifted, with the chosen words' score taken off); where too few
        do, the position is searched again or the rest decoded afresh (MIN_ADOPT_SHARE,
        MAX_RECOMPUTED). A choice that is not in the beam starts afresh."""
        anchor = self._selection_hypotheses(conv, rest_start)
        beam = self.states[rest_start].beam if anchor else None
        start = None
        if anchor:
            i = anchor[0]
            start = (int(beam.w1[i]), int(beam.w2[i]),
                     self._scorer_states(np.array([rest_start]), np.array([i]))[0] if self.lm.context else None)
        new = Decoder(self.lex, weights=self.w, options=self.opt, lattice_options=self.lattice_options,
                      context=context, lm=self.lm,
                      start=start or (*_last_two(conv.tokens, self._context_tokens(context)), None))
        if not anchor:
            return new
        new._adopt(self, rest_start, anchor)
        return new

    def _selection_hypotheses(self, conv: "Conversion", pos: int) -> list[int]:
        """Indices of the hypotheses at ``pos`` whose words are exactly ``conv``'s."""
        if not conv.tokens or pos >= len(self.text) or pos >= len(self.states):
            return []
        beam = self.states[pos].beam
        want = tuple(conv.tokens)
        return [i for i in range(len(beam))
                if int(beam.w2[i]) == want[-1] and self._path(self.states[pos], pos, i).tokens == want]

    def _adopt(self, old: "Decoder", r: int, anchor: list[int]) -> None:
        """Take over ``old``'s states after position ``r`` for the hypotheses descending from ``anchor``."""
        text = old.text[r:]
        self.text = text
        self.lattice = parse(text, self.lattice_options)
        self._abbreviated = self.lattice.abbreviated()
        self._width = max(self.opt.beam_width, self.opt.abbrev_beam_width if self._abbreviated else 0)
        shift = _SegmentShift(self.lattice, r)
        index: dict[int, np.ndarray] = {r: np.full(len(old.states[r].beam), -1)}
        index[r][anchor] = 0  # the choice becomes the new start (position 0, hypothesis 0)
        offset = {r: old.states[r].beam.score}  # each hypothesis' score where the choice ends
        recomputed = 0
        for j in range(r + 1, len(old.text) + 1):
            st = old.states[j]
            if j - 1 >= r and old.text[j - 1] == SEPARATOR:
                prev = self.states[-1]
                self.states.append(PositionState(prev.frontiers, prev.edges, prev.beam))
                index[j], offset[j] = index[j - 1], offset[j - 1]
                continue
            edges_keep = [k for k, e in enumerate(st.edges) if e.start >= r]
            edge_map = np.full(len(st.edges) + 1, -1)
            edge_map[edges_keep] = np.arange(len(edges_keep))
            b = st.beam
            ok = (b.prev_pos >= r) & (b.edge >= 0)
            new_prev = np.full(len(b), -1)
            anc = np.zeros(len(b))
            for i in np.flatnonzero(ok):
                pp, pi = int(b.prev_pos[i]), int(b.prev_idx[i])
                if pp in index:
                    new_prev[i], anc[i] = index[pp][pi], offset[pp][pi]
            ok &= new_prev >= 0
            ok &= edge_map[np.where(b.edge >= 0, b.edge, len(st.edges))] >= 0
            keep = np.flatnonzero(ok)[: self._width]
            edges = [shift.edge(st.edges[k]) for k in edges_keep]
            beam = Beam(b.score[keep] - anc[keep], b.w1[keep], b.w2[keep], b.prev_pos[keep] - r, new_prev[keep],
                        edge_map[b.edge[keep]], b.entry[keep], [b.extra[i] for i in keep] if b.extra else [],
                        b.dom[keep], np.zeros(len(keep)), np.zeros(len(keep)))
            idx = np.full(len(b), -1)
            sparse = len(keep) < max(1, min(len(b), self._width) // MIN_ADOPT_SHARE)
            recent = len(old.text) - j <= RELEASE_AFTER  # far behind the end, model states would need rebuilding
            if sparse and recent and recomputed < MAX_RECOMPUTED:  # few continue the choice: search this position again
                recomputed += 1
                fresh = self._state_at(j - r)
                merged, where = self._union(fresh.beam, beam, len(fresh.edges))
                self.states.append(PositionState(fresh.frontiers, fresh.edges + edges, merged))
                idx[keep] = where
            elif sparse and (recent or not len(keep)):
                break  # decode the rest afresh
            else:  # what the old search kept (far behind the end, little is lost by a narrow beam)
                frontiers = [shift.frontier(f) for f in st.frontiers if f[0] >= r]
                self.states.append(PositionState(frontiers, edges, beam))
                idx[keep] = np.arange(len(keep))
            index[j], offset[j] = idx, anc
        adopted = len(self.states) - 1
        if adopted < len(text):
            self._set_text(text[:adopted])  # the next search() goes on with the rest (within its deadline)
        self._released = max(1, min(old._released - r, adopted + 1))
        self._release_old_states()

    def _union(self, fresh: Beam, kept: Beam, kept_edge_offset: int) -> tuple[Beam, np.ndarray]:
        """``fresh`` plus the ``kept`` hypotheses it lacks (best ``width``); where each kept one ended up (-1: cut)."""
        key = lambda bm, i: (int(bm.w1[i]), int(bm.w2[i]), int(bm.prev_pos[i]), int(bm.prev_idx[i]), int(bm.entry[i]))
        known = {key(fresh, i): i for i in range(len(fresh))}
        extra_rows = [i for i in range(len(kept)) if key(kept, i) not in known]
        shifted = Beam(kept.score, kept.w1, kept.w2, kept.prev_pos, kept.prev_idx, kept.edge + kept_edge_offset,
                       kept.entry, kept.extra, kept.dom, kept.lead_bos, kept.lead_free)
        merged = self._merge(fresh, _take(shifted, extra_rows), 0)
        order = {key(merged, i): i for i in range(len(merged))}
        where = np.array([order.get(key(kept, i), -1) for i in range(len(kept))], dtype=np.int64)
        return merged, where

    # -- incremental state ----------------------------------------------------------------
    def _advance(self, text: str, deadline: float | None = None) -> None:
        common = 0
        for a, b in zip(self.text, text):
            if a != b:
                break
            common += 1
        del self.states[common + 1:]
        self._released = max(1, min(self._released, common + 1))
        self._set_text(text)
        slowest = 0.0  # the longest a letter took: the next may take as long
        for j in range(common + 1, len(text) + 1):
            t0 = time.perf_counter()
            self.states.append(self._state_at(j))
            now = time.perf_counter()
            slowest = max(slowest, now - t0)
            if deadline is not None and j < len(text) and now + slowest > deadline:
                self._set_text(text[:j])  # the rest on the next call
                break
        self._release_old_states()

    def _set_text(self, text: str) -> None:
        """The input whose letters the states cover, its lattice and the beam width it reads with."""
        self.text = text
        self.lattice = parse(text, self.lattice_options, previous=self.lattice)
        self._abbreviated = self.lattice.abbreviated()
        self._width = max(self.opt.beam_width, self.opt.abbrev_beam_width if self._abbreviated else 0)

    def _release_old_states(self) -> None:
        """Drop the scorer states of hypotheses more than RELEASE_AFTER letters behind the end.

        Only long words (or Backspace) start there again; :meth:`_scorer_states` rebuilds
        what they need from the hypothesis' text. Hypotheses that live on keep their
        ancestors' caches, minus the next-token distributions. A long input costs bounded memory."""
        if self.lm.context is None:
            return
        while self._released < len(self.states) - RELEASE_AFTER:
            beam = self.states[self._released].beam
            self.lm.release(beam.extra)
            beam.extra = [None] * len(beam.extra)
            self._released += 1

    def _scorer_states(self, positions: np.ndarray, indices: np.ndarray) -> list:
        """The scorer states of hypotheses (position, index), rebuilding released ones."""
        keys = [(int(p), int(i)) for p, i in zip(positions, indices)]
        missing = sorted({(p, i) for p, i in keys if self.states[p].beam.extra[i] is None})
        if missing:
            # the last characters suffice: the model reads a bounded window anyway (neural.WINDOW)
            texts = ["".join(self._path(self.states[p], p, i).pieces)[-REBUILD_CHARS:] for p, i in missing]
            start = self.states[0].beam.extra[0]
            rebuilt, _ = self.lm.read_rest([start] * len(missing), texts)
            for (p, i), st in zip(missing, rebuilt):
                self.states[p].beam.extra[i] = st
        return [self.states[p].beam.extra[i] for p, i in keys]

    def _start_state(self, context: str, start: tuple[int, int, object] | None = None) -> PositionState:
        w1, w2, state = start if start is not None else (*self._context_tokens(context), None)
        extra = [state if state is not None else self.lm.start_context(context)] if self.lm.context else []
        beam = Beam(np.zeros(1), np.array([w1]), np.array([w2]), np.array([-1]), np.array([-1]),
                    np.array([-1]), np.array([-1]), extra, np.zeros(1), np.zeros(1), np.zeros(1))
        return PositionState([], [], beam)

    def _context_tokens(self, context: str) -> tuple[int, int]:
        w = self.lm.start_words(context)
        return int(w.w1[0]), int(w.w2[0])

    def _state_at(self, j: int, final: bool = False) -> PositionState:
        if self.text[j - 1] == SEPARATOR:
            prev = self.states[j - 1]
            return PositionState(prev.frontiers, prev.edges, prev.beam)
        segs = [s for s in self.lattice.segments_to[j] if (s.kind == SegmentKind.PARTIAL) == final]
        frontiers, edges = self._extend(segs)
        if final:  # the cached state at j plus what the unfinished last syllable adds
            interior = self.states[j]
            beam = self._merge(self._beam(edges, final=True), interior.beam, len(edges))
            return PositionState(frontiers, edges + interior.edges, beam)
        return PositionState(frontiers, edges, self._beam(edges))

    def _merge(self, a: Beam, b: Beam, b_edge_offset: int) -> Beam:
        """The best ``beam_width`` of two beams at one position (b's edges listed after a's)."""
        cat = {name: np.concatenate([getattr(a, name), getattr(b, name) + (b_edge_offset if name == "edge" else 0)])
               for name in BEAM_ARRAYS}
        order = np.argsort(-cat["score"], kind="stable")[: self._width]
        extra = (a.extra + b.extra) if self.lm.context is not None else []
        return Beam(**{k: v[order] for k, v in cat.items()}, extra=[extra[i] for i in order] if extra else [])

    # -- lexicon matching ---------------------------------------------------------------
    def _extend(self, segs: list[Segment]) -> tuple[list[tuple], list[Edge]]:
        """New frontiers and word edges from appending each segment to frontiers at its start."""
        children, edges = [], []
        for seg in segs:
            if seg.kind == SegmentKind.LITERAL:
                edges.append(Edge(seg.start, seg.end, (seg,), np.array([LITERAL_ENTRY]), np.array([UNK]),
                                  np.array([0.0])))
                continue
            parents = [(seg.start, 0, 0, 0, (), False)] + self._frontiers_at(seg.start)
            # read through the initials index: several syllables, or one not typed in full (zhon -> zhong)
            multi_seg = len(seg.syllables) > 1 or seg.exact < 0
            exact_ini = SYLLABLE_INITIAL[seg.exact] if seg.exact >= 0 else -1
            for start, depth, fkey, ikey, psegs, multi in parents:
                if depth >= MAX_WORD_SYLLABLES:
                    continue
                for g in seg.initials:
                    fk = fkey + (seg.exact + 1) * key_step(SYLLABLE_BITS, depth) \
                        if fkey >= 0 and g == exact_ini else -1
                    ik = ikey + (g + 1) * key_step(INITIAL_BITS, depth)
                    children.append((start, depth + 1, fk, ik, psegs + (seg,), multi or multi_seg))
        if not children:
            return [], edges
        depth = np.array([c[1] for c in children])
        fkeys = np.array([c[2] for c in children], dtype=np.int64)
        ikeys = np.array([c[3] for c in children], dtype=np.int64)
        ilo, imid, icont = self.lex.initials.ranges(ikeys, depth)
        flo, fmid, _ = self.lex.full.ranges(np.maximum(fkeys, 0), depth)
        frontiers = [c for c, keep in zip(children, icont) if keep]
        for k, c in enumerate(children):
            if imid[k] == ilo[k]:
                continue  # no word has these initials
            edge = self._edge(c, (flo[k], fmid[k]) if c[2] >= 0 else None, (ilo[k], imid[k]))
            if edge is not None:
                edges.append(edge)
        return frontiers, edges

    def _frontiers_at(self, pos: int) -> list[tuple]:
        return self.states[pos].frontiers if pos < len(self.states) else []

    def _edge(self, child: tuple, full_range, ini_range) -> Edge | None:
        start, depth, fkey, ikey, segs, multi = child
        M = self.opt.entries_per_edge
        parts_e, parts_c = [], []
        if full_range is not None and full_range[1] > full_range[0]:
            lo, hi = full_range
            e = self.lex.full.entries(lo, min(hi, lo + M))
            if self._bonus is not None and hi > lo + M and len(segs) > 1:  # the user's words, however rare
                rest = self.lex.full.entries(lo + M, min(hi, lo + self.opt.scan_limit))
                e = np.concatenate([e, rest[self._bonus[self.lex.entry_token[rest]] > 0]])
            parts_e.append(e)
            parts_c.append(self.lex.entry_reading_logp[e])
        if multi:
            lo, hi = ini_range
            e = self.lex.initials.entries(lo, min(hi, lo + self.opt.scan_limit))
            syl = self.lex.entry_syllables(e, depth)
            ok = np.ones(len(e), dtype=bool)
            penalty = np.zeros(len(e), dtype=np.float32)
            all_exact = np.ones(len(e), dtype=bool)
            for k, seg in enumerate(segs):
                ok &= self._allowed_mask(seg)[syl[:, k]]
                miss = syl[:, k] != seg.exact
                penalty += miss * np.float32(seg.penalty_logprob)
                all_exact &= ~miss
            if full_range is not None:
                ok &= ~all_exact  # already proposed through the full-syllable index
            e, penalty = e[ok], penalty[ok]
            if len(e):
                ch = self.lex.entry_reading_logp[e] + penalty
                top = np.argsort(-(self.lex.entry_logp[e] + ch), kind="stable")[:M]
                parts_e.append(e[top])
                parts_c.append(ch[top])
        if not parts_e:
            return None
        entries = np.concatenate(parts_e)
        tokens = self.lex.entry_token[entries].astype(np.int64)
        channel = np.concatenate(parts_c).astype(np.float64) + self._flag_cost[self.lex.token_flags[tokens]]
        return Edge(start, segs[-1].end, segs, entries, tokens, channel)

    def _allowed_mask(self, seg: Segment) -> np.ndarray:
        m = self._allowed.get(seg.syllables)
        if m is None:
            m = np.zeros(len(SYLLABLES), dtype=bool)
            m[list(seg.syllables)] = True
            self._allowed[seg.syllables] = m
        return m

    # -- beam ---------------------------------------------------------------------------
    def _beam(self, edges: list[Edge], final: bool = False) -> Beam:
        """The best hypotheses ending at one position; ``final`` ones are never extended."""
        parts = []
        for ei, edge in enumerate(edges):
            src = self.states[edge.start].beam
            K, E = len(src), len(edge.entries)
            if K == 0:
                continue
            hi = np.repeat(np.arange(K), E)
            ej = np.tile(np.arange(E), K)
            parts.append((edge.start, ei, hi, ej, src, edge))
        if not parts:
            return _empty_beam()
        w1 = np.concatenate([p[4].w2[p[2]] for p in parts])
        w0 = np.concatenate([p[4].w1[p[2]] for p in parts])
        tok = np.concatenate([p[5].tokens[p[3]] for p in parts])
        base = np.concatenate([p[4].score[p[2]] for p in parts])
        channel = np.concatenate([p[5].channel[p[3]] for p in parts])
        entry = np.concatenate([p[5].entries[p[3]] for p in parts])
        prev_pos = np.concatenate([np.full(len(p[2]), p[0]) for p in parts])
        prev_idx = np.concatenate([p[2] for p in parts])
        edge_id = np.concatenate([np.full(len(p[2]), p[1]) for p in parts])
        lm, after = self.lm.extend(WordStates(w0, w1), tok)
        literal = entry == LITERAL_ENTRY
        lm = np.where(literal, self.w.literal, lm)
        score = base + self.w.ngram * lm + self.w.channel * channel + self.w.word
        if self._bonus is not None:
            dom = np.concatenate([p[4].dom[p[2]] for p in parts])
            gained = dom + np.where(literal, 0.0, self._bonus[tok]) - self.w.user_word_cost
            score = score + np.maximum(gained, 0.0) - np.maximum(dom, 0.0)
            dom = gained
        else:  # no personal model: nothing to carry
            dom = np.zeros(len(score))
        lead_bos = np.concatenate([p[4].lead_bos[p[2]] for p in parts])
        lead_free = np.concatenate([p[4].lead_free[p[2]] for p in parts])
        first = np.flatnonzero(prev_pos == 0) if self._free_start else ()
        if len(first):  # words that start the input: their scores after <s> and with no context
            lead_bos[first] = self.w.ngram * lm[first]
            lead_free[first] = self.w.ngram * np.where(literal[first], self.w.literal, self.lm.alone(tok[first]))
        keep = self._select(score, after)
        beam = Beam(score[keep], after.w1[keep], after.w2[keep], prev_pos[keep], prev_idx[keep], edge_id[keep],
                    entry[keep], dom=dom[keep], lead_bos=lead_bos[keep], lead_free=lead_free[keep])
        if self.lm.context is not None:
            self._rescore_neural(beam, edges, keep_states=not final)
        return beam

    def _free_first_char(self, text: str) -> float:
        """log P of a first word's first character where no clause need begin: a one-character word's
        unigram, else how often words begin with it (MixedLM.word_start_logprob)."""
        return self.lm.char_logprob(text) if len(text) == 1 else self.lm.word_start_logprob(text[0])

    def _select(self, score: np.ndarray, words: WordStates) -> np.ndarray:
        """Indices of the best hypothesis per n-gram state, top ``beam_width`` of them."""
        K = self._width * (2 if self.lm.context is not None else 1)
        if len(score) > 8 * K:
            pre = np.argpartition(-score, 8 * K)[: 8 * K]
        else:
            pre = np.arange(len(score))
        order = pre[np.argsort(-score[pre], kind="stable")]
        state = WordStates(words.w1[order], words.w2[order]).key()
        return order[np.flatnonzero(_rank_in_group(state) < self.opt.per_state)[:K]]

    def _rescore_neural(self, beam: Beam, edges: list[Edge], keep_states: bool = True) -> None:
        """Add the neural LM to the n-gram survivors and keep the best ``beam_width``.

        Selection uses log P(first character | history), which every hypothesis already
        holds (no model run); the one model run then reads the survivors' words, giving their
        next states and the exact log-probability of the rest of each word. Hypotheses that
        end in the unfinished last syllable are never extended (the next key re-parses it),
        so they keep no states and single characters cost no model run at all."""
        texts = [self._entry_text(int(e), edges[int(ei)]) for e, ei in zip(beam.entry, beam.edge)]
        parents = self._scorer_states(beam.prev_pos, beam.prev_idx)
        abbreviated = np.array([edges[int(ei)].abbreviated for ei in beam.edge], dtype=bool)
        weight = np.where(abbreviated, self.w.neural_abbrev, self.w.neural)
        if self._abbreviated:
            initials = np.array([all(s.kind == SegmentKind.INITIAL for s in edges[int(ei)].segs) for ei in beam.edge],
                                dtype=bool)
            weight = np.where(initials, self.w.neural_initials, weight)
        first_lp = self.lm.first_logprob(parents, texts)
        beam.score = beam.score + weight * first_lp
        first = (beam.prev_pos == 0) if self._free_start else np.zeros(len(beam), dtype=bool)
        if first.any():  # the first word's first character, read after <s> and with no context
            free = np.array([self._free_first_char(t) if f else 0.0 for t, f in zip(texts, first)])
            beam.lead_bos = beam.lead_bos + np.where(first, weight * first_lp, 0.0)
            beam.lead_free = beam.lead_free + np.where(first, weight * free, 0.0)
        order = np.argsort(-beam.score, kind="stable")[: self._width]
        for name in BEAM_ARRAYS:
            setattr(beam, name, getattr(beam, name)[order])
        parents, texts = [parents[i] for i in order], [texts[i] for i in order]
        beam.extra, rest = self.lm.read_rest(parents, texts, keep_states)
        beam.score = beam.score + weight[order] * rest
        first = first[order]
        if first.any():  # the first word's later characters, read after <s>: a share when it begins no clause
            share = self.w.free_rest if self._syllables() > 1 else 1.0  # one syllable: its cut readings (h'a) as before
            beam.lead_bos = beam.lead_bos + np.where(first, weight[order] * rest, 0.0)
            beam.lead_free = beam.lead_free + np.where(first, share * weight[order] * rest, 0.0)

    def _syllables(self) -> int:
        """Syllables (segments) the input reads as, the same for all its conversions."""
        return len(self.lattice.best_cut())

    def _unfinished(self) -> bool:
        """The input reads best with an unfinished last syllable (nih, zhon): its end is scored as in
        Shuru 0.3.6, as no dev set measures it."""
        cut = self.lattice.best_cut()
        return bool(cut) and cut[-1].kind in (SegmentKind.PARTIAL, SegmentKind.INITIAL)

    def _lone_initial(self) -> bool:
        """The input is one initial (n, sh): a one-character word typed alone, whose end is scored as a
        one-syllable word's, not as an unfinished input's (docs/TUNING.md#a-word-typed-alone)."""
        cut = self.lattice.best_cut()
        return len(cut) == 1 and cut[0].kind == SegmentKind.INITIAL

    def _clause_start(self) -> float:
        """P(this input, typed with no text before it, begins a clause), by its length; an
        abbreviated input (bjdx) is read as a whole phrase."""
        return 1.0 if self._abbreviated else _by_length(self.w.clause_start, self._syllables())

    def _start_correction(self, beam: Beam) -> np.ndarray:
        """What each whole-input hypothesis' score gains when its first word is scored as maybe, not
        surely, beginning a clause: the search read it after <s>."""
        if not self._free_start:
            return np.zeros(len(beam))
        return _mix(self._clause_start(), beam.lead_bos, beam.lead_free) - beam.lead_bos

    def _end_logprob(self, beam: Beam) -> np.ndarray:
        """log P(the input ends where it ends) for each hypothesis: it ends a clause (</s>) with
        probability ``clause_end``, else the clause goes on (not </s>); an abbreviated input (bjdx) is
        read as a whole phrase, and the end of an unfinished input as before (see _unfinished)."""
        p = np.exp(self.lm.end_logprob(WordStates(beam.w1, beam.w2)).astype(np.float64))
        unfinished = self._unfinished() and not self._lone_initial()
        mu = 1.0 if self._abbreviated or unfinished else _by_length(self.w.clause_end, self._syllables())
        return np.log(mu * p + (1 - mu) * (1 - p) + 1e-300)

    # -- candidates ---------------------------------------------------------------------
    def _final_state(self) -> PositionState:
        """The last position including the unfinished last syllable (computed once per text)."""
        if self._final_memo[0] != self.text:
            n = len(self.text)
            final = self.states[n]
            if any(s.kind == SegmentKind.PARTIAL for s in self.lattice.segments_to[n]):
                final = self._state_at(n, final=True)
            self._final_memo = (self.text, final)
        return self._final_memo[1]

    def _sentences(self) -> list[Conversion]:
        if self._memo[0] != self.text:
            self._memo = (self.text, self._sentences_uncached())
        return self._memo[1]

    def _sentences_uncached(self) -> list[Conversion]:
        final = self._final_state()
        beam = final.beam
        if len(beam) == 0:
            return []
        total = (beam.score + self.w.ngram * self._end_logprob(beam) + self._start_correction(beam)
                 + self._split_cost(final) + self._extra_word_cost(final))
        order = np.argsort(-total, kind="stable")
        if self.lm.reader is not None:
            order = self._read_order(final, order, total)
        out = []
        for idx in order[: self.opt.nbest * 2]:
            conv = self._conversion(final, int(idx), float(total[idx]))
            if conv is not None:
                out.append(conv)
        best = dedupe(out)[: self.opt.nbest]
        return best[:WHOLE_INPUT_FIRST] + self._other_cuts(final, order, total, best)

    def _read_order(self, final: PositionState, order: np.ndarray, total: np.ndarray) -> np.ndarray:
        """``order`` with its first READ_TOP whole-input hypotheses (those within READ_MARGIN of the best)
        re-ordered by their totals plus the reading model's score of their text given the syllables
        typed for each character (the syllables after a character are known only now); unchanged
        where the model cannot read one. Only for an input typed after text (without, the model
        measured no gain) whose last syllable is finished (an unfinished one changes with the next
        key; reading it too would double the keys that pay for the model)."""
        if not self.context or self._unfinished():
            return order
        top = [int(i) for i in order[:READ_TOP] if total[i] >= total[order[0]] - READ_MARGIN]
        paths = [self._path(final, len(self.text), i) for i in top]
        typed = [typed_syllables(p.segs, "".join(p.pieces)) for p in paths]
        if len(top) < 2 or any(t is None for t in typed):
            return order
        lp = self.lm.reading_logprob(self.context, ["".join(p.pieces) for p in paths], typed)
        if lp is None:
            return order
        head = np.array(top)[np.argsort(-(total[top] + self.w.reader * lp), kind="stable")]
        return np.concatenate([head, order[len(top):]])

    def _other_cuts(self, final: PositionState, order: np.ndarray, total: np.ndarray,
                    best: list[Conversion]) -> list[Conversion]:
        """``best`` after its first WHOLE_INPUT_FIRST, led by the best reading of up to ALTERNATIVE_CUTS
        other cuts into whole syllables (西安 for xi'an when xian reads best as 先), however far
        behind they are: the first page offers every way the letters read."""
        head, tail = best[:WHOLE_INPUT_FIRST], best[WHOLE_INPUT_FIRST:]
        cuts = {_cut(c) for c in head}
        alternatives: list[Conversion] = []
        for idx in order:
            if len(alternatives) >= ALTERNATIVE_CUTS:
                break
            conv = self._conversion(final, int(idx), float(total[idx]))
            if conv is None or conv.kind != "sentence" or _cut(conv) in cuts or any(c.text == conv.text for c in head):
                continue
            if all(seg.kind == SegmentKind.FULL for seg in conv.segments):
                cuts.add(_cut(conv))
                alternatives.append(conv)
        return alternatives + [c for c in tail if c not in alternatives]

    def _split_cost(self, final: PositionState) -> np.ndarray:
        """For an input that is one syllable, whole or unfinished (hen, ta, zhon): what each whole-input
        hypothesis that cuts it into initials or completions pays (he'n -> 河南, t'a -> 天啊, z'hon -> 走红)."""
        cost = np.zeros(len(final.beam))
        whole = self._one_syllable((SegmentKind.FULL, SegmentKind.PARTIAL))
        if whole is None:
            return cost
        for idx in range(len(cost)):
            segs = self._path(final, len(self.text), idx).segs
            cost[idx] = self.lattice_options.split_syllable_logprob * _cuts(segs, whole)
        return cost

    def _extra_word_cost(self, final: PositionState) -> np.ndarray:
        """For a short input with no text before it (a word typed alone): what each whole-input
        hypothesis pays per word after its first, clitics aside (这不 pays, 是的 does not)."""
        cost = np.zeros(len(final.beam))
        if (not self.w.extra_word or not self._free_start or self._abbreviated
                or self._syllables() > self.w.extra_word_syllables):
            return cost
        for idx in range(len(cost)):
            pieces = self._path(final, len(self.text), idx).pieces
            cost[idx] = self.w.extra_word * sum(1 for w in pieces[1:] if w not in CLITICS)
        return cost

    def _one_syllable(self, kinds: tuple[SegmentKind, ...]) -> tuple[int, int] | None:
        """The span of an input that reads best as one syllable of ``kinds`` (hen; zhon), else None."""
        cut = self.lattice.best_cut() if self.text else []
        return (cut[0].start, cut[0].end) if len(cut) == 1 and cut[0].kind in kinds else None

    def _conversion(self, final: PositionState, idx: int, score: float) -> Conversion | None:
        """Whole-input hypothesis ``idx`` as a candidate (None if it converts nothing: only apostrophes)."""
        path = self._path(final, len(self.text), idx)
        if not path.tokens:
            return None
        return Conversion("".join(path.pieces), len(self.text), score, "literal" if path.literal else "sentence",
                          path.segs, path.tokens, path.ends, path.pieces, path.uncommon)

    def _path(self, state: PositionState, pos: int, idx: int) -> "_Path":
        """What hypothesis ``idx`` at ``pos`` converted, oldest word first.

        Paths are cached per state and built from their parent's, so a keystroke traces back
        only its new words, not the whole of a long input."""
        todo = []
        known = None
        # separators share the beam before them, so the start hypothesis (edge -1) can sit at pos > 0
        while pos > 0 and state.beam.edge[idx] >= 0:
            known = state.paths.get(idx)
            if known is not None:
                break
            todo.append((state, idx))
            beam = state.beam
            pos, idx = int(beam.prev_pos[idx]), int(beam.prev_idx[idx])
            state = self.states[pos]
        path = known or _EMPTY_PATH
        for st, i in reversed(todo):
            beam = st.beam
            edge = st.edges[int(beam.edge[i])]
            token = int(beam.w2[i])
            literal = bool(edge.entries[0] == LITERAL_ENTRY)
            path = path.then(self._entry_text(int(beam.entry[i]), edge), token, edge, literal,
                             not literal and token > EOS and bool(self.lex.uncommon(token)))
            st.paths[i] = path
        return path

    def _entry_text(self, entry: int, edge: Edge) -> str:
        if entry == LITERAL_ENTRY:
            return self.text[edge.start: edge.end]
        return self.lex.text(int(self.lex.entry_token[entry]))

    def _edge_words(self, edge: Edge) -> list[Conversion]:
        """The entries of an edge from the input's start as words typed alone, scored (kept on the edge:
        the states before the end, and their edges, live on while the input grows)."""
        share = self._clause_start() if self._free_start else 1.0  # changes with the input's length
        if edge.words is None or edge.words[0] != share:
            start = self.states[0].beam
            lm, _ = self.lm.extend(WordStates(np.full(len(edge.tokens), start.w1[0]),
                                              np.full(len(edge.tokens), start.w2[0])), edge.tokens)
            if self._free_start:  # a word alone may begin a clause or not (ScoreWeights.clause_start)
                lm = _mix(share, lm, self.lm.alone(edge.tokens))
            score = self.w.ngram * lm + self.w.channel * edge.channel
            words = []
            for e, sc in zip(edge.entries, score):
                token = int(self.lex.entry_token[e])
                text = self.lex.text(token)
                words.append(Conversion(text, edge.end, float(sc), "char" if len(text) == 1 else "word",
                                        edge.segs, (token,)))
            edge.words = (share, words)
        return edge.words[1]

    def _best_prefix(self, best: list[Conversion], j: int, ends: dict[int, int]) -> list[Conversion]:
        """The best conversion's first words up to ``j`` as one candidate (我想 from wo'xiang'hui'jia);
        ``ends``: where each of its words ends -> the word's index."""
        if not best or j >= len(self.text):
            return []
        b = best[0]
        k = ends.get(j, -1) + 1
        if k < 2:
            return []
        pieces = b.pieces[:k]
        return [Conversion("".join(pieces), j, b.score, "word", tuple(s for s in b.segments if s.end <= j),
                           b.tokens[:k])]

    def _prefix_words(self, best: list[Conversion]) -> list[Conversion]:
        """Words starting at the first letter, longest span first, then by score."""
        out: list[Conversion] = []
        n = len(self.text)
        final = self._final_state()
        # Follow the best conversion's syllable boundaries, as users read them in the preedit.
        cuts = {s.end for s in best[0].segments} if best else set(range(n + 1))
        # where the best conversion's words end -> their index, for its longest MAX_PREFIXES prefixes
        ends = dict(list((e, k) for k, e in enumerate(best[0].word_ends))[:-1][-MAX_PREFIXES:]) if best else {}
        for j in range(n, 0, -1):
            if j not in cuts or (j > MAX_WORD_LETTERS and j not in ends):
                continue  # past MAX_WORD_LETTERS only prefixes of the best conversion start at 0
            state = final if j == n else self.states[j]
            group = []
            for edge in (state.edges if j <= MAX_WORD_LETTERS else ()):
                if edge.start != 0 or edge.entries[0] == LITERAL_ENTRY:
                    continue
                if any(s.end not in cuts for s in edge.segs):
                    continue
                group += self._edge_words(edge)
            group.sort(key=lambda c: -c.score)
            out.extend(self._best_prefix(best, j, ends) + group)
        words = [c for c in out if c.kind == "word"]
        chars = [c for c in out if c.kind == "char"]
        return words + chars


class _SegmentShift:
    """Old edges and frontiers moved ``r`` letters left, onto the segments of the new lattice."""

    def __init__(self, lattice: SyllableLattice, r: int):
        self.r = r
        self.segs = {(s.start + r, s.end + r): s for segs in lattice.segments_from for s in segs}
        self._edges: dict[int, Edge] = {}

    def seg(self, s: Segment) -> Segment:
        return self.segs.get((s.start, s.end)) or Segment(s.start - self.r, s.end - self.r, s.text, s.kind,
                                                         s.syllables, s.exact, s.penalty_logprob)

    def edge(self, e: Edge) -> Edge:
        out = self._edges.get(id(e))
        if out is None:
            out = self._edges[id(e)] = Edge(e.start - self.r, e.end - self.r, tuple(self.seg(s) for s in e.segs),
                                            e.entries, e.tokens, e.channel)
        return out

    def frontier(self, f: tuple) -> tuple:
        start, depth, fkey, ikey, segs, multi = f
        return (start - self.r, depth, fkey, ikey, tuple(self.seg(s) for s in segs), multi)


class _Path:
    """The words of one hypothesis, oldest first, with what a candidate needs of them."""

    __slots__ = ("segs", "tokens", "ends", "pieces", "literal", "uncommon")

    def __init__(self, segs=(), tokens=(), ends=(), pieces=(), literal=False, uncommon=False):
        self.segs, self.tokens, self.ends, self.pieces = segs, tokens, ends, pieces
        self.literal, self.uncommon = literal, uncommon

    def then(self, text: str, token: int, edge: Edge, literal: bool, uncommon: bool) -> "_Path":
        """This path and one more word."""
        return _Path(self.segs + edge.segs, self.tokens + (token,), self.ends + (edge.end,), self.pieces + (text,),
                     self.literal or literal, self.uncommon or uncommon)


_EMPTY_PATH = _Path()


def typed_syllables(segs: tuple[Segment, ...], text: str) -> list[str] | None:
    """What was typed for each character of a reading: a syllable, or an initial (for an unfinished
    syllable, its initial); None unless every character has a segment of its own."""
    if not text or len(segs) != len(text) or any(s.kind == SegmentKind.LITERAL for s in segs):
        return None
    return [initial_of(s.text) if s.kind == SegmentKind.PARTIAL else s.text for s in segs]


def _rank_in_group(keys: np.ndarray) -> np.ndarray:
    """For each element, how many earlier elements share its key (0 for the first of each)."""
    _, group = np.unique(keys, return_inverse=True)
    by_group = np.argsort(group, kind="stable")  # groups contiguous, original order within each
    g = group[by_group]
    starts = np.flatnonzero(np.r_[True, g[1:] != g[:-1]])
    rank = np.empty(len(keys), dtype=np.int64)
    rank[by_group] = np.arange(len(keys)) - np.repeat(starts, np.diff(np.r_[starts, len(keys)]))
    return rank


def _last_two(tokens: tuple[int, ...], fallback: tuple[int, int]) -> tuple[int, int]:
    toks = (fallback[0], fallback[1]) + tuple(int(t) for t in tokens)
    return toks[-2], toks[-1]


def _cut(conv: Conversion) -> tuple[int, ...]:
    """Where a conversion's syllables end."""
    return tuple(seg.end for seg in conv.segments)


def _by_length(table: tuple[float, ...], syllables: int) -> float:
    """The entry of a per-syllable-count table (its last entry for all longer inputs)."""
    return table[max(1, min(syllables, len(table))) - 1]


def _cuts(segs, whole: tuple[int, int]) -> int:
    """How many initials or completions ``segs`` cut from a one-syllable input's span ``whole``
    (he'n: 1; the whole syllable read as a completion, heng for hen: 0)."""
    return sum(seg.kind in (SegmentKind.INITIAL, SegmentKind.PARTIAL) and (seg.start, seg.end) != whole
               for seg in segs)


def _mix(share: float, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """log(share e^a + (1 - share) e^b), elementwise."""
    if share >= 1:
        return np.asarray(a, dtype=np.float64)
    if share <= 0:
        return np.asarray(b, dtype=np.float64)
    return np.logaddexp(np.log(share) + a, np.log1p(-share) + b)


def dedupe(convs: list[Conversion]) -> list[Conversion]:
    """Each text once, where it first appears."""
    seen, out = set(), []
    for c in convs:
        if c.text not in seen:
            seen.add(c.text)
            out.append(c)
    return out


def _take(beam: Beam, rows: list[int]) -> Beam:
    idx = np.asarray(rows, dtype=np.int64)
    return Beam(beam.score[idx], beam.w1[idx], beam.w2[idx], beam.prev_pos[idx], beam.prev_idx[idx], beam.edge[idx],
                beam.entry[idx], [beam.extra[i] for i in rows] if beam.extra else [], beam.dom[idx],
                beam.lead_bos[idx], beam.lead_free[idx])


def _empty_beam() -> Beam:
    z = np.zeros(0, dtype=np.int64)
    return Beam(np.zeros(0), z, z, z, z, z, z, [], np.zeros(0), np.zeros(0), np.zeros(0))

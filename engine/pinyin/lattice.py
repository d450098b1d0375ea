"""Pinyin text -> syllable lattice.

A :class:`SyllableLattice` holds every way to cut the typed letters into syllable
segments. A segment covers ``text[start:end]`` and stands for a set of syllables:

* ``full``: a complete syllable (``xian``), plus its fuzzy variants when enabled;
* ``initial``: an abbreviation, the initial of any syllable (``b``, ``zh``; ``a``/``o``/``e``
  also stand for every zero-initial syllable starting with that letter);
* ``partial``: the still-being-typed last syllable (``zhon`` -> zhong); only at the end;
* ``literal``: letters that cannot be pinyin; they stay as Latin text in the candidate.

Every segmentation is kept (``xian`` -> xian | xi'an; ``fangan`` -> fang'an | fan'gan);
the decoder's scores pick among them. An apostrophe is a hard separator: no segment
spans it, words may.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from functools import lru_cache

from .syllables import (
    ALIASES, INITIAL_ID, INITIALS, MAX_SYLLABLE_LEN, PARTIALS, SYLLABLE_ID, SYLLABLE_INITIAL,
    SYLLABLES_OF_INITIAL, fuzzy_initials, fuzzy_variants,
)

SEPARATOR = "'"
# Segments before the last one that can make an input abbreviated: the longest word (7 syllables)
# (docs/TUNING.md#abbreviation-span)
ABBREVIATION_SPAN = 7

# An abbreviation is the first letter of a syllable, so z/c/s also stand for zh/ch/sh
# (视频 -> sp, 只会开车 -> zhkc), as common commercial IMEs accept.
FIRST_LETTER_OF: dict[str, set[str]] = {"z": {"zh"}, "c": {"ch"}, "s": {"sh"}}


class SegmentKind(str, Enum):
    FULL = "full"
    INITIAL = "initial"
    PARTIAL = "partial"
    LITERAL = "literal"


@dataclass(frozen=True)
class Segment:
    """One cut of the typed letters: ``text[start:end]``, standing for ``syllables``.

    ``exact`` is the syllable typed in full (or -1); any other syllable in the set
    costs ``penalty_logprob`` (an abbreviation, a completion or a fuzzy variant).
    """

    start: int
    end: int
    text: str
    kind: SegmentKind
    syllables: frozenset[int]
    exact: int = -1
    penalty_logprob: float = 0.0

    @property
    def initials(self) -> frozenset[int]:
        """Initial groups of the syllables this segment may stand for."""
        return frozenset(SYLLABLE_INITIAL[s] for s in self.syllables)


@dataclass(frozen=True)
class LatticeOptions:
    """How typed letters are read. Penalties are natural-log costs per syllable."""

    fuzzy_pairs: frozenset[str] = frozenset()  # names like "z/zh", "an/ang"; none by default
    abbreviation_logprob: float = -2.0  # an initial standing for a whole syllable
    completion_logprob: float = -1.0  # the unfinished last syllable completed
    fuzzy_logprob: float = -1.5  # a fuzzy variant instead of the typed syllable
    # an initial or completion in a reading of a one-syllable input (he'n for hen) (docs/TUNING.md#a-word-typed-alone)
    split_syllable_logprob: float = -3.0
    # Each stretch between separators is one syllable (shuangpin read as pinyin): no segment cuts it,
    # except a stretch that no one segment covers (keys that spell no syllable), read as usual.
    whole_syllables: bool = False


@dataclass
class SyllableLattice:
    """All segments of one input, indexed by where they start and end."""

    text: str
    segments_from: list[list[Segment]] = field(default_factory=list)
    segments_to: list[list[Segment]] = field(default_factory=list)
    _cost: list = field(default_factory=lambda: [0.0], repr=False)  # best_cut's table, filled on demand
    _back: list = field(default_factory=lambda: [None], repr=False)
    _cut: list | None = field(default=None, repr=False)

    @property
    def size(self) -> int:
        return len(self.text)

    def is_separator(self, pos: int) -> bool:
        return pos < len(self.text) and self.text[pos] == SEPARATOR

    def best_cut(self) -> list[Segment]:
        """One segmentation preferring full syllables, then fewest segments (for display)."""
        if self._cut is None:
            self._cut = self._best_cut()
        return list(self._cut)

    def _best_cut(self) -> list[Segment]:
        n = len(self.text)
        # cost of the best cut of text[:j] and the segment it ends with (None: a separator); the
        # prefix a previous lattice shares with this one keeps its entries (see parse)
        cost, back = self._cost, self._back
        for j in range(len(cost), n + 1):
            best, seg_best = None, None
            if self.is_separator(j - 1):
                best = cost[j - 1]
            else:
                for seg in self.segments_to[j]:
                    c = cost[seg.start]
                    if c is not None and (best is None or c + CUT_COST.get(seg.kind, 1.5) < best):
                        best, seg_best = c + CUT_COST.get(seg.kind, 1.5), seg
            cost.append(best)
            back.append(seg_best)
        if cost[n] is None:
            return []
        path, j = [], n
        while j > 0:
            seg = back[j]
            if seg is None:  # a separator
                j -= 1
                continue
            path.append(seg)
            j = seg.start
        return path[::-1]

    def abbreviated(self) -> bool:
        """The input reads best as abbreviations: an initial before its last segment (bjdx, beijdx),
        among the last ABBREVIATION_SPAN (a stray initial early in a long input does not make the
        words typed now abbreviations, nor need their wider search)."""
        return any(seg.kind == SegmentKind.INITIAL for seg in self.best_cut()[-ABBREVIATION_SPAN - 1:-1])


CUT_COST = {SegmentKind.FULL: 1.0, SegmentKind.PARTIAL: 1.2}  # others 1.5


def normalise(text: str) -> str:
    """Lower-case the input; keep letters, apostrophes and anything else as typed."""
    return text.lower()


def parse(text: str, options: LatticeOptions = LatticeOptions(),
          previous: SyllableLattice | None = None) -> SyllableLattice:
    """Cut typed pinyin into a :class:`SyllableLattice`. Never fails: junk becomes literal.

    ``previous``: the lattice of an earlier text (parsed with the same options); the
    segments of the prefix both texts share are reused, so a keystroke costs O(1) parsing."""
    text = normalise(text)
    n = len(text)
    lattice = SyllableLattice(text, [[] for _ in range(n + 1)], [[] for _ in range(n + 1)])
    reuse = _reusable(previous, text, options.whole_syllables) if previous is not None else 0
    whole = _whole_stretches(text) if options.whole_syllables else None
    if reuse:  # best_cut's entries up to ``reuse`` depend only on segments that end there: the same
        lattice._cost, lattice._back = previous._cost[: reuse + 1], previous._back[: reuse + 1]
    for i in range(n):
        if i < reuse:
            segs = previous.segments_from[i]
        elif text[i] == SEPARATOR:
            continue
        else:
            segs = segments_at(text[i : i + MAX_SYLLABLE_LEN], i, i + MAX_SYLLABLE_LEN >= n, options)
            if whole is not None:
                segs = _within_stretch(segs, i, whole)
        lattice.segments_from[i] = segs
        for seg in segs:
            lattice.segments_to[seg.end].append(seg)
    return lattice


def _reusable(previous: SyllableLattice, text: str, whole_syllables: bool = False) -> int:
    """Positions whose segments are the same in ``previous`` and in a lattice of ``text``: their
    6-letter window lies inside the common prefix and reaches the end of neither text (with
    ``whole_syllables`` the letter after the window too: it says where the stretch ends)."""
    old = previous.text
    common = 0
    for a, b in zip(old, text):
        if a != b:
            break
        common += 1
    return max(0, min(common, len(old) - 1, len(text) - 1) - MAX_SYLLABLE_LEN + 1 - whole_syllables)


def _whole_stretches(text: str) -> list[tuple[int, int, bool]]:
    """For each position: (start, end) of its stretch between separators, and whether one
    segment covers that stretch."""
    out: list[tuple[int, int, bool]] = []
    start = 0
    for stretch in text.split(SEPARATOR):
        end = start + len(stretch)
        covered = bool(stretch) and len(stretch) <= MAX_SYLLABLE_LEN and any(
            s.end == len(stretch) and s.kind != SegmentKind.LITERAL
            for s in _segments_at(stretch, end == len(text), LatticeOptions()))
        out += [(start, end, covered)] * (len(stretch) + 1)  # + the separator after it
        start = end + 1
    return out


def _within_stretch(segs: list[Segment], i: int, whole: list[tuple[int, int, bool]]) -> list[Segment]:
    """The segments at ``i`` that a whole-syllable reading keeps: those covering its stretch."""
    start, end, covered = whole[i]
    if not covered:
        return segs
    return [s for s in segs if s.end == end] if i == start else []


def segments_at(window: str, start: int, at_end: bool, options: LatticeOptions) -> list[Segment]:
    """Segments starting at ``start`` given the next letters ``window``.

    ``at_end`` says the window reaches the end of the input (partial syllables allowed).
    """
    return [
        Segment(start, start + s.end, s.text, s.kind, s.syllables, s.exact, s.penalty_logprob)
        for s in _segments_at(window, at_end, options)
    ]


def _segments_at(window: str, at_end: bool, options: LatticeOptions) -> tuple[Segment, ...]:
    out: list[Segment] = []
    for k in range(1, len(window) + 1):
        t = window[:k]
        if not t.isascii() or not t.isalpha():
            break
        seg = _segment(t, at_end and k == len(window), options)
        if seg is not None:
            out.append(seg)
    if not out:
        out.append(Segment(0, 1, window[:1], SegmentKind.LITERAL, frozenset()))
    return tuple(out)


# Cached per letter string, not per 6-letter window: the valid strings are a few thousand,
# while windows are unbounded (a per-window cache grew by ~12 MB per 100 typed sentences).
@lru_cache(maxsize=8192)
def _segment(t: str, is_last: bool, options: LatticeOptions) -> Segment | None:
    canon = ALIASES.get(t, t)
    if canon in SYLLABLE_ID:
        sids = {SYLLABLE_ID[canon]}
        for v in fuzzy_variants(canon, options.fuzzy_pairs):
            sids.add(SYLLABLE_ID[v])
        if t in INITIAL_ID:  # a / o / e: also the abbreviation of their group
            sids |= SYLLABLES_OF_INITIAL[INITIAL_ID[t]]
            penalty = options.abbreviation_logprob
        else:
            penalty = options.fuzzy_logprob
        return Segment(0, len(t), t, SegmentKind.FULL, frozenset(sids), SYLLABLE_ID[canon], penalty)
    if t in INITIAL_ID:
        sids = set()
        for ini in fuzzy_initials(t, options.fuzzy_pairs) | FIRST_LETTER_OF.get(t, set()):
            sids |= SYLLABLES_OF_INITIAL[INITIAL_ID[ini]]
        return Segment(0, len(t), t, SegmentKind.INITIAL, frozenset(sids), -1,
                       options.abbreviation_logprob)
    if is_last and t in PARTIALS:
        return Segment(0, len(t), t, SegmentKind.PARTIAL, PARTIALS[t], -1, options.completion_logprob)
    return None


__all__ = [
    "LatticeOptions", "Segment", "SegmentKind", "SyllableLattice", "parse", "segments_at",
    "SEPARATOR", "INITIALS",
]

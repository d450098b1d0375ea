"""Why the first candidate missed: ``python -m tools eval SET... --errors N``.

Each miss gets the gold, the first candidate, the gold's rank among the candidates (or "not
proposed") and one category, decided in this order:

* ``variant``: the two differ only where the candidate has a character outside GB2312
  (a traditional or rare form of the right one);
* ``not in lexicon``: a difference falls in a run of two or more gold characters that the
  lexicon can only spell one character at a time (a name or term it lacks: 河姆渡遗址 as
  河/姆/渡/遗址);
* ``polyphone``: a differing gold character is read, in this input, other than its most
  common reading;
* ``segmentation``: the gold's words are in the lexicon, but the candidate cuts the
  differing part at other places;
* ``outranked``: the gold's words are there and cut the same way; the scorers preferred
  something else.

The gold is cut into the fewest lexicon words; its readings are the ones pypinyin gives it (the
annotator of the dev sets). Heuristic by nature: counts
per category steer work, a single label can be wrong.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from engine.core.lexicon import MAX_WORD_SYLLABLES, Lexicon

CATEGORIES = ("variant", "not in lexicon", "polyphone", "segmentation", "outranked")
NOT_PROPOSED = "not proposed"


@dataclass(frozen=True)
class Miss:
    gold: str
    first: str
    rank: int | None  # 0-based rank of the gold among the candidates, None if not proposed
    category: str

    def line(self) -> str:
        rank = NOT_PROPOSED if self.rank is None else f"rank {self.rank + 1}"
        return f"{self.category:15s} {rank:13s} gold {self.gold}  first {self.first}"


class MissAnalyser:
    """Categorises misses against one lexicon (see the module docstring)."""

    def __init__(self, lexicon: Lexicon):
        self.lex = lexicon
        self._best_reading: dict[str, int] = {}
        self._prior: dict[str, float | None] = {}

    def analyse(self, gold: str, candidates: list[str], first_tokens: tuple[int, ...] = ()) -> Miss:
        first = candidates[0] if candidates else ""
        rank = candidates.index(gold) if gold in candidates else None
        return Miss(gold, first, rank, self.category(gold, first, first_tokens))

    def category(self, gold: str, first: str, first_tokens: tuple[int, ...] = ()) -> str:
        diff = [i for i in range(len(gold)) if i >= len(first) or first[i] != gold[i]]
        if len(first) == len(gold) and diff and all(self._uncommon(first[i]) for i in diff):
            return "variant"
        cut = self.cut(gold)
        if any(self._single_run(cut, i) for i in diff):
            return "not in lexicon"
        readings = _readings(gold)
        if readings and any(self._best(gold[i]) != readings[i] for i in diff if i < len(readings)):
            return "polyphone"
        if first_tokens and len(first) == len(gold):
            gold_ends = _ends(cut)
            first_ends = _ends([self.lex.text(t) for t in first_tokens])
            # the gold words that hold a difference, whole
            lo = max((e for e in gold_ends | {0} if e <= min(diff)), default=0)
            hi = min(e for e in gold_ends if e > max(diff))
            if {e for e in gold_ends if lo < e <= hi} != {e for e in first_ends if lo < e <= hi}:
                return "segmentation"
        return "outranked"

    def cut(self, text: str) -> list[str]:
        """``text`` as the fewest lexicon words, longest first (single characters as the fallback)."""
        n = len(text)
        best = [0.0] + [-np.inf] * n
        back = [0] * (n + 1)
        for j in range(1, n + 1):
            for k in range(max(0, j - MAX_WORD_SYLLABLES), j):
                p = self._word_prior(text[k:j])
                if p is not None and best[k] + p > best[j]:
                    best[j], back[j] = best[k] + p, k
        out, j = [], n
        while j > 0:
            out.append(text[back[j]:j])
            j = back[j]
        return out[::-1]

    def _word_prior(self, word: str) -> float | None:
        """A cost-like score: every word costs 1, a lone character 1.5 (so: fewest, longest words)."""
        if word not in self._prior:
            self._prior[word] = None if self.lex.token_id(word) is None else -1.5 if len(word) == 1 else -1.0
        return self._prior[word]

    @staticmethod
    def _single_run(cut: list[str], pos: int) -> bool:
        """Whether ``pos`` lies in a run of >= 2 single-character words of ``cut``."""
        start = 0
        runs, run = [], []
        for w in cut:
            if len(w) == 1:
                run.append(start)
            else:
                runs.append(run)
                run = []
            start += len(w)
        runs.append(run)
        return any(len(r) >= 2 and r[0] <= pos <= r[-1] for r in runs)

    def _uncommon(self, ch: str) -> bool:
        tid = self.lex.token_id(ch)
        return tid is not None and bool(self.lex.uncommon(tid))

    def _best(self, ch: str) -> str:
        """A character's most common reading (pypinyin's default, as the lexicon ranks it first)."""
        if ch not in self._best_reading:
            from pypinyin import lazy_pinyin

            self._best_reading[ch] = lazy_pinyin(ch)[0]
        return self._best_reading[ch]


def _readings(text: str) -> list[str]:
    from pypinyin import lazy_pinyin

    r = lazy_pinyin(text)
    return r if len(r) == len(text) else []


def _ends(words: list[str]) -> set[int]:
    out, pos = set(), 0
    for w in words:
        pos += len(w)
        out.add(pos)
    return out


def summary(misses: list[Miss]) -> Counter:
    """Misses per category (and how many were not proposed at all)."""
    c = Counter(m.category for m in misses)
    c[NOT_PROPOSED] = sum(m.rank is None for m in misses)
    return c

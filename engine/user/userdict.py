"""The user dictionary: words a user adds (or imports from a word list), offered as candidates at once.

A word list has one word a line, optionally followed by its pinyin and a weight::

    深度学习 shen du xue xi 5
    深度学习<TAB>shen'du'xue'xi<TAB>5
    深度学习

Without pinyin, a word gets the lexicon's reading (its most common one; a word the lexicon
lacks, that of each of its characters); a word with no known reading is refused with a reason
(and its line number). The entries are kept in the SQLite user store
(``userdict`` table, :mod:`engine.user.userdb`).

Matching: a word matches the start of the typed letters when each of its syllables is typed
in full, as its initial or as its first letter, as the decoder reads abbreviations
(``shenduxuexi``, ``shdxx``, ``sdxx``), apostrophes allowed between syllables, the last one
possibly unfinished at the end of the input. The candidate list (engine.pinyin.candidates) puts the words covering the
whole input first (the user added them: they beat the decoder's reading of the same letters),
heaviest first, and a word covering a prefix before the decoder's words of that length.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..core.lexicon import MAX_WORD_SYLLABLES
from ..pinyin.decoder import Conversion
from ..pinyin.syllables import ALIASES, SYLLABLE_ID, SYLLABLES, initial_of
from ..text import all_han

DEFAULT_WEIGHT = 1.0
MAX_WORD_CHARS = 16
HEADER = "# Shuru user dictionary: word <TAB> pinyin <TAB> weight"
NUMBER = re.compile(r"^\d+(\.\d+)?$")


@dataclass(frozen=True)
class UserWord:
    """One user dictionary entry."""

    word: str
    syllables: tuple[str, ...]
    weight: float = DEFAULT_WEIGHT

    @property
    def pinyin(self) -> str:
        """The syllables as one string, ``shen'du'xue'xi``."""
        return "'".join(self.syllables)


# -- word lists -------------------------------------------------------------------------

def parse_line(line: str, lexicon=None) -> UserWord:
    """One word-list line; ValueError with the reason if it is not usable. Without pinyin in
    the line, the reading comes from ``lexicon`` (engine.core.lexicon.Lexicon)."""
    fields = line.split("\t") if "\t" in line else line.split()
    fields = [f.strip() for f in fields if f.strip()]
    if not fields:
        raise ValueError("empty line")
    word, rest = fields[0], fields[1:]
    if len(word) > MAX_WORD_CHARS:
        raise ValueError(f"{word[:MAX_WORD_CHARS]}… is longer than {MAX_WORD_CHARS} characters")
    weight = DEFAULT_WEIGHT
    if rest and NUMBER.match(rest[-1]):
        weight = float(rest.pop())
        if weight <= 0:
            raise ValueError("the weight must be above 0")
    syllables = split_pinyin(" ".join(rest)) if rest else reading_of(word, lexicon)
    if all_han(word) and len(syllables) != len(word):
        raise ValueError(f"{len(word)} characters but {len(syllables)} syllables ({' '.join(syllables)})")
    return UserWord(word, syllables, weight)


def split_pinyin(text: str) -> tuple[str, ...]:
    """Typed pinyin (``shen du``, ``shen'du``, ``Shen1du4`` is not split) -> canonical syllables."""
    out = []
    for raw in re.split(r"[\s']+", text.strip().lower().replace("ü", "v").replace("u:", "v")):
        if not raw:
            continue
        syl = ALIASES.get(raw.rstrip("012345"), raw.rstrip("012345"))
        if syl not in SYLLABLE_ID:
            raise ValueError(f"{raw!r} is not a pinyin syllable (write syllables apart: shen du or shen'du)")
        out.append(syl)
    if not out:
        raise ValueError("no pinyin")
    return tuple(out)


def reading_of(word: str, lexicon) -> tuple[str, ...]:
    """The lexicon's most common reading of a word, else of each of its characters; ValueError
    when none is known (not Chinese, or no lexicon)."""
    known = _token_reading(lexicon, word) if lexicon is not None else None
    if known is None and lexicon is not None and all_han(word):
        chars = [_token_reading(lexicon, ch) for ch in word]
        known = None if None in chars else tuple(s for r in chars for s in r)
    if known is None:
        raise ValueError(f"no pinyin given and no reading known for {word!r} (add its pinyin after it)")
    return known


def _token_reading(lexicon, text: str) -> tuple[str, ...] | None:
    """The syllables of a lexicon token's most probable reading (entry_reading_logp), or None."""
    tid = lexicon.token_id(text)
    if tid is None or len(text) > MAX_WORD_SYLLABLES:
        return None
    entries = np.flatnonzero(np.asarray(lexicon.entry_token) == tid)  # ~0.5 ms over a million entries
    if not len(entries):
        return None
    best = entries[int(np.argmax(np.asarray(lexicon.entry_reading_logp[entries], dtype=np.float32)))]
    ids = lexicon.entry_syllables(np.array([best]), len(text))[0]
    return None if (ids < 0).any() else tuple(SYLLABLES[int(i)] for i in ids)


def parse_word_list(text: str, lexicon=None) -> tuple[list[UserWord], list[tuple[int, str]]]:
    """(entries, problems as (line number, reason)); blank lines and ``#`` comments are skipped."""
    words, problems = [], []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            words.append(parse_line(line, lexicon))
        except ValueError as e:
            problems.append((number, str(e)))
    return words, problems


def read_word_list(path: Path, lexicon=None) -> tuple[list[UserWord], list[tuple[int, str]]]:
    """A word-list file (UTF-8, UTF-16 with a BOM or GB18030); TextFileError if it is unreadable."""
    from ..textfile import read_text_file

    text, _ = read_text_file(Path(path), need_han=False)
    return parse_word_list(text, lexicon)


def format_word_list(words: list[UserWord]) -> str:
    """A word list in the format :func:`parse_word_list` reads (word, pinyin, weight; tab-separated)."""
    lines = [HEADER] + [f"{w.word}\t{w.pinyin}\t{w.weight:g}" for w in words]
    return "\n".join(lines) + "\n"


def learned_word_entries(learned: list[tuple[str, float, float]], lexicon) -> list[UserWord]:
    """Learned words (word, weight, last used) as word-list entries (the lexicon's readings);
    words without a known reading are left out."""
    out = []
    for word, weight, _ in learned:
        try:
            out.append(UserWord(word, reading_of(word, lexicon), max(1.0, round(float(weight), 1))))
        except ValueError:
            continue
    return out


# -- matching ---------------------------------------------------------------------------

def match_lengths(syllables: tuple[str, ...], letters: str) -> set[int]:
    """Every number of letters (apostrophes included) that the syllables can be typed as, from
    the start of ``letters``: each in full, as its initial or its first letter, the last possibly
    unfinished."""
    ends: set[int] = set()

    def walk(k: int, pos: int) -> None:
        while pos < len(letters) and letters[pos] == "'":
            pos += 1
        if k == len(syllables):
            ends.add(pos)
            return
        if pos >= len(letters):
            return
        syl = syllables[k]
        for form in {syl, initial_of(syl), syl[0]}:
            if letters.startswith(form, pos):
                walk(k + 1, pos + len(form))
        rest = letters[pos:]
        if k == len(syllables) - 1 and len(rest) < len(syl) and syl.startswith(rest):
            ends.add(len(letters))  # the last syllable, still being typed

    walk(0, 0)
    return ends


class UserDict:
    """The user's words, indexed by first letter (:meth:`matches`); engine.pinyin.candidates lists them."""

    def __init__(self, words: list[UserWord] = (), lexicon=None):
        self.lexicon = lexicon
        self.set_words(list(words))

    def set_words(self, words: list[UserWord]) -> None:
        self.words = list(words)
        self._by_letter: dict[str, list[UserWord]] = {}
        for w in self.words:
            self._by_letter.setdefault(w.syllables[0][0], []).append(w)

    def __len__(self) -> int:
        return len(self.words)

    def matches(self, letters: str) -> list[tuple[UserWord, int]]:
        """(word, letters it covers) of each word matching the start of ``letters``: longest
        cover first, then by weight."""
        letters = letters.lstrip("'")
        lead = len(letters) and letters[0]
        out = []
        for w in self._by_letter.get(lead, ()):
            ends = match_lengths(w.syllables, letters)
            usable = [e for e in ends if e == len(letters) or not _splits_syllable(letters, e)]
            if usable:
                out.append((w, max(usable)))
        out.sort(key=lambda m: (-m[1], -m[0].weight))
        return out

    def conversion(self, w: UserWord, consumed: int) -> Conversion:
        """The candidate of a user word covering ``consumed`` letters."""
        return Conversion(w.word, consumed, 0.0, "word", (), self._tokens(w.word))

    def _tokens(self, word: str) -> tuple[int, ...]:
        """The lexicon token of the word, else of its characters (what learning records)."""
        if self.lexicon is None:
            return ()
        tid = self.lexicon.token_id(word)
        if tid is not None:
            return (tid,)
        return tuple(t for t in (self.lexicon.token_id(ch) for ch in word) if t is not None)


def _splits_syllable(letters: str, end: int) -> bool:
    """Whether the letters after ``end`` cannot start a syllable (``xi|an``: a vowel follows)."""
    return end < len(letters) and letters[end] in "aeiouv"

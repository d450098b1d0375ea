"""The pinyin encoder's input vocabulary (syllable tokens) and the syllable -> hanzi
candidate matrix.

Syllable token ids (defined in engine.pinyin_format): 0 `<pad>` (nothing typed there: padding, or past the end of the
input; never attended to), 1 `<none>` (a position with no pinyin: <bos>, punctuation, a
char pypinyin cannot read), then the engine's toneless syllables in engine.syllables
order (`v` for ü), then the 23 consonant initials (b p m f ... y w) for a syllable typed
as its initial. Zero-initial syllables (an, ou, e...) have no initial token: their first
letter is itself a syllable (a, o, e), so they are typed whole. `syllables.txt` holds one
token per line; its sha1 ties checkpoints and exported weights to the table.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from engine.pinyin.pinyin_format import SYL_NONE, SYL_PAD, SYL_SPECIALS, SYLLABLE_TOKENS, text_sha1, tokens_text
from engine.pinyin.syllables import ALIASES, SYLLABLES, initial_of

from .errors import DataError
from .vocab import PAD, SPECIAL_TOKENS, Vocab


@dataclass(frozen=True)
class SyllableVocab:
    """Syllable tokens: specials, full syllables, then initials (see the module doc)."""

    tokens: tuple[str, ...]
    n_full: int  # full syllables (ids 2 .. 2 + n_full - 1)

    def __len__(self) -> int:
        return len(self.tokens)

    @property
    def sha1(self) -> str:
        """sha1 of the syllables.txt bytes this table saves to."""
        return text_sha1(self.to_text())

    def to_text(self) -> str:
        return tokens_text(self.tokens)

    def save(self, path: Path) -> None:
        Path(path).write_text(self.to_text(), encoding="utf-8")

    @cached_property
    def ids(self) -> dict[str, int]:
        return {t: i for i, t in enumerate(self.tokens)}

    def id_of(self, syllable: str) -> int:
        """Token id of a syllable as annotate() spells it; `<none>` if not in the table."""
        return self.ids.get(ALIASES.get(syllable, syllable), SYL_NONE)

    def is_full(self, ids: np.ndarray) -> np.ndarray:
        """True where a token id is a full syllable."""
        return (ids >= len(SYL_SPECIALS)) & (ids < len(SYL_SPECIALS) + self.n_full)

    @cached_property
    def initial_map(self) -> np.ndarray:
        """int64 [len]: each token's id when typed as its initial (itself if it has none:
        specials, initials, zero-initial syllables)."""
        out = np.arange(len(self), dtype=np.int64)
        first_initial = len(SYL_SPECIALS) + self.n_full
        for i in range(len(SYL_SPECIALS), first_initial):
            j = self.ids[initial_of(self.tokens[i])] if initial_of(self.tokens[i]) in self.ids else i
            out[i] = j if j >= first_initial else i  # 'a' of 'an' is the syllable a, not an initial
        return out


def syllable_vocab() -> SyllableVocab:
    """The table of engine.pinyin.pinyin_format (the one definition of the token layout)."""
    return SyllableVocab(SYLLABLE_TOKENS, len(SYLLABLES))


def load_syllable_vocab(path: Path) -> SyllableVocab:
    """A syllables.txt (checked against the current engine table: ids must not move)."""
    tokens = tuple(Path(path).read_text(encoding="utf-8").split("\n")[:-1])
    table = syllable_vocab()
    if tokens != table.tokens:
        raise DataError(f"{path}: syllable table differs from engine.pinyin.syllables (sha1 "
                        f"{text_sha1(tokens_text(tokens))} vs "
                        f"{table.sha1}); rebuild the data / start a new run")
    return table


def char_readings(char: str) -> list[str]:
    """Every toneless reading pypinyin knows for `char` (all readings of a polyphone)."""
    from pypinyin import Style, pinyin

    readings = pinyin(char, style=Style.NORMAL, heteronym=True, v_to_u=False, errors=lambda s: [[]])[0]
    return [r.replace("ü", "v") for r in readings]


def candidate_matrix(vocab: Vocab, table: SyllableVocab) -> np.ndarray:
    """bool [len(table), len(vocab)]: which tokens a syllable token may stand for.

    A full syllable: the vocabulary chars with it among their readings; an initial: the
    union of its syllables' rows; `<none>` (and `<pad>`, whose targets are ignored but must
    not make a row empty): every token but <pad>.
    """
    cand = np.zeros((len(table), len(vocab)), dtype=bool)
    cand[[SYL_PAD, SYL_NONE], :] = True
    cand[[SYL_PAD, SYL_NONE], PAD] = False
    for v, char in enumerate(vocab.tokens):
        if v < len(SPECIAL_TOKENS):
            continue
        for reading in char_readings(char):
            s = table.id_of(reading)
            if s != SYL_NONE:
                cand[s, v] = True
    full = np.arange(len(SYL_SPECIALS), len(SYL_SPECIALS) + table.n_full)
    initial = table.initial_map[full]
    for s, i in zip(full, initial):
        if i != s:
            cand[i] |= cand[s]
    return cand

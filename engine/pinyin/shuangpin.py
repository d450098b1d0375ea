"""Shuangpin (double pinyin): two keys per syllable, read as full pinyin.

A :class:`Layout` is a data table: the keys of the initials zh/ch/sh, the key of each final,
and how the zero-initial syllables (a, ai, ..., er, ou) are typed. :meth:`Layout.read` turns
typed keys into the full-pinyin syllables they spell, with an explicit separator between
syllables (``nihc`` in Xiaohe -> ``ni'hao``), so the same lattice and decoder convert them.
Keys pair up from the start of the input (and after a typed ``'``); a lone last key is an
initial (an abbreviation or a syllable still being typed). A pair that spells no syllable
stays as typed.

:class:`Reading` keeps which pinyin letters came from which keys, so that a session edits,
moves its caret and makes partial picks in keys while the decoder sees pinyin.

Tables follow the published key maps (the same ones RIME's ``double_pinyin*`` schemas and
fcitx5's libime ship); see docs/shuangpin.md for each layout's zero-initial rule.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from .syllables import SYLLABLE_ID, SYLLABLES, split_initial

SEPARATOR = "'"
ZERO_INITIAL = ("a", "ai", "an", "ang", "ao", "e", "ei", "en", "eng", "er", "o", "ou")

# Zero-initial spellings. "o": o + the final's key (oa, ol, oj, ...); "xiaohe": a one-letter final
# doubled (aa), a two-letter one as in full pinyin (ai), a longer one its first letter + its key (ah);
# "first": the first letter + the final's key (as, af, ag).
ZERO_STYLES = ("o", "xiaohe", "first")

# name: (label, {zh, ch, sh: key}, {final: key}, zero-initial style)
# Finals not listed are typed as their own letter (a, e, i, o, u, and v for ü).
LAYOUT_TABLES: dict[str, tuple[str, dict[str, str], dict[str, str], str]] = {
    "microsoft": ("微软双拼", {"zh": "v", "ch": "i", "sh": "u"}, {
        "iu": "q", "ia": "w", "ua": "w", "er": "r", "uan": "r", "ue": "t", "uai": "y", "v": "y",
        "un": "p", "uo": "o", "ong": "s", "iong": "s", "iang": "d", "uang": "d", "en": "f",
        "eng": "g", "ang": "h", "an": "j", "ao": "k", "ai": "l", "ing": ";", "ei": "z", "ie": "x",
        "iao": "c", "ui": "v", "ve": "v", "ou": "b", "in": "n", "ian": "m"}, "o"),
    "xiaohe": ("小鹤双拼", {"zh": "v", "ch": "i", "sh": "u"}, {
        "iu": "q", "ei": "w", "uan": "r", "ue": "t", "ve": "t", "un": "y", "uo": "o", "ie": "p",
        "ong": "s", "iong": "s", "ai": "d", "en": "f", "eng": "g", "ang": "h", "an": "j",
        "ing": "k", "uai": "k", "iang": "l", "uang": "l", "ou": "z", "ia": "x", "ua": "x",
        "ao": "c", "ui": "v", "v": "v", "in": "b", "iao": "n", "ian": "m"}, "xiaohe"),
    "ziranma": ("自然码", {"zh": "v", "ch": "i", "sh": "u"}, {
        "iu": "q", "ia": "w", "ua": "w", "uan": "r", "ue": "t", "ve": "t", "ing": "y", "uai": "y",
        "uo": "o", "un": "p", "ong": "s", "iong": "s", "iang": "d", "uang": "d", "en": "f",
        "eng": "g", "ang": "h", "an": "j", "ao": "k", "ai": "l", "ei": "z", "ie": "x", "iao": "c",
        "ui": "v", "v": "v", "ou": "b", "in": "n", "ian": "m"}, "xiaohe"),
    "sogou": ("搜狗双拼", {"zh": "v", "ch": "i", "sh": "u"}, {
        "iu": "q", "ia": "w", "ua": "w", "er": "r", "uan": "r", "ue": "t", "ve": "t", "uai": "y",
        "v": "y", "un": "p", "uo": "o", "ong": "s", "iong": "s", "iang": "d", "uang": "d",
        "en": "f", "eng": "g", "ang": "h", "an": "j", "ao": "k", "ai": "l", "ing": ";", "ei": "z",
        "ie": "x", "iao": "c", "ui": "v", "ou": "b", "in": "n", "ian": "m"}, "o"),
    "abc": ("智能ABC", {"zh": "a", "ch": "e", "sh": "v"}, {
        "ao": "k", "en": "f", "an": "j", "eng": "g", "in": "c", "uai": "c", "uo": "o", "ai": "l",
        "ang": "h", "ie": "x", "ian": "w", "iang": "t", "uang": "t", "ong": "s", "iong": "s",
        "er": "r", "iu": "r", "ei": "q", "uan": "p", "ing": "y", "ou": "b", "ia": "d", "ua": "d",
        "iao": "z", "ue": "m", "ve": "m", "ui": "m", "un": "n", "v": "v"}, "o"),
    "jiajia": ("拼音加加", {"zh": "v", "ch": "u", "sh": "i"}, {
        "ao": "d", "en": "r", "an": "f", "eng": "t", "in": "l", "uai": "x", "uo": "o", "ai": "s",
        "ang": "g", "ie": "m", "ian": "j", "iang": "h", "uang": "h", "ong": "y", "iong": "y",
        "er": "q", "iu": "n", "ei": "w", "uan": "c", "ing": "q", "ou": "p", "ia": "b", "ua": "b",
        "iao": "k", "ue": "x", "ve": "x", "ui": "v", "un": "z", "v": "v"}, "first"),
}
LAYOUT_NAMES: tuple[str, ...] = tuple(LAYOUT_TABLES)
FULL_PINYIN = "full"  # the layout name of ordinary (full) pinyin


@dataclass(frozen=True)
class Reading:
    """Typed keys read as pinyin.

    ``keys_at[p]``: keys covered by ``pinyin[:p]`` (a syllable counts once it is whole; shape
    ``len(pinyin) + 1``); ``pinyin_at[k]``: the pinyin index where key ``k`` starts (the caret
    for a key cursor; shape ``len(keys) + 1``)."""

    keys: str
    pinyin: str
    keys_at: tuple[int, ...]
    pinyin_at: tuple[int, ...]


class Layout:
    """One shuangpin layout: encodes syllables as keys and reads keys back as pinyin."""

    def __init__(self, name: str, label: str, initials: dict[str, str], finals: dict[str, str], zero: str):
        self.name, self.label = name, label
        self.initial_keys = dict(initials)
        self.final_keys = dict(finals)
        self.zero_style = zero
        self.zero_keys = {s: self._zero_keys(s) for s in ZERO_INITIAL}
        self.table = self._decode_table()
        self.keys = frozenset("abcdefghijklmnopqrstuvwxyz" + SEPARATOR + "".join(finals.values()))

    # -- syllables -> keys ----------------------------------------------------------------
    def encode(self, syllable: str) -> str:
        """The two keys of a canonical syllable (``hao`` -> ``hc`` in Xiaohe)."""
        if syllable in self.zero_keys:
            return self.zero_keys[syllable]
        ini, fin = split_initial(syllable)
        return self.initial_keys.get(ini, ini) + self.final_keys.get(fin, fin)

    def encode_all(self, syllables: list[str]) -> str:
        """Keys for a syllable sequence (what a shuangpin typist types for it)."""
        return "".join(self.encode(s) for s in syllables)

    def _zero_keys(self, syllable: str) -> str:
        if self.zero_style == "o":
            return "o" + self.final_keys.get(syllable, syllable)
        if len(syllable) == 1:
            return syllable * 2
        if self.zero_style == "xiaohe" and len(syllable) == 2:
            return syllable
        return syllable[0] + self.final_keys.get(syllable, syllable[-1])

    # -- keys -> syllables ----------------------------------------------------------------
    def _decode_table(self) -> dict[str, str]:
        """Every key pair that spells a syllable -> the syllable."""
        table: dict[str, str] = {}
        for s in sorted(SYLLABLES, key=_rare_last):
            table.setdefault(self.encode(s), s)
        for s in ZERO_INITIAL:  # two-letter zero-initial syllables typed as spelled, where the pair is free
            if len(s) == 2:
                table.setdefault(s, s)
        for ini in "jqxy":  # ü typed with its own key after j q x y (jv = ju) where that pair is free
            table.setdefault(ini + self.final_keys.get("v", "v"), ini + "u")
        return {k: v for k, v in table.items() if v in SYLLABLE_ID}

    def lone_key(self, key: str) -> str:
        """A key without its pair: the initial it types (``v`` -> ``zh`` in Xiaohe)."""
        for ini, k in self.initial_keys.items():
            if k == key:
                return ini
        return key

    def read(self, keys: str) -> Reading:
        """Read typed keys as pinyin with a separator between syllables; never fails."""
        return _read(self, keys)


def _rare_last(syllable: str) -> tuple[int, str]:
    """Sort order when two syllables share keys: the rare spelling loses (l+o is luo, not lo)."""
    return (syllable in RARE_SPELLINGS, syllable)


RARE_SPELLINGS = frozenset({"lo"})


@lru_cache(maxsize=4096)
def _read(layout: Layout, keys: str) -> Reading:
    pinyin: list[str] = []
    keys_at = [0]
    pinyin_at: list[int] = []
    for start, chunk in _chunks(keys):
        text = layout.table.get(chunk) or (layout.lone_key(chunk) if len(chunk) == 1 else chunk)
        if pinyin and pinyin[-1] != SEPARATOR and chunk != SEPARATOR:
            pinyin.append(SEPARATOR)
            keys_at.append(start)
        at = len(pinyin)
        pinyin_at.append(at)
        if len(chunk) == 2:
            pinyin_at.append(at + min(len(text) - 1, len(layout.lone_key(chunk[0]))))
        pinyin.extend(text)
        keys_at.extend([start] * (len(text) - 1) + [start + len(chunk)])
    pinyin_at.append(len(pinyin))
    return Reading(keys, "".join(pinyin), tuple(keys_at), tuple(pinyin_at))


def _chunks(keys: str):
    """(start, keys) of each syllable: pairs from the start and after each typed separator."""
    i = 0
    while i < len(keys):
        if keys[i] == SEPARATOR:
            yield i, SEPARATOR
            i += 1
            continue
        j = i + 1
        if j < len(keys) and keys[j] != SEPARATOR:
            j += 1
        yield i, keys[i:j]
        i = j


@lru_cache(maxsize=None)
def layout(name: str) -> Layout | None:
    """The layout called ``name`` (one of :data:`LAYOUT_NAMES`); None for full pinyin.

    Raises ValueError for an unknown name."""
    if name in (FULL_PINYIN, "", None):
        return None
    if name not in LAYOUT_TABLES:
        raise ValueError(f"unknown shuangpin layout {name!r}; choose one of {', '.join(LAYOUT_NAMES)} or full")
    return Layout(name, *LAYOUT_TABLES[name])


__all__ = ["FULL_PINYIN", "LAYOUT_NAMES", "Layout", "Reading", "layout"]

"""Full-width punctuation for Chinese mode, as Chinese IMEs type it.

Quotes alternate between opening and closing forms; ``,`` and ``.`` right after an ASCII
digit stay ASCII so that ``3.14`` and ``1,000`` type as expected.
"""
from __future__ import annotations

# One ASCII key -> its full-width text. Quotes are handled separately (they alternate).
FULLWIDTH: dict[str, str] = {
    ",": "，", ".": "。", "?": "？", "!": "！", ":": "：", ";": "；",
    "\\": "、", "^": "……", "_": "——", "<": "《", ">": "》", "(": "（", ")": "）",
    "[": "【", "]": "】", "{": "「", "}": "」", "~": "～", "$": "￥",
}
QUOTES: dict[str, tuple[str, str]] = {'"': ("“", "”"), "'": ("‘", "’")}
DIGIT_KEEPS_ASCII = frozenset(",.")


def is_punctuation(ch: str) -> bool:
    """Whether Chinese mode translates this ASCII key (when full-width is on)."""
    return ch in FULLWIDTH or ch in QUOTES


class Punctuator:
    """Maps one ASCII punctuation key to the text to insert; remembers open quotes."""

    def __init__(self) -> None:
        self._open: dict[str, bool] = {q: False for q in QUOTES}

    def reset(self) -> None:
        """Forget open quotes (new document)."""
        self._open = {q: False for q in QUOTES}

    def translate(self, ch: str, fullwidth: bool, before: str = "") -> str:
        """Text for key ``ch``; ``before`` is the character before the cursor ("" if none)."""
        if not fullwidth:
            return ch
        if ch in QUOTES:
            opening, closing = QUOTES[ch]
            self._open[ch] = not self._open[ch]
            return opening if self._open[ch] else closing
        if ch in DIGIT_KEEPS_ASCII and before.isascii() and before.isdigit():
            return ch
        return FULLWIDTH.get(ch, ch)

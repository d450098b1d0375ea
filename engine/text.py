"""What counts as Han text: the one definition the engine, the trainer and the tools share.

Han characters are CJK extension A, the unified block and 〇; a clause is a maximal run of
them after NFKC normalisation (punctuation, digits and Latin letters end a clause, as an
IME converts clauses between such characters).
"""
from __future__ import annotations

import re
import unicodedata

HAN_RANGES: tuple[tuple[int, int], ...] = ((0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0x3007, 0x3007))
HAN_CLASS = "\u3400-\u4dbf\u4e00-\u9fff\u3007"  # the same ranges, for regular expressions
HAN_RUN = re.compile(f"[{HAN_CLASS}]+")
HAN_WORD = re.compile(f"^[{HAN_CLASS}]+$")


def is_han_code(cp: int) -> bool:
    """True if code point ``cp`` is Han (HAN_RANGES)."""
    return 0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or cp == 0x3007


def is_han(ch: str) -> bool:
    """True if the character ``ch`` is Han."""
    return is_han_code(ord(ch))


def all_han(text: str) -> bool:
    """True if ``text`` is non-empty and Han throughout."""
    return bool(HAN_WORD.match(text))


def han_count(text: str) -> int:
    """Han characters in ``text``."""
    return sum(1 for c in text if is_han_code(ord(c)))


# Short bracketed tags: Weibo's emoticon codes ([泪], [哈哈], [挖鼻屎]) and placeholders ([图片], [1]).
# A site inserts them, nobody types them; as clauses of their own they made 泪 the first candidate
# for lei (docs/TUNING.md#bracketed-tags-in-the-corpus). 【】 titles are typed and stay.
BRACKET_TAG = re.compile(r"[\[［][^\[\]［］\n]{1,8}[\]］]")


def strip_tags(line: str) -> str:
    """``line`` without its short bracketed tags (BRACKET_TAG), each replaced by a space, which
    still ends the clause before it. For text learned from (the corpus, a user's files)."""
    return BRACKET_TAG.sub(" ", line) if "[" in line or "［" in line else line


def normalise_text(line: str) -> str:
    """NFKC (full-width digits and letters to ASCII) and strip."""
    return unicodedata.normalize("NFKC", line).strip()


def clauses(line: str) -> list[str]:
    """Han clauses of one line of text."""
    return HAN_RUN.findall(normalise_text(line))

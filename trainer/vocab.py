"""Character vocabulary of the neural language model, and text -> token ids.

Token ids: 0 `<pad>`, 1 `<unk>` (a Han character not in the vocabulary), 2 `<bos>` (start
of a text), 3 `<p>` (one run of non-Han characters: punctuation, digits, Latin, spaces),
then Han characters in code point order. The file `vocab.txt` has one token per line;
the line index is the id. Its sha1 ties checkpoints and exported models to it.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.core.model_format import BOS, PAD, PUNCT, SPECIAL_TOKENS, UNK, vocab_sha1
from engine.text import HAN_RANGES, is_han_code

from .errors import DataError


# Han code points are engine.text's (HAN_RANGES); anything else is "non-Han" and becomes <p>.
N_CODEPOINTS = 0x110000
_LINE_BREAK = -1  # marker in the lookup table: a newline starts a new text (<bos>)


def is_han(cp: int) -> bool:
    """True if code point `cp` is Han (engine.text)."""
    return is_han_code(cp)


def gb2312_chars() -> list[str]:
    """The 6763 GB2312 level-1 and level-2 hanzi (rows 0xB0-0xF7), in code order."""
    chars = []
    for hi in range(0xB0, 0xF8):
        for lo in range(0xA1, 0xFF):
            try:
                chars.append(bytes([hi, lo]).decode("gb2312"))
            except UnicodeDecodeError:
                continue  # the unassigned tail of row 0xD7
    return chars


def has_pinyin(char: str) -> bool:
    """True if pypinyin knows a reading for `char` (every vocabulary char must)."""
    from pypinyin.pinyin_dict import pinyin_dict

    return ord(char) in pinyin_dict


@dataclass(frozen=True)
class Vocab:
    """Token list plus a code point -> id lookup table for fast encoding."""

    tokens: tuple[str, ...]

    def __post_init__(self) -> None:
        if tuple(self.tokens[: len(SPECIAL_TOKENS)]) != tuple(SPECIAL_TOKENS):
            raise DataError(f"vocabulary must start with {list(SPECIAL_TOKENS)}")

    def __len__(self) -> int:
        return len(self.tokens)

    @property
    def sha1(self) -> str:
        """sha1 of the vocab.txt bytes this vocabulary saves to."""
        return vocab_sha1(self.to_text().encode("utf-8"))

    def to_text(self) -> str:
        return "".join(t + "\n" for t in self.tokens)

    def save(self, path: Path) -> None:
        Path(path).write_text(self.to_text(), encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> "Vocab":
        """Read vocab.txt (one token per line)."""
        path = Path(path)
        if not path.is_file():
            raise DataError(f"vocabulary file {path} not found; run `python -m trainer prepare` first")
        return cls(tuple(path.read_text(encoding="utf-8").split("\n")[:-1]))

    def lookup_table(self) -> np.ndarray:
        """int32 [0x110000]: token id for each code point (newline -> _LINE_BREAK)."""
        lut = np.full(N_CODEPOINTS, PUNCT, dtype=np.int32)
        for lo, hi in HAN_RANGES:
            lut[lo : hi + 1] = UNK
        for i, tok in enumerate(self.tokens[len(SPECIAL_TOKENS) :], start=len(SPECIAL_TOKENS)):
            lut[ord(tok)] = i
        lut[ord("\n")] = _LINE_BREAK
        return lut

    def encode(self, text: str, bos: bool = True) -> np.ndarray:
        """Token ids (uint16) of `text`; see encode_with_table."""
        return encode_with_table(self.lookup_table(), text, bos)

    def decode(self, ids) -> str:
        """Readable text of token ids (<p> shown as '_', <bos> as a newline)."""
        out = []
        for i in ids:
            i = int(i)
            out.append({BOS: "\n", PUNCT: "_", UNK: "?", PAD: ""}.get(i, self.tokens[i] if i >= 4 else ""))
        return "".join(out)


def encode_with_table(lut: np.ndarray, text: str, bos: bool = True) -> np.ndarray:
    """Token ids of `text` (already normalised). Each line starts with <bos> (if `bos`;
    else newlines count as non-Han), empty lines are dropped and each run of non-Han
    characters becomes one <p>."""
    if not text:
        return np.zeros(0, dtype=np.uint16)
    text = "\n" + text if bos else text
    cps = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
    ids = lut[cps]  # (N,) int32
    ids[ids == _LINE_BREAK] = BOS if bos else PUNCT
    # Keep a token unless it repeats the <p> or <bos> just before it: collapses runs of
    # non-Han characters to one <p> and drops empty lines.
    prev = np.concatenate([[-2], ids[:-1]])
    keep = ~(((ids == PUNCT) | (ids == BOS)) & (ids == prev))
    ids = ids[keep]
    if bos:
        # Lines that held nothing leave `<bos><bos>`: drop all but the last.
        nxt = np.concatenate([ids[1:], [BOS]])
        ids = ids[~((ids == BOS) & (nxt == BOS))]
    return ids.astype(np.uint16)


def build_vocab(char_counts: dict[str, int], min_count: int = 50, max_size: int = 8000) -> Vocab:
    """Specials + GB2312 hanzi + other Han chars seen >= `min_count` times (most frequent
    first, up to `max_size` tokens in all); only chars pypinyin can read."""
    base = {c for c in gb2312_chars() if has_pinyin(c)}
    return _vocab_from(base, char_counts, min_count, max_size)


def build_small_vocab(text: str) -> Vocab:
    """A vocabulary of just the Han chars in `text` (test fixtures: keeps models tiny)."""
    chars = {c for c in text if is_han(ord(c)) and has_pinyin(c)}
    return Vocab(tuple(SPECIAL_TOKENS) + tuple(sorted(chars)))


def _vocab_from(base: set[str], counts: dict[str, int], min_count: int, max_size: int) -> Vocab:
    room = max_size - len(SPECIAL_TOKENS) - len(base)
    extra = [c for c, n in counts.items() if n >= min_count and c not in base and is_han(ord(c)) and has_pinyin(c)]
    extra.sort(key=lambda c: (-counts[c], c))
    chars = sorted(base | set(extra[: max(room, 0)]))
    return Vocab(tuple(SPECIAL_TOKENS) + tuple(chars))

"""Candidate words and their prior frequencies from the permissively licensed lexicons.

Sources (../shared/data/lexicons, see SOURCES.md): jieba's dict.txt (MIT, word + count),
THUOCL domain lists (free for commercial use, word + document frequency) and the
MIT part of phrase-pinyin-data (pinyin.txt, zdic_cybs.txt, di.txt, overwrite.txt).
The CC BY-SA cc_cedict.txt part is left out. Characters come from pypinyin's tables.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from engine.text import HAN_CLASS, is_han_code
from trainer.corpus import DEFAULT_DATA_DIR

HAN_WORD = re.compile(f"^[{HAN_CLASS}]{{2,8}}$")
PHRASE_FILES = ("pinyin.txt", "zdic_cybs.txt", "di.txt", "overwrite.txt")


def jieba_words(data_dir: Path) -> dict[str, float]:
    out: dict[str, float] = {}
    for line in open(data_dir / "lexicons/jieba/dict.txt", encoding="utf-8"):
        parts = line.split()
        if len(parts) >= 2 and HAN_WORD.match(parts[0]):
            out[parts[0]] = out.get(parts[0], 0.0) + float(parts[1])
    return out


def thuocl_words(data_dir: Path) -> dict[str, float]:
    """THUOCL words; document frequencies scaled down to roughly jieba's counts."""
    out: dict[str, float] = {}
    for path in sorted((data_dir / "lexicons/thuocl").glob("*.txt")):
        text = path.read_text(encoding="utf-8-sig").replace("\r", "\n")
        for line in text.split("\n"):
            parts = line.split()
            if len(parts) >= 2 and HAN_WORD.match(parts[0]):
                try:
                    out[parts[0]] = max(out.get(parts[0], 0.0), float(parts[1]) / 100.0)
                except ValueError:
                    continue
    return out


def phrase_words(data_dir: Path) -> set[str]:
    out: set[str] = set()
    for name in PHRASE_FILES:
        path = data_dir / "lexicons/phrase_pinyin_data" / name
        if not path.exists():
            continue
        for line in open(path, encoding="utf-8"):
            if line.startswith("#") or ":" not in line:
                continue
            word = line.split(":", 1)[0].strip()
            if HAN_WORD.match(word):
                out.add(word)
    return out


def pypinyin_chars() -> list[str]:
    """Every Han character pypinyin has a reading for."""
    from pypinyin.pinyin_dict import pinyin_dict

    return sorted(
        chr(cp) for cp in pinyin_dict
        if is_han_code(cp)
    )


def candidate_words(data_dir: Path = DEFAULT_DATA_DIR) -> dict[str, float]:
    """Multi-character candidate words with a prior count (>= 1)."""
    words = jieba_words(data_dir)
    for w, f in thuocl_words(data_dir).items():
        words[w] = max(words.get(w, 0.0), f, 1.0)
    for w in phrase_words(data_dir):
        words.setdefault(w, 1.0)
    return words


# -- open-domain word lists (lexicon v2) ------------------------------------------------------
# Titles of Chinese Wikipedia articles (CC BY-SA 4.0), wordfreq's large_zh list (CC BY-SA 4.0) and
# RIME's essay.txt (LGPL-3.0). They add names, places, species and terms; their priors come from
# corpus occurrences where there are any, else from the lists' frequencies (lexicon_build.py).
NAME_DOTS = "·・•‧"  # the middle dot of transliterated names (阿黛儿·艾萨卓普洛斯), in its common forms
HAN_ONLY = re.compile(r"^[\u4e00-\u9fff\u3007]+$")  # open-domain words: no extension A (rare forms)
MIN_EXTRA_CHARS, MAX_EXTRA_CHARS = 2, 7  # a lexicon entry has at most 7 syllables (lexicon.MAX_WORD_SYLLABLES)


def clean_word(word: str) -> str | None:
    """A list word as a lexicon word: Han only, GB2312 (no traditional or rare forms), 2-7 characters."""
    w = word.strip()
    if not HAN_ONLY.match(w) or not MIN_EXTRA_CHARS <= len(w) <= MAX_EXTRA_CHARS:
        return None
    try:
        w.encode("gb2312")
    except UnicodeEncodeError:
        return None
    return w


def clean_title(title: str) -> list[str]:
    """The lexicon words a Wikipedia title gives: itself, or for a transliterated name with middle
    dots its parts (米兰·潘切夫斯基 -> 米兰, 潘切夫斯基), so the name is typed without the dot.
    Titles with Latin letters, digits or other punctuation, too long or not GB2312 give nothing."""
    t = title.strip()
    for dot in NAME_DOTS:
        t = t.replace(dot, "·")
    if "·" in t:
        parts = t.split("·")
        if not all(HAN_ONLY.match(p) for p in parts):
            return []
        return [w for w in (clean_word(p) for p in parts) if w]
    w = clean_word(t)
    return [w] if w else []


def zhwiki_titles(data_dir: Path) -> set[str]:
    import lzma

    out: set[str] = set()
    with lzma.open(data_dir / "lexicons/zhwiki_titles/zhwiki_titles.txt.xz", "rt", encoding="utf-8") as fh:
        for line in fh:
            out.update(clean_title(line))
    return out


def _tsv_numbers(path: Path) -> tuple[dict[str, float], float]:
    """(clean word -> summed number, total of every line's number, kept or not) of a word<TAB>number list."""
    out: dict[str, float] = {}
    total = 0.0
    for line in open(path, encoding="utf-8"):
        parts = line.rstrip("\n").split("\t")
        if len(parts) < 2:
            continue
        try:
            value = float(parts[1])
        except ValueError:
            continue
        total += value
        w = clean_word(parts[0])
        if w:
            out[w] = out.get(w, 0.0) + value
    return out, total


def wordfreq_words(data_dir: Path) -> dict[str, float]:
    """wordfreq large_zh: word -> frequency (a share of all words)."""
    return _tsv_numbers(data_dir / "lexicons/wordfreq_zh/large_zh.tsv")[0]


def essay_words(data_dir: Path) -> dict[str, float]:
    """RIME essay.txt: word -> weight, as a share of the list's total weight."""
    weights, total = _tsv_numbers(data_dir / "lexicons/rime_essay/essay.txt")
    return {w: f / total for w, f in weights.items()}


@dataclass
class OpenDomainWords:
    """The open-domain lists, cleaned: which list has each word, and the lists' frequencies."""

    titles: set[str]
    wordfreq: dict[str, float]  # share of all words
    essay: dict[str, float]  # share of the list's weight

    def all_words(self) -> set[str]:
        return self.titles | set(self.wordfreq) | set(self.essay)


def open_domain_words(data_dir: Path = DEFAULT_DATA_DIR, sources: frozenset[str] = frozenset(
        {"zhwiki", "wordfreq", "essay"})) -> OpenDomainWords:
    return OpenDomainWords(zhwiki_titles(data_dir) if "zhwiki" in sources else set(),
                           wordfreq_words(data_dir) if "wordfreq" in sources else {},
                           essay_words(data_dir) if "essay" in sources else {})

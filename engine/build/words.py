"""Candidate words and their prior frequencies from the permissively licensed lexicons.

Sources (../shared/data/lexicons, see SOURCES.md): jieba's dict.txt (MIT, word + count),
THUOCL domain lists (free for commercial use, word + document frequency) and the
MIT part of phrase-pinyin-data (pinyin.txt, zdic_cybs.txt, di.txt, overwrite.txt).
The CC BY-SA cc_cedict.txt part is left out. Characters come from pypinyin's tables.
"""
from __future__ import annotations

import re
from pathlib import Path

from .corpus import DEFAULT_DATA_DIR

HAN_WORD = re.compile(r"^[\u3400-\u4dbf\u4e00-\u9fff\u3007]{2,8}$")
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
        if 0x3400 <= cp <= 0x4DBF or 0x4E00 <= cp <= 0x9FFF or cp == 0x3007
    )


def candidate_words(data_dir: Path = DEFAULT_DATA_DIR) -> dict[str, float]:
    """Multi-character candidate words with a prior count (>= 1)."""
    words = jieba_words(data_dir)
    for w, f in thuocl_words(data_dir).items():
        words[w] = max(words.get(w, 0.0), f, 1.0)
    for w in phrase_words(data_dir):
        words.setdefault(w, 1.0)
    return words

"""Words typed one at a time, cut from held-out text: the `dev-words.jsonl` recipe on text no dev set
holds, so that a change to how a word typed alone ranks can be judged beyond the dev sets.

    python -m tools heldout-words --out words.jsonl [--text FILE.txt[.xz]] [--count 5000] [--seed 0]

Each line of the text is cut into clauses (engine.text), each clause into words by maximum
probability over jieba's dictionary (../shared/data/lexicons/jieba/dict.txt, as the dev set was
cut); words of 1-4 Han characters are kept with their pypinyin reading (trainer.data.annotate)
and the line's text before them as context. ``count`` of them are drawn with ``seed``. The
default text is the general-text replay sample's held-out lines (assets/replay): text no dev set
holds, but drawn from the corpus, so the n-gram counted it and the character model trained on most
of it. It judges how words typed alone are ranked beyond the dev sets, not what the models know.
"""
from __future__ import annotations

import json
import lzma
import math
import random
from pathlib import Path
from typing import Iterable

from engine.atomic import write_bytes_atomic
from engine.core.segment import Segmenter
from engine.text import HAN_RUN, normalise_text

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_TEXT = ROOT / "assets" / "replay" / "replay-heldout.txt.xz"
JIEBA_DICT = Path("lexicons") / "jieba" / "dict.txt"
MAX_WORD_CHARS = 4
SOURCE_NAME = "replay-heldout"


def dictionary_segmenter(path: Path) -> Segmenter:
    """A Segmenter over a jieba-format dictionary (``word count [tag]`` a line)."""
    freq: dict[str, float] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if len(parts) >= 2:
            freq[parts[0]] = freq.get(parts[0], 0.0) + float(parts[1])
    total = sum(freq.values())
    logp = {w: math.log(f / total) for w, f in freq.items() if f > 0}
    if not logp:
        raise SystemExit(f"heldout-words: {path} holds no words with counts")
    return Segmenter.over(logp)


def cut_words(lines: Iterable[str], segmenter: Segmenter, src: str = SOURCE_NAME) -> list[dict]:
    """Every word of 1-MAX_WORD_CHARS Han characters in ``lines`` as a dev-set row: pinyin (pypinyin's
    reading of the word, ü as v), hanzi, context (the line's text before the word), src."""
    from trainer.data import annotate

    rows = []
    for raw in lines:
        line = normalise_text(raw)
        for m in HAN_RUN.finditer(line):
            at = m.start()
            for word in segmenter.cut(m.group()):
                pinyin = "".join(annotate(word))
                if len(word) <= MAX_WORD_CHARS and pinyin.isascii() and pinyin.isalpha():
                    rows.append({"pinyin": pinyin, "hanzi": word, "context": line[:at], "src": src})
                at += len(word)
    return rows


def draw(rows: list[dict], count: int, seed: int) -> list[dict]:
    """``count`` rows drawn without replacement, the same ones for the same seed."""
    rows = list(rows)
    random.Random(seed).shuffle(rows)
    return rows[:count]


def read_text_lines(path: Path) -> list[str]:
    """The lines of a UTF-8 text file, xz-compressed where it ends in .xz."""
    try:
        if path.suffix == ".xz":
            with lzma.open(path, "rt", encoding="utf-8") as f:
                return f.read().splitlines()
        return path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise SystemExit(f"heldout-words: no such text: {path}")
    except (OSError, UnicodeDecodeError, lzma.LZMAError) as e:
        raise SystemExit(f"heldout-words: cannot read {path}: {e}")


def main_args(text: Path, data_dir: Path, out: Path, count: int, seed: int) -> int:
    """The command: write ``count`` held-out words of ``text`` to ``out`` (JSON lines)."""
    dictionary = data_dir / JIEBA_DICT
    if not dictionary.is_file():
        raise SystemExit(f"heldout-words: no jieba dictionary at {dictionary}: it is development data "
                         "(../shared/data beside a checkout, or --data DIR)")
    rows = draw(cut_words(read_text_lines(text), dictionary_segmenter(dictionary)), count, seed)
    write_bytes_atomic(out, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode("utf-8"))
    by_length = {n: sum(1 for r in rows if len(r["hanzi"]) == n) for n in range(1, MAX_WORD_CHARS + 1)}
    print(f"{out}: {len(rows)} words (by characters {by_length}) from {text}")
    return 0

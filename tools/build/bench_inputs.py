"""Pinyin inputs for ``python -m tools bench`` where the dev sets are absent (an install, a fresh clone).

Clauses of 4-24 characters sampled from MIT-licensed corpus files (news and chit-chat),
written as toneless pinyin with pypinyin, one per line, in ``tools/data/bench-inputs.txt``.
"""
from __future__ import annotations

import random
from pathlib import Path

from engine.text import clauses
from trainer.corpus import DEFAULT_DATA_DIR, CorpusFile, read_lines

SOURCES = ("news_inews", "chat_lccc_sample")  # MIT (SOURCES.md)
N_INPUTS = 300


def build_bench_inputs(data_dir: Path = DEFAULT_DATA_DIR, out: Path | None = None, seed: int = 0) -> Path:
    from pypinyin import Style, lazy_pinyin

    out = out or Path(__file__).resolve().parents[1] / "data" / "bench-inputs.txt"
    rng = random.Random(seed)
    picked: list[str] = []
    for name in SOURCES:
        pool = [c for line in read_lines(CorpusFile(data_dir / "corpus" / f"{name}.txt.xz", 1.0))
                for c in clauses(line) if 4 <= len(c) <= 24]
        picked += rng.sample(pool, N_INPUTS // len(SOURCES))
    lines = ["".join(lazy_pinyin(c, style=Style.NORMAL)) for c in picked]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return out

"""The corpus recipe: which files, sampled at which weights (the asset build and the trainer
read the corpus the same way).

The corpus is UTF-8 text, one sentence or paragraph per line, xz-compressed; its clauses
and normalisation are engine.text's.
"""
from __future__ import annotations

import lzma
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from engine.text import strip_tags

DEFAULT_DATA_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data"

# Fraction of lines kept from each source. The 1910s-50s books and the modern
# renderings of classical texts are large but dated in style: keep a quarter of
# them so present-day Chinese dominates the counts.
SOURCE_WEIGHTS: dict[str, float] = {
    "books_modern_1910s_1950s": 0.25,
    "translations_classical_to_modern": 0.25,
    "tech_msdocs_zh": 0.5,  # 10.8M characters of software documentation: technical terms, not its style
}


@dataclass(frozen=True)
class CorpusFile:
    path: Path
    weight: float

    @property
    def name(self) -> str:
        return self.path.name.split(".")[0]


def corpus_files(data_dir: Path = DEFAULT_DATA_DIR) -> list[CorpusFile]:
    """Every corpus file with its sampling weight (1.0 unless listed in SOURCE_WEIGHTS)."""
    files = sorted((data_dir / "corpus").glob("*.txt.xz"))
    return [CorpusFile(p, SOURCE_WEIGHTS.get(p.name.split(".")[0], 1.0)) for p in files]


def read_lines(cf: CorpusFile, seed: int = 0) -> Iterator[str]:
    """Lines of one corpus file, sampled by its weight (deterministic for a seed), without their
    bracketed tags (strip_tags)."""
    rng = random.Random(f"{seed}:{cf.name}")
    with lzma.open(cf.path, "rt", encoding="utf-8", errors="replace") as fh:
        for line in fh:
            if cf.weight >= 1.0 or rng.random() < cf.weight:
                yield strip_tags(line)


def line_chunks(files: list[CorpusFile], lines_per_chunk: int = 20000, seed: int = 0) -> Iterator[list[str]]:
    """Sampled lines of all files in chunks (for parallel workers)."""
    for cf in files:
        chunk: list[str] = []
        for line in read_lines(cf, seed):
            chunk.append(line)
            if len(chunk) >= lines_per_chunk:
                yield chunk
                chunk = []
        if chunk:
            yield chunk

"""Training data: pinyin annotation, corpus -> vocabulary + uint16 token shards, window
sampling for training, and pinyin -> hanzi clause sets for evaluation.

Shards (`build/trainer/shards/`): `train-NNN.npy` (uint16 token ids, ~10M each) and
`heldout.npy`, every line of text starting with <bos>; `vocab.txt`; `meta.json` (vocab
sha1, token counts per source and split). The mixing recipe is trainer.corpus's
SOURCE_WEIGHTS (dated books and classical translations keep a quarter of their lines), so
present-day Chinese dominates both the shards and the held-out set.
"""
from __future__ import annotations

import json
import random
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.text import HAN_RUN, normalise_text

from .corpus import DEFAULT_DATA_DIR, corpus_files, read_lines

from .errors import DataError
from .vocab import BOS, HAN_RANGES, Vocab, build_vocab, encode_with_table

DEFAULT_SHARD_DIR = Path("build/trainer/shards")
HAN_CLAUSE = HAN_RUN  # engine.text


# --- pinyin annotation -------------------------------------------------------------


def annotate(text: str) -> list[str]:
    """One toneless pinyin syllable per Han char of `text` (non-Han chars are skipped).

    Each Han run is read whole by pypinyin's phrase dictionary, so polyphones follow the
    phrase (银行 -> yin hang, 行走 -> xing zou); ü is written `v` (绿 -> lv).
    """
    from pypinyin import Style, lazy_pinyin

    out: list[str] = []
    for run in HAN_CLAUSE.findall(text):
        syllables = lazy_pinyin(run, style=Style.NORMAL, v_to_u=False, errors=lambda s: ["?"] * len(s))
        if len(syllables) != len(run):  # pypinyin merged or split something: fall back per char
            syllables = [lazy_pinyin(c, style=Style.NORMAL, v_to_u=False, errors=lambda s: ["?"])[0] for c in run]
        out.extend(s.replace("ü", "v") for s in syllables)
    return out


# --- corpus -> shards --------------------------------------------------------------


@dataclass
class PrepareConfig:
    """Settings of `python -m trainer prepare`."""

    out_dir: str = str(DEFAULT_SHARD_DIR)
    data_dir: str = str(DEFAULT_DATA_DIR)
    shard_tokens: int = 10_000_000  # tokens per train shard (uint16: 20 MB)
    heldout_every: int = 100  # every Nth sampled line of each source is held out (1%)
    min_count: int = 50  # a non-GB2312 char joins the vocabulary if seen this often
    max_vocab: int = 8000  # tokens in all, specials included
    seed: int = 0  # line sampling seed (SOURCE_WEIGHTS)
    chunk_chars: int = 4_000_000  # text per in-memory chunk


def _corpus_chunks(cfg: PrepareConfig, log) -> Iterator[tuple[str, str, np.ndarray]]:
    """(source, split, code points) chunks of normalised corpus lines, newline-joined."""
    for cf in corpus_files(Path(cfg.data_dir)):
        t0, n_lines = time.time(), 0
        bufs: dict[str, list[str]] = {"train": [], "heldout": []}
        sizes = {"train": 0, "heldout": 0}
        for i, line in enumerate(read_lines(cf, cfg.seed)):
            line = normalise_text(line)
            if not line:
                continue
            split = "heldout" if i % cfg.heldout_every == cfg.heldout_every - 1 else "train"
            bufs[split].append(line)
            sizes[split] += len(line) + 1
            n_lines += 1
            if sizes[split] >= cfg.chunk_chars:
                yield cf.name, split, _codepoints(bufs[split])
                bufs[split], sizes[split] = [], 0
        for split, lines in bufs.items():
            if lines:
                yield cf.name, split, _codepoints(lines)
        log(f"read {cf.name}: {n_lines} lines (weight {cf.weight}) in {time.time() - t0:.0f}s")


def _codepoints(lines: list[str]) -> np.ndarray:
    text = "\n" + "\n".join(lines)  # leading newline: the chunk's first line gets <bos> too
    return np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).copy()


def _han_counts(cps: np.ndarray) -> np.ndarray:
    """Occurrences of each code point below 0xA000 (covers HAN_RANGES)."""
    return np.bincount(cps[cps < 0xA000], minlength=0xA000)


def _encode_codepoints(lut: np.ndarray, cps: np.ndarray) -> np.ndarray:
    """encode_with_table for a code point array that already starts with a newline."""
    text = cps.tobytes().decode("utf-32-le")
    return encode_with_table(lut, text[1:], bos=True)


def prepare(cfg: PrepareConfig, log=print) -> dict:
    """Build vocab.txt, train shards, heldout.npy and meta.json in cfg.out_dir."""
    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    chunks, counts = [], np.zeros(0xA000, dtype=np.int64)
    for source, split, cps in _corpus_chunks(cfg, log):
        counts += _han_counts(cps)
        chunks.append((source, split, cps))
    if not chunks:
        raise DataError(f"no corpus files under {cfg.data_dir}/corpus")
    char_counts = {chr(cp): int(counts[cp]) for lo, hi in HAN_RANGES for cp in range(lo, hi + 1) if counts[cp]}
    vocab = build_vocab(char_counts, cfg.min_count, cfg.max_vocab)
    vocab.save(out / "vocab.txt")
    log(f"vocabulary: {len(vocab)} tokens, sha1 {vocab.sha1}")
    meta = _write_shards(cfg, vocab, chunks, log)
    in_vocab = set(vocab.tokens)
    oov = sum(n for c, n in char_counts.items() if c not in in_vocab)
    meta.update(vocab_size=len(vocab), vocab_sha1=vocab.sha1, han_chars=int(counts.sum()), oov_han_chars=oov)
    (out / "meta.json").write_text(json.dumps(meta, ensure_ascii=False, indent=1), encoding="utf-8")
    log(f"prepare done: {json.dumps({k: meta[k] for k in ('train_tokens', 'heldout_tokens', 'vocab_size')})}")
    return meta


def _write_shards(cfg: PrepareConfig, vocab: Vocab, chunks: list, log) -> dict:
    out, lut = Path(cfg.out_dir), vocab.lookup_table()
    for old in out.glob("train-*.npy"):
        old.unlink()
    per_source: dict[str, dict[str, int]] = {}
    train_parts, heldout_parts, pending, n_shards = [], [], 0, 0
    for source, split, cps in chunks:
        ids = _encode_codepoints(lut, cps)
        per_source.setdefault(source, {"train": 0, "heldout": 0})[split] += len(ids)
        if split == "heldout":
            heldout_parts.append(ids)
            continue
        train_parts.append(ids)
        pending += len(ids)
        if pending >= cfg.shard_tokens:
            n_shards = _flush_shard(out, train_parts, n_shards, cfg.shard_tokens)
            pending = sum(len(p) for p in train_parts)
    while train_parts:
        n_shards = _flush_shard(out, train_parts, n_shards, cfg.shard_tokens)
    np.save(out / "heldout.npy", np.concatenate(heldout_parts) if heldout_parts else np.zeros(0, np.uint16))
    train_tokens = sum(v["train"] for v in per_source.values())
    heldout_tokens = sum(v["heldout"] for v in per_source.values())
    log(f"wrote {n_shards} train shards ({train_tokens} tokens), heldout {heldout_tokens} tokens")
    return {"train_tokens": train_tokens, "heldout_tokens": heldout_tokens, "shards": n_shards,
            "tokens_per_source": per_source, "config": cfg.__dict__}


def _flush_shard(out: Path, parts: list[np.ndarray], n: int, size: int) -> int:
    """Write the first `size` tokens of `parts` as train-<n>.npy; keep the rest in parts."""
    data = np.concatenate(parts)
    np.save(out / f"train-{n:03d}.npy", data[:size])
    parts.clear()
    if len(data) > size:
        parts.append(data[size:])
    return n + 1


def load_shards(shard_dir: Path, split: str = "train", rank: int = 0, world_size: int = 1) -> np.ndarray:
    """All tokens of one split (uint16, concatenated in shard order); for data-parallel
    training, only rank `rank`'s slice of the train split (see rank_slice)."""
    shard_dir = Path(shard_dir)
    files = sorted(shard_dir.glob("train-*.npy")) if split == "train" else [shard_dir / "heldout.npy"]
    files = [f for f in files if f.is_file()]
    if not files:
        raise DataError(f"no {split} shards in {shard_dir}; run `python -m trainer prepare` first")
    files, (part, parts) = rank_slice(files, rank, world_size) if split == "train" else (files, (0, 1))
    return part_of(np.concatenate([np.load(f) for f in files]), part, parts)


def rank_slice(files: list, rank: int, world_size: int) -> tuple[list, tuple[int, int]]:
    """The train shard files this rank reads and the (part, parts) of their tokens it keeps.

    With at least as many files as ranks, rank r reads files r, r + W, r + 2W, ... whole
    (part 0 of 1); with fewer, every rank reads all files and keeps the r-th of W equal
    contiguous parts. Deterministic: the same rank always gets the same tokens.
    """
    if world_size <= 1:
        return list(files), (0, 1)
    if len(files) >= world_size:
        return list(files)[rank::world_size], (0, 1)
    return list(files), (rank, world_size)


def part_of(tokens: np.ndarray, part: int, parts: int) -> np.ndarray:
    """The `part`-th of `parts` equal contiguous pieces of `tokens`."""
    if parts <= 1:
        return tokens
    edges = np.linspace(0, len(tokens), parts + 1).astype(np.int64)
    return tokens[edges[part] : edges[part + 1]]


def sampler_seed(seed: int, rank: int, step: int = 0) -> int | tuple[int, int, int]:
    """Seed of a rank's window sampler: `seed` itself for rank 0 at step 0 (a single
    process samples as it always did); (seed, rank, step) otherwise, a distinct stream."""
    return seed if rank == 0 and step == 0 else (seed, rank, step)


def thin_shards(src: Path, dst: Path, max_tokens: int, pieces: int = 256, files: int = 8) -> dict:
    """A smaller copy of shard dir `src` in `dst`: `pieces` evenly spaced runs of the train
    tokens, max_tokens in all, each starting at a <bos> (so every source keeps its share),
    written as `files` train shards; heldout.npy and vocab.txt as they are."""
    src, dst = Path(src), Path(dst)
    tokens = load_shards(src, "train")
    dst.mkdir(parents=True, exist_ok=True)
    for old in dst.glob("train-*.npy"):
        old.unlink()
    size = max(max_tokens // pieces, 1)
    runs = []
    for start in np.linspace(0, max(len(tokens) - size, 0), pieces).astype(np.int64):
        at = start + int(np.argmax(tokens[start : start + size] == BOS))  # the first <bos> in the run
        runs.append(tokens[at : start + size])
    kept = np.concatenate(runs)[:max_tokens]
    for i, part in enumerate(np.array_split(kept, files)):
        np.save(dst / f"train-{i:03d}.npy", part)
    for name in ("heldout.npy", "vocab.txt"):
        (dst / name).write_bytes((src / name).read_bytes())
    meta = json.loads((src / "meta.json").read_text(encoding="utf-8")) if (src / "meta.json").is_file() else {}
    meta.update(train_tokens=int(len(kept)), thinned={"from": str(src), "of_train_tokens": int(len(tokens)),
                                                      "pieces": pieces, "files": files})
    (dst / "meta.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")
    return meta


# --- window sampling ---------------------------------------------------------------


class WindowSampler:
    """Random (input, target) windows of `seq_len` tokens from one token array.

    A fraction `bos_align` of the windows start at a <bos> (start of a text), so the model
    sees position 0 = <bos> the way the engine feeds it; the rest start anywhere, and with
    `bos_first` their first token is replaced by <bos>: the engine keeps only the last
    characters of the context, so its <bos> is often followed by a mid-sentence cut.
    """

    def __init__(self, tokens: np.ndarray, seq_len: int, seed: int, bos_align: float = 0.5,
                 bos_first: bool = True):
        if len(tokens) < seq_len + 2:
            raise DataError(f"only {len(tokens)} tokens: need at least {seq_len + 2}")
        self.tokens, self.seq_len, self.bos_align, self.bos_first = tokens, seq_len, bos_align, bos_first
        self.rng = np.random.default_rng(seed)
        limit = len(tokens) - seq_len - 1
        bos = np.flatnonzero(tokens[:limit] == BOS)
        self.bos_starts = bos if len(bos) else np.arange(1)
        self.limit = limit

    def reseed(self, seed) -> None:
        """Restart the window stream from `seed` (an int or a tuple of ints)."""
        self.rng = np.random.default_rng(seed)

    def starts(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """`n` window start offsets, and which of them are <bos>-aligned."""
        anywhere = self.rng.integers(0, self.limit + 1, size=n)
        aligned_at = self.bos_starts[self.rng.integers(0, len(self.bos_starts), size=n)]
        aligned = self.rng.random(n) < self.bos_align
        return np.where(aligned, aligned_at, anywhere), aligned

    def batch(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """x, y int64 [n, seq_len]: y is x shifted left by one token."""
        starts, aligned = self.starts(n)
        w = self.tokens[starts[:, None] + np.arange(self.seq_len + 1)[None, :]].astype(np.int64)  # (n, seq_len + 1)
        if self.bos_first:
            w[~aligned, 0] = BOS
        return w[:, :-1], w[:, 1:]


def heldout_windows(tokens: np.ndarray, seq_len: int, n: int) -> np.ndarray:
    """`n` fixed, evenly spaced windows (int64 [n, seq_len + 1]) for evaluation."""
    if len(tokens) < seq_len + 1:
        return np.zeros((0, seq_len + 1), dtype=np.int64)
    starts = np.linspace(0, len(tokens) - seq_len - 1, num=min(n, len(tokens) - seq_len)).astype(np.int64)
    return tokens[starts[:, None] + np.arange(seq_len + 1)[None, :]].astype(np.int64)


# --- clause sets (pinyin -> hanzi, like shared/data/dev) ---------------------------


def clause_candidates(lines: Iterable[str], min_chars: int = 2, max_chars: int = 30,
                      context_chars: int = 40) -> Iterator[tuple[str, str]]:
    """(clause, context) for each Han clause of 2-30 chars; context is up to 40 chars of
    the same line before the clause (like shared/data/dev)."""
    for line in lines:
        line = normalise_text(line)
        for m in HAN_CLAUSE.finditer(line):
            if min_chars <= len(m.group()) <= max_chars:
                yield m.group(), line[max(0, m.start() - context_chars) : m.start()]


def make_clause_set(path: Path, n: int = 600, seed: int = 0) -> list[dict]:
    """`n` dev-set records {"pinyin", "hanzi", "context", "src"} sampled deterministically
    from the clauses of a UTF-8 text file, in file order. Pinyin from annotate()."""
    path = Path(path)
    candidates = list(clause_candidates(path.read_text(encoding="utf-8").splitlines()))
    order = list(range(len(candidates)))
    random.Random(seed).shuffle(order)
    picked: list[tuple[int, dict]] = []
    for i in order:
        if len(picked) == n:
            break
        clause, context = candidates[i]
        syllables = annotate(clause)
        if "?" not in syllables:  # a char pypinyin cannot read: not typeable
            picked.append((i, {"pinyin": "".join(syllables), "hanzi": clause, "context": context, "src": path.name}))
    return [r for _, r in sorted(picked, key=lambda p: p[0])]


def write_jsonl(records: Iterable[dict], path: Path) -> None:
    """One JSON object per line (UTF-8, unescaped)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        for r in records:
            fh.write(json.dumps(r, ensure_ascii=False) + "\n")


def stderr_log(msg: str) -> None:
    """Progress line on stderr (stdout is kept for the final JSON result)."""
    print(msg, file=sys.stderr, flush=True)

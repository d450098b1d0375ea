"""Pinyin training data: corpus -> parallel token / syllable shards, and the window sampler
with typing augmentation.

Data dir (`build/trainer/pinyin/` by default):
    tokens-NNN.npy, syllables-NNN.npy                   uint16, parallel (one round each)
    heldout-tokens-NNN.npy, heldout-syllables-NNN.npy   the same round's held-out lines
    vocab.txt, syllables.txt                            the id tables (sha1s in meta.json)
    meta.json                                           rounds written, per-source reading position

`syllables[k]` is the syllable token (trainer.pinyin_vocab) of `tokens[k]`: pypinyin's
reading of the Han char in its phrase (trainer.data.annotate), `<none>` for <bos>, <p>,
<unk> and a reading outside the inventory or not among the char's own readings.

The corpus is read as trainer.data.prepare reads it (trainer.corpus.read_lines with
SOURCE_WEIGHTS sampling, normalise_text, every 100th sampled line of each source held
out), so the base model's held-out lines stay held out. It is written in rounds: each
round takes from every source a slice proportional to the source's sampled size, so any
prefix of the shards has the corpus mix, and a run can train on the rounds written so
far while more are prepared. meta.json records how many lines of each source were read:
re-running with a larger max_chars appends rounds, and an interrupted run resumes after
the last complete round.
"""
from __future__ import annotations

import io
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from engine.atomic import write_bytes_atomic
from engine.text import normalise_text

from .corpus import DEFAULT_DATA_DIR, CorpusFile, corpus_files, read_lines
from engine.paths import ASSETS_DIR

from .data import WindowSampler, annotate, stderr_log
from .errors import DataError
from .pinyin_vocab import SYL_NONE, SYL_PAD, SyllableVocab, candidate_matrix, load_syllable_vocab, syllable_vocab
from .vocab import BOS, SPECIAL_TOKENS, UNK, Vocab, encode_with_table

DEFAULT_PINYIN_DIR = Path("build/trainer/pinyin")
SHIPPED_VOCAB = ASSETS_DIR / "model" / "vocab.txt"
META_NAME, VOCAB_NAME, SYLLABLES_NAME = "meta.json", "vocab.txt", "syllables.txt"


# --- text -> aligned tokens and syllables ------------------------------------------


@dataclass(frozen=True)
class Encoder:
    """What turns lines into aligned arrays: the char lookup table, the syllable table and
    the candidate matrix (a reading must be one of the char's own)."""

    vocab: Vocab
    table: SyllableVocab
    lut: np.ndarray
    candidates: np.ndarray

    @classmethod
    def of(cls, vocab: Vocab, table: SyllableVocab | None = None) -> "Encoder":
        table = table or syllable_vocab()
        return cls(vocab, table, vocab.lookup_table(), candidate_matrix(vocab, table))


def encode_lines(lines: list[str], enc: Encoder) -> tuple[np.ndarray, np.ndarray, int]:
    """Normalised lines -> tokens, syllables (uint16, parallel, each line led by <bos>) and
    how many Han chars had a reading their char's own readings lack (set to `<none>`)."""
    text = "\n".join(lines)
    tokens = encode_with_table(enc.lut, text, bos=True)
    han = (tokens == UNK) | (tokens >= len(SPECIAL_TOKENS))
    readings = annotate(text)
    if int(han.sum()) != len(readings):
        raise DataError(f"{int(han.sum())} Han tokens but {len(readings)} pinyin readings")
    ids = {r: enc.table.id_of(r) for r in set(readings)}
    syllables = np.full(len(tokens), SYL_NONE, dtype=np.int64)
    syllables[han] = [ids[r] for r in readings]
    wrong = han & ~enc.candidates[syllables, tokens]  # also every <unk>: no row but <none> holds it
    syllables[wrong] = SYL_NONE
    return tokens, syllables.astype(np.uint16), int((wrong & (tokens != UNK)).sum())


# --- corpus -> rounds of shards ----------------------------------------------------


@dataclass
class PinyinPrepareConfig:
    """Settings of `python -m trainer pinyin-prepare` (re-run with a larger max_chars to append)."""

    out_dir: str = str(DEFAULT_PINYIN_DIR)
    data_dir: str = str(DEFAULT_DATA_DIR)
    vocab: str = str(SHIPPED_VOCAB)  # the decoder's vocabulary
    max_chars: int = 40_000_000  # train tokens in all (stops after the round that reaches it)
    round_chars: int = 2_000_000  # sampled corpus chars per round (one shard pair)
    heldout_every: int = 100  # every Nth sampled line of each source is held out (trainer.data's rule)
    seed: int = 0  # line sampling seed (trainer.data's default: the same lines as the base model)


def prepare_pinyin(out_dir: Path, data_dir: Path, max_chars: int, *, vocab_path: Path = SHIPPED_VOCAB,
                   round_chars: int = 2_000_000, heldout_every: int = 100, seed: int = 0, log=stderr_log) -> dict:
    """Write (or append) rounds of parallel token / syllable shards into out_dir until it holds
    max_chars train tokens or the corpus is used up; returns meta.json's content."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    vocab, table = Vocab.load(Path(vocab_path)), syllable_vocab()
    files = corpus_files(Path(data_dir))
    if not files:
        raise DataError(f"no corpus files under {data_dir}/corpus")
    meta = _open_meta(out, vocab, table, files, heldout_every, seed, log)
    enc = Encoder.of(vocab, table)
    readers = {cf.name: _lines_from(cf, seed, meta["sources"][cf.name]["lines_read"]) for cf in files}
    total = sum(s["chars"] for s in meta["sources"].values())
    t0, done0 = time.time(), meta["train_tokens"] + meta["heldout_tokens"]
    while meta["train_tokens"] < max_chars and not all(s["done"] for s in meta["sources"].values()):
        _write_round(out, meta, readers, enc, round_chars / max(total, 1), heldout_every)
        rate = (meta["train_tokens"] + meta["heldout_tokens"] - done0) / max(time.time() - t0, 1e-9)
        meta["tokens_per_s"] = round(rate)  # of the last session, resuming included
        _save_meta(out, meta)
        log(f"round {meta['rounds'] - 1}: {meta['train_tokens']} train tokens, {meta['heldout_tokens']} held out "
            f"({rate:.0f} tokens/s)")
    return meta


def prepare_from_config(cfg: PinyinPrepareConfig, log=stderr_log) -> dict:
    return prepare_pinyin(Path(cfg.out_dir), Path(cfg.data_dir), cfg.max_chars, vocab_path=Path(cfg.vocab),
                          round_chars=cfg.round_chars, heldout_every=cfg.heldout_every, seed=cfg.seed, log=log)


def _open_meta(out: Path, vocab: Vocab, table: SyllableVocab, files: list[CorpusFile], heldout_every: int,
               seed: int, log) -> dict:
    """meta.json of an existing data dir (checked to match), or a new one (with each
    source's sampled size, counted once: about 10 s)."""
    path = out / META_NAME
    if path.is_file():
        meta = json.loads(path.read_text(encoding="utf-8"))
        found = (meta["vocab_sha1"], meta["syllable_sha1"], meta["heldout_every"], meta["seed"], sorted(meta["sources"]))
        wanted = (vocab.sha1, table.sha1, heldout_every, seed, sorted(cf.name for cf in files))
        if found != wanted:
            raise DataError(f"{out} was prepared with other settings ({found} != {wanted}); use a new out_dir")
        return meta
    vocab.save(out / VOCAB_NAME)
    table.save(out / SYLLABLES_NAME)
    sources = {}
    for cf in files:
        chars = sum(len(line) for line in read_lines(cf, seed))
        sources[cf.name] = {"weight": cf.weight, "chars": chars, "lines_read": 0, "done": False,
                            "train_tokens": 0, "heldout_tokens": 0}
    log(f"corpus: {len(files)} sources, {sum(s['chars'] for s in sources.values())} sampled chars")
    meta = {"format": "shuru-pinyin-data", "format_version": 1, "vocab_sha1": vocab.sha1, "vocab_size": len(vocab),
            "syllable_sha1": table.sha1, "n_syllable": len(table), "heldout_every": heldout_every, "seed": seed,
            "rounds": 0, "train_tokens": 0, "heldout_tokens": 0, "not_own_reading": 0, "sources": sources}
    _save_meta(out, meta)
    return meta


def _save_meta(out: Path, meta: dict) -> None:
    write_bytes_atomic(out / META_NAME, json.dumps(meta, ensure_ascii=False, indent=1).encode("utf-8"))


def _lines_from(cf: CorpusFile, seed: int, skip: int) -> Iterator[tuple[int, str]]:
    """(index among the sampled lines, line) of one source, after the first `skip`."""
    for i, line in enumerate(read_lines(cf, seed)):
        if i >= skip:
            yield i, line


def _write_round(out: Path, meta: dict, readers: dict, enc: Encoder, share: float, heldout_every: int) -> None:
    """Take each source's slice (share of its sampled chars), write the round's shards, then
    meta.json (the round counts only once meta.json says so)."""
    parts: dict[str, list] = {"train": [], "heldout": []}
    for name, src in meta["sources"].items():
        if src["done"]:
            continue
        lines = {"train": [], "heldout": []}
        taken, quota = 0, max(src["chars"] * share, 1)
        while taken < quota:
            item = next(readers[name], None)
            if item is None:
                src["done"] = True
                break
            i, line = item
            src["lines_read"], taken = i + 1, taken + len(line)
            line = normalise_text(line)
            if line:
                lines["heldout" if i % heldout_every == heldout_every - 1 else "train"].append(line)
        for split, split_lines in lines.items():
            if split_lines:
                tokens, syllables, wrong = encode_lines(split_lines, enc)
                parts[split].append((tokens, syllables))
                src[f"{split}_tokens"] += len(tokens)
                meta[f"{split}_tokens"] += len(tokens)
                meta["not_own_reading"] += wrong
    n = meta["rounds"]
    for split, prefix in (("train", ""), ("heldout", "heldout-")):
        tokens = np.concatenate([p[0] for p in parts[split]]) if parts[split] else np.zeros(0, np.uint16)
        syllables = np.concatenate([p[1] for p in parts[split]]) if parts[split] else np.zeros(0, np.uint16)
        _save_npy(out / f"{prefix}tokens-{n:03d}.npy", tokens)
        _save_npy(out / f"{prefix}syllables-{n:03d}.npy", syllables)
    meta["rounds"] = n + 1
    _save_meta(out, meta)


def _save_npy(path: Path, array: np.ndarray) -> None:
    """np.save, atomically (engine.atomic)."""
    buf = io.BytesIO()
    np.save(buf, array)
    write_bytes_atomic(path, buf.getvalue())


# --- reading the shards ------------------------------------------------------------


def read_meta(data_dir: Path, vocab: Vocab | None = None, table: SyllableVocab | None = None) -> dict:
    """meta.json of a pinyin data dir, checked against the vocabulary and syllable table."""
    data_dir = Path(data_dir)
    path = data_dir / META_NAME
    if not path.is_file():
        raise DataError(f"no {META_NAME} in {data_dir}; run `python -m trainer pinyin-prepare` first")
    meta = json.loads(path.read_text(encoding="utf-8"))
    if vocab is not None and meta["vocab_sha1"] != vocab.sha1:
        raise DataError(f"{data_dir} was prepared with vocab {meta['vocab_sha1']}, not {vocab.sha1}")
    if table is not None and meta["syllable_sha1"] != table.sha1:
        raise DataError(f"{data_dir} was prepared with syllable table {meta['syllable_sha1']}, not {table.sha1}")
    return meta


def data_tables(data_dir: Path) -> tuple[Vocab, SyllableVocab]:
    """The vocabulary and syllable table a data dir was written with."""
    return Vocab.load(Path(data_dir) / VOCAB_NAME), load_syllable_vocab(Path(data_dir) / SYLLABLES_NAME)


def load_rounds(data_dir: Path, split: str, rounds: int, start: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Tokens and syllables of rounds start .. rounds - 1 of a split, concatenated."""
    prefix = "" if split == "train" else "heldout-"
    data_dir = Path(data_dir)
    tok = [np.load(data_dir / f"{prefix}tokens-{n:03d}.npy") for n in range(start, rounds)]
    syl = [np.load(data_dir / f"{prefix}syllables-{n:03d}.npy") for n in range(start, rounds)]
    if not tok:
        return np.zeros(0, np.uint16), np.zeros(0, np.uint16)
    return np.concatenate(tok), np.concatenate(syl)


def heldout_pairs(tokens: np.ndarray, syllables: np.ndarray, seq_len: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """`n` fixed, evenly spaced windows (int64 [n, seq_len + 1]) of tokens and syllables
    (trainer.data.heldout_windows, both arrays)."""
    if len(tokens) < seq_len + 1:
        empty = np.zeros((0, seq_len + 1), dtype=np.int64)
        return empty, empty
    starts = np.linspace(0, len(tokens) - seq_len - 1, num=min(n, len(tokens) - seq_len)).astype(np.int64)
    at = starts[:, None] + np.arange(seq_len + 1)[None, :]
    return tokens[at].astype(np.int64), syllables[at].astype(np.int64)


# --- augmentation and sampling -----------------------------------------------------


@dataclass(frozen=True)
class Augment:
    """How typed pinyin differs from the text's readings, per window of syllables."""

    p_initial: float = 0.08  # a syllable typed as its initial (hao -> h)
    p_all_initials: float = 0.05  # a window typed wholly as initials
    p_none: float = 0.05  # a syllable dropped to <none>
    p_context: float = 0.1  # a window whose first 1..T/2 positions are <none>: context typed before
    p_cut: float = 0.2  # a window whose pinyin stops at a random position (<pad> after: not typed yet)

    def to_dict(self) -> dict:
        return asdict(self)


def augment(syl: np.ndarray, rng: np.random.Generator, initial_map: np.ndarray, aug: Augment) -> np.ndarray:
    """A typed version of syllable windows syl (n, T) (a new int64 array)."""
    n, T = syl.shape
    whole = rng.random(n) < aug.p_all_initials
    to_initial = (rng.random((n, T)) < aug.p_initial) | whole[:, None]
    out = np.where(to_initial, initial_map[syl], syl)
    out[rng.random((n, T)) < aug.p_none] = SYL_NONE
    pos = np.arange(T)[None, :]
    context = (rng.random(n) < aug.p_context)[:, None] & (pos < rng.integers(1, T // 2 + 1, size=n)[:, None])
    out[context] = SYL_NONE
    cut = (rng.random(n) < aug.p_cut)[:, None] & (pos >= rng.integers(1, T, size=n)[:, None])
    out[cut] = SYL_PAD
    return out


class PinyinWindowSampler:
    """Random windows (trainer.data.WindowSampler: half start at a <bos>, the others get
    <bos> as first token) of tokens with their augmented syllables."""

    def __init__(self, tokens: np.ndarray, syllables: np.ndarray, seq_len: int, seed, table: SyllableVocab,
                 aug: Augment = Augment(), bos_align: float = 0.5, bos_first: bool = True):
        self.windows = WindowSampler(tokens, seq_len, seed, bos_align, bos_first)
        self.syllables, self.initial_map, self.aug = syllables, table.initial_map, aug

    @property
    def rng(self) -> np.random.Generator:
        return self.windows.rng

    def extend(self, tokens: np.ndarray, syllables: np.ndarray) -> None:
        """Sample from longer arrays (more rounds prepared), keeping the random stream."""
        w = self.windows
        rng = w.rng
        self.windows = WindowSampler(tokens, w.seq_len, 0, w.bos_align, w.bos_first)
        self.windows.rng, self.syllables = rng, syllables

    def batch(self, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """x, syl, y int64 (n, seq_len): y is x shifted left, syl[t] the typed syllable of y[t]."""
        w = self.windows
        starts, aligned = w.starts(n)
        at = starts[:, None] + np.arange(w.seq_len + 1)[None, :]
        tok = w.tokens[at].astype(np.int64)  # (n, seq_len + 1)
        if w.bos_first:
            tok[~aligned, 0] = BOS
        syl = augment(self.syllables[at[:, 1:]].astype(np.int64), w.rng, self.initial_map, self.aug)
        return tok[:, :-1], syl, tok[:, 1:]

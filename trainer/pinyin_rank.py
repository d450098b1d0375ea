"""The pinyin-reading model's score of whole readings, as the engine asks it, and the loss of a
candidate list: what a discriminative fine-tune on the engine's own lists optimises.

The engine re-orders the best whole-input readings of an input after its search by their totals
plus `reader` x the model's restricted log P(reading | context, typed syllables)
(engine.pinyin.decoder._read_order; engine.pinyin.pinyin_scorer.PinyinScorer.score_readings).
Pretraining teaches the model the next character; read alone among a list's readings, such a
model ranked them worse than the engine's own scorers
(docs/TUNING.md#what-the-look-ahead-reader-scores-on-whole-readings). The list loss trains it for
the choice the engine makes: -log softmax over a list's readings of total + weight x score, at
the reading the user meant.

reading_logprobs() is the training side of the engine's score (one definition; parity with the
ONNX runner: tests/trainer/test_pinyin_scorer.py).
"""
from __future__ import annotations

import json
import math
import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F

from engine.core.model_format import BOS, PUNCT, UNK, encode_text
from engine.options import READER_WEIGHT
from engine.pinyin.decoder import READ_MARGIN, READ_TOP
from engine.pinyin.pinyin_format import MAX_CONTEXT, SYL_NONE, SYL_PAD
from engine.text import is_han

from .data import stderr_log
from .errors import DataError
from .pinyin_model import PinyinLM, restricted_nll
from .pinyin_vocab import SyllableVocab
from .vocab import PAD


@dataclass
class ReadingBatch:
    """Readings as decoder inputs, syllable tokens and targets (R, T), right-padded; targets are
    `<pad>` outside the readings' characters (the context is read, not scored)."""

    x: torch.Tensor
    syl: torch.Tensor
    y: torch.Tensor


def reading_rows(token_id: dict[str, int], context: str, text: str, syllables: list[int]
                 ) -> tuple[list[int], list[int], list[int]]:
    """One reading laid out as the engine reads it: <bos> and the last MAX_CONTEXT characters of
    the context (no pinyin), then the reading's characters, each predicted from the position
    before it with its own syllable token (syllables[i] for text[i])."""
    if len(syllables) != len(text) or not text:
        raise ValueError(f"{len(syllables)} syllables for the {len(text)} characters of {text!r}")
    ids = [BOS] + encode_text(token_id, context[-MAX_CONTEXT:])
    k = len(ids) - 1
    chars = [token_id.get(ch, UNK) if is_han(ch) else PUNCT for ch in text]
    return ids + chars[:-1], [SYL_NONE] * k + list(syllables), [PAD] * k + chars


def reading_batch(token_id: dict[str, int], context: str, texts: list[str], syllables: list[list[int]]
                  ) -> ReadingBatch:
    """reading_rows() of each reading of one input, padded to one length."""
    rows = [reading_rows(token_id, context, t, s) for t, s in zip(texts, syllables)]
    T = max(len(r[0]) for r in rows)

    def pad(k: int, value: int) -> torch.Tensor:
        return torch.tensor([r[k] + [value] * (T - len(r[k])) for r in rows], dtype=torch.long)

    return ReadingBatch(pad(0, PAD), pad(1, SYL_PAD), pad(2, PAD))


def reading_logprobs(model: PinyinLM, batch: ReadingBatch) -> torch.Tensor:
    """(R,) restricted log P of each reading's characters given its context and syllables."""
    logits, _ = model(batch.x, batch.syl)
    nll = restricted_nll(logits, batch.syl, batch.y, model.candidates)
    return -torch.where(batch.y != PAD, nll, 0.0).sum(dim=1)  # where: a <pad> target's nll may be inf


def list_loss(totals: torch.Tensor, scores: torch.Tensor, gold: int, weight: float | torch.Tensor) -> torch.Tensor:
    """-log P(the gold reading) under softmax(totals + weight x scores) over one list's readings."""
    return F.cross_entropy((totals + weight * scores)[None], torch.tensor([gold]))


# --- the fine-tune on lists ------------------------------------------------------------


@dataclass
class PinyinRankConfig:
    """Every knob of `python -m trainer pinyin-rank` (overridable as --key=value)."""

    weight: float = READER_WEIGHT  # the model's weight beside the engine's totals (the engine's)
    adapt: str = "decoder"  # "decoder" (the encoder stays, as in a personal fine-tune) or "all"
    lr: float = 5e-5
    weight_decay: float = 0.1
    grad_clip: float = 1.0
    lists_per_step: int = 8
    minutes: float = 10.0
    max_steps: int = 0  # 0: until `minutes`
    heldout_share: float = 0.2  # the last lists of the file, measured and never trained on
    threads: int = 2
    seed: int = 1


@dataclass
class RankList:
    """The readings the engine re-orders for one input (its first READ_TOP within READ_MARGIN of
    the best), their totals, and the gold's index among them."""

    context: str
    texts: list[str]
    syllables: list[list[int]]
    totals: torch.Tensor
    gold: int


def read_lists(path: Path, table: SyllableVocab) -> list[RankList]:
    """tools.reader_lists' lists whose gold is among the readings the engine re-orders (two or more)."""
    out = []
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        try:
            d = json.loads(line)
            rs = d["readings"]
        except (json.JSONDecodeError, KeyError, TypeError) as e:
            raise DataError(f"{path}:{n}: not a candidate list of tools.reader_lists ({e})") from e
        if not rs:
            continue
        rs = [r for r in rs[:READ_TOP] if r["total"] >= rs[0]["total"] - READ_MARGIN]
        gold = next((k for k, r in enumerate(rs) if r["text"] == d["gold"]), -1)
        if len(rs) >= 2 and gold >= 0:
            out.append(RankList(d["context"], [r["text"] for r in rs],
                                [[table.id_of(t) for t in r["typed"]] for r in rs],
                                torch.tensor([r["total"] for r in rs], dtype=torch.float32), gold))
    return out


def list_scores(model: PinyinLM, token_id: dict[str, int], lst: RankList) -> torch.Tensor:
    """(R,) the model's score of each reading of a list."""
    return reading_logprobs(model, reading_batch(token_id, lst.context, lst.texts, lst.syllables))


def list_accuracy(model: PinyinLM, token_id: dict[str, int], lists: list[RankList], weight: float) -> float:
    """Share of lists whose gold leads after re-ordering by total + weight x score (weight 0: the
    engine's own order)."""
    if not lists:
        return float("nan")
    right = 0
    with torch.no_grad():
        for lst in lists:
            s = lst.totals + weight * list_scores(model, token_id, lst) if weight else lst.totals
            right += int(torch.argmax(s)) == lst.gold
    return right / len(lists)


def pinyin_rank(weights: Path, lists_path: Path, out: Path, cfg: PinyinRankConfig = PinyinRankConfig(),
                log: Callable[[str], None] = stderr_log) -> dict:
    """Fine-tune pinyin-train's export dir ``weights`` on the candidate lists in ``lists_path`` with
    list_loss(); writes an export dir to ``out`` whose manifest holds the held-out lists' top-1 with
    the engine's order, the model before and the model after."""
    from .pinyin_export import load_trained
    from .pinyin_finetune import trainable
    from .pinyin_train import write_export_dir

    torch.set_num_threads(max(cfg.threads, 1))
    torch.manual_seed(cfg.seed)
    model, vocab, table, base_manifest = load_trained(weights)
    token_id = {t: i for i, t in enumerate(vocab.tokens)}
    lists = read_lists(lists_path, table)
    n_held = max(1, int(len(lists) * cfg.heldout_share))
    train, held = lists[:-n_held], lists[-n_held:]
    if not train:
        raise DataError(f"{lists_path}: too few lists whose gold the engine re-orders ({len(lists)})")
    params = trainable(model, cfg.adapt)
    engine_acc = list_accuracy(model, token_id, held, 0.0)
    before = list_accuracy(model, token_id, held, cfg.weight)
    log(f"{len(train)} lists to learn from, {len(held)} held out: top-1 {engine_acc:.1%} in the engine's order, "
        f"{before:.1%} with the model at weight {cfg.weight}")
    opt = torch.optim.AdamW([{"params": [p for p in params if p.dim() >= 2], "weight_decay": cfg.weight_decay},
                             {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0}],
                            lr=cfg.lr, betas=(0.9, 0.95))
    rng = random.Random(cfg.seed)
    model.train()
    steps, t0, running = 0, time.perf_counter(), []
    while True:
        progress = max(steps / cfg.max_steps if cfg.max_steps else 0.0,
                       (time.perf_counter() - t0) / (cfg.minutes * 60) if cfg.minutes else 0.0)
        if progress >= 1.0 or not (cfg.max_steps or cfg.minutes):
            break
        for g in opt.param_groups:
            g["lr"] = cfg.lr * 0.5 * (1 + math.cos(math.pi * progress))
        batch = rng.sample(train, min(cfg.lists_per_step, len(train)))
        loss = sum(list_loss(lst.totals, list_scores(model, token_id, lst), lst.gold, cfg.weight)
                   for lst in batch) / len(batch)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
        opt.step()
        steps += 1
        running.append(float(loss.detach()))
        if steps % 50 == 0:
            log(f"step {steps} list loss {sum(running) / len(running):.4f} {time.perf_counter() - t0:.0f}s")
            running = []
    model.eval()
    after = list_accuracy(model, token_id, held, cfg.weight)
    seconds = time.perf_counter() - t0
    log(f"after {steps} steps ({seconds:.0f}s): top-1 {after:.1%} (before {before:.1%}, engine {engine_acc:.1%})")
    result = {"lists": len(train), "heldout_lists": len(held), "steps": steps, "seconds": round(seconds, 1),
              "heldout_top1": {"engine": round(engine_acc, 4), "before": round(before, 4), "after": round(after, 4)}}
    write_export_dir(model.float().cpu(), vocab, table, out,
                     {**(base_manifest.get("training") or {}), "rank": asdict(cfg)}, {"rank": result})
    return result

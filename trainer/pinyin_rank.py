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

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from engine.core.model_format import BOS, PUNCT, UNK, encode_text
from engine.pinyin.pinyin_format import MAX_CONTEXT, SYL_NONE, SYL_PAD
from engine.text import is_han

from .pinyin_model import PinyinLM, restricted_nll
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

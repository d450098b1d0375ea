"""Fine-tuning the pinyin-reading model on a user's text: the decoder adapts, the encoder stays.

The design's split: the pinyin side (the syllable encoder and the projection into the decoder)
is general, the language side (the character decoder) is the user's. ``adapt="decoder"`` trains
the decoder only; ``adapt="all"`` trains every parameter, the alternative it is measured against
(docs/TUNING.md#fine-tuning-the-pinyin-reading-model).

Each batch is half the user's text, half general text (the replay sample that ships with Shuru,
read with pypinyin as the user's text is), so that general accuracy holds, as in the character
model's fine-tune (trainer.finetune). Training stops after ``minutes`` or ``max_steps``; the
result is a pinyin-train export dir (weights.pt, vocab.txt, syllables.txt, manifest.json) that
``pinyin-export`` turns into a model dir, with the restricted loss and accuracy before and after
on the user's held-out text and on general held-out text in its manifest.
"""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from .data import stderr_log
from .errors import ConfigError, DataError
from .finetune import REPLAY_DIR, read_texts, split_user_lines
from .pinyin_data import Augment, Encoder, PinyinWindowSampler, encode_lines, heldout_pairs
from .pinyin_export import load_trained
from .pinyin_model import PinyinLM
from .pinyin_train import EvalSet, _model_metrics, write_export_dir
from .pinyin_vocab import SYL_NONE
from .replay import load_replay
from .report import spread
from .train import pick_device

ADAPT = ("decoder", "all")


@dataclass
class PinyinFinetuneConfig:
    """Every knob of a pinyin fine-tune (overridable as --key=value)."""

    adapt: str = "decoder"  # "decoder": the encoder and proj stay as they are; "all": every parameter
    minutes: float = 7.0  # training time (the character model's fine-tune preset's)
    max_steps: int = 0  # 0: until `minutes`
    lr: float = 1.5e-4  # keeps general text within 0.5 from an annealed base (docs/TUNING.md#the-pinyin-reading-model-cooled-down-a-measurement-not-shipped-2026-12-06)
    warmup_steps: int = 20
    weight_decay: float = 0.1
    grad_clip: float = 1.0
    batch_size: int = 16  # windows per step, half of them the user's
    seq_len: int = 128
    eval_windows: int = 128
    replay_chars: int = 1_000_000  # general text read from the replay sample (pypinyin reads ~180k chars/s)
    user_chars: int = 0  # the user's text read, spread over all of it (0: all; pypinyin's reading is the cost)
    threads: int = 2
    seed: int = 1


def check_adapt(adapt: str) -> None:
    """ConfigError unless ``adapt`` is one of ADAPT."""
    if adapt not in ADAPT:
        raise ConfigError(f"adapt must be one of {', '.join(ADAPT)}, not {adapt!r}")


def trainable(model: PinyinLM, adapt: str) -> list[torch.nn.Parameter]:
    """The parameters a fine-tune changes; the others are frozen (requires_grad False)."""
    check_adapt(adapt)
    frozen = {id(p) for p in model.pinyin_parameters()} if adapt == "decoder" else set()
    for p in model.parameters():
        p.requires_grad_(id(p) not in frozen)
    return [p for p in model.parameters() if p.requires_grad]


def _encode(lines: list[str], enc: Encoder, what: str) -> tuple[np.ndarray, np.ndarray]:
    tokens, syllables, _ = encode_lines(lines, enc)
    if int((syllables > SYL_NONE).sum()) < 2:  # fewer than two characters with a reading
        raise DataError(f"{what} has no Chinese text to learn from")
    return tokens, syllables


def _first_chars(lines: list[str], n: int) -> list[str]:
    """The first lines of ``lines`` holding about ``n`` characters."""
    out, total = [], 0
    for line in lines:
        if total >= n:
            break
        out.append(line)
        total += len(line)
    return out


def pinyin_finetune(texts: list[Path], weights: Path, out: Path, cfg: PinyinFinetuneConfig = PinyinFinetuneConfig(),
                    heldout: list[Path] | None = None, log: Callable[[str], None] = stderr_log) -> dict:
    """Fine-tune pinyin-train's export dir ``weights`` on ``texts`` into ``out`` (see the module doc).
    ``heldout``: the user's held-out text (default: every 20th line of ``texts``)."""
    check_adapt(cfg.adapt)  # before the texts are read
    model, vocab, table, base_manifest = load_trained(weights)
    train_lines, held_lines = split_user_lines(read_texts(texts, log))
    if heldout:
        train_lines += held_lines
        held_lines = sum(split_user_lines(read_texts(heldout, log)), [])
    result, _ = adapt_reader(model, vocab, table, train_lines, held_lines, cfg, log)
    _write(out, model.float().cpu().eval(), vocab, table, base_manifest, cfg, result)
    return result


def adapt_reader(model: PinyinLM, vocab, table, train_lines: list[str], held_lines: list[str],
                 cfg: PinyinFinetuneConfig, log: Callable[[str], None] = stderr_log,
                 on_progress: Callable[[int, float, float], None] | None = None) -> tuple[dict, tuple]:
    """Fine-tune ``model`` in place on the user's ``train_lines`` (half of each batch; the other half
    replays general text) until ``cfg.minutes`` or ``cfg.max_steps``; the restricted accuracy
    before and after on ``held_lines`` and on general held-out text. ``on_progress(step, progress,
    loss)`` after each step. Returns the run's record (steps, seconds, before, after) and windows
    of the held-out text (tokens, syllables) for the export's int8 check."""
    torch.set_num_threads(max(cfg.threads, 1))
    torch.manual_seed(cfg.seed)
    device = pick_device()
    params = trainable(model, cfg.adapt)
    enc = Encoder.of(vocab, table)
    user = PinyinWindowSampler(*_encode(_spread_chars(train_lines, cfg.user_chars), enc, "the text"), cfg.seq_len,
                               cfg.seed, table, Augment())
    general_train, general_held = (_first_chars(lines, cfg.replay_chars) for lines in load_replay(REPLAY_DIR))
    general = PinyinWindowSampler(*_encode(general_train, enc, "the replay sample"), cfg.seq_len, cfg.seed + 1,
                                  table, Augment())
    held = _encode(held_lines, enc, "the held-out text")
    evals = {"user": EvalSet.of(*held, table, cfg.seq_len, cfg.eval_windows),
             "general": EvalSet.of(*_encode(general_held, enc, "the replay sample"), table, cfg.seq_len,
                                   cfg.eval_windows)}
    model.to(device)
    before = {k: _model_metrics(model, ev, table, _EvalCfg, device) for k, ev in evals.items()}
    log(f"adapting {cfg.adapt}: {sum(p.numel() for p in params) / 1e6:.2f}M of "
        f"{sum(p.numel() for p in model.parameters()) / 1e6:.2f}M parameters; before {before}")
    opt = torch.optim.AdamW([{"params": [p for p in params if p.dim() >= 2], "weight_decay": cfg.weight_decay},
                             {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0}],
                            lr=cfg.lr, betas=(0.9, 0.95))
    model.train()
    steps, t0 = 0, time.perf_counter()
    while True:
        progress = max(steps / cfg.max_steps if cfg.max_steps else 0.0,
                       (time.perf_counter() - t0) / (cfg.minutes * 60) if cfg.minutes else 0.0)
        if progress >= 1.0 or not (cfg.max_steps or cfg.minutes):
            break
        lr = cfg.lr * min(1.0, (steps + 1) / cfg.warmup_steps) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))
        for g in opt.param_groups:
            g["lr"] = lr
        half = cfg.batch_size // 2
        x, syl, y = (torch.from_numpy(np.concatenate([a, b])).to(device)
                     for a, b in zip(user.batch(cfg.batch_size - half), general.batch(half)))
        _, loss = model(x, syl, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
        opt.step()
        steps += 1
        if on_progress is not None:
            on_progress(steps, progress, float(loss.detach()))
        if steps % 50 == 0:
            log(f"step {steps} loss {float(loss.detach()):.4f} lr {lr:.2e} {time.perf_counter() - t0:.0f}s")
    seconds = time.perf_counter() - t0
    model.eval()
    after = {k: _model_metrics(model, ev, table, _EvalCfg, device) for k, ev in evals.items()}
    log(f"after {steps} steps ({seconds:.0f}s): {after}")
    return ({"adapt": cfg.adapt, "steps": steps, "seconds": round(seconds, 1),
             "s_per_step": round(seconds / max(steps, 1), 3), "before": before, "after": after},
            heldout_pairs(*held, 64, 16))


def _spread_chars(lines: list[str], n: int) -> list[str]:
    """Lines spread evenly over ``lines`` holding about ``n`` characters (all of them for n <= 0
    or a shorter text): a short fine-tune reads a sample of a long text, not its beginning."""
    total = sum(len(line) for line in lines)
    if n <= 0 or total <= n:
        return lines
    return spread(lines, max(1, round(len(lines) * n / total)))


class _EvalCfg:
    """What trainer.pinyin_train.evaluate reads of a config: no bf16 autocast for a fine-tune's checks."""

    autocast_bf16 = False


def _write(out: Path, model: PinyinLM, vocab, table, base_manifest: dict, cfg: PinyinFinetuneConfig,
           result: dict) -> None:
    """A pinyin-train export dir (write_export_dir), its training record the base's plus this fine-tune."""
    write_export_dir(model, vocab, table, out, {**(base_manifest.get("training") or {}), "finetune": asdict(cfg)},
                     {"finetune": result})

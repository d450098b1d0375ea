"""Personal fine-tuning: the installed model + a user's own text -> a personal model dir.

Steps: read and check every text file first (a binary file stops everything, touching
nothing); start from the installed model's fp16 weights; train on windows of the user's
text mixed with a replay sample of general corpus text (so general accuracy holds);
export into a temp dir, verify with onnxruntime, then swap it into the output dir. An
interrupt (Ctrl-C, SIGTERM) leaves the old model untouched and a resumable checkpoint in
the work dir: running the same command again resumes.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np

from engine.build.corpus import normalise_text
from engine.engine import ASSETS_DIR

from .config import apply_overrides
from .data import WindowSampler, heldout_windows, load_shards, stderr_log
from .errors import DataError, ManifestError
from .export import VOCAB_NAME, WEIGHTS_NAME, load_manifest, write_model_dir
from .model import CharLM, ModelConfig
from .textfile import read_text_file
from .train import PRESETS, TrainConfig, TrainData, mixed_sampler, replay_rows, train
from .vocab import Vocab

REPO_ROOT = Path(__file__).resolve().parents[1]
ENGINE_ASSETS = ASSETS_DIR  # the installed engine's assets (package data), wherever it is installed
INSTALLED_MODEL = ENGINE_ASSETS / "model"
DEFAULT_SHARDS = REPO_ROOT / "build" / "trainer" / "shards"
USER_HELDOUT_EVERY = 20  # every 20th line of the user's text measures, never trains


def personal_model_dir() -> Path:
    """Default output: <user data dir>/shuru/models/personal."""
    import platformdirs

    return Path(platformdirs.user_data_dir("shuru", appauthor=False)) / "models" / "personal"


def read_texts(paths: list[Path], log: Callable[[str], None]) -> list[str]:
    """Decoded text of every file (all checked before any training starts)."""
    texts = []
    for p in paths:
        text, encoding = read_text_file(p)
        log(f"read {p}: {len(text)} chars ({encoding})")
        texts.append(text)
    return texts


def split_user_text(texts: list[str], vocab: Vocab) -> tuple[np.ndarray, np.ndarray]:
    """(train, heldout) token arrays; every USER_HELDOUT_EVERY-th non-empty line is held out."""
    lines = [normalise_text(line) for t in texts for line in t.splitlines()]
    lines = [line for line in lines if line]
    held = [line for i, line in enumerate(lines) if i % USER_HELDOUT_EVERY == USER_HELDOUT_EVERY - 1]
    train_lines = [line for i, line in enumerate(lines) if i % USER_HELDOUT_EVERY != USER_HELDOUT_EVERY - 1]
    return vocab.encode("\n".join(train_lines)), vocab.encode("\n".join(held))


def replay_sampler(shard_dir: Path, vocab: Vocab, cfg: TrainConfig, log) -> tuple[WindowSampler | None, np.ndarray]:
    """Sampler over general-text shards plus held-out windows, or (None, empty) with a
    warning when the shards are missing or built with another vocabulary."""
    empty = np.zeros((0, cfg.seq_len + 1), np.int64)
    try:
        shard_vocab = Vocab.load(shard_dir / VOCAB_NAME)
    except DataError:
        log(f"warning: no general-text shards in {shard_dir}: fine-tuning without replay "
            "(general accuracy may drop; run `python -m trainer prepare` to enable it)")
        return None, empty
    if shard_vocab.sha1 != vocab.sha1:
        log(f"warning: shards in {shard_dir} use another vocabulary: fine-tuning without replay")
        return None, empty
    sampler = WindowSampler(load_shards(shard_dir, "train"), cfg.seq_len, cfg.seed + 1, cfg.bos_align, cfg.bos_first)
    held = heldout_windows(load_shards(shard_dir, "heldout"), cfg.seq_len, cfg.eval_windows)
    return sampler, held


def finetune_config(base_cfg: ModelConfig, weights: Path, work: Path, overrides: list[str]) -> TrainConfig:
    """The finetune preset with the base model's shape, then the user's overrides."""
    cfg = PRESETS["finetune"]()
    shape = {k: getattr(base_cfg, k) for k in ("n_layer", "n_head", "d_model", "d_ff", "max_len")}
    cfg = apply_overrides(TrainConfig(**{**cfg.__dict__, **shape, "init_from": str(weights),
                                         "run_dir": str(work)}), overrides)
    cfg.seq_len = min(cfg.seq_len, cfg.max_len)
    return cfg


def _job_id(texts: list[str], base_manifest: dict, cfg: TrainConfig) -> str:
    """Identity of a fine-tuning job: a checkpoint of another job is not resumed."""
    h = hashlib.sha1()
    for t in texts:
        h.update(t.encode("utf-8"))
    h.update(base_manifest["onnx_sha1"].encode())
    h.update(json.dumps({k: v for k, v in cfg.__dict__.items() if k != "run_dir"}, sort_keys=True).encode())
    return h.hexdigest()


def _prepare_work_dir(work: Path, job: str, log) -> None:
    """Keep a checkpoint of the same job (resume); clear one of another job."""
    job_file = work / "job.json"
    if work.exists() and (not job_file.is_file() or json.loads(job_file.read_text())["job"] != job):
        log(f"starting over: {work} held a checkpoint of another fine-tuning job")
        shutil.rmtree(work)
    work.mkdir(parents=True, exist_ok=True)
    job_file.write_text(json.dumps({"job": job}))


def finetune(texts_paths: list[Path], out: Path | None = None, base: Path | None = None,
             shards: Path | None = None, work: Path | None = None, overrides: list[str] | None = None,
             log: Callable[[str], None] = stderr_log, on_step: Callable[[int], None] | None = None) -> dict:
    """Fine-tune `base` (default: the installed model) on text files into `out`
    (default: the personal model dir). Returns a summary dict."""
    t0 = time.time()
    texts = read_texts(texts_paths, log)  # refuses binary files before anything is touched
    base = Path(base) if base else INSTALLED_MODEL
    out = Path(out) if out else personal_model_dir()
    manifest = load_manifest(base)
    if not (base / WEIGHTS_NAME).is_file():
        raise ManifestError(f"{base} has no {WEIGHTS_NAME}: this model cannot be fine-tuned")
    vocab = Vocab.load(base / VOCAB_NAME)
    work = Path(work) if work else out.with_name(f".{out.name}-finetune")
    cfg = finetune_config(ModelConfig.from_dict(manifest["config"]), base / WEIGHTS_NAME, work, overrides or [])
    user_train, user_held = split_user_text(texts, vocab)
    if len(user_train) < cfg.seq_len + 2:
        raise DataError(f"too little text to learn from ({len(user_train)} tokens); give at least a few pages")
    replay, general_held = replay_sampler(Path(shards) if shards else DEFAULT_SHARDS, vocab, cfg, log)
    if replay is None or replay_rows(cfg.batch_size, cfg.replay_fraction) == 0:
        replay, cfg.replay_fraction = None, 0.0  # every row is the user's text, and the manifest says so
    cfg = _cap_steps(cfg, len(user_train), log)
    _prepare_work_dir(work, _job_id(texts, manifest, cfg), log)
    main = WindowSampler(user_train, cfg.seq_len, cfg.seed, cfg.bos_align, cfg.bos_first)
    evals = {"user": heldout_windows(user_held, cfg.seq_len, cfg.eval_windows)}
    if len(general_held):
        evals["general"] = general_held
    data = TrainData(mixed_sampler(main, replay, cfg.replay_fraction), evals,
                     [main] + ([replay] if replay else []), data_description(cfg, len(user_train)))
    before = _eval_base(base / WEIGHTS_NAME, vocab, evals, cfg)
    result = train(cfg, data, vocab, log=log, on_step=on_step)
    model = _load_final(work, vocab)
    training = {"base_model": str(base), "base_onnx_sha1": manifest["onnx_sha1"], "texts": [str(p) for p in texts_paths],
                "user_tokens": int(len(user_train)), "replay": replay is not None, "steps": result["steps"],
                "tokens": result["tokens"], "minutes": round(result["elapsed_s"] / 60, 2),
                "config": {k: getattr(cfg, k) for k in ("lr", "batch_size", "seq_len", "replay_fraction",
                                                        "freeze_embeddings", "freeze_layers", "max_minutes")}}
    metrics = {"before": before, "after": result["eval"]}
    write_model_dir(model, vocab, out, training, metrics, int8=manifest.get("quantized", False),
                    extra_files=lambda folder: write_user_layer(texts, texts_paths, folder, log))
    shutil.rmtree(work, ignore_errors=True)  # the job is done; its checkpoint is no longer needed
    summary = {"status": "ok", "out": str(out), "minutes": round((time.time() - t0) / 60, 2),
               "steps": result["steps"], "before": before, "after": result["eval"]}
    log(f"personal model written to {out}")
    return summary


def write_user_layer(texts: list[str], paths: list[Path], folder: Path, log) -> None:
    """The statistical side of personalisation: the user's word n-grams (engine.userlm), which
    the engine mixes into its trigram whenever this model folder is in use."""
    from engine.lexicon import Lexicon
    from engine.userlm import FILE_NAME, count_text, save_user_lm

    lexicon = Lexicon.load(ENGINE_ASSETS / "lexicon.npz")
    uni, bi, tri = count_text((line for t in texts for line in t.splitlines()), lexicon)
    meta = save_user_lm(folder / FILE_NAME, uni, bi, lexicon, [Path(p).name for p in paths], tri)
    log(f"user text layer: {meta['tokens']} words, {meta['bigrams']} word pairs, {meta['trigrams']} triples")


def user_rows(cfg: TrainConfig) -> int:
    """Rows of the user's text in each batch (the rest replays general text)."""
    return cfg.batch_size - replay_rows(cfg.batch_size, cfg.replay_fraction)


def data_description(cfg: TrainConfig, n_user_tokens: int) -> str:
    """What the batches hold, for the progress log."""
    k = replay_rows(cfg.batch_size, cfg.replay_fraction)
    if k == 0:
        return f"{n_user_tokens} user tokens, no replay"
    return f"{n_user_tokens} user tokens + replay of general text ({k} of {cfg.batch_size} rows per batch)"


def _cap_steps(cfg: TrainConfig, n_user_tokens: int, log) -> TrainConfig:
    """Limit steps to cfg.max_epochs passes over the user's text (small texts overfit) and log
    the plan: the steps announced are the steps run (unless the time budget ends it first)."""
    tokens_per_step = max(user_rows(cfg) * cfg.seq_len, 1)
    if cfg.max_epochs > 0:
        cfg.max_steps = min(cfg.max_steps, max(1, math.ceil(cfg.max_epochs * n_user_tokens / tokens_per_step)))
    epochs = cfg.max_steps * tokens_per_step / max(n_user_tokens, 1)
    budget = f" (fewer if the {cfg.max_minutes:g}-minute budget runs out first)" if cfg.max_minutes > 0 else ""
    log(f"{n_user_tokens} user tokens: {cfg.max_steps} steps = {epochs:.1f} epochs{budget}")
    if cfg.warmup_steps >= cfg.max_steps:  # the warm-up must end before the run does
        cfg.warmup_steps = max(1, cfg.max_steps // 2)
        log(f"warm-up shortened to {cfg.warmup_steps} steps to fit the run")
    return cfg


def _eval_base(weights: Path, vocab: Vocab, evals: dict, cfg: TrainConfig) -> dict:
    """Held-out losses of the starting model (to report the gain)."""
    import torch

    from .train import evaluate_windows, load_weights, pick_device

    torch.set_num_threads(cfg.threads or os.cpu_count() or 1)
    model = load_weights(weights, vocab)
    return {f"{k}_loss": round(evaluate_windows(model, w, cfg, pick_device()), 4) for k, w in evals.items()}


def _load_final(work: Path, vocab: Vocab) -> CharLM:
    import torch

    ck = torch.load(work / "ckpt.pt", map_location="cpu", weights_only=False)
    model = CharLM(ModelConfig.from_dict(ck["model_config"]))
    model.load_state_dict(ck["model"])
    return model


def finetune_cli(args, extra: list[str]) -> dict:
    """`python -m trainer finetune` (argparse namespace + --key=value overrides)."""
    return finetune(args.text, out=args.out, base=args.base, shards=args.shards, work=args.work, overrides=extra)


if __name__ == "__main__":  # pragma: no cover
    sys.exit("use: python -m trainer finetune --text FILE...")

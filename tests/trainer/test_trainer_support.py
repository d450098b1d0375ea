"""Shared fixtures for the trainer tests: a tiny vocabulary, data and model built from
tests/fixtures/trainer/tiny.txt in tmp dirs (never build/ or runs/)."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from trainer.data import WindowSampler, heldout_windows
from trainer.train import PRESETS, TrainConfig, TrainData, train
from trainer.vocab import Vocab, build_small_vocab

FIXTURE_DIR = Path(__file__).parents[1] / "fixtures" / "trainer"
TINY_TEXT = FIXTURE_DIR / "tiny.txt"


def tiny_vocab() -> Vocab:
    return build_small_vocab(TINY_TEXT.read_text(encoding="utf-8"))


def tiny_cfg(run_dir: Path, **changes) -> TrainConfig:
    """The tiny preset, short, in `run_dir`, single-threaded (tests run beside others)."""
    cfg = dataclasses.replace(PRESETS["tiny"](), run_dir=str(run_dir), max_steps=30, eval_every=10, threads=1)
    return dataclasses.replace(cfg, **changes)


def tiny_data(cfg: TrainConfig, vocab: Vocab) -> TrainData:
    tokens = vocab.encode(TINY_TEXT.read_text(encoding="utf-8"))
    sampler = WindowSampler(tokens, cfg.seq_len, cfg.seed)
    return TrainData(sampler.batch, {"heldout": heldout_windows(tokens, cfg.seq_len, 8)}, [sampler], "tiny.txt")


def train_tiny(run_dir: Path, **changes) -> tuple[dict, Vocab]:
    vocab = tiny_vocab()
    cfg = tiny_cfg(run_dir, **changes)
    return train(cfg, tiny_data(cfg, vocab), vocab, log=lambda m: None), vocab


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """An exported tiny model dir (ONNX + vocab + manifest + weights.pt)."""
    from trainer.export import export_run

    root = tmp_path_factory.mktemp("tiny_model")
    train_tiny(root / "run", max_steps=20)
    export_run(root / "run", root / "model")
    return root / "model"


def dir_snapshot(path: Path) -> dict[str, bytes]:
    """name -> content of every file under `path` (to check a dir was left untouched)."""
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(Path(path).rglob("*")) if p.is_file()}


def random_batch(vocab_size: int, shape, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(4, vocab_size, size=shape).astype(np.int64)


def checkpoint_model(run_dir: Path):
    """The fp32 model of a run's checkpoint (what model.onnx was exported from; weights.pt
    holds the same weights rounded to fp16)."""
    import torch

    from trainer.model import CharLM, ModelConfig

    ck = torch.load(Path(run_dir) / "ckpt.pt", map_location="cpu", weights_only=False)
    model = CharLM(ModelConfig.from_dict(ck["model_config"]))
    model.load_state_dict(ck["model"])
    return model.eval()

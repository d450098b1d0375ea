"""Data-parallel training on CPU (gloo): torchrun with 2 processes on tiny shards, one DDP
step against one single-process step on the same rows, resume with another process count,
the rank slices of the shards, and the GPU preset at reduced size.

Parity tolerance: after one AdamW step, 2 ranks x B rows and 1 process x 2B rows give
parameters within max abs diff 1e-5 (fp32, dropout 0, no autocast; observed 1.1e-6: the
same mean gradient summed in another order, and Adam's first step divides gradients near
zero by ~eps, so their rounding shows).

Run as a module under torchrun, this file is the DDP side of the parity test:
    python -m torch.distributed.run --standalone --nproc_per_node=2 -m tests.trainer.test_trainer_ddp OUT B
"""
from __future__ import annotations

import dataclasses
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.trainer.test_trainer_support import TINY_TEXT, random_batch, tiny_cfg, tiny_vocab
from trainer.data import part_of, rank_slice, sampler_seed
from trainer.distributed import DistContext
from trainer.model import CharLM
from trainer.train import PRESETS, TrainConfig, make_optimizer, train, train_step, wrap_model

ROOT = Path(__file__).resolve().parents[2]
PARITY_TOL = 1e-5
ROWS = 4  # B: rows per rank in the parity test


def torchrun(nproc: int, args: list[str], timeout: float = 120) -> subprocess.CompletedProcess:
    """`torchrun --standalone --nproc_per_node=N ARGS` from the repository root, on CPU."""
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}", *args]
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def write_tiny_shards(out: Path) -> Path:
    """Two train shards and a held-out file of tests/fixtures/trainer/tiny.txt, as `prepare` writes them."""
    vocab = tiny_vocab()
    tokens = vocab.encode(TINY_TEXT.read_text(encoding="utf-8")).astype(np.uint16)
    out.mkdir(parents=True)
    vocab.save(out / "vocab.txt")
    half = len(tokens) // 2
    np.save(out / "train-000.npy", tokens[:half])
    np.save(out / "train-001.npy", tokens[half:])
    np.save(out / "heldout.npy", tokens[: len(tokens) // 5])
    return out


# --- one step: 2 ranks x B rows == 1 process x 2B rows ------------------------------


def parity_cfg() -> TrainConfig:
    """Tiny, deterministic: no dropout, fp32, one thread."""
    return dataclasses.replace(PRESETS["tiny"](), dropout=0.0, autocast_bf16=False, threads=1, lr=3e-3)


def parity_rows(vocab_size: int, rows: int, seq_len: int) -> np.ndarray:
    """The explicit batch both runs see: `rows` windows (rows, seq_len + 1), no <pad> (so every
    row weighs the same in the mean loss)."""
    return random_batch(vocab_size, (rows, seq_len + 1), seed=5)


def one_step(rows: np.ndarray, vocab_size: int, ctx: DistContext) -> dict[str, torch.Tensor]:
    """Parameters after one train_step from the seed-initialised tiny model on `rows`."""
    cfg = parity_cfg()
    torch.set_num_threads(1)
    torch.manual_seed(cfg.seed)
    model = CharLM(cfg.model_config(vocab_size))
    opt = make_optimizer(model, cfg)
    for g in opt.param_groups:
        g["lr"] = cfg.lr
    net = wrap_model(model, cfg, ctx, torch.device("cpu"))
    w = torch.from_numpy(rows)
    train_step(net, opt, w[:, :-1], w[:, 1:], cfg, torch.device("cpu"))
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _ddp_worker(out: Path, rows_per_rank: int) -> None:
    """Under torchrun: rank r trains on rows r*B..(r+1)*B of the shared batch; rank 0 saves."""
    ctx = DistContext.from_env()
    ctx.init(torch.device("cpu"))
    vocab_size, cfg = len(tiny_vocab()), parity_cfg()
    rows = parity_rows(vocab_size, rows_per_rank * ctx.world_size, cfg.seq_len)
    mine = rows[ctx.rank * rows_per_rank : (ctx.rank + 1) * rows_per_rank]
    params = one_step(mine, vocab_size, ctx)
    if ctx.is_main:
        torch.save(params, out)
    ctx.barrier()  # as the trainer's _finish: no rank leaves the group while another still works
    ctx.close()


def test_two_ranks_step_matches_one_process_with_twice_the_rows(tmp_path):
    out = tmp_path / "ddp.pt"
    torchrun(2, ["-m", "tests.trainer.test_trainer_ddp", str(out), str(ROWS)])
    ddp = torch.load(out, weights_only=True)
    vocab_size, seq_len = len(tiny_vocab()), parity_cfg().seq_len
    rows = parity_rows(vocab_size, 2 * ROWS, seq_len)
    single = one_step(rows, vocab_size, DistContext())
    diff = max(float((ddp[k] - single[k]).abs().max()) for k in single)
    print(f"max abs parameter diff, 2 ranks x {ROWS} rows vs 1 process x {2 * ROWS} rows: {diff:.2e}")
    assert diff < PARITY_TOL
    # the gradients really were averaged: rank 0's rows alone give another step
    half = one_step(rows[:ROWS], vocab_size, DistContext())
    assert max(float((ddp[k] - half[k]).abs().max()) for k in half) > 100 * PARITY_TOL


# --- torchrun end to end, then resume in one process --------------------------------


def test_torchrun_two_ranks_learns_and_resumes_in_one_process(tmp_path):
    shards, run = write_tiny_shards(tmp_path / "shards"), tmp_path / "run"
    args = ["-m", "trainer", "train", "--preset=tiny", f"--run_dir={run}", f"--shard_dir={shards}",
            "--threads=1", "--max_steps=40", "--eval_every=10"]
    done = torchrun(2, args)
    assert done.stdout.count('"run_dir"') == 1  # one result line (rank 0), not one per process
    ck = torch.load(run / "ckpt.pt", weights_only=False)
    history, batch, seq = ck["state"]["history"], 8, 32
    assert ck["world_size"] == 2 and ck["state"]["step"] == 40
    assert ck["state"]["tokens"] == 40 * 2 * batch * seq  # tokens seen by both ranks
    assert history[-1]["heldout_loss"] < history[0]["heldout_loss"] < math.log(len(tiny_vocab())) + 0.5
    assert history[-1]["heldout_loss"] < math.log(len(tiny_vocab())) - 0.5
    assert not any(k.startswith(("module.", "_orig_mod.")) for k in ck["model"])  # unwrapped from DDP
    # the same run, resumed by a plain single process (no torchrun), 10 steps further
    cfg = tiny_cfg(run, shard_dir=str(shards), max_steps=50)
    result = train(cfg, log=lambda m: None, ctx=DistContext())
    assert result["steps"] == 50 and result["world_size"] == 1
    assert result["tokens"] == 40 * 2 * batch * seq + 10 * batch * seq
    assert torch.load(run / "ckpt.pt", weights_only=False)["world_size"] == 1


# --- shard slices and seeds ---------------------------------------------------------


@pytest.mark.parametrize("n_files, rank, world, files, part", [
    (3, 0, 1, [0, 1, 2], (0, 1)),  # one process: everything, as before
    (4, 0, 2, [0, 2], (0, 1)),  # enough files: every W-th file, whole
    (4, 1, 2, [1, 3], (0, 1)),
    (3, 2, 3, [2], (0, 1)),
    (1, 1, 2, [0], (1, 2)),  # fewer files than ranks: the r-th of W token ranges
    (2, 2, 4, [0, 1], (2, 4)),
])
def test_rank_slice(n_files, rank, world, files, part):
    assert rank_slice(list(range(n_files)), rank, world) == (files, part)


def test_parts_cover_the_tokens_once():
    tokens = np.arange(103)
    pieces = [part_of(tokens, r, 4) for r in range(4)]
    assert np.array_equal(np.concatenate(pieces), tokens) and {len(p) for p in pieces} == {25, 26}


@pytest.mark.parametrize("rank, step, seed", [(0, 0, 1337), (1, 0, (1337, 1, 0)), (0, 40, (1337, 0, 40))])
def test_sampler_seed(rank, step, seed):
    assert sampler_seed(1337, rank, step) == seed


def test_plain_process_is_rank_0_of_1_without_a_group(monkeypatch):
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(name, raising=False)
    ctx = DistContext.from_env()
    assert (ctx.rank, ctx.world_size, ctx.group, ctx.is_main) == (0, 1, False, True)
    assert ctx.max_of(2.5, torch.device("cpu")) == 2.5  # no collective without a group
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert DistContext.from_env() == DistContext(1, 2, 0, group=True)


def test_exit_process_outside_torchrun_is_sys_exit(monkeypatch):
    from trainer.distributed import exit_process

    monkeypatch.delenv("RANK", raising=False)
    with pytest.raises(SystemExit) as e:
        exit_process(3)
    assert e.value.code == 3


# --- the GPU preset -------------------------------------------------------------------


def test_gpu_preset_shape():
    cfg = PRESETS["gpu"]()
    assert cfg.autocast_bf16 and cfg.compile and cfg.max_minutes <= 10
    n = CharLM(cfg.model_config(7490)).num_params()
    assert 10e6 < n < 30e6  # fp16 weights + int8 ONNX come back in under 64 MiB


def test_gpu_preset_steps_on_cpu_at_reduced_size():
    cfg = dataclasses.replace(PRESETS["gpu"](), n_layer=2, d_model=64, n_head=2, d_ff=128, batch_size=2,
                              threads=1)
    model = CharLM(cfg.model_config(len(tiny_vocab())))
    opt = make_optimizer(model, cfg)
    net = wrap_model(model, cfg, DistContext(), torch.device("cpu"))
    assert net is model  # never compiled on CPU, no DDP without torchrun
    w = torch.from_numpy(random_batch(len(tiny_vocab()), (cfg.batch_size, cfg.seq_len + 1)))
    before = model.wte.weight.detach().clone()
    loss = train_step(net, opt, w[:, :-1], w[:, 1:], cfg, torch.device("cpu"))
    assert math.isfinite(float(loss)) and not torch.equal(before, model.wte.weight)



@pytest.mark.parametrize("world, device, says", [
    (1, "cpu", "threads=1"),
    (2, "cpu", "2 processes"),
    (4, "NVIDIA H200", "4 x NVIDIA H200, bf16 autocast=True, torch.compile=True"),
])
def test_manifest_hardware_line(world, device, says):
    from trainer.export import _hardware

    cfg = {"threads": 1, "autocast_bf16": True, "compile": True}
    assert says in _hardware({"config": cfg, "world_size": world, "device": device})


if __name__ == "__main__":
    from trainer.distributed import exit_process

    _ddp_worker(Path(sys.argv[1]), int(sys.argv[2]))
    exit_process(0)

"""Training loop shared by pretraining (`train`) and fine-tuning (`finetune`).

Resumable: `RUN/ckpt.pt` holds model, optimizer, step, elapsed time and every RNG state,
written atomically (tmp file + os.replace) every `ckpt_minutes`, on interrupt
(Ctrl-C / SIGTERM) and at the end. Re-running the same command resumes from it.

The learning rate warms up linearly, then follows a cosine over the run's progress,
where progress = max(step / max_steps, elapsed / max_minutes): a run can be bounded by
steps, by wall-clock time, or both (fine-tuning must finish within a time budget).

Data-parallel: under `torchrun --nproc_per_node=N -m trainer train ...` each process
trains on its own slice of the shards with `batch_size` rows per step, DDP averages the
gradients (global batch = N * batch_size), and rank 0 alone logs, evaluates and writes
the checkpoint. A plain `python -m trainer train` is rank 0 of 1: no process group, the
same run as before. Checkpoints hold the unwrapped model, so a run may resume with a
different number of processes.
"""
from __future__ import annotations

import dataclasses
import functools
import math
import os
import random
import signal
import sys
import time
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from engine.atomic import atomic_writer

from .data import WindowSampler, heldout_windows, load_shards, sampler_seed
from .distributed import DistContext
from .errors import DataError, ManifestMismatchError
from .model import CharLM, ModelConfig, check_same_config
from .vocab import Vocab

CKPT_NAME = "ckpt.pt"


@dataclass
class TrainConfig:
    """Every knob of a training run (overridable as --key=value)."""

    # model shape (vocab_size comes from vocab.txt)
    n_layer: int = 4
    n_head: int = 4
    d_model: int = 256
    d_ff: int = 1024
    max_len: int = 128  # learned positions; the engine feeds context + clause < 128
    dropout: float = 0.0  # <1 epoch of data: no dropout needed
    # data
    run_dir: str = "runs/base"  # checkpoints, vocab.txt copy, train.log
    shard_dir: str = "build/trainer/shards"
    seq_len: int = 128  # training window (<= max_len)
    bos_align: float = 0.5  # fraction of windows that start at a <bos>
    bos_first: bool = True  # other windows get <bos> as first token (like the engine's cut context)
    # optimisation
    batch_size: int = 32
    lr: float = 2e-3
    min_lr: float = 1e-4
    warmup_steps: int = 300
    weight_decay: float = 0.1
    beta1: float = 0.9
    beta2: float = 0.95
    grad_clip: float = 1.0
    max_steps: int = 1_000_000
    max_minutes: float = 0.0  # wall-clock budget for the LR schedule and stop (0 = none)
    # fine-tuning
    init_from: str = ""  # weights.pt to start from ('' = random init)
    freeze_embeddings: bool = False  # token + position embeddings (also the tied output)
    freeze_layers: int = 0  # freeze this many lowest blocks
    replay_fraction: float = 0.0  # share of each batch drawn from general text
    max_epochs: float = 0.0  # cap on passes over the fine-tuning text (0 = no cap)
    # bookkeeping
    eval_every: int = 250  # steps
    eval_windows: int = 256  # held-out windows per evaluation
    log_every: int = 20  # steps between progress lines (non-tty)
    ckpt_minutes: float = 10.0
    seed: int = 1337
    # bf16 autocast where the hardware has bf16 (CUDA; AVX512-BF16 or AMX) (docs/TUNING.md#training-presets)
    autocast_bf16: bool = True
    compile: bool = True  # torch.compile the model on CUDA (never on CPU: start-up cost, no gain at our sizes)
    threads: int = 2  # 0 = adaptive: probe 1..cpu_count threads and keep the fastest

    def model_config(self, vocab_size: int) -> ModelConfig:
        return ModelConfig(vocab_size=vocab_size, max_len=self.max_len, n_layer=self.n_layer, n_head=self.n_head,
                           d_model=self.d_model, d_ff=self.d_ff, dropout=self.dropout)


def _tiny() -> TrainConfig:
    return TrainConfig(n_layer=2, n_head=2, d_model=32, d_ff=64, max_len=64, seq_len=32, batch_size=8,
                       lr=3e-3, warmup_steps=5, max_steps=60, eval_every=20, eval_windows=8,
                       log_every=10, run_dir="runs/tiny")


def _base() -> TrainConfig:
    return TrainConfig()


def _gpu() -> TrainConfig:
    # One large GPU for 8 minutes: 17M parameters, bf16, torch.compile (docs/TUNING.md#training-presets)
    return TrainConfig(n_layer=8, n_head=6, d_model=384, d_ff=1536, dropout=0.1, batch_size=512, lr=1.5e-3,
                       min_lr=1e-4, warmup_steps=300, max_minutes=8.0, eval_every=500, eval_windows=1024,
                       log_every=100, ckpt_minutes=3.0, threads=4, run_dir="runs/gpu")


def _finetune() -> TrainConfig:
    # 7 minutes of training, half of each batch replayed general text (docs/TUNING.md#training-presets)
    return TrainConfig(lr=5e-4, min_lr=5e-5, warmup_steps=20, max_steps=4000, max_minutes=7.0, threads=0,
                       batch_size=32, replay_fraction=0.5, max_epochs=4.0, freeze_embeddings=False, freeze_layers=0,
                       eval_every=200, eval_windows=64, ckpt_minutes=2.0, run_dir="")


PRESETS: dict[str, Callable[[], TrainConfig]] = {"tiny": _tiny, "base": _base, "gpu": _gpu,
                                                 "finetune": _finetune}


# --- data ----------------------------------------------------------------------------


@dataclass
class TrainData:
    """Where batches come from, plus named held-out windows to evaluate on."""

    sample: Callable[[int], tuple[np.ndarray, np.ndarray]]  # n -> x, y int64 (n, seq_len)
    evals: dict[str, np.ndarray] = field(default_factory=dict)  # name -> (N, seq_len + 1)
    samplers: list[WindowSampler] = field(default_factory=list)  # their RNGs go in checkpoints
    description: str = ""


def shard_data(cfg: TrainConfig, ctx: DistContext | None = None) -> TrainData:
    """Pretraining data: random windows of this rank's slice of the train shards; the
    held-out windows (rank 0 only: it alone evaluates)."""
    ctx = ctx or DistContext()
    tokens = load_shards(Path(cfg.shard_dir), "train", ctx.rank, ctx.world_size)
    sampler = WindowSampler(tokens, cfg.seq_len, sampler_seed(cfg.seed, ctx.rank), cfg.bos_align, cfg.bos_first)
    evals = {}
    if ctx.is_main:
        evals["heldout"] = heldout_windows(load_shards(Path(cfg.shard_dir), "heldout"), cfg.seq_len, cfg.eval_windows)
    part = f", rank {ctx.rank} of {ctx.world_size}: {len(tokens)} tokens" if ctx.world_size > 1 else ""
    return TrainData(sampler.batch, evals, [sampler], f"shards {cfg.shard_dir}{part}")


def replay_rows(n: int, fraction: float) -> int:
    """How many of a batch's `n` rows replay general text."""
    return int(round(n * fraction))


def mixed_sampler(main: WindowSampler, replay: WindowSampler | None, fraction: float):
    """Batches whose first replay_rows(n, fraction) rows come from `replay`."""

    def sample(n: int) -> tuple[np.ndarray, np.ndarray]:
        k = replay_rows(n, fraction) if replay is not None else 0
        x, y = main.batch(n - k)
        if k:
            rx, ry = replay.batch(k)
            x, y = np.concatenate([rx, x]), np.concatenate([ry, y])
        return x, y

    return sample


# --- model / optimiser -------------------------------------------------------------


def pick_device() -> torch.device:
    """cuda if available, else mps, else cpu."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def load_weights(path: Path, vocab: Vocab, expected: ModelConfig | None = None) -> CharLM:
    """A CharLM from a weights.pt (fp16 state_dict + config + vocab sha1), as fp32.
    Raises ManifestMismatchError if the vocab (or `expected` config) differs."""
    blob = torch.load(Path(path), map_location="cpu", weights_only=True)
    if blob.get("vocab_sha1") != vocab.sha1:
        raise ManifestMismatchError(f"{path}: vocab sha1 {blob.get('vocab_sha1')} does not match "
                                    f"vocab.txt ({vocab.sha1}); use the vocab.txt shipped with these weights")
    mcfg = ModelConfig.from_dict(blob["config"])
    if expected is not None:
        check_same_config(expected, blob["config"], str(path))
    if mcfg.vocab_size != len(vocab):
        raise ManifestMismatchError(f"{path}: vocab_size {mcfg.vocab_size} != {len(vocab)} tokens in vocab.txt")
    model = CharLM(mcfg)
    model.load_state_dict({k: v.float() for k, v in blob["state_dict"].items()})
    return model


def apply_freezing(model: CharLM, cfg: TrainConfig) -> None:
    """Turn off gradients for the frozen parts named in cfg."""
    if cfg.freeze_embeddings:
        model.wte.weight.requires_grad_(False)
        model.wpe.weight.requires_grad_(False)
    for block in model.blocks[: cfg.freeze_layers]:
        block.requires_grad_(False)


def make_optimizer(model: CharLM, cfg: TrainConfig) -> torch.optim.AdamW:
    """AdamW (fused on CUDA); weight decay on matrices only (not biases, LayerNorms)."""
    params = [p for p in model.parameters() if p.requires_grad]
    decay = [p for p in params if p.dim() >= 2]
    no_decay = [p for p in params if p.dim() < 2]
    groups = [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    fused = bool(params) and params[0].is_cuda
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=(cfg.beta1, cfg.beta2), fused=fused or None)


def wrap_model(model: CharLM, cfg: TrainConfig, ctx: DistContext, device: torch.device) -> torch.nn.Module:
    """What the training step calls: DDP around the model under torchrun (gradients
    all-reduced), then torch.compile on CUDA when cfg.compile. Checkpoints and evaluation
    use the unwrapped `model`."""
    net: torch.nn.Module = model
    if ctx.group:
        from torch.nn.parallel import DistributedDataParallel

        net = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    if cfg.compile and device.type == "cuda":
        net = torch.compile(net)
    return net


def train_step(net: torch.nn.Module, opt: torch.optim.Optimizer | None, x: torch.Tensor, y: torch.Tensor,
               cfg: TrainConfig, device: torch.device) -> torch.Tensor:
    """One optimizer step on this rank's rows x, y (B, T); under DDP the gradients are the
    mean over every rank's rows. Returns the loss (a tensor: reading it waits for the GPU).
    ``opt`` None: forward and backward only (the fine-tune plan times steps so, without the
    second that creating an optimizer costs: it imports torch._dynamo)."""
    with autocast_ctx(cfg, device):
        _, loss = net(x, y)
    (opt or net).zero_grad(set_to_none=True)
    loss.backward()
    if cfg.grad_clip > 0:
        torch.nn.utils.clip_grad_norm_(net.parameters(), cfg.grad_clip)
    if opt is not None:
        opt.step()
    return loss.detach()


def lr_at(cfg: TrainConfig, step: int, progress: float) -> float:
    """Linear warmup over warmup_steps, then cosine from lr to min_lr over progress."""
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    p = min(max(progress, 0.0), 1.0)
    return cfg.min_lr + 0.5 * (1.0 + math.cos(math.pi * p)) * (cfg.lr - cfg.min_lr)


def progress_of(cfg: TrainConfig, step: int, elapsed_s: float) -> float:
    """Fraction of the run done: by steps or by wall-clock budget, whichever is further."""
    p = step / max(cfg.max_steps, 1)
    if cfg.max_minutes > 0:
        p = max(p, elapsed_s / (cfg.max_minutes * 60))
    return p


def autocast_ctx(cfg: TrainConfig, device: torch.device):
    if cfg.autocast_bf16 and (device.type == "cuda" or (device.type == "cpu" and cpu_has_bf16())):
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return nullcontext()


@functools.lru_cache(maxsize=1)
def cpu_has_bf16() -> bool:
    """Native bf16 arithmetic on this CPU (Linux flags; elsewhere assume not)."""
    try:
        flags = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        return False
    return any(f in flags for f in ("avx512_bf16", "amx_bf16"))


@torch.no_grad()
def evaluate_windows(model: CharLM, windows: np.ndarray, cfg: TrainConfig, device: torch.device,
                     batch: int = 32) -> float:
    """Mean next-token cross-entropy (nats) over held-out windows (N, seq_len + 1)."""
    if len(windows) == 0:
        return float("nan")
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    for i in range(0, len(windows), batch):
        w = torch.from_numpy(windows[i : i + batch]).to(device)
        with autocast_ctx(cfg, device):
            _, loss = model(w[:, :-1], w[:, 1:])
        n = int((w[:, 1:] != 0).sum())
        total, count = total + float(loss) * n, count + n
    model.train(was_training)
    return total / max(count, 1)


# --- checkpoints -------------------------------------------------------------------


def atomic_torch_save(obj, path: Path) -> None:
    """torch.save to a tmp file in the same dir, flushed to disk, then os.replace (never a
    torn file, also after a power loss)."""
    with atomic_writer(Path(path)) as fh:
        torch.save(obj, fh)


@dataclass
class RunState:
    """What a checkpoint restores besides model and optimizer."""

    step: int = 0
    tokens: int = 0
    elapsed_s: float = 0.0
    history: list = field(default_factory=list)  # eval records
    done: bool = False


def save_checkpoint(path: Path, model: CharLM, opt, state: RunState, cfg: TrainConfig, vocab: Vocab,
                    data: TrainData, ctx: DistContext | None = None, device: torch.device | None = None) -> None:
    """Write the run's checkpoint (rank 0 calls this; `model` is the unwrapped CharLM).
    The RNG states are this process's: a resume restores them only in a run of one process."""
    ctx = ctx or DistContext()
    rng = {"python": random.getstate(), "torch": torch.get_rng_state(),
           "samplers": [s.rng.bit_generator.state for s in data.samplers]}
    atomic_torch_save({"model": model.state_dict(), "optimizer": opt.state_dict(), "state": asdict(state),
                       "rng": rng, "config": asdict(cfg), "model_config": model.cfg.to_dict(),
                       "vocab_sha1": vocab.sha1, "world_size": ctx.world_size,
                       "device": _device_name(device)}, path)


def _device_name(device: torch.device | None) -> str:
    if device is not None and device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return str(device or "cpu")


def load_checkpoint(path: Path, model: CharLM, opt, vocab: Vocab, data: TrainData, cfg: TrainConfig | None = None,
                    ctx: DistContext | None = None) -> RunState:
    """Restore a checkpoint into model/opt/samplers; ManifestMismatchError if it was
    written for another model shape or vocabulary."""
    ctx = ctx or DistContext()
    ck = torch.load(path, map_location="cpu", weights_only=False)  # our own file: has RNG states
    if ck.get("vocab_sha1") != vocab.sha1:
        raise ManifestMismatchError(f"{path}: checkpoint vocab sha1 {ck.get('vocab_sha1')} != {vocab.sha1} "
                                    "of the current vocab.txt; use a new --run_dir")
    check_same_config(model.cfg, ck["model_config"], f"checkpoint {path}")
    model.load_state_dict(ck["model"])
    opt.load_state_dict(ck["optimizer"])
    state = RunState(**ck["state"])
    if ck.get("world_size", 1) == 1 and ctx.world_size == 1:  # one process then and now: resume exactly
        random.setstate(ck["rng"]["python"])
        torch.set_rng_state(ck["rng"]["torch"])
        for s, st in zip(data.samplers, ck["rng"]["samplers"]):
            s.rng.bit_generator.state = st
    else:
        rederive_rng(cfg.seed if cfg else 0, ctx.rank, state.step, data)
    return state


def rederive_rng(seed: int, rank: int, step: int, data: TrainData) -> None:
    """Seed every RNG of this rank from (seed, rank, step).

    A checkpoint holds rank 0's RNG states only, and a resumed run may have another number
    of processes, so with more than one process the random streams are not restored but
    re-derived: deterministic for a given rank and step, never a repeat of rank 0's
    windows. Sampler i uses seed + i (like the replay sampler of fine-tuning).
    """
    mixed = int(np.random.SeedSequence((seed, rank, step)).generate_state(1)[0])
    random.seed(mixed)
    torch.manual_seed(mixed)
    for i, s in enumerate(data.samplers):
        s.reseed(sampler_seed(seed + i, rank, step))


# --- the loop ----------------------------------------------------------------------


TUNER_PROBE_EVERY, TUNER_PROBE_STEPS = 200, 6  # the adaptive thread count: probe every 200 steps, 6 steps each


def thread_options(max_threads: int) -> list[int]:
    """Thread counts the adaptive tuner tries: 1, 2, 4, ... and the maximum (few options keep
    probes short on many-core machines)."""
    return sorted({1, max(max_threads, 1)} | {2**k for k in range(1, 8) if 2**k < max_threads})


class ThreadTuner:
    """Adaptive intra-op thread count for a shared CPU.

    With 2 threads on 2 cores a training step is fastest on an idle machine, but when
    another process takes a core the threads wait on each other and steps get several
    times slower than with 1 thread. Every `probe_every` steps, time a few steps with each
    thread count and keep the fastest.
    """

    def __init__(self, max_threads: int, probe_every: int = TUNER_PROBE_EVERY, probe_steps: int = TUNER_PROBE_STEPS):
        self.options = thread_options(max_threads)
        self.probe_every, self.probe_steps = probe_every, probe_steps
        self.times: dict[int, list[float]] = {n: [] for n in self.options}
        self.current = self.options[-1]
        self.queue: list[int] = []
        self.first = True  # probe right away too: the machine may be busy already
        self.last_probe: dict[int, float] = {}  # threads -> median seconds per step
        self.baseline = 0.0  # seconds per step of the current choice when probed
        self.recent: list[float] = []  # the last few step times
        self.t = time.perf_counter()
        torch.set_num_threads(self.current)

    def step(self, step: int) -> None:
        """Call after each optimizer step."""
        now = time.perf_counter()
        self.times[self.current].append(now - self.t)
        self.recent = (self.recent + [now - self.t])[-5:]
        # Probe at start, every probe_every steps, and as soon as steps get much slower
        # than the probe measured (another process took a core).
        slowed = (not self.queue and self.baseline > 0 and len(self.recent) == 5
                  and float(np.median(self.recent)) > 1.6 * self.baseline)
        if (self.first or slowed or step % self.probe_every == 0) and len(self.options) > 1 and not self.queue:
            self.first = False
            self.queue = [n for n in self.options for _ in range(self.probe_steps)]
            for n in self.options:
                self.times[n].clear()
        if self.queue:
            self.current = self.queue.pop(0)
            if not self.queue:  # probe finished: keep the fastest (median step time)
                self.current = min(self.options, key=lambda n: float(np.median(self.times[n][1:] or [1e9])))
                self.last_probe = {n: round(float(np.median(self.times[n][1:] or [0])), 3) for n in self.options}
                self.baseline, self.recent = self.last_probe[self.current], []
            torch.set_num_threads(self.current)
        self.t = time.perf_counter()


class Progress:
    """tqdm on a terminal; plain lines otherwise (logs, the GUI reading a subprocess)."""

    def __init__(self, cfg: TrainConfig, start_step: int, log: Callable[[str], None],
                 on_event: Callable[..., None] | None = None):
        self.cfg, self.log, self.bar, self.on_event = cfg, log, None, on_event
        if sys.stderr.isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=cfg.max_steps, initial=start_step, file=sys.stderr, dynamic_ncols=True)

    def update(self, step: int, loss, tok_s: float, progress: float, elapsed_s: float, lr: float) -> None:
        """`loss`: a float or a 0-d tensor (read only when shown: reading it waits for the GPU)."""
        eta_s = elapsed_s * (1 - progress) / progress if progress > 0 else float("nan")
        if self.on_event is not None:
            # the loss as given (a tensor is read only if the listener reports it)
            self.on_event("step", step=step, steps=self.cfg.max_steps, loss=loss,
                          progress=round(progress, 4), elapsed_s=round(elapsed_s, 1), eta_s=round(eta_s, 1))
        if self.bar is not None:
            self.bar.update(step - self.bar.n)
            self.bar.set_postfix(loss=f"{float(loss):.3f}", tok_s=f"{tok_s:.0f}", eta=_fmt_s(eta_s), refresh=False)
        elif step % self.cfg.log_every == 0:
            self.log(f"step {step} loss {float(loss):.4f} lr {lr:.2e} tok/s {tok_s:.0f} "
                     f"threads {torch.get_num_threads()} progress {100 * progress:.1f}% elapsed {_fmt_s(elapsed_s)} "
                     f"eta {_fmt_s(eta_s)}")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _fmt_s(s: float) -> str:
    if not math.isfinite(s):
        return "?"
    return f"{int(s // 3600)}h{int(s % 3600 // 60):02d}m" if s >= 3600 else f"{int(s // 60)}m{int(s % 60):02d}s"


def _log_to(run_dir: Path) -> Callable[[str], None]:
    def log(msg: str) -> None:
        line = f"[{time.strftime('%H:%M:%S')}] {msg}"
        print(line, file=sys.stderr, flush=True)

    return log


def prepare_run_dir(cfg: TrainConfig) -> tuple[Path, Vocab]:
    """Create the run dir and pin its vocabulary (copied from the shards on first use)."""
    run = Path(cfg.run_dir)
    run.mkdir(parents=True, exist_ok=True)
    pinned = run / "vocab.txt"
    source = Path(cfg.shard_dir) / "vocab.txt"
    if not pinned.is_file():
        pinned.write_text(Vocab.load(source).to_text(), encoding="utf-8")
    vocab = Vocab.load(pinned)
    if source.is_file() and Vocab.load(source).sha1 != vocab.sha1:
        raise ManifestMismatchError(f"{source} differs from {pinned}: the shards were rebuilt with another "
                                    "vocabulary; start a new --run_dir")
    return run, vocab


def train(cfg: TrainConfig, data: TrainData | None = None, vocab: Vocab | None = None,
          log: Callable[[str], None] | None = None, on_step: Callable[[int], None] | None = None,
          ctx: DistContext | None = None, on_event: Callable[..., None] | None = None) -> dict:
    """Train (or resume) the run in cfg.run_dir; returns a summary dict.

    `data`/`vocab` default to this rank's slice of the shards in cfg.shard_dir. `on_step(step)`
    is called after each optimizer step (tests use it to simulate an interrupt). `ctx`
    defaults to torchrun's environment (rank 0 of 1 without torchrun). `on_event(name, **fields)`
    hears each step ("step": loss, progress, eta_s) and evaluation ("eval": held-out losses) on rank 0.
    """
    ctx = ctx or DistContext.from_env()
    torch.set_num_threads(cfg.threads or os.cpu_count() or 1)
    device = ctx.device(pick_device())
    ctx.init(device)
    try:
        return _train(cfg, data, vocab, log, on_step, ctx, device, on_event)
    finally:
        ctx.close()


def _open_run(cfg: TrainConfig, data: TrainData | None, vocab: Vocab | None,
              ctx: DistContext) -> tuple[Path, Vocab, TrainData]:
    """The run dir, its pinned vocabulary and the data; rank 0 writes the dir first."""
    if not ctx.is_main:
        ctx.barrier()  # wait for rank 0 to create the run dir and pin vocab.txt
    run = Path(cfg.run_dir)
    if data is None:
        run, vocab = prepare_run_dir(cfg)
        data = shard_data(cfg, ctx)
    else:
        run.mkdir(parents=True, exist_ok=True)
        if vocab is None:
            raise DataError("train(): pass the vocab along with custom data")
        if not (run / "vocab.txt").is_file():
            vocab.save(run / "vocab.txt")
    if ctx.is_main:
        ctx.barrier()
    return run, vocab, data


def _build_model(cfg: TrainConfig, vocab: Vocab, device: torch.device, ctx: DistContext) -> CharLM:
    """The CharLM to train: the same initial weights on every rank (seeded by cfg.seed)."""
    torch.manual_seed(cfg.seed)
    random.seed(cfg.seed)
    model = load_weights(Path(cfg.init_from), vocab) if cfg.init_from else CharLM(cfg.model_config(len(vocab)))
    if cfg.init_from:
        check_same_config(cfg.model_config(len(vocab)), model.cfg.to_dict(), cfg.init_from)
    apply_freezing(model, cfg)
    if ctx.world_size > 1:  # dropout masks differ per rank, deterministically
        torch.manual_seed(cfg.seed + ctx.rank)
        random.seed(cfg.seed + ctx.rank)
    return model.to(device).train()


def _train(cfg: TrainConfig, data, vocab, log, on_step, ctx: DistContext, device: torch.device,
           on_event=None) -> dict:
    run, vocab, data = _open_run(cfg, data, vocab, ctx)
    log = (log or _log_to(run)) if ctx.is_main else (lambda msg: None)
    if cfg.seq_len > cfg.max_len:
        raise DataError(f"seq_len {cfg.seq_len} > max_len {cfg.max_len}")
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
    model = _build_model(cfg, vocab, device, ctx)
    opt = make_optimizer(model, cfg)
    ckpt = run / CKPT_NAME
    state = load_checkpoint(ckpt, model, opt, vocab, data, cfg, ctx) if ckpt.is_file() else RunState()
    net = wrap_model(model, cfg, ctx, device)
    procs = f", {ctx.world_size} processes (global batch {ctx.world_size * cfg.batch_size})" if ctx.group else ""
    log(f"{'resuming at step ' + str(state.step) if state.step else 'starting'}: "
        f"{model.num_params() / 1e6:.2f}M params ({model.num_params(False) / 1e6:.2f}M non-embedding), "
        f"vocab {len(vocab)}, device {device}{procs}, data {data.description}")
    loop = _Loop(cfg, model, net, opt, state, data, device, ctx, log, on_event)
    with _sigterm_as_interrupt():
        try:
            loop.run(vocab, ckpt, on_step)
        except KeyboardInterrupt:
            if ctx.is_main:
                save_checkpoint(ckpt, model, opt, state, cfg, vocab, data, ctx, device)
                log(f"interrupted at step {state.step}: checkpoint saved to {ckpt}")
            raise
    last = state.history[-1] if state.history else {}
    return {"run_dir": str(run), "steps": state.step, "tokens": state.tokens,
            "elapsed_s": round(state.elapsed_s, 1), "eval": last, "done": state.done,
            "world_size": ctx.world_size}


class _TokenRate:
    """Tokens per second over windows of about 5 seconds."""

    def __init__(self):
        self.t, self.tokens, self.rate = time.time(), 0, 0.0

    def add(self, n: int) -> float:
        """Count `n` more tokens; returns the rate of the last full window."""
        self.tokens += n
        if time.time() - self.t > 5:
            self.rate, self.t, self.tokens = self.tokens / (time.time() - self.t), time.time(), 0
        return self.rate


@dataclass
class _Loop:
    """The training loop of one process (every rank runs it; rank 0 evaluates and saves)."""

    cfg: TrainConfig
    model: CharLM  # unwrapped: evaluated and checkpointed
    net: torch.nn.Module  # what the step calls (DDP and/or compiled around model)
    opt: torch.optim.Optimizer
    state: RunState
    data: TrainData
    device: torch.device
    ctx: DistContext
    log: Callable[[str], None]
    on_event: Callable[..., None] | None = None  # step and eval records, for the window's progress

    def run(self, vocab: Vocab, ckpt: Path, on_step) -> None:
        """Step until the run's progress reaches 1, then evaluate and save (rank 0)."""
        cfg, state, ctx = self.cfg, self.state, self.ctx
        progress_bar = Progress(cfg, state.step, self.log, self.on_event) if ctx.is_main else None
        t_start, elapsed0, t_last_ckpt = time.time(), state.elapsed_s, time.time()
        rate = _TokenRate()
        tuner = ThreadTuner(os.cpu_count() or 1) if cfg.threads == 0 else None
        while (progress := progress_of(cfg, state.step, state.elapsed_s)) < 1.0:
            lr = lr_at(cfg, state.step, progress)
            loss, n_tokens = self._step(lr)
            if tuner is not None:
                self._tune(tuner)
            # the largest elapsed time of all ranks: every rank sees the same LR and stops together
            state.elapsed_s = ctx.max_of(elapsed0 + time.time() - t_start, self.device)
            if ctx.is_main:
                progress_bar.update(state.step, loss, rate.add(n_tokens), progress_of(cfg, state.step, state.elapsed_s),
                                    state.elapsed_s, lr)
                if state.step % cfg.eval_every == 0:
                    _evaluate(cfg, self.model, state, self.data, self.device, self.log, self.on_event)
                if time.time() - t_last_ckpt > cfg.ckpt_minutes * 60:
                    save_checkpoint(ckpt, self.model, self.opt, state, cfg, vocab, self.data, ctx, self.device)
                    t_last_ckpt = time.time()
            if on_step is not None:
                on_step(state.step)
        state.done = True
        if progress_bar is not None:
            progress_bar.close()
        self._finish(vocab, ckpt)

    def _step(self, lr: float) -> tuple[torch.Tensor, int]:
        """One optimizer step on a fresh batch; returns the loss and the tokens all ranks saw."""
        for g in self.opt.param_groups:
            g["lr"] = lr
        x, y = self.data.sample(self.cfg.batch_size)
        x, y = torch.from_numpy(x).to(self.device), torch.from_numpy(y).to(self.device)
        loss = train_step(self.net, self.opt, x, y, self.cfg, self.device)
        n_tokens = x.numel() * self.ctx.world_size  # global: every rank took a batch this size
        self.state.step += 1
        self.state.tokens += n_tokens
        return loss, n_tokens

    def _tune(self, tuner: ThreadTuner) -> None:
        probe = tuner.last_probe
        tuner.step(self.state.step)
        if tuner.last_probe is not probe:
            self.log(f"threads probe (s/step): {tuner.last_probe} -> {tuner.current} threads")

    def _finish(self, vocab: Vocab, ckpt: Path) -> None:
        """Rank 0: last evaluation and checkpoint; the other ranks wait for it."""
        cfg, state = self.cfg, self.state
        if self.ctx.is_main:
            if not state.history or state.history[-1]["step"] != state.step:
                _evaluate(cfg, self.model, state, self.data, self.device, self.log, self.on_event)
            save_checkpoint(ckpt, self.model, self.opt, state, cfg, vocab, self.data, self.ctx, self.device)
            self.log(f"done at step {state.step}: checkpoint {ckpt}")
        self.ctx.barrier()


def _evaluate(cfg, model, state: RunState, data: TrainData, device, log, on_event=None) -> None:
    rec = {"step": state.step, "tokens": state.tokens, "elapsed_s": round(state.elapsed_s, 1)}
    for name, windows in data.evals.items():
        loss = evaluate_windows(model, windows, cfg, device)
        rec[f"{name}_loss"] = round(loss, 4)
        rec[f"{name}_ppl"] = round(math.exp(loss), 2) if math.isfinite(loss) else None
    state.history.append(rec)
    if on_event is not None:
        on_event("eval", **{k: v for k, v in rec.items() if k == "step" or k.endswith("_loss")})
    log("eval " + " ".join(f"{k} {v}" for k, v in rec.items()))


class _sigterm_as_interrupt:
    """Within the block, SIGTERM raises KeyboardInterrupt (so a checkpoint is saved)."""

    def __enter__(self):
        self.old = None
        try:
            self.old = signal.signal(signal.SIGTERM, self._raise)
        except ValueError:  # not the main thread
            pass
        return self

    @staticmethod
    def _raise(signum, frame):
        raise KeyboardInterrupt

    def __exit__(self, *exc):
        if self.old is not None:
            signal.signal(signal.SIGTERM, self.old)
        return False


def replace_config(cfg: TrainConfig, **changes) -> TrainConfig:
    return dataclasses.replace(cfg, **changes)

"""Training the pinyin-reading model (trainer.pinyin_model.PinyinLM), resumable.

`RUN/ckpt.pt` holds model, optimizer, step, elapsed time, every RNG state and the data
position (rounds loaded, the sampler's stream), written atomically every `ckpt_minutes`,
on Ctrl-C / SIGTERM and at the end; re-running the same command resumes from it. Every
checkpoint also exports `RUN/export/` (fp16 weights.pt, manifest.json, vocab.txt,
syllables.txt: no optimizer state). New rounds of the data dir (a `pinyin-prepare` still
appending) are picked up at each checkpoint.

The decoder starts from the shipped CharLM (`init_from`, checked against its manifest and
the data's vocab.txt) and learns at `decoder_lr`; the new encoder and proj at `lr`. Both
follow trainer.train's schedule (linear warmup, cosine to `min_lr` times the group's
scale over max(step / max_steps, elapsed / max_minutes)).

Evaluation (every `eval_every` steps, on fixed held-out windows of the first `eval_rounds`
rounds): restricted-candidate loss and character accuracy (top-1 among the syllable's
candidates, true history) on the positions with a full syllable, and the same on the
positions typed as an initial (every syllable of the windows typed as its initial); the
plain CharLM restricted the same way is measured once at the start (what pinyin adds).
"""
from __future__ import annotations

import json
import math
import platform
import random
import sys
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from engine.atomic import write_bytes_atomic
from engine.paths import ASSETS_DIR

from .errors import ManifestMismatchError
from .model import CharLM, ModelConfig, check_same_config
from .pinyin_data import (DEFAULT_PINYIN_DIR, Augment, PinyinWindowSampler, data_tables, heldout_pairs,
                          load_rounds, read_meta)
from .pinyin_model import PinyinConfig, PinyinLM, restricted_logprobs
from .pinyin_vocab import SyllableVocab, candidate_matrix
from .train import (Progress, RunState, _sigterm_as_interrupt, _TokenRate, atomic_torch_save, autocast_ctx,
                    load_weights, lr_at, pick_device, progress_of)
from .vocab import PAD, Vocab

CKPT_NAME, EXPORT_DIR, LOG_NAME = "ckpt.pt", "export", "train.log"
FORMAT, FORMAT_VERSION = "shuru-pinyin-lm", 2  # 2: look-ahead embeddings (trainer.pinyin_model)
SHIPPED_MODEL = ASSETS_DIR / "model"


@dataclass
class PinyinTrainConfig:
    """Every knob of a pinyin training run (overridable as --key=value)."""

    # decoder shape (must match init_from's weights)
    n_layer: int = 4
    n_head: int = 4
    d_model: int = 256  # the encoder's too
    d_ff: int = 1024
    max_len: int = 128
    dropout: float = 0.0
    init_from: str = str(SHIPPED_MODEL)  # model dir (manifest.json + weights.pt) of the decoder; '' = random
    init_pinyin_from: str = ""  # a pinyin export dir (weights.pt) to start every weight from, instead
    continue_from: str = ""  # an export dir of this run's kind: go on from its weights, step and tokens
    # encoder shape
    enc_layers: int = 2
    enc_heads: int = 4
    enc_d_ff: int = 1024
    lookahead: int = 2
    bidirectional: bool = False  # every encoder block reads every typed syllable (trainer.pinyin_model)
    # data
    run_dir: str = "runs/pinyin"
    data_dir: str = str(DEFAULT_PINYIN_DIR)
    seq_len: int = 128
    bos_align: float = 0.5
    bos_first: bool = True
    p_initial: float = 0.08
    p_all_initials: float = 0.05
    p_none: float = 0.05
    p_context: float = 0.1
    p_cut: float = 0.2
    # optimisation
    batch_size: int = 32
    lr: float = 1e-3  # encoder and proj
    decoder_lr: float = 3e-4  # the pretrained decoder
    min_lr: float = 1e-4  # the encoder's floor; the decoder's is min_lr * decoder_lr / lr
    warmup_steps: int = 500
    weight_decay: float = 0.1
    beta1: float = 0.9
    beta2: float = 0.95
    grad_clip: float = 1.0
    max_steps: int = 300_000
    max_minutes: float = 0.0  # wall-clock budget for the schedule and stop (0 = none)
    # bookkeeping
    eval_every: int = 250
    eval_windows: int = 256
    eval_rounds: int = 8  # held-out rounds the eval windows come from (fixed at a run's start)
    log_every: int = 20
    ckpt_minutes: float = 10.0
    seed: int = 1337
    autocast_bf16: bool = True  # where bf16 is native (CUDA; CPUs with AVX512-BF16 / AMX)
    compile: bool = True  # torch.compile on CUDA only
    threads: int = 1

    def decoder_config(self, vocab_size: int) -> ModelConfig:
        return ModelConfig(vocab_size=vocab_size, max_len=self.max_len, n_layer=self.n_layer, n_head=self.n_head,
                           d_model=self.d_model, d_ff=self.d_ff, dropout=self.dropout)

    def pinyin_config(self, n_syllable: int) -> PinyinConfig:
        return PinyinConfig(n_syllable=n_syllable, n_layer=self.enc_layers, d_model=self.d_model,
                            n_head=self.enc_heads, d_ff=self.enc_d_ff, lookahead=self.lookahead,
                            bidirectional=self.bidirectional,
                            max_len=self.max_len, dropout=self.dropout)

    def augment(self) -> Augment:
        return Augment(self.p_initial, self.p_all_initials, self.p_none, self.p_context, self.p_cut)


def _tiny() -> PinyinTrainConfig:
    return PinyinTrainConfig(n_layer=2, n_head=2, d_model=32, d_ff=64, max_len=64, init_from="", enc_layers=2,
                             enc_heads=2, enc_d_ff=64, seq_len=32, batch_size=8, lr=3e-3, decoder_lr=3e-3,
                             min_lr=3e-4, warmup_steps=5, max_steps=30, eval_every=10, eval_windows=8,
                             eval_rounds=2, log_every=10, run_dir="runs/pinyin-tiny")


def _cpu() -> PinyinTrainConfig:
    # The run on a 2-core CPU across sessions: a cosine horizon of 40,000 steps (docs/TUNING.md#training-presets)
    return PinyinTrainConfig(max_steps=40_000, threads=2, run_dir="runs/pinyin")


def _gpu() -> PinyinTrainConfig:
    # One large GPU: 8x the batch, a higher LR, bf16 autocast, torch.compile.
    return PinyinTrainConfig(batch_size=256, lr=2e-3, decoder_lr=6e-4, min_lr=1e-4, warmup_steps=300,
                             max_steps=30_000, eval_every=500, eval_windows=1024, ckpt_minutes=3.0, threads=4,
                             run_dir="runs/pinyin-gpu")


PRESETS: dict[str, Callable[[], PinyinTrainConfig]] = {"tiny": _tiny, "cpu": _cpu, "gpu": _gpu}


# --- model, optimizer --------------------------------------------------------------


def load_decoder(model_dir: Path, vocab: Vocab, expected: ModelConfig) -> CharLM:
    """The shipped CharLM of a model dir, checked: manifest format and vocab.txt sha1 (=
    the data's vocabulary), weights.pt's vocab sha1 and shape."""
    from .export import WEIGHTS_NAME, load_manifest

    load_manifest(Path(model_dir), vocab_sha1=vocab.sha1)
    return load_weights(Path(model_dir) / WEIGHTS_NAME, vocab, expected)


def build_model(cfg: PinyinTrainConfig, vocab: Vocab, table: SyllableVocab) -> PinyinLM:
    """PinyinLM with its decoder from cfg.init_from (or random), seeded by cfg.seed; with
    cfg.init_pinyin_from, every weight from that export dir (same shapes, any attention span)."""
    torch.manual_seed(cfg.seed)
    random.seed(cfg.seed)
    dcfg = cfg.decoder_config(len(vocab))
    from_decoder = cfg.init_from and not (cfg.init_pinyin_from or cfg.continue_from)  # else overwritten below
    lm = load_decoder(Path(cfg.init_from), vocab, dcfg) if from_decoder else CharLM(dcfg)
    model = PinyinLM(lm, cfg.pinyin_config(len(table)), torch.from_numpy(candidate_matrix(vocab, table)))
    for folder in (cfg.init_pinyin_from, cfg.continue_from):
        if folder:
            _load_pinyin_weights_into(model, Path(folder), vocab, table)
    return model


def continued_state(cfg: PinyinTrainConfig, model: PinyinLM) -> PinyinRunState:
    """The run state of a run going on from cfg.continue_from (an export of a run of the same kind):
    its step, tokens and hours, with the learning rate warmed up again over warmup_steps, as the
    export holds no optimizer moments."""
    from .export import WEIGHTS_NAME, read_manifest

    folder = Path(cfg.continue_from)
    manifest = read_manifest(folder, FORMAT, FORMAT_VERSION, (WEIGHTS_NAME,))
    theirs = PinyinConfig.from_dict(manifest["pinyin_config"])
    if theirs != model.cfg:
        raise ManifestMismatchError(f"{folder} holds another kind of encoder ({theirs}) than this run's "
                                    f"({model.cfg}); use --init_pinyin_from to start a new run from it")
    t = manifest["training"]
    step = int(t["steps"])
    return PinyinRunState(step=step, tokens=int(t["tokens"]), elapsed_s=float(t["hours"]) * 3600, rewarm_from=step)


def _load_pinyin_weights_into(model: PinyinLM, folder: Path, vocab: Vocab, table: SyllableVocab) -> None:
    """The weights of another run's export (e.g. a look-ahead encoder's, continued as a bidirectional one)."""
    from .export import WEIGHTS_NAME

    source = load_pinyin_weights(folder / WEIGHTS_NAME, vocab, table)
    try:
        model.load_state_dict(source.state_dict())
    except RuntimeError as e:
        raise ManifestMismatchError(f"{folder / WEIGHTS_NAME} has other shapes than this run's model: {e}") from e


def make_optimizer(model: PinyinLM, cfg: PinyinTrainConfig) -> torch.optim.AdamW:
    """AdamW with the encoder + proj at lr and the decoder at decoder_lr (each group's
    `lr_scale`); weight decay on matrices only."""
    new = {id(p) for p in model.pinyin_parameters()}
    old = [p for p in model.parameters() if id(p) not in new]
    groups = []
    for params, scale in ((model.pinyin_parameters(), 1.0), (old, cfg.decoder_lr / cfg.lr)):
        params = [p for p in params if p.requires_grad]
        groups += [{"params": [p for p in params if p.dim() >= 2], "weight_decay": cfg.weight_decay, "lr_scale": scale},
                   {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0, "lr_scale": scale}]
    fused = next(model.parameters()).is_cuda
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=(cfg.beta1, cfg.beta2), fused=fused or None)


# --- data ----------------------------------------------------------------------------


@dataclass
class EvalSet:
    """Fixed held-out windows: inputs, targets, syllables typed in full and as initials."""

    x: np.ndarray  # (N, T) int64
    y: np.ndarray
    syl: np.ndarray
    syl_initials: np.ndarray

    @classmethod
    def of(cls, tokens: np.ndarray, syllables: np.ndarray, table: SyllableVocab, seq_len: int, n: int) -> "EvalSet":
        tok, syl = heldout_pairs(tokens, syllables, seq_len, n)
        return cls(tok[:, :-1], tok[:, 1:], syl[:, 1:], table.initial_map[syl[:, 1:]])


@dataclass
class PinyinData:
    """The train sampler over the rounds loaded so far, and the eval windows."""

    sampler: PinyinWindowSampler
    evals: EvalSet
    rounds: int
    tokens: np.ndarray
    syllables: np.ndarray

    @classmethod
    def open(cls, cfg: PinyinTrainConfig, table: SyllableVocab, eval_rounds: int) -> "PinyinData":
        meta = read_meta(Path(cfg.data_dir))
        rounds = meta["rounds"]
        tokens, syllables = load_rounds(Path(cfg.data_dir), "train", rounds)
        sampler = PinyinWindowSampler(tokens, syllables, cfg.seq_len, cfg.seed, table, cfg.augment(),
                                      cfg.bos_align, cfg.bos_first)
        ht, hs = load_rounds(Path(cfg.data_dir), "heldout", min(eval_rounds, rounds))
        return cls(sampler, EvalSet.of(ht, hs, table, cfg.seq_len, cfg.eval_windows), rounds, tokens, syllables)

    def refresh(self, data_dir: Path) -> int:
        """Load the rounds written since; returns how many."""
        rounds = read_meta(data_dir)["rounds"]
        if rounds <= self.rounds:
            return 0
        t, s = load_rounds(data_dir, "train", rounds, start=self.rounds)
        self.tokens, self.syllables = np.concatenate([self.tokens, t]), np.concatenate([self.syllables, s])
        self.sampler.extend(self.tokens, self.syllables)
        added, self.rounds = rounds - self.rounds, rounds
        return added


# --- evaluation ----------------------------------------------------------------------


@torch.no_grad()
def evaluate(logits_of: Callable, ev: EvalSet, candidates: torch.Tensor, table: SyllableVocab,
             cfg: PinyinTrainConfig, device: torch.device, batch: int = 32) -> dict:
    """Restricted loss and top-1 accuracy on full-syllable positions (`syl_`) and on
    initial-typed positions (`init_`). `logits_of(x, syl)` -> (B, T, V) logits."""
    sums = {k: 0.0 for k in ("syl_nll", "syl_hit", "syl_n", "init_nll", "init_hit", "init_n")}
    for i in range(0, len(ev.x), batch):
        x, y, syl, syl_i = (torch.from_numpy(a[i : i + batch]).to(device) for a in (ev.x, ev.y, ev.syl, ev.syl_initials))
        full = torch.from_numpy(table.is_full(ev.syl[i : i + batch])).to(device) & (y != PAD) & candidates[syl, y]
        for name, s, where in (("syl", syl, full), ("init", syl_i, full & (syl_i != syl))):
            with autocast_ctx(cfg, device):
                logits = logits_of(x, s)
            lp = restricted_logprobs(logits, s, candidates)  # (B, T, V)
            nll = -lp.gather(-1, y.unsqueeze(-1)).squeeze(-1)
            sums[f"{name}_nll"] += float(nll[where].sum())
            sums[f"{name}_hit"] += float((lp.argmax(-1) == y)[where].sum())
            sums[f"{name}_n"] += float(where.sum())
    out = {}
    for name in ("syl", "init"):
        n = max(sums[f"{name}_n"], 1.0)
        out[f"{name}_loss"] = round(sums[f"{name}_nll"] / n, 4)
        out[f"{name}_acc"] = round(sums[f"{name}_hit"] / n, 4)
    return out


def _model_metrics(model: PinyinLM, ev, table, cfg, device) -> dict:
    was = model.training
    model.eval()
    try:
        return evaluate(lambda x, s: model(x, s)[0], ev, model.candidates, table, cfg, device)
    finally:
        model.train(was)


def _charlm_metrics(model: PinyinLM, ev, table, cfg, device) -> dict:
    """The decoder alone (no pinyin), restricted the same way: the baseline at step 0."""
    was = model.training
    model.eval()
    try:
        return evaluate(lambda x, s: model.lm(x)[0], ev, model.candidates, table, cfg, device)
    finally:
        model.train(was)


# --- checkpoints and export ----------------------------------------------------------


@dataclass
class PinyinRunState(RunState):
    """RunState plus the baseline and the data position."""

    baseline: dict = field(default_factory=dict)  # the plain CharLM's metrics on the eval windows
    rounds: int = 0  # train rounds loaded
    eval_rounds: int = 0  # held-out rounds of the eval windows (fixed at the start)
    rewarm_from: int = -1  # step a continued run began at with fresh optimizer moments (-1: none)


def save_checkpoint(path: Path, model: PinyinLM, opt, state: PinyinRunState, cfg: PinyinTrainConfig,
                    vocab: Vocab, table: SyllableVocab, data: PinyinData) -> None:
    rng = {"python": random.getstate(), "torch": torch.get_rng_state(),
           "sampler": data.sampler.rng.bit_generator.state}
    atomic_torch_save({"model": model.state_dict(), "optimizer": opt.state_dict(), "state": asdict(state),
                       "rng": rng, "config": asdict(cfg), "model_config": model.lm.cfg.to_dict(),
                       "pinyin_config": model.cfg.to_dict(), "vocab_sha1": vocab.sha1,
                       "syllable_sha1": table.sha1}, path)


def read_checkpoint(path: Path, vocab: Vocab, table: SyllableVocab, cfg: PinyinTrainConfig) -> dict:
    """A checkpoint's content, checked against the vocabulary, syllable table and shapes."""
    ck = torch.load(path, map_location="cpu", weights_only=False)  # our own file: has RNG states
    if ck.get("vocab_sha1") != vocab.sha1 or ck.get("syllable_sha1") != table.sha1:
        raise ManifestMismatchError(f"{path} was written for another vocab.txt / syllables.txt; use a new --run_dir")
    check_same_config(cfg.decoder_config(len(vocab)), ck["model_config"], f"checkpoint {path}")
    expected = cfg.pinyin_config(len(table)).to_dict()
    saved = {"bidirectional": False, **ck["pinyin_config"]}  # written before the field existed: left to right
    diff = {k: (v, saved.get(k)) for k, v in expected.items() if k != "dropout" and saved.get(k) != v}
    if diff:
        raise ManifestMismatchError(f"checkpoint {path} was built for a different encoder ({diff})")
    return ck


def restore(ck: dict, model: PinyinLM, opt, data: PinyinData) -> None:
    model.load_state_dict(ck["model"])
    opt.load_state_dict(ck["optimizer"])
    random.setstate(ck["rng"]["python"])
    torch.set_rng_state(ck["rng"]["torch"])
    data.sampler.rng.bit_generator.state = ck["rng"]["sampler"]


def save_pinyin_weights(model: PinyinLM, vocab: Vocab, table: SyllableVocab, path: Path) -> None:
    """fp16 state_dict + both configs + the two sha1s (no optimizer state)."""
    sd = {k: v.detach().to(torch.float16).cpu().clone() for k, v in model.state_dict().items()}
    atomic_torch_save({"format": FORMAT + "-weights", "format_version": FORMAT_VERSION,
                       "config": model.lm.cfg.to_dict(), "pinyin_config": model.cfg.to_dict(),
                       "vocab_sha1": vocab.sha1, "syllable_sha1": table.sha1, "state_dict": sd}, path)


def load_pinyin_weights(path: Path, vocab: Vocab, table: SyllableVocab) -> PinyinLM:
    """A PinyinLM (fp32) from save_pinyin_weights' file; ManifestMismatchError if the
    vocabulary or syllable table differs."""
    blob = torch.load(Path(path), map_location="cpu", weights_only=True)
    if blob.get("format") != FORMAT + "-weights" or blob.get("format_version") != FORMAT_VERSION:
        raise ManifestMismatchError(f"{path}: format {blob.get('format')!r} v{blob.get('format_version')}")
    if blob.get("vocab_sha1") != vocab.sha1 or blob.get("syllable_sha1") != table.sha1:
        raise ManifestMismatchError(f"{path}: written for another vocab.txt / syllables.txt")
    model = PinyinLM(CharLM(ModelConfig.from_dict(blob["config"])), PinyinConfig.from_dict(blob["pinyin_config"]),
                     torch.from_numpy(candidate_matrix(vocab, table)))
    model.load_state_dict({k: v.float() for k, v in blob["state_dict"].items()})
    return model


CONTRACT = ("logits[t] depend on tokens[0..t] and syllables[0..t+lookahead]; syllables[t] is the syllable of "
            "the char position t predicts; <pad> syllables are not attended to; scores are log-softmax over the "
            "candidate chars of the syllable (trainer/pinyin_model.py)")


def write_export_dir(model: PinyinLM, vocab: Vocab, table: SyllableVocab, out: Path, training: dict,
                     metrics: dict) -> None:
    """An export dir: weights.pt, vocab.txt, syllables.txt, then manifest.json (last, so a
    manifest always describes the weights beside it) with ``training`` and ``metrics``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    save_pinyin_weights(model, vocab, table, out / "weights.pt")
    write_bytes_atomic(out / "vocab.txt", vocab.to_text().encode("utf-8"))
    write_bytes_atomic(out / "syllables.txt", table.to_text().encode("utf-8"))
    manifest = {
        "format": FORMAT, "format_version": FORMAT_VERSION, "config": model.lm.cfg.to_dict(),
        "pinyin_config": model.cfg.to_dict(), "vocab_size": len(vocab), "vocab_sha1": vocab.sha1,
        "n_syllable": len(table), "syllable_sha1": table.sha1,
        "files": {"weights": "weights.pt", "vocab": "vocab.txt", "syllables": "syllables.txt"},
        "contract": CONTRACT, "training": training, "metrics": metrics,
        "exported_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    write_bytes_atomic(out / "manifest.json", json.dumps(manifest, ensure_ascii=False, indent=1).encode("utf-8"))


def export(model: PinyinLM, vocab: Vocab, table: SyllableVocab, state: PinyinRunState, cfg: PinyinTrainConfig,
           out: Path) -> None:
    """RUN/export/ (write_export_dir) with the run's training record and last evaluation."""
    write_export_dir(model, vocab, table, out, {
        "run_dir": str(cfg.run_dir), "steps": state.step, "tokens": state.tokens,
        "hours": round(state.elapsed_s / 3600, 3), "init_from": cfg.init_from or None,
        "hardware": f"{platform.processor() or platform.machine()}, threads={cfg.threads}", "config": asdict(cfg)},
        {"last_eval": state.history[-1] if state.history else None, "charlm_baseline": state.baseline})


# --- the run -------------------------------------------------------------------------


def rewarm(cfg: PinyinTrainConfig, state: PinyinRunState) -> float:
    """The learning rate's factor in a continued run's first warmup_steps (1 otherwise)."""
    if state.rewarm_from < 0:
        return 1.0
    return min(1.0, (state.step - state.rewarm_from + 1) / max(cfg.warmup_steps, 1))


def _logger(run: Path) -> Callable[[str], None]:
    def log(msg: str) -> None:
        line = f"[{time.strftime('%Y-%m-%d %H:%M:%S')}] {msg}"
        print(line, file=sys.stderr, flush=True)
        with open(run / LOG_NAME, "a", encoding="utf-8") as fh:
            fh.write(line + "\n")

    return log


def _pin_tables(run: Path, data_dir: Path) -> tuple[Vocab, SyllableVocab]:
    """The data dir's vocab.txt and syllables.txt, copied into the run dir on first use and
    checked against those copies after."""
    vocab, table = data_tables(data_dir)
    for name, text in (("vocab.txt", vocab.to_text()), ("syllables.txt", table.to_text())):
        pinned = run / name
        if not pinned.is_file():
            write_bytes_atomic(pinned, text.encode("utf-8"))
        elif pinned.read_text(encoding="utf-8") != text:
            raise ManifestMismatchError(f"{data_dir}/{name} differs from {pinned}: start a new --run_dir")
    return vocab, table


def pinyin_train(cfg: PinyinTrainConfig, log: Callable[[str], None] | None = None,
                 on_step: Callable[[int], None] | None = None) -> dict:
    """Train (or resume) the run in cfg.run_dir; returns a summary dict. `on_step(step)` is
    called after each optimizer step (tests raise KeyboardInterrupt from it)."""
    torch.set_num_threads(max(cfg.threads, 1))
    device = pick_device()
    run = Path(cfg.run_dir)
    run.mkdir(parents=True, exist_ok=True)
    log = log or _logger(run)
    vocab, table = _pin_tables(run, Path(cfg.data_dir))
    read_meta(Path(cfg.data_dir), vocab, table)
    model = build_model(cfg, vocab, table).to(device).train()
    opt = make_optimizer(model, cfg)
    ckpt = run / CKPT_NAME
    ck = read_checkpoint(ckpt, vocab, table, cfg) if ckpt.is_file() else None
    if ck:
        state = PinyinRunState(**ck["state"])
    else:
        state = continued_state(cfg, model) if cfg.continue_from else PinyinRunState()
    state.eval_rounds = state.eval_rounds or min(cfg.eval_rounds, read_meta(Path(cfg.data_dir))["rounds"])
    fresh_windows = state.rewarm_from >= 0 and not ck  # a continued run: not the windows its first steps saw
    data = PinyinData.open(replace(cfg, seed=cfg.seed + state.step) if fresh_windows else cfg, table, state.eval_rounds)
    if ck:
        restore(ck, model, opt, data)
    state.rounds = data.rounds
    log(f"{'resuming at step ' + str(state.step) if state.step else 'starting'}: "
        f"{sum(p.numel() for p in model.parameters()) / 1e6:.2f}M params "
        f"({sum(p.numel() for p in model.pinyin_parameters()) / 1e6:.2f}M new), vocab {len(vocab)}, "
        f"{len(table)} syllable tokens, device {device}, threads {torch.get_num_threads()}, "
        f"data {cfg.data_dir}: {data.rounds} rounds, {len(data.tokens)} tokens; "
        f"eval {len(data.evals.x)} windows of {state.eval_rounds} held-out rounds")
    if not state.baseline:
        state.baseline = _charlm_metrics(model, data.evals, table, cfg, device)
        log("eval charlm baseline (no pinyin) " + " ".join(f"{k} {v}" for k, v in state.baseline.items()))
    net = torch.compile(model) if cfg.compile and device.type == "cuda" else model
    loop = _Loop(cfg, model, net, opt, state, data, vocab, table, device, log, ckpt)
    with _sigterm_as_interrupt():
        try:
            loop.run(on_step)
        except KeyboardInterrupt:
            loop.save()
            log(f"interrupted at step {state.step}: checkpoint saved to {ckpt}")
            raise
    return {"run_dir": str(run), "steps": state.step, "tokens": state.tokens, "elapsed_s": round(state.elapsed_s, 1),
            "eval": state.history[-1] if state.history else {}, "baseline": state.baseline, "done": state.done}


@dataclass
class _Loop:
    cfg: PinyinTrainConfig
    model: PinyinLM
    net: torch.nn.Module
    opt: torch.optim.Optimizer
    state: PinyinRunState
    data: PinyinData
    vocab: Vocab
    table: SyllableVocab
    device: torch.device
    log: Callable[[str], None]
    ckpt: Path

    def run(self, on_step) -> None:
        cfg, state = self.cfg, self.state
        bar = Progress(cfg, state.step, self.log)
        t_start, elapsed0, t_ckpt = time.time(), state.elapsed_s, time.time()
        rate = _TokenRate()
        while (progress := progress_of(cfg, state.step, state.elapsed_s)) < 1.0:
            lr = lr_at(cfg, state.step, progress) * rewarm(cfg, state)
            loss = self._step(lr)
            state.elapsed_s = elapsed0 + time.time() - t_start
            bar.update(state.step, loss, rate.add(cfg.batch_size * cfg.seq_len),
                       progress_of(cfg, state.step, state.elapsed_s), state.elapsed_s, lr)
            if state.step % cfg.log_every == 0 and not math.isfinite(float(loss)):
                self.log(f"warning: loss {float(loss)} at step {state.step}")
            if state.step % cfg.eval_every == 0:
                self.evaluate()
            if time.time() - t_ckpt > cfg.ckpt_minutes * 60:
                self.save()
                t_ckpt = time.time()
                if added := self.data.refresh(Path(cfg.data_dir)):
                    state.rounds = self.data.rounds
                    self.log(f"data: {added} new rounds, {len(self.data.tokens)} train tokens")
            if on_step is not None:
                on_step(state.step)
        state.done = True
        bar.close()
        if not state.history or state.history[-1]["step"] != state.step:
            self.evaluate()
        self.save()
        self.log(f"done at step {state.step}: checkpoint {self.ckpt}")

    def _step(self, lr: float) -> torch.Tensor:
        for g in self.opt.param_groups:
            g["lr"] = lr * g["lr_scale"]
        x, syl, y = (torch.from_numpy(a).to(self.device) for a in self.data.sampler.batch(self.cfg.batch_size))
        with autocast_ctx(self.cfg, self.device):
            _, loss = self.net(x, syl, y)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        if self.cfg.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.grad_clip)
        self.opt.step()
        self.state.step += 1
        self.state.tokens += x.numel()
        return loss.detach()

    def evaluate(self) -> None:
        state = self.state
        t0 = time.time()
        rec = {"step": state.step, "tokens": state.tokens, "elapsed_s": round(state.elapsed_s, 1)}
        rec.update(_model_metrics(self.model, self.data.evals, self.table, self.cfg, self.device))
        state.history.append(rec)
        base = state.baseline
        self.log("eval " + " ".join(f"{k} {v}" for k, v in rec.items())
                 + f" | charlm syl_acc {base.get('syl_acc')} init_acc {base.get('init_acc')}"
                 + f" ({time.time() - t0:.0f}s)")

    def save(self) -> None:
        save_checkpoint(self.ckpt, self.model, self.opt, self.state, self.cfg, self.vocab, self.table, self.data)
        export(self.model, self.vocab, self.table, self.state, self.cfg, self.ckpt.parent / EXPORT_DIR)


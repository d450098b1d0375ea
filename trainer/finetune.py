"""Personal fine-tuning: the installed model + a user's own text -> a personal model dir.

Steps: check everything first (every text file, the dependencies, the base model, the
replay sample, free disk space and the output folder), so nothing fails after training has
started; start from the installed model's fp16 weights; train on windows of the user's
text mixed with the general-text replay sample that ships with Shuru (``assets/replay``,
see trainer.replay), so general accuracy holds; export into a temp dir, verify with
onnxruntime, then swap it into the output dir; finally type held-out clauses of the user's
text and the general-text check (a corpus source the replay never draws from) through the
engine, before and after, for the report (trainer.report). An
interrupt (Ctrl-C, SIGTERM, or a kill) leaves the old model untouched and a resumable
checkpoint in the work dir: running the same command again resumes.
"""
from __future__ import annotations

import hashlib
import importlib
import importlib.util
import json
import math
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from engine.atomic import write_bytes_atomic
from engine.text import normalise_text, strip_tags
from engine.paths import ASSETS_DIR, PINYIN_MODEL_NAME

from . import STARTED_AT
from .config import apply_overrides
from .data import WindowSampler, heldout_windows, load_shards, stderr_log
from .errors import DataError, ManifestError, TrainerError
from .events import Events
from .export import VOCAB_NAME, WEIGHTS_NAME, load_manifest, write_model_dir
from .model import CharLM, ModelConfig
from .replay import load_check_set, load_replay
from .textfile import read_text_file
from .train import PRESETS, TrainConfig, TrainData, mixed_sampler, replay_rows, train
from .vocab import Vocab

ENGINE_ASSETS = ASSETS_DIR  # the installed engine's assets (package data), wherever it is installed
INSTALLED_MODEL = ENGINE_ASSETS / "model"
REPLAY_DIR = ENGINE_ASSETS / "replay"
USER_HELDOUT_EVERY = 20  # every 20th line of the user's text measures, never trains
# Modules a fine-tune needs from its start to its report (onnx: the export; pypinyin: the
# report's clauses), imported before the first step so that none is found missing after it.
REQUIRED_MODULES = ("torch", "numpy", "onnx", "onnxruntime", "onnxruntime.quantization", "pypinyin", "platformdirs")
# Free space needed beside the output and the checkpoint: the checkpoint (fp32 weights and two
# optimiser moments), the temp export (fp32 and int8 ONNX, fp16 weights, the text layer) and margin.
DISK_PER_PARAM_BYTES, DISK_MARGIN_BYTES = 4 * 3 + 4 + 1 + 2, 64 << 20
# What a run spends besides the steps and evaluations the plan times (docs/TUNING.md#the-fine-tune-estimate):
RUN_SETUP_S = 3.0  # what --check leaves out: importing onnx and pypinyin, decoding the replay sample, the optimizer
CHECKPOINT_S = 0.5  # one checkpoint (every cfg.ckpt_minutes, and the last)
EXPORT_S = 1.5  # ONNX export, int8 quantisation and its parity check
USER_LAYER_S, USER_LAYER_S_PER_CHAR = 0.5, 4e-6  # the user's word n-grams: loading the lexicon, counting
REPORT_S = 50.0  # typing the report's 300 clauses through the engine, before and after
EVAL_BATCH = 32  # windows per evaluation batch (trainer.train.evaluate_windows)
OPTIMIZER_SHARE = 0.03  # AdamW's update, as a share of a step (the plan's probe leaves it out)
THREAD_SCALING = 0.64  # a CPU step on n of N threads takes (N / n) ** 0.64 as long
# The pinyin-reading model beside the base model (engine.paths.PINYIN_MODEL_NAME) can adapt after the
# character model: its decoder, the encoder frozen. Off by default: beside the personal character
# model and text layer it measured no gain (docs/TUNING.md#the-pinyin-reading-model-in-a-personal-fine-tune).
READER_DIR = PINYIN_MODEL_NAME
READER_MINUTES = 0.0  # its training time (--reader-minutes); the character model keeps the preset's max_minutes
READER_USER_CHARS, READER_REPLAY_CHARS = 400_000, 300_000  # text read with pypinyin (~180k chars/s)
READER_SETUP_S, READER_EXPORT_S = 12.0, 20.0  # loading and reading the text, evaluations; the int8 export


def read_texts(paths: list[Path], log: Callable[[str], None]) -> list[str]:
    """Decoded text of every file (all checked before any training starts)."""
    texts = []
    for p in paths:
        text, encoding = read_text_file(p)
        log(f"read {p}: {len(text)} chars ({encoding})")
        texts.append(text)
    return texts


def split_user_lines(texts: list[str]) -> tuple[list[str], list[str]]:
    """(train lines, held-out lines) of the user's text, normalised and without bracketed tags
    (engine.text.strip_tags), empty lines dropped."""
    lines = [normalise_text(strip_tags(line)) for t in texts for line in t.splitlines()]
    lines = [line for line in lines if line]
    held = [line for i, line in enumerate(lines) if i % USER_HELDOUT_EVERY == USER_HELDOUT_EVERY - 1]
    train_lines = [line for i, line in enumerate(lines) if i % USER_HELDOUT_EVERY != USER_HELDOUT_EVERY - 1]
    return train_lines, held


def check_dependencies(modules: tuple[str, ...] | None = None, import_them: bool = True) -> None:
    """Import every module the run will need (default REQUIRED_MODULES); TrainerError naming
    the missing ones. ``import_them`` False: only find them (the plan: importing onnx and
    pypinyin takes a second, and the run imports them before its first step anyway)."""
    missing = []
    for name in REQUIRED_MODULES if modules is None else modules:
        try:
            if import_them:
                importlib.import_module(name)
            elif importlib.util.find_spec(name) is None:
                raise ModuleNotFoundError(f"No module named {name!r}")
        except Exception as e:  # ImportError, or a broken install raising anything  # noqa: BLE001
            missing.append(f"{name} ({type(e).__name__}: {e})")
    if missing:
        raise TrainerError("fine-tuning needs packages that are missing or broken: " + "; ".join(missing)
                           + ". Install the trainer (the shuru-trainer package, or pip install 'shuru[trainer]').")


def check_engine_assets(assets: Path | None = None) -> None:
    """The engine's lexicon and n-gram load (the text layer and the report need them)."""
    from engine.core.lexicon import Lexicon
    from engine.core.ngram import NgramModel
    from engine.errors import ShuruError

    assets = Path(assets) if assets is not None else ENGINE_ASSETS
    try:
        lexicon = Lexicon.load(assets / "lexicon.npz")
        NgramModel.load(assets / "ngram.npz", token_hash=lexicon.token_hash())
    except ShuruError as e:
        raise TrainerError(f"the engine's files that fine-tuning needs cannot be used: {e}") from None


def check_output(folder: Path, need_bytes: int) -> None:
    """The folder can be created and written, and its disk has ``need_bytes`` free."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".write-check-"):
            pass
    except OSError as e:
        raise TrainerError(f"cannot write to {folder} ({e.strerror or e}): choose another output folder") from None
    free = shutil.disk_usage(folder).free
    if free < need_bytes:
        raise TrainerError(f"not enough free disk space in {folder}: {free / 1e6:.0f} MB free, "
                           f"{need_bytes / 1e6:.0f} MB needed for the checkpoint and the new model")


def replay_sampler(shard_dir: Path | None, vocab: Vocab, cfg: TrainConfig, log) -> tuple[WindowSampler, np.ndarray]:
    """Sampler over general text and held-out windows of it (the general-text loss).

    Default: the replay sample that ships in the assets; ``shard_dir``: corpus shards from
    ``trainer prepare`` instead (developers). Raises DataError when neither can be used."""
    if shard_dir is not None:
        try:
            shard_vocab = Vocab.load(Path(shard_dir) / VOCAB_NAME)
        except DataError:
            raise DataError(f"no general-text shards in {shard_dir} (run `python -m trainer prepare`)") from None
        if shard_vocab.sha1 != vocab.sha1:
            raise DataError(f"the shards in {shard_dir} use another vocabulary than the model")
        sampler = WindowSampler(load_shards(shard_dir, "train"), cfg.seq_len, cfg.seed + 1, cfg.bos_align,
                                cfg.bos_first)
        held = heldout_windows(load_shards(shard_dir, "heldout"), cfg.seq_len, cfg.eval_windows)
        return sampler, held
    train_lines, held_lines = load_replay(REPLAY_DIR)
    sampler = WindowSampler(vocab.encode("\n".join(train_lines)), cfg.seq_len, cfg.seed + 1, cfg.bos_align,
                            cfg.bos_first)
    held = heldout_windows(vocab.encode("\n".join(held_lines)), cfg.seq_len, cfg.eval_windows)
    log(f"replay: {len(train_lines)} lines of general text shipped with Shuru ({REPLAY_DIR})")
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
    """Keep a checkpoint of the same job (resume); clear one of another job, or a work dir a
    crash left unreadable (its job record or checkpoint cut short)."""
    job_file = work / "job.json"
    if work.exists() and not _resumable(work, job):
        log(f"starting over: {work} held no usable checkpoint of this fine-tuning job")
        shutil.rmtree(work)
    work.mkdir(parents=True, exist_ok=True)
    if not job_file.is_file():
        write_bytes_atomic(job_file, json.dumps({"job": job}).encode())


def _resumable(work: Path, job: str) -> bool:
    try:
        if json.loads((work / "job.json").read_text())["job"] != job:
            return False
    except (OSError, ValueError, KeyError, TypeError):
        return False
    ckpt = work / "ckpt.pt"
    if not ckpt.exists():
        return True  # killed before the first checkpoint: nothing to lose
    try:
        import torch

        torch.load(ckpt, map_location="cpu", weights_only=False)
        return True
    except Exception:  # a damaged checkpoint: start over rather than fail on every run  # noqa: BLE001
        return False


@dataclass
class Job:
    """A fine-tune, fully checked and planned before its first step."""

    paths: list[Path]
    texts: list[str]
    base: Path
    out: Path
    work: Path
    manifest: dict
    vocab: Vocab
    cfg: TrainConfig
    user_train: np.ndarray
    user_held: np.ndarray
    user_held_lines: list[str]
    replay: WindowSampler | None
    general_held: np.ndarray
    general_check: list[dict]
    general_source: str
    plan: dict
    reader: Path | None = None  # the pinyin-reading model dir that adapts too (None: none)
    reader_minutes: float = 0.0
    user_train_lines: list[str] | None = None  # the lines user_train encodes (the reader reads them)


def plan_finetune(texts_paths: list[Path], out: Path | None = None, base: Path | None = None,
                  shards: Path | None = None, work: Path | None = None, overrides: list[str] | None = None,
                  log: Callable[[str], None] = stderr_log, check_only: bool = False,
                  reader_minutes: float = READER_MINUTES) -> Job:
    """Check everything a fine-tune needs and plan it (device, steps, time); touches nothing
    but a write probe. Raises a TrainerError (or InputFileError) saying what is wrong.
    ``check_only``: the plan alone (packages are found, not imported). ``reader_minutes``: the
    pinyin-reading model's training time (0: it is not adapted)."""
    check_dependencies(import_them=not check_only)
    texts = read_texts(texts_paths, log)  # refuses binary files before anything is touched
    base = Path(base) if base else INSTALLED_MODEL
    out = Path(out) if out else _registry().dir_for_files(list(texts_paths))
    check_engine_assets()
    manifest = load_manifest(base)
    if not (base / WEIGHTS_NAME).is_file():
        raise ManifestError(f"{base} has no {WEIGHTS_NAME}: this model cannot be fine-tuned")
    vocab = Vocab.load(base / VOCAB_NAME)
    work = Path(work) if work else out.with_name(f".{out.name}-finetune")
    cfg = finetune_config(ModelConfig.from_dict(manifest["config"]), base / WEIGHTS_NAME, work, overrides or [])
    train_lines, held_lines = split_user_lines(texts)
    user_train, user_held = vocab.encode("\n".join(train_lines)), vocab.encode("\n".join(held_lines))
    if len(user_train) < cfg.seq_len + 2:
        raise DataError(f"too little text to learn from ({len(user_train)} tokens); give at least a few pages")
    replay, general_held = None, np.zeros((0, cfg.seq_len + 1), np.int64)
    if replay_rows(cfg.batch_size, cfg.replay_fraction) > 0:
        replay, general_held = replay_sampler(shards, vocab, cfg, log)
    else:
        cfg.replay_fraction = 0.0  # every row is the user's text, and the manifest says so
    check, check_meta = load_check_set(REPLAY_DIR)  # the report's general text, whatever is replayed
    cfg = _cap_steps(cfg, len(user_train), log)
    params = (base / WEIGHTS_NAME).stat().st_size // 2  # fp16 weights
    need = params * DISK_PER_PARAM_BYTES + DISK_MARGIN_BYTES
    check_output(out.parent, need)
    check_output(work.parent, need)
    source = str(check_meta.get("name") or check_meta.get("source") or "")
    reader = find_reader(base, vocab, log) if reader_minutes > 0 else None
    job = Job(list(map(Path, texts_paths)), texts, base, out, work, manifest, vocab, cfg, user_train, user_held,
              held_lines, replay, general_held, check, source, {}, reader, reader_minutes if reader else 0.0,
              train_lines)
    job.plan = _plan(job)
    return job


def find_reader(base: Path, vocab: Vocab, log: Callable[[str], None]) -> Path | None:
    """The pinyin-reading model beside the base model (``base/../pinyin-model``) when it can be
    fine-tuned (it has its fp16 weights.pt), else None (logged). ManifestError or
    ManifestMismatchError where it is there but damaged, made for another vocabulary or beside
    other weights (trainer.pinyin_export.check_model_dir_weights)."""
    from .pinyin_export import check_model_dir_weights

    folder = Path(base).parent / READER_DIR
    if not folder.is_dir():
        log("no pinyin-reading model beside the base model: only the character model adapts")
        return None
    if not (folder / WEIGHTS_NAME).is_file():
        log(f"{folder} has no {WEIGHTS_NAME}: only the character model adapts")
        return None
    check_model_dir_weights(folder, vocab.sha1)
    return folder


@dataclass(frozen=True)
class StepTimes:
    """What the plan measures on the device: seconds of a training step (forward and backward) by
    CPU thread count (one entry on a GPU), and of evaluating one batch of held-out windows."""

    steps: dict[int, float]
    eval_batch_s: float

    @property
    def step_s(self) -> float:
        """A step on the fastest thread count (the one the adaptive tuner keeps)."""
        return min(self.steps.values())


def _plan(job: Job) -> dict:
    """Device, steps and estimated time (a few timed steps on the device)."""
    import torch

    from .device import detect_device

    device = detect_device(torch)
    times = _probe_step_seconds(job, torch.device(device.kind), device.threads)
    cfg, user_chars = job.cfg, sum(len(t) for t in job.texts)
    eval_windows = len(heldout_windows(job.user_held, cfg.seq_len, cfg.eval_windows)) + len(job.general_held)
    startup_s = time.perf_counter() - STARTED_AT
    estimate = estimate_seconds(cfg, times, device.kind, device.threads, eval_windows, user_chars, startup_s,
                                reader_s=reader_seconds(job.reader_minutes))
    resume = (job.work / "ckpt.pt").is_file()
    return {"device": device.to_dict(), "user_chars": user_chars,
            "user_tokens": int(len(job.user_train)), "steps": cfg.max_steps, "s_per_step": round(times.step_s, 3),
            "s_per_step_by_threads": {n: round(t, 3) for n, t in times.steps.items()},
            "eval_batch_s": round(times.eval_batch_s, 3), "eval_windows": eval_windows,
            "startup_s": round(startup_s, 1), "estimate_s": round(estimate), "replay": job.replay is not None,
            "max_minutes": cfg.max_minutes, "resume": resume, "out": str(job.out),
            "reader_minutes": job.reader_minutes}


def estimate_seconds(cfg: TrainConfig, times: StepTimes, device_kind: str, threads: int, eval_windows: int,
                     user_chars: int, startup_s: float = 0.0, report_s: float = REPORT_S,
                     reader_s: float = 0.0) -> float:
    """Wall-clock seconds of a whole fine-tune: ``startup_s`` (the checks and the plan, which a run
    repeats), the baseline evaluation, the training loop (its steps, evaluations, thread-count
    probes and checkpoints, cut at cfg.max_minutes), the last evaluation, the pinyin-reading
    model's adaptation (``reader_s``), the export with the user's text layer, and the report
    (``report_s``). ``eval_windows``: held-out windows per evaluation."""
    from .train import TUNER_PROBE_EVERY

    steps, every = cfg.max_steps, max(cfg.eval_every, 1)
    eval_s = math.ceil(eval_windows / EVAL_BATCH) * times.eval_batch_s
    loop_s = steps * times.step_s * (1 + OPTIMIZER_SHARE) + steps // every * eval_s
    if device_kind == "cpu" and cfg.threads == 0:  # the adaptive thread count probes at the start and every 200 steps
        loop_s += (1 + steps // TUNER_PROBE_EVERY) * thread_probe_seconds(times, threads)
    if cfg.ckpt_minutes > 0:
        loop_s += loop_s // (cfg.ckpt_minutes * 60) * CHECKPOINT_S
    cut = cfg.max_minutes > 0 and loop_s > cfg.max_minutes * 60
    if cut:
        loop_s = cfg.max_minutes * 60
    last_eval_s = eval_s if cut or steps % every else 0.0  # unless the last step was just evaluated
    return (startup_s + RUN_SETUP_S + eval_s + loop_s + last_eval_s + CHECKPOINT_S
            + EXPORT_S + USER_LAYER_S + USER_LAYER_S_PER_CHAR * user_chars + reader_s + report_s)


def reader_seconds(minutes: float) -> float:
    """Wall-clock seconds of adapting the pinyin-reading model for ``minutes`` (0: none)."""
    return minutes * 60 + READER_SETUP_S + READER_EXPORT_S if minutes > 0 else 0.0


def thread_probe_seconds(times: StepTimes, threads: int) -> float:
    """What one probe of the adaptive thread count adds to a CPU run: its steps on the thread
    counts it does not keep are slower. Counts the plan did not time are scaled from all threads."""
    from .train import TUNER_PROBE_STEPS, thread_options

    on_all = times.steps.get(threads, times.step_s)
    slower = sum(times.steps.get(n, on_all * (threads / n) ** THREAD_SCALING) - times.step_s
                 for n in thread_options(threads))
    return TUNER_PROBE_STEPS * slower


def _probe_step_seconds(job: Job, device, threads: int) -> StepTimes:
    """Seconds of a training step of this model and batch on this device (without the
    optimizer's update: see OPTIMIZER_SHARE) on all CPU threads and on one (a busy CPU is
    faster on one: the trainer's adaptive thread count then keeps it), and of one evaluation batch."""
    import torch

    from .train import evaluate_windows, load_weights, train_step

    model = load_weights(job.base / WEIGHTS_NAME, job.vocab).to(device).train()
    sampler = WindowSampler(job.user_train, job.cfg.seq_len, 0)
    rows = job.cfg.batch_size

    def step(n_threads: int, n_rows: int) -> float:
        torch.set_num_threads(n_threads)
        x, y = (torch.from_numpy(a).to(device) for a in sampler.batch(n_rows))
        t = time.perf_counter()
        train_step(model, None, x, y, job.cfg, device)
        if device.type == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter() - t

    if device.type == "cpu" and threads > 1:
        # on one thread a step takes time in proportion to its rows: half a batch, timed and
        # doubled, is a whole batch's time within 3% (after a first one that warms up)
        half = max(1, rows // 2)
        step(1, half)
        steps = {1: step(1, half) * rows / half, threads: step(threads, rows)}
    else:
        step(threads, rows)  # the first step warms up (on a GPU: its libraries' start)
        steps = {threads: step(threads, rows)}
    torch.set_num_threads(min(steps, key=steps.get))
    windows = heldout_windows(job.user_train, job.cfg.seq_len, EVAL_BATCH)
    t = time.perf_counter()
    evaluate_windows(model, windows, job.cfg, device, batch=EVAL_BATCH)
    return StepTimes(steps, (time.perf_counter() - t) * EVAL_BATCH / max(len(windows), 1))


def finetune(texts_paths: list[Path], out: Path | None = None, base: Path | None = None,
             shards: Path | None = None, work: Path | None = None, overrides: list[str] | None = None,
             log: Callable[[str], None] = stderr_log, on_step: Callable[[int], None] | None = None,
             events: Events | None = None, check_only: bool = False, report_clauses: int | None = None,
             reader_minutes: float = READER_MINUTES) -> dict:
    """Fine-tune `base` (default: the installed model) on text files into `out`
    (default: the personal model dir), and the pinyin-reading model beside `base` for
    ``reader_minutes``. Returns a summary dict (with ``check_only``: the plan)."""
    t0 = time.time()
    events = events or Events()
    job = plan_finetune(texts_paths, out, base, shards, work, overrides, log, check_only=check_only,
                        reader_minutes=reader_minutes)
    if check_only:
        return {"status": "ok", "plan": job.plan}
    events.emit("plan", **job.plan)
    cfg, vocab = job.cfg, job.vocab
    _prepare_work_dir(job.work, _job_id(job.texts, job.manifest, cfg), log)
    main = WindowSampler(job.user_train, cfg.seq_len, cfg.seed, cfg.bos_align, cfg.bos_first)
    evals = {"user": heldout_windows(job.user_held, cfg.seq_len, cfg.eval_windows)}
    if len(job.general_held):
        evals["general"] = job.general_held
    data = TrainData(mixed_sampler(main, job.replay, cfg.replay_fraction), evals,
                     [main] + ([job.replay] if job.replay else []), data_description(cfg, len(job.user_train)))
    events.phase("baseline")
    before = _eval_base(job.base / WEIGHTS_NAME, vocab, evals, cfg)
    events.phase("training")
    result = train(cfg, data, vocab, log=log, on_step=on_step, on_event=_throttled(events))
    model = _load_final(job.work, vocab)
    reader = None
    if job.reader is not None:
        events.phase("reader")
        reader = adapt_reader_for(job, log, events)
    events.phase("export")
    training = {"base_model": str(job.base), "base_onnx_sha1": job.manifest["onnx_sha1"],
                "texts": [str(p) for p in job.paths], "user_tokens": int(len(job.user_train)),
                "replay": job.replay is not None, "steps": result["steps"], "tokens": result["tokens"],
                "minutes": round(result["elapsed_s"] / 60, 2), "device": job.plan["device"],
                "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "config": {k: getattr(cfg, k) for k in ("lr", "batch_size", "seq_len", "replay_fraction",
                                                        "freeze_embeddings", "freeze_layers", "max_minutes")}}
    metrics = {"before": before, "after": result["eval"]}

    def extra_files(folder: Path) -> None:
        write_user_layer(job.texts, job.paths, folder, log)
        if reader is not None:
            write_reader(reader, folder / READER_DIR, log)

    write_model_dir(model, vocab, job.out, training, metrics, int8=job.manifest.get("quantized", False),
                    extra_files=extra_files, parity_windows=evals["user"], log=log)
    events.phase("report")
    report = _report(job, log, report_clauses)
    shutil.rmtree(job.work, ignore_errors=True)  # the job is done; its checkpoint is no longer needed
    summary = {"status": "ok", "out": str(job.out), "minutes": round((time.time() - t0) / 60, 2),
               "steps": result["steps"], "before": before, "after": result["eval"], "report": report,
               "reader": reader.record if reader is not None else None}
    log(f"personal model written to {job.out}")
    return summary


@dataclass
class AdaptedReader:
    """The pinyin-reading model after its fine-tune, with what the export needs."""

    model: object  # trainer.pinyin_model.PinyinLM
    vocab: Vocab
    table: object  # trainer.pinyin_vocab.SyllableVocab
    source: dict  # the base model dir's manifest record: where it came from, how it was trained
    windows: tuple  # held-out (tokens, syllables) of the user's text, for the int8 check
    quantized: bool
    record: dict  # adapt_reader's record: steps, seconds, restricted accuracy before and after


def adapt_reader_for(job: Job, log: Callable[[str], None], events: Events) -> AdaptedReader:
    """Fine-tune the pinyin-reading model beside the base on the job's training lines (the
    decoder adapts, the encoder stays: trainer.pinyin_finetune) for job.reader_minutes."""
    import torch

    from .pinyin_export import load_model_dir_weights
    from .pinyin_finetune import PinyinFinetuneConfig, adapt_reader

    model, vocab, table, manifest = load_model_dir_weights(job.reader)
    cfg = PinyinFinetuneConfig(minutes=job.reader_minutes, user_chars=READER_USER_CHARS,
                               replay_chars=READER_REPLAY_CHARS, threads=torch.get_num_threads(),
                               seq_len=min(PinyinFinetuneConfig.seq_len, model.lm.cfg.max_len, model.cfg.max_len))
    start = time.monotonic()
    emit = _throttled(events)

    def on_progress(step: int, progress: float, loss: float) -> None:
        left = (time.monotonic() - start) * (1 - progress) / progress if progress > 0 else None
        emit("step", progress=progress, eta_s=left)

    record, windows = adapt_reader(model, vocab, table, job.user_train_lines, job.user_held_lines, cfg, log,
                                   on_progress)
    source = {"base_model": str(job.reader), "base_sha1": manifest.get("sha1"),
              "training": {**(manifest.get("training") or {}), "finetune": {"adapt": cfg.adapt, "lr": cfg.lr,
                                                                          "minutes": cfg.minutes}},
              "metrics": {"finetune": record}}
    quantized = any((manifest.get("quantized") or {}).values())
    return AdaptedReader(model, vocab, table, source, windows, quantized, record)


def write_reader(reader: AdaptedReader, folder: Path, log: Callable[[str], None]) -> None:
    """The adapted pinyin-reading model as a model dir the engine reads (trainer.pinyin_export),
    int8 where the base was and parity holds; no weights.pt (a fine-tune starts from the base)."""
    from .pinyin_export import write_pinyin_model_dir

    write_pinyin_model_dir(reader.model.float().cpu().eval(), reader.vocab, reader.table, folder, reader.source,
                           int8=reader.quantized, parity_windows=reader.windows, log=log)
    log(f"pinyin-reading model adapted: {reader.record['steps']} steps, your text (held out) "
        f"{reader.record['before']['user']['syl_acc']:.1%} -> {reader.record['after']['user']['syl_acc']:.1%}")


def _throttled(events: Events, every_s: float = 0.5):
    """Step events at most every ``every_s`` (a GPU makes many steps a second); evals always."""
    last = [0.0]

    def on_event(name: str, **fields) -> None:
        now = time.monotonic()
        if name == "step" and now - last[0] < every_s and fields.get("progress", 0) < 1:
            return
        last[0] = now
        if "loss" in fields:
            fields["loss"] = round(float(fields["loss"]), 4)
        events.emit(name, **fields)

    return on_event


def _report(job: Job, log, n: int | None = None) -> dict:
    """Before/after accuracy on held-out clauses, also stored in the new model's manifest.
    ``n``: at most this many clauses per set (default: REPORT_CLAUSES of the user's text and
    the whole general-text check)."""
    from .export import MANIFEST_NAME
    from .report import REPORT_CLAUSES, before_after, clause_set, spread

    user = clause_set(job.user_held_lines, REPORT_CLAUSES if n is None else n)
    report = before_after(job.base, job.out, user, spread(job.general_check, n), log, job.general_source)
    path = job.out / MANIFEST_NAME
    manifest = json.loads(path.read_text(encoding="utf-8"))
    manifest.setdefault("metrics", {})["report"] = report
    write_bytes_atomic(path, json.dumps(manifest, ensure_ascii=False, indent=1).encode("utf-8"))
    return report


def write_user_layer(texts: list[str], paths: list[Path], folder: Path, log) -> None:
    """The statistical side of personalisation: the user's word n-grams (engine.user.userlm), which
    the engine mixes into its trigram whenever this model folder is in use. Counted from the
    training lines only, so that the report's held-out clauses stay unseen."""
    from engine.core.lexicon import Lexicon
    from engine.user.userlm import FILE_NAME, count_text, save_user_lm

    lexicon = Lexicon.load(ENGINE_ASSETS / "lexicon.npz")
    train_lines, _ = split_user_lines(texts)
    uni, bi, tri = count_text(train_lines, lexicon)
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


def _registry():
    from engine.models import ModelRegistry

    return ModelRegistry()


def finetune_cli(args, extra: list[str]) -> dict:
    """`python -m trainer finetune` (argparse namespace + --key=value overrides). Without --out
    the model goes into a new folder of the user's model registry and becomes the one in use
    (the window's Personalise dialog asks first); the same files again resume an unfinished run."""
    out = args.out
    check = getattr(args, "check", False)
    if out is None and not check:
        out = _registry().dir_for_files(list(args.text))
    result = finetune(args.text, out=out, base=args.base, shards=args.shards, work=args.work, overrides=extra,
                      events=Events(getattr(args, "events", False)), check_only=check,
                      report_clauses=getattr(args, "report_clauses", None),
                      reader_minutes=READER_MINUTES if getattr(args, "reader_minutes", None) is None
                      else args.reader_minutes)
    if args.out is None and not check and result.get("status") == "ok":
        registry = _registry()
        registry.set_active(Path(result["out"]).name)
        registry.clear_pending()
        result["active"] = True
    return result


if __name__ == "__main__":  # pragma: no cover
    sys.exit("use: python -m trainer finetune --text FILE...")

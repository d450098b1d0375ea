"""Command line: python -m trainer prepare | replay | train | finetune | export | evaluate
| pinyin-prepare | pinyin-train | pinyin-finetune | pinyin-export.

Progress goes to stderr; `finetune`, `export` and `evaluate` end with one JSON line on
stdout (the GUI runs `finetune` as a subprocess and reads it). Exit codes: 0 done, 1 a
trainer error, 2 bad input or arguments (e.g. a binary file), 130 interrupted (a
resumable checkpoint was saved).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .config import apply_overrides, config_help
from .errors import ConfigError, InputFileError, TrainerError

EXIT_ERROR, EXIT_USAGE, EXIT_INTERRUPTED = 1, 2, 130


def _prepare(args, extra: list[str]) -> int:
    from .data import PrepareConfig, prepare, stderr_log

    cfg = apply_overrides(PrepareConfig(), extra)
    prepare(cfg, log=stderr_log)
    return 0


def _replay(args, extra: list[str]) -> int:
    from .replay import build_replay

    if extra:
        raise ConfigError(f"unexpected arguments: {' '.join(extra)}")
    meta = build_replay(args.data, args.out, log=lambda m: print(m, file=sys.stderr, flush=True))
    print(json.dumps({"status": "ok", "files": meta["files"]}, ensure_ascii=False))
    return 0


def _train(args, extra: list[str]) -> int:
    from .train import PRESETS, train

    from .distributed import DistContext

    cfg = apply_overrides(PRESETS[args.preset](), extra)
    ctx = DistContext.from_env()
    result = train(cfg, ctx=ctx)
    if ctx.is_main:  # under torchrun: one result line, not one per process
        print(json.dumps(result, ensure_ascii=False))
    return 0


def _finetune(args, extra: list[str]) -> int:
    from .finetune import finetune_cli

    result = finetune_cli(args, extra)
    print(json.dumps(result, ensure_ascii=False))
    return 0


def _export(args, extra: list[str]) -> int:
    from .export import export_run

    if extra:
        raise ConfigError(f"unexpected arguments: {' '.join(extra)}")
    result = export_run(Path(args.run), Path(args.out), int8=args.int8, checkpoint=args.checkpoint)
    print(json.dumps(result, ensure_ascii=False))
    return 0


def _evaluate(args, extra: list[str]) -> int:
    from .evaluate import evaluate_cli

    if extra:
        raise ConfigError(f"unexpected arguments: {' '.join(extra)}")
    print(json.dumps(evaluate_cli(args), ensure_ascii=False))
    return 0


def _pinyin_prepare(args, extra: list[str]) -> int:
    from .data import stderr_log
    from .pinyin_data import PinyinPrepareConfig, prepare_from_config

    meta = prepare_from_config(apply_overrides(PinyinPrepareConfig(), extra), log=stderr_log)
    print(json.dumps({k: v for k, v in meta.items() if k != "sources"}, ensure_ascii=False))
    return 0


def _pinyin_train(args, extra: list[str]) -> int:
    from .pinyin_train import PRESETS, pinyin_train

    cfg = apply_overrides(PRESETS[args.preset](), extra)
    paths = {k: v for k, v in (("run_dir", args.run_dir), ("data_dir", args.data_dir)) if v is not None}
    result = pinyin_train(apply_overrides(cfg, [f"--{k}={v}" for k, v in paths.items()]))
    print(json.dumps(result, ensure_ascii=False))
    return 0


def _pinyin_finetune(args, extra: list[str]) -> int:
    from .pinyin_finetune import PinyinFinetuneConfig, pinyin_finetune

    cfg = apply_overrides(PinyinFinetuneConfig(), extra)
    result = pinyin_finetune([Path(t) for t in args.texts], Path(args.weights), Path(args.out), cfg,
                             heldout=[Path(h) for h in args.heldout] or None)
    print(json.dumps(result, ensure_ascii=False))
    return 0


def _pinyin_rank(args, extra: list[str]) -> int:
    from .pinyin_rank import PinyinRankConfig, pinyin_rank

    cfg = apply_overrides(PinyinRankConfig(), extra)
    print(json.dumps(pinyin_rank(Path(args.weights), Path(args.lists), Path(args.out), cfg), ensure_ascii=False))
    return 0


def _pinyin_export(args, extra: list[str]) -> int:
    from .data import stderr_log
    from .pinyin_export import pinyin_export

    if extra:
        raise ConfigError(f"unexpected arguments: {' '.join(extra)}")
    result = pinyin_export(Path(args.weights), Path(args.out), int8=args.int8,
                           data_dir=Path(args.data) if args.data else None, log=stderr_log)
    print(json.dumps(result, ensure_ascii=False))
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argparse tree (config keys of prepare/train/finetune are --key=value extras)."""
    from .data import PrepareConfig
    from .train import PRESETS

    fmt = argparse.RawDescriptionHelpFormatter
    p = argparse.ArgumentParser(prog="python -m trainer", description=__doc__, formatter_class=fmt)
    sub = p.add_subparsers(dest="command", required=True)

    sp = sub.add_parser("prepare", help="build vocab.txt and token shards from the corpus", formatter_class=fmt,
                        epilog="config keys:\n" + config_help(PrepareConfig()))
    sp.set_defaults(func=_prepare)

    from .corpus import DEFAULT_DATA_DIR

    sp = sub.add_parser("replay", help="draw the general-text replay sample shipped in assets/replay")
    sp.add_argument("--data", type=Path, default=DEFAULT_DATA_DIR, help="data dir holding corpus/")
    sp.add_argument("--out", type=Path, default=Path("assets/replay"), help="folder to write")
    sp.set_defaults(func=_replay)

    sp = sub.add_parser("train", help="pretrain (re-run the same command to resume)", formatter_class=fmt,
                        epilog="config keys (base preset shown):\n" + config_help(PRESETS["base"]()))
    sp.add_argument("--preset", choices=sorted(PRESETS), default="base")
    sp.set_defaults(func=_train)

    sp = sub.add_parser("finetune", help="fine-tune on your own text into a personal model", formatter_class=fmt,
                        epilog="config keys:\n" + config_help(PRESETS["finetune"]()))
    sp.add_argument("--text", nargs="+", required=True, type=Path, help="plain text files (UTF-8, UTF-16 with BOM, GB18030)")
    sp.add_argument("--out", type=Path, default=None, help="model folder to write (default: a new folder of the user's models, then used)")
    sp.add_argument("--base", type=Path, default=None, help="model to start from (default: assets/model)")
    sp.add_argument("--shards", type=Path, default=None, help="corpus shards for replay (default: the replay sample shipped with Shuru)")
    sp.add_argument("--work", type=Path, default=None, help="checkpoint dir (default: beside --out)")
    sp.add_argument("--check", action="store_true",
                    help="check everything and print the plan (device, steps, estimated time); train nothing")
    sp.add_argument("--events", action="store_true",
                    help="progress as JSON lines on stdout (plan, phase, step, eval), then the result")
    sp.add_argument("--report-clauses", type=int, default=None,
                    help="at most this many clauses per set typed for the before/after report (default: 60 of "
                         "your text and all 240 of the general-text check)")
    sp.add_argument("--reader-minutes", type=float, default=None,
                    help="also adapt the pinyin-reading model beside the base model (its decoder; the encoder "
                         "stays) for this many minutes after the character model (default: 0, not adapted)")
    sp.set_defaults(func=_finetune)

    sp = sub.add_parser("export", help="ONNX + vocab + manifest + fp16 weights from a run")
    sp.add_argument("--run", default="runs/base", help="run dir holding ckpt.pt and vocab.txt")
    sp.add_argument("--out", default="assets/model", help="model dir to (re)place atomically")
    sp.add_argument("--checkpoint", default=None, help="checkpoint file (default: RUN/ckpt.pt)")
    sp.add_argument("--int8", action="store_true", help="int8 dynamic quantisation of model.onnx")
    sp.set_defaults(func=_export)

    sp = sub.add_parser("evaluate", help="perplexity of a model on a text; build the law dev set")
    sp.add_argument("--model", type=Path, default=Path("assets/model"), help="model dir (manifest.json)")
    sp.add_argument("--text", type=Path, nargs="*", default=[], help="text files to score")
    sp.add_argument("--max-chars", type=int, default=200_000, help="score at most this many chars per file")
    sp.add_argument("--make-law-dev", action="store_true", help="write the law dev clause set and exit")
    sp.add_argument("--law-source", type=Path, default=None, help="default: shared/data/user_samples/law_dev.txt")
    sp.add_argument("--law-out", type=Path, default=Path("build/law-dev.jsonl"))
    sp.add_argument("--n", type=int, default=600, help="clauses in the law dev set")
    sp.set_defaults(func=_evaluate)

    from .pinyin_data import PinyinPrepareConfig
    from .pinyin_train import PRESETS as PINYIN_PRESETS

    sp = sub.add_parser("pinyin-prepare", help="corpus -> token + syllable shards for the pinyin model "
                        "(re-run with a larger --max_chars to append)", formatter_class=fmt,
                        epilog="config keys:\n" + config_help(PinyinPrepareConfig()))
    sp.set_defaults(func=_pinyin_prepare)

    sp = sub.add_parser("pinyin-train", help="train the pinyin-reading model (re-run the same command to resume)",
                        formatter_class=fmt, epilog="config keys (cpu preset shown):\n" + config_help(PINYIN_PRESETS["cpu"]()))
    sp.add_argument("--preset", choices=sorted(PINYIN_PRESETS), default="cpu")
    sp.add_argument("--run-dir", default=None, help="checkpoint, train.log and export/ (default: the preset's)")
    sp.add_argument("--data-dir", default=None, help="pinyin-prepare's output (default: build/trainer/pinyin)")
    sp.set_defaults(func=_pinyin_train)

    from .pinyin_finetune import PinyinFinetuneConfig

    sp = sub.add_parser("pinyin-finetune", help="fine-tune the pinyin-reading model on your text (the decoder "
                        "adapts, the encoder stays; --adapt=all adapts everything)", formatter_class=fmt,
                        epilog="config keys:\n" + config_help(PinyinFinetuneConfig()))
    sp.add_argument("--texts", nargs="+", required=True, help="text files to learn from")
    sp.add_argument("--weights", required=True, help="pinyin-train's RUN/export dir to start from")
    sp.add_argument("--out", required=True, help="export dir to write (pinyin-export makes a model dir of it)")
    sp.add_argument("--heldout", nargs="*", default=[], help="held-out text files (default: every 20th line)")
    sp.set_defaults(func=_pinyin_finetune)

    from .pinyin_rank import PinyinRankConfig

    sp = sub.add_parser("pinyin-rank", help="fine-tune the pinyin-reading model on the engine's own candidate "
                        "lists (tools.reader_lists) for the choice it makes", formatter_class=fmt,
                        epilog="config keys:\n" + config_help(PinyinRankConfig()))
    sp.add_argument("--weights", required=True, help="pinyin-train's RUN/export dir to start from")
    sp.add_argument("--lists", required=True, help="JSON lines of python -m tools.reader_lists")
    sp.add_argument("--out", required=True, help="export dir to write (pinyin-export makes a model dir of it)")
    sp.set_defaults(func=_pinyin_rank)

    sp = sub.add_parser("pinyin-export", help="encoder.onnx + decoder.onnx + candidates.npz + manifest from "
                        "pinyin-train's export/ dir (see trainer/pinyin_export.py for the run-time contract)")
    sp.add_argument("--weights", required=True, help="pinyin-train's RUN/export dir (weights.pt, manifest.json)")
    sp.add_argument("--out", required=True, help="model dir to (re)place atomically")
    sp.add_argument("--int8", action="store_true", help="int8 dynamic quantisation of each graph that stays close")
    sp.add_argument("--data", default=None, help="pinyin-prepare dir: check int8 on its held-out text "
                    "(default: random tokens)")
    sp.set_defaults(func=_pinyin_export)
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit code. Failures also end with one JSON line on
    stdout ({"status": "error" | "interrupted", "message": ...}) for the GUI."""
    args, extra = build_parser().parse_known_args(argv)
    try:
        return args.func(args, extra)
    except (ConfigError, InputFileError) as e:
        return _fail("error", f"error: {e}", EXIT_USAGE)
    except TrainerError as e:
        return _fail("error", f"error: {e}", EXIT_ERROR)
    except KeyboardInterrupt:
        return _fail("interrupted", "interrupted: a resumable checkpoint was saved (if training had started); "
                     "run the same command again to resume", EXIT_INTERRUPTED)


def _fail(status: str, message: str, code: int) -> int:
    print(message, file=sys.stderr)
    print(json.dumps({"status": status, "message": message, "exit_code": code}, ensure_ascii=False))
    return code


if __name__ == "__main__":
    from .distributed import exit_process

    exit_process(main())

"""Command line: ``python -m engine convert``, the engine's command-line contract.

convert   stdin lines (pinyin, or JSON {"pinyin", "context"} with --context) -> one JSON line each:
          {"input", "candidates": [top-k], "ms"}; with --keystrokes also "key_ms" (per letter typed
          through a Session). Model loading is excluded from ms. Nothing is learned. With
          --layout xiaohe (or another shuangpin layout) the lines are shuangpin keys.

Accuracy, prediction, latency and fuzzing live with the development tools (``python -m tools``).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .engine import Engine
from .errors import ShuruError
from .options import EngineOptions
from .evaluation import convert_one
from .pinyin import script, shuangpin


def make_engine(args) -> Engine:
    # Benchmarks measure the shipped engine: no personal model, no learned history.
    opts = EngineOptions(use_neural=not args.no_neural, learning=False, personal=False, beam_width=args.beam,
                         per_state=getattr(args, "per_state", None),
                         quick_phrases=False, libime=getattr(args, "libime", "wait"),
                         layout=getattr(args, "layout", None) or "full",
                         script=getattr(args, "script", None) or "simplified",
                         reader_weight=getattr(args, "reader_weight", None),
                         **({"model_dir": Path(args.model)} if getattr(args, "model", None) else {}),
                         **({"assets_dir": Path(args.assets)} if getattr(args, "assets", None) else {}),
                         **({"pinyin_model": Path(args.pinyin_model)} if getattr(args, "pinyin_model", None) else {}))
    engine = Engine.load(opts)
    print(f"engine: {engine.status}", file=sys.stderr)
    return engine


def cmd_convert(args) -> int:
    engine = make_engine(args)
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        context = ""
        if args.context:
            try:
                obj = json.loads(line)
                pinyin, context = str(obj.get("pinyin", "")), str(obj.get("context", "") or "")
            except (json.JSONDecodeError, AttributeError):
                pinyin = line
        else:
            pinyin = line
        res = convert_one(engine, pinyin, context, args.topk, args.keystrokes)
        print(json.dumps(res, ensure_ascii=False), flush=True)
    return 0


def layout_option(p) -> None:
    p.add_argument("--layout", default="full", choices=(shuangpin.FULL_PINYIN,) + shuangpin.LAYOUT_NAMES,
                   help="input is full pinyin (default) or keys of this shuangpin layout")


def common_options(p) -> None:
    """The engine options every command takes."""
    p.add_argument("--no-neural", action="store_true", help="statistical scorers only")
    p.add_argument("--beam", type=int, help="beam width (default: 8 with the neural model, else 16)")
    p.add_argument("--model", help="neural model folder (default: installed)")
    p.add_argument("--assets", help="an assets folder to read instead of the installed one (a rebuilt lexicon.npz "
                                    "and ngram.npz, with model/ unless --no-neural); libime's merged model is made for "
                                    "it in the cache folder, so set XDG_CACHE_HOME to keep the installed one's")
    p.add_argument("--pinyin-model", dest="pinyin_model",
                   help="pinyin-reading model folder (default: the installed one, if any)")
    p.add_argument("--reader-weight", type=float, dest="reader_weight",
                   help="weight of the pinyin-reading model (default: the tuned one)")
    p.add_argument("--per-state", type=int, dest="per_state",
                   help="hypotheses kept per n-gram state (default: 3)")
    p.add_argument("--libime", choices=["wait", "off"], default="wait",
                   help="merge the system's libime model into the n-gram (wait: make the merged model first "
                        "if it is missing; off: the shipped n-gram alone)")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m engine", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)

    p = sub.add_parser("convert", help="stdin pinyin -> JSON candidate lines")
    p.add_argument("--topk", type=int, default=10)
    p.add_argument("--context", action="store_true", help='input lines are {"pinyin", "context"} JSON')
    p.add_argument("--keystrokes", action="store_true", help="type letter by letter, report key_ms")
    p.add_argument("--script", default=script.SIMPLIFIED, choices=script.SCRIPT_NAMES,
                   help="output script: simplified (default), traditional, tw (Taiwan phrases), hk")
    layout_option(p)
    common_options(p)
    p.set_defaults(fn=cmd_convert)
    return run_command("python -m engine", ap.parse_args(argv))


def run_command(prog: str, args) -> int:
    """Run the parsed command ``args.fn``; a missing or damaged asset or model ends it with its
    message and exit status 2, not a traceback."""
    try:
        return args.fn(args)
    except ShuruError as e:
        print(f"{prog}: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

"""Coordinate search of the decoder's log-linear weights on dev sets (a subset of rows).

    python -m tools.build.tune [--limit 200] [--neural] key=v1,v2,... ...

Prints mean top-1 (full pinyin) and mean top-5 (abbreviated) for each setting. Tuned
values go into engine/engine.py; keep steps coarse so the dev sets are not overfitted.
"""
from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path

from engine import Engine, EngineOptions
from engine.evaluation import evaluate

from ..cli import DEV_DIR


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--limit", type=int, default=200)
    ap.add_argument("--neural", action="store_true")
    ap.add_argument("--context", action="store_true")
    ap.add_argument("--model", type=Path, help="neural model folder (default: installed)")
    ap.add_argument("grid", nargs="*", help="weight=v1,v2 (ScoreWeights field) or opt.field=v1,v2")
    args = ap.parse_args()
    engine = Engine.load(EngineOptions(use_neural=args.neural or bool(args.model), learning=False, personal=False,
                                       model_dir=args.model))
    print(engine.status)
    sets = {p.stem: [json.loads(line) for line in open(p, encoding="utf-8")]
            for p in sorted(Path(DEV_DIR).glob("dev-*.jsonl"))}
    base_w, base_o = engine.weights, engine.options
    print(f"base: {base_w}")
    settings = [("base", {})]
    for item in args.grid:
        key, _, values = item.partition("=")
        settings += [(f"{key}={v}", {key: float(v)}) for v in values.split(",")]
    for name, change in settings:
        w, o = base_w, base_o
        for k, v in change.items():
            if k.startswith("opt."):
                o = replace(o, **{k[4:]: int(v)})
            else:
                w = replace(w, **{k: v})
        engine.options = replace(o, weights=w)
        full, abbr = [], []
        for set_name, rows in sets.items():
            r = evaluate(engine, rows, args.context, args.limit // (2 if "abbrev" in set_name else 1))
            (abbr if "abbrev" in set_name else full).append(r["top5"] if "abbrev" in set_name else r["top1"])
        print(f"{name:28s} full top-1 {sum(full) / len(full):.4f}  abbrev top-5 {sum(abbr) / len(abbr):.4f}  "
              f"[{' '.join(f'{x:.3f}' for x in full)}]", flush=True)


if __name__ == "__main__":
    main()

"""Measure what README.md ("Results") and docs/RESULTS.md report: accuracy per dev set for each scorer
configuration, and the accuracy/latency trade-off of beam width and int8. Prints markdown.

    python -m tools.build.report [--limit N] [--model DIR] [--int8-model DIR] [--skip-latency]

Every number comes from the same code path as ``python -m engine convert`` (model loading
excluded), on the dev sets in ../shared/data/dev.
"""
from __future__ import annotations

import argparse
import json
import resource
from dataclasses import replace
from pathlib import Path

from engine import Engine, EngineOptions
from engine.options import NEURAL_WEIGHTS, STATISTICAL_WEIGHTS
from engine.evaluation import convert_one, evaluate, percentile

from ..cli import DEV_DIR

FULL = ["news", "wiki", "conversation", "social", "learner"]


def load_sets(limit: int | None) -> dict[str, list[dict]]:
    sets = {}
    for name in FULL + [f"{n}-abbrev" for n in FULL]:
        rows = [json.loads(line) for line in open(Path(DEV_DIR) / f"dev-{name}.jsonl", encoding="utf-8")]
        sets[name] = rows[:limit] if limit else rows
    return sets


def accuracy_row(engine: Engine, sets: dict, context: bool, names: list[str]) -> dict[str, dict]:
    return {n: evaluate(engine, sets[n], context) for n in names}


def keystroke_latency(engine: Engine, rows: list[dict]) -> dict:
    key_ms = []
    for r in rows:
        key_ms += convert_one(engine, r["pinyin"], "", 10, True)["key_ms"]
    return {"p50": percentile(key_ms, 0.5), "p95": percentile(key_ms, 0.95), "max": max(key_ms),
            "keys": len(key_ms)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--limit", type=int, help="first N rows of each set")
    ap.add_argument("--model", type=Path, help="neural model folder (default: assets/model)")
    ap.add_argument("--int8-model", type=Path, help="an int8 export of the same model, for the trade-off table")
    ap.add_argument("--skip-latency", action="store_true")
    ap.add_argument("--latency-inputs", type=int, default=150)
    ap.add_argument("--tradeoff-limit", type=int, default=200, help="rows per set for the trade-off accuracy")
    args = ap.parse_args()
    sets = load_sets(args.limit)
    base = EngineOptions(learning=False, personal=False, model_dir=args.model)
    engine = Engine.load(base)
    print(f"engine: {engine.status}\n")
    configs = [("statistical (lexicon + trigram)", replace(base, use_neural=False), STATISTICAL_WEIGHTS, False)]
    if engine.neural is not None:
        neural_only = replace(NEURAL_WEIGHTS, ngram=0.0, neural=1.0)
        configs += [("neural only (+ pinyin match)", base, neural_only, False),
                    ("combined", base, NEURAL_WEIGHTS, False),
                    ("combined, with context", base, NEURAL_WEIGHTS, True)]
    print("| configuration | " + " | ".join(FULL) + " | mean top-1 | char acc (news) |")
    print("|---|" + "---|" * (len(FULL) + 2))
    for name, opts, weights, ctx in configs:
        e = Engine.load(replace(opts, weights=weights))
        res = accuracy_row(e, sets, ctx, FULL)
        mean = sum(r["top1"] for r in res.values()) / len(res)
        cells = " | ".join(f"{100 * res[n]['top1']:.1f}" for n in FULL)
        print(f"| {name} | {cells} | {100 * mean:.1f} | {100 * res['news']['char_acc']:.1f} |", flush=True)
    print("\nAbbreviated sets, top-1 / top-5:\n")
    print("| configuration | " + " | ".join(FULL) + " |")
    print("|---|" + "---|" * len(FULL))
    for name, opts, weights, ctx in configs[:1] + configs[2:3]:
        e = Engine.load(replace(opts, weights=weights))
        res = accuracy_row(e, sets, ctx, [f"{n}-abbrev" for n in FULL])
        cells = " | ".join(f"{100 * r['top1']:.1f} / {100 * r['top5']:.1f}" for r in res.values())
        print(f"| {name} | {cells} |", flush=True)
    if args.skip_latency:
        return
    rows = [r for n in FULL for r in sets[n]]
    rows = rows[:: max(1, len(rows) // args.latency_inputs)][: args.latency_inputs]
    print(f"\nAccuracy / latency trade-off ({len(rows)} dev inputs typed key by key; mean top-1 on the first "
          f"{args.tradeoff_limit} clauses of each full set):\n")
    small = {n: sets[n][: args.tradeoff_limit] for n in FULL}
    print("| scorers | beam | mean top-1 | key p50 ms | key p95 ms | key max ms |")
    print("|---|---|---|---|---|---|")
    trials = [("statistical", replace(base, use_neural=False), 16)]
    if engine.neural is not None:
        trials += [("combined fp32", base, b) for b in (4, 8, 16)]
        if args.int8_model:
            trials += [("combined int8", replace(base, model_dir=args.int8_model), b) for b in (8, 16)]
    for name, opts, beam in trials:
        e = Engine.load(replace(opts, beam_width=beam))
        lat = keystroke_latency(e, rows)
        res = accuracy_row(e, small, False, FULL)
        mean = sum(r["top1"] for r in res.values()) / len(res)
        print(f"| {name} | {beam} | {100 * mean:.1f} | {lat['p50']:.2f} | {lat['p95']:.2f} | {lat['max']:.1f} |",
              flush=True)
    print(f"\npeak RSS of this report process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
